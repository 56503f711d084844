// Volumes as Docker users see them: named and anonymous volumes of the local driver, one record each
// (metadata/volumes), their data under the data root. Which containers use a volume is read from the containers'
// records (`references`), so that nothing has to be kept in step.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Conflict, InvalidArgument, NotFound } from '../../errors/index.js';
import type { RecordStore } from '../../metadata/records.js';
import type { Logger } from '../../util/logger.js';
import { rfc3339Nano } from '../../util/timestamp.js';
import { LocalDriver } from '../../volumes/local.js';
import type { EventBus } from '../system/events.js';

export interface VolumeRecord {
  /** The volume's name. */
  id: string;
  driver: 'local';
  created: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

/** The Engine API's Volume object. */
export interface VolumeView {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: 'local';
  UsageData?: { Size: number; RefCount: number };
}

/** What containers hold of volumes, from their records (wired by the composition root). */
export interface VolumeReferences {
  usedBy(name: string): string[];
}

export interface VolumeDeps {
  records: RecordStore<VolumeRecord>;
  /** `<data root>/volumes`. */
  root: string;
  events: EventBus;
  log: Logger;
  references: VolumeReferences;
}

/** Docker 23+'s label on the volumes it makes for `-v /path` and image VOLUMEs. */
export const anonymousLabel = 'com.docker.volume.anonymous';
const nameRe = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class VolumeService {
  readonly driver: LocalDriver;
  /** Containers using each mounted volume that has a mount of its own (tmpfs, bind device). */
  private readonly users = new Map<string, Set<string>>();

  constructor(private readonly d: VolumeDeps) {
    this.driver = new LocalDriver(d.root);
  }

  /**
   * Start-up: a volume directory without a record (a create or removal cut short) goes; a record whose directory is
   * missing gets it back, empty, as the local driver would on first use.
   */
  async recover(): Promise<void> {
    for (const name of await readdir(this.d.root).catch(() => [] as string[])) {
      if (this.d.records.get(name)) continue;
      this.d.log.warn('removing the files of a volume with no record', { volume: name });
      await this.driver.remove(name).catch((error: unknown) => this.d.log.warn('orphan volume not removed', { volume: name, error }));
    }
    for (const v of this.d.records.list()) if (!(await this.driver.exists(v.id))) await this.driver.create(v.id);
  }

  get(name: string): VolumeRecord {
    const v = this.d.records.get(name);
    if (!v) throw new NotFound(`get ${name}: no such volume`);
    return v;
  }

  find(name: string): VolumeRecord | undefined {
    return this.d.records.get(name);
  }

  /** `volume create`: an existing volume of the same name is returned as it is, as dockerd does. */
  async create(o: { name?: string; driver?: string; options?: Record<string, string>; labels?: Record<string, string> } = {}): Promise<VolumeRecord> {
    const driver = o.driver || 'local';
    if (driver !== 'local') throw new NotFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = o.name || randomBytes(32).toString('hex');
    if (!nameRe.test(name)) {
      throw new InvalidArgument(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    const existing = this.d.records.get(name);
    if (existing) return existing;
    const options = o.options ?? {};
    LocalDriver.checkOptions(options);
    const rec: VolumeRecord = { id: name, driver: 'local', created: new Date().toISOString(), labels: o.labels ?? {}, options };
    // The directory first: a crash before the record leaves a directory that start-up removes.
    await this.driver.create(name);
    await this.d.records.put(rec);
    this.d.events.publish('volume', 'create', name, { driver: 'local' });
    return rec;
  }

  /** A new anonymous volume (`-v /path`, an image VOLUME). */
  createAnonymous(): Promise<VolumeRecord> {
    return this.create({ labels: { [anonymousLabel]: '' } });
  }

  static isAnonymous(v: VolumeRecord): boolean {
    return anonymousLabel in v.labels;
  }

  list(filters: Record<string, string[]> = {}): VolumeRecord[] {
    const unknown = Object.keys(filters).find((k) => !['dangling', 'driver', 'label', 'name'].includes(k));
    if (unknown) throw new InvalidArgument(`invalid filter '${unknown}'`);
    for (const v of filters['dangling'] ?? []) if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgument(`invalid filter 'dangling=${v}'`);
    const any = (key: string, test: (v: string) => boolean) => !filters[key]?.length || filters[key].some(test);
    return this.d.records
      .list()
      .filter(
        (v) =>
          any('driver', (x) => x === v.driver) &&
          any('name', (x) => v.id.includes(x)) &&
          any('dangling', (x) => ['true', '1'].includes(x) === (this.d.references.usedBy(v.id).length === 0)) &&
          (filters['label'] ?? []).every((l) => labelMatches(v.labels, l)),
      )
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  view(v: VolumeRecord, withUsage = false): VolumeView {
    return {
      CreatedAt: rfc3339Nano(v.created).replace(/\.\d+Z$/, 'Z'),
      Driver: v.driver,
      Labels: v.labels,
      Mountpoint: this.driver.path(v.id),
      Name: v.id,
      Options: v.options,
      Scope: 'local',
      ...(withUsage && { UsageData: { Size: -1, RefCount: this.d.references.usedBy(v.id).length } }),
    };
  }

  /** With sizes (`system df -v`): counted on disk. */
  async viewWithSize(v: VolumeRecord): Promise<VolumeView> {
    const view = this.view(v, true);
    return { ...view, UsageData: { Size: await this.driver.size(v.id), RefCount: view.UsageData?.RefCount ?? 0 } };
  }

  /** `volume rm`: refused while a container (running or not) uses it; `force` ignores a missing volume. */
  async remove(name: string, force = false): Promise<void> {
    const v = this.d.records.get(name);
    if (!v) {
      if (force) return;
      throw new NotFound(`get ${name}: no such volume`);
    }
    const users = this.d.references.usedBy(name);
    if (users.length) throw new Conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    // The record first: a crash before the directory goes leaves a directory that start-up removes.
    await this.d.records.delete(name);
    await this.driver.remove(name);
    this.d.events.publish('volume', 'destroy', name, { driver: 'local' });
  }

  /** `volume prune`: unused anonymous volumes, or all unused ones with `all=true`; `label` filters. */
  async prune(filters: Record<string, string[]> = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const unknown = Object.keys(filters).find((k) => !['label', 'label!', 'all'].includes(k));
    if (unknown) throw new InvalidArgument(`invalid filter '${unknown}'`);
    const all = (filters['all'] ?? []).some((x) => ['true', '1'].includes(x));
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.d.records.list()) {
      if (!all && !VolumeService.isAnonymous(v)) continue;
      if (this.d.references.usedBy(v.id).length) continue;
      if (!(filters['label'] ?? []).every((l) => labelMatches(v.labels, l))) continue;
      if ((filters['label!'] ?? []).some((l) => labelMatches(v.labels, l))) continue;
      const size = await this.driver.size(v.id);
      await this.remove(v.id).then(
        () => {
          deleted.push(v.id);
          reclaimed += size;
        },
        () => {},
      );
    }
    return { VolumesDeleted: deleted.sort(), SpaceReclaimed: reclaimed };
  }

  /** A container starting with the volume: its own mount is made for the first user. Returns the data path. */
  async acquire(name: string, containerId: string): Promise<string> {
    const v = this.get(name);
    const users = this.users.get(name) ?? new Set<string>();
    if (users.size === 0) await this.driver.mount(name, v.options);
    users.add(containerId);
    this.users.set(name, users);
    return this.driver.path(name);
  }

  /** The container stopped: the volume's own mount goes with its last user. */
  async release(name: string, containerId: string): Promise<void> {
    const users = this.users.get(name);
    if (!users?.delete(containerId)) return;
    if (users.size === 0) {
      this.users.delete(name);
      const v = this.d.records.get(name);
      if (v) await this.driver.unmount(name, v.options);
    }
  }

  /** At start-up, a running container's volumes are in use again (their mounts are still there). */
  adopt(name: string, containerId: string): void {
    const users = this.users.get(name) ?? new Set<string>();
    users.add(containerId);
    this.users.set(name, users);
  }
}

function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  return eq < 0 ? filter in labels : labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}
