// A container's volumes and bind mounts: parsed at create from `-v` (Binds), `--mount` (Mounts), `--volumes-from`
// and the image's and request's VOLUMEs (anonymous volumes), as moby's volume/mounts parser and
// daemon/volumes.go do; set up at start (volumes acquired, first-use copy-up, missing `-v` host paths made); and
// given back at exit.
import { constants } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { posix } from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgument, NotFound } from '../../errors/index.js';
import { ScopedRoot, fdPathForChild } from '../../kernel/scoped.js';
import type { SpecMount } from '../../runtime/index.js';
import { type VolumeRecord, VolumeService } from '../volumes/index.js';
import type { MountRequest } from './hostconfig.js';

const run = promisify(execFile);

/** One volume or bind mount of a container (moby's MountPoint), as its record keeps it. */
export interface MountPoint {
  Type: 'volume' | 'bind';
  /** The volume's name. */
  Name?: string;
  /** A bind's host path (a volume's is its data directory, found at start). */
  Source: string;
  Destination: string;
  /** What the client wrote after the second colon of `-v` (`ro`, `z`, `nocopy`, …). */
  Mode: string;
  RW: boolean;
  /** Binds only: the mount's propagation (rprivate by default). */
  Propagation: string;
  /** Volumes only: leave an empty volume empty (no copy of the image's files). */
  NoCopy?: boolean;
  /** Volumes only: mount this directory of the volume (API 1.45 `VolumeOptions.Subpath`). */
  Subpath?: string;
  /** A `-v` bind whose host path is made if it is missing, as docker does (`--mount` refuses it instead). */
  CreateSource?: boolean;
}

const propagations = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const bindModes = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', ...propagations]);

/** What create needs to know to plan a container's mounts. */
export interface MountInputs {
  binds: string[];
  mounts: MountRequest[];
  /** Image VOLUMEs and `-v /path` (Config.Volumes). */
  anonymous: string[];
  volumesFrom: Array<{ mounts: MountPoint[]; readonly?: boolean }>;
}

/**
 * The mount points of a new container, in the order moby applies them (volumes-from, then `-v`, then `--mount`,
 * then anonymous volumes for destinations nothing else covers). Named volumes that do not exist are created, as are
 * the anonymous ones; a destination given twice is an error.
 */
export async function planMounts(inputs: MountInputs, volumes: VolumeService): Promise<MountPoint[]> {
  const byDestination = new Map<string, MountPoint>();
  const explicit = new Set<string>();
  const add = (m: MountPoint, from: 'volumes-from' | 'explicit') => {
    if (from === 'explicit') {
      if (explicit.has(m.Destination)) throw new InvalidArgument(`Duplicate mount point: ${m.Destination}`);
      explicit.add(m.Destination);
    }
    byDestination.set(m.Destination, m);
  };
  for (const from of inputs.volumesFrom) {
    for (const m of from.mounts) add({ ...m, RW: from.readonly === undefined ? m.RW : !from.readonly }, 'volumes-from');
  }
  const planned = [...inputs.binds.map(parseBind), ...inputs.mounts.filter((m) => m.Type !== 'tmpfs').map(parseMount)];
  for (const m of planned) add(m, 'explicit');
  // `--mount type=bind` wants its source to exist (`-v` makes it at start instead).
  for (const m of planned) {
    if (m.Type === 'bind' && !m.CreateSource && !(await stat(m.Source).then(() => true, () => false))) {
      throw new InvalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
    }
  }
  const made: VolumeRecord[] = [];
  try {
    for (const m of planned) {
      if (m.Type !== 'volume') continue;
      const v = m.Name ? await volumes.create({ name: m.Name }) : await volumes.createAnonymous();
      if (!m.Name) made.push(v);
      m.Name = v.id;
    }
    for (const dest of inputs.anonymous) {
      const destination = cleanDestination(dest, dest);
      if (byDestination.has(destination)) continue;
      const v = await volumes.createAnonymous();
      made.push(v);
      byDestination.set(destination, { Type: 'volume', Name: v.id, Source: '', Destination: destination, Mode: '', RW: true, Propagation: '' });
    }
  } catch (e) {
    for (const v of made) await volumes.remove(v.id).catch(() => {});
    throw e;
  }
  return [...byDestination.values()];
}

/** `-v src:dst[:mode]`: a host path (absolute) is a bind, anything else a named volume. */
export function parseBind(spec: string): MountPoint {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p, i) => i < 2 && !p)) throw new InvalidArgument(`invalid volume specification: '${spec}'`);
  const [source = '', dest = '', mode = ''] = parts;
  const modes = mode ? mode.split(',') : [];
  for (const m of modes) if (!bindModes.has(m)) throw new InvalidArgument(`invalid mode: ${m}`);
  if (modes.includes('ro') && modes.includes('rw')) throw new InvalidArgument(`invalid mode: ${mode}`);
  const destination = cleanDestination(dest, spec);
  const rw = !modes.includes('ro');
  const propagation = modes.find((m) => propagations.has(m));
  if (source.startsWith('/')) {
    if (modes.includes('nocopy')) throw new InvalidArgument(`invalid mode: ${mode}`);
    return { Type: 'bind', Source: posix.normalize(source), Destination: destination, Mode: mode, RW: rw, Propagation: propagation ?? 'rprivate', CreateSource: true };
  }
  if (propagation) throw new InvalidArgument(`invalid mode: ${mode}`);
  return { Type: 'volume', Name: source, Source: '', Destination: destination, Mode: mode, RW: rw, Propagation: '', ...(modes.includes('nocopy') && { NoCopy: true }) };
}

/** `--mount type=volume|bind,…` (the API's Mount object). */
export function parseMount(m: MountRequest): MountPoint {
  const bad = (why: string) => new InvalidArgument(`invalid mount config for type "${m.Type}": ${why}`);
  if (!m.Target) throw bad('field Target must not be empty');
  const destination = cleanDestination(m.Target, m.Target, bad);
  if (m.Type === 'bind') {
    if (!m.Source) throw bad('field Source must not be empty');
    if (!m.Source.startsWith('/')) throw bad(`invalid mount path: '${m.Source}' mount path must be absolute`);
    if (m.VolumeOptions) throw bad('field VolumeOptions must not be specified');
    const propagation = m.BindOptions?.Propagation || 'rprivate';
    if (!propagations.has(propagation)) throw bad(`invalid propagation mode: ${propagation}`);
    return { Type: 'bind', Source: posix.normalize(m.Source), Destination: destination, Mode: '', RW: !m.ReadOnly, Propagation: propagation, ...(m.BindOptions?.CreateMountpoint && { CreateSource: true }) };
  }
  if (m.Type === 'volume') {
    if (m.BindOptions) throw bad('field BindOptions must not be specified');
    const driver = m.VolumeOptions?.DriverConfig?.Name;
    if (driver && driver !== 'local') throw new NotFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const subpath = m.VolumeOptions?.Subpath;
    if (subpath && (subpath.startsWith('/') || subpath.split('/').includes('..'))) throw bad(`subpath must be a relative path within the volume: ${subpath}`);
    return {
      Type: 'volume',
      ...(m.Source && { Name: m.Source }),
      Source: '',
      Destination: destination,
      Mode: '',
      RW: !m.ReadOnly,
      Propagation: '',
      ...(m.VolumeOptions?.NoCopy && { NoCopy: true }),
      ...(subpath && { Subpath: posix.normalize(subpath) }),
    };
  }
  throw bad('mount type unknown');
}

function cleanDestination(dest: string, spec: string, bad = (why: string) => new InvalidArgument(`invalid volume specification: '${spec}': ${why}`)): string {
  if (!dest.startsWith('/')) throw bad(`invalid mount config for type "volume": invalid mount path: '${dest}' mount path must be absolute`);
  const clean = posix.normalize(dest).replace(/(.)\/+$/, '$1');
  if (clean === '/') throw new InvalidArgument(`invalid specification: destination can't be '/'`);
  return clean;
}

/**
 * Makes a starting container's mounts ready and returns them for its OCI spec, parents before children: volumes
 * acquired (their own mount made if they have one) and, when empty and new to this path, filled with what the
 * image has there (docker's copy-up, skipped with `nocopy`); missing `-v` host paths made.
 */
export async function setUpMounts(containerId: string, points: MountPoint[], rootfs: string, volumes: VolumeService): Promise<SpecMount[]> {
  const out: Array<{ depth: number; mount: SpecMount }> = [];
  for (const m of points) {
    let source = m.Source;
    if (m.Type === 'volume') {
      const data = await volumes.acquire(m.Name as string, containerId);
      if (!m.NoCopy && !m.Subpath && (await isEmptyDir(data))) await copyUp(rootfs, m.Destination, data);
      source = m.Subpath ? posix.join(data, m.Subpath) : data;
      if (m.Subpath && !(await stat(source).then(() => true, () => false))) throw new InvalidArgument(`cannot access path ${source}: no such file or directory`);
    } else if (!(await stat(source).then(() => true, () => false))) {
      if (!m.CreateSource) throw new InvalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
      await mkdir(source, { recursive: true, mode: 0o755 });
    }
    const options = ['rbind', m.RW ? 'rw' : 'ro', m.Type === 'bind' ? m.Propagation || 'rprivate' : 'rprivate'];
    out.push({ depth: m.Destination.split('/').length, mount: { destination: m.Destination, type: 'bind', source, options } });
  }
  return out.sort((a, b) => a.depth - b.depth).map((x) => x.mount);
}

/** The container stopped: its volumes are given back (their own mounts go with their last user). */
export async function releaseMounts(containerId: string, points: MountPoint[], volumes: VolumeService): Promise<void> {
  for (const m of points) if (m.Type === 'volume' && m.Name) await volumes.release(m.Name, containerId);
}

async function isEmptyDir(path: string): Promise<boolean> {
  return (await readdir(path).catch(() => ['?'])).length === 0;
}

/**
 * Copies what the image has at `destination` into an empty volume, with owners, modes, times and xattrs (`cp -a`).
 * The path is resolved inside the root as the container would see it, so an image's symlink cannot point the copy
 * at the host; the copy reads through the resolved directory's descriptor.
 */
async function copyUp(rootfs: string, destination: string, volumeData: string): Promise<void> {
  await ScopedRoot.with(rootfs, async (root) => {
    const loc = await root.locate(destination, { followLast: true }).catch(() => undefined);
    if (!loc) return;
    try {
      const dir = await open(`/proc/self/fd/${loc.dir.fd}/${loc.name}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(() => undefined);
      if (!dir) return; // not there, or not a directory: nothing to copy
      try {
        await run('cp', ['-a', '--', `${fdPathForChild(dir)}/.`, `${volumeData}/`]);
      } finally {
        await dir.close();
      }
    } finally {
      await loc.dir.close();
    }
  });
}

/** Volume names a container's mounts use. */
export function volumeNames(points: MountPoint[] | undefined): string[] {
  return (points ?? []).flatMap((m) => (m.Type === 'volume' && m.Name ? [m.Name] : []));
}

export { VolumeService };
