// The containers' records, as the rest of the service sees them: immutable values (each save replaces the whole
// record, deeply frozen, so no caller can change state behind the store's back), name and ID-prefix lookup, and
// one lock per container under which every operation reloads the record and checks its state first.
import { Conflict, InvalidArgument, NotFound } from '../../errors/index.js';
import type { RecordStore } from '../../metadata/records.js';
import { Mutex } from '../../util/mutex.js';
import { type ContainerStatus, type Operation, ensureState } from './state.js';
import type { ContainerRecord, ContainerStateRecord } from './record.js';

export class ContainerStore {
  private readonly locks = new Map<string, Mutex>();
  /** Containers being removed (moby's RemovalInProgress): shown as `removing`, refused every other operation. */
  private readonly removals = new Set<string>();
  /** Names being given by a create or rename in flight. */
  private readonly pendingNames = new Set<string>();

  constructor(private readonly records: RecordStore<ContainerRecord>) {
    for (const c of records.list()) deepFreeze(c);
  }

  get(id: string): ContainerRecord | undefined {
    return this.records.get(id);
  }

  list(): ContainerRecord[] {
    return this.records.list();
  }

  /** By full ID, name (with or without "/"), or unique ID prefix. */
  resolve(idOrName: string): ContainerRecord {
    const byId = this.records.get(idOrName);
    if (byId) return byId;
    const all = this.records.list();
    const name = idOrName.replace(/^\//, '');
    const found = all.find((c) => c.name === name) ?? uniquePrefix(all, idOrName);
    if (!found) throw new NotFound(`No such container: ${idOrName}`);
    return found;
  }

  /** The container that has this name, if any. */
  named(name: string): ContainerRecord | undefined {
    return this.records.list().find((c) => c.name === name);
  }

  /** The status operations are checked against: a removal in progress shows, whatever the record says. */
  statusOf(c: ContainerRecord): ContainerStatus {
    return this.removals.has(c.id) ? 'removing' : c.state.status;
  }

  /** A new version of a record kept in memory only (see RecordStore.keep). */
  keep(next: ContainerRecord): void {
    this.records.keep(deepFreeze(next));
  }

  /** Persists a new version of a record (the caller builds it from the last one with spreads). */
  async save(next: ContainerRecord): Promise<ContainerRecord> {
    deepFreeze(next);
    await this.records.put(next);
    return next;
  }

  /** A new state for the container's current record, persisted; returns the new record. */
  setState(c: ContainerRecord, patch: Partial<ContainerStateRecord>): Promise<ContainerRecord> {
    const current = this.records.get(c.id) ?? c;
    return this.save({ ...current, state: { ...current.state, ...patch } });
  }

  async delete(id: string): Promise<void> {
    await this.records.delete(id);
    this.locks.delete(id);
  }

  /** Runs `fn` under the container's lock with its reloaded record (NotFound if it went meanwhile). */
  async locked<T>(idOrName: string, fn: (c: ContainerRecord) => Promise<T>): Promise<T> {
    const { id } = this.resolve(idOrName);
    return this.lock(id).run(async () => {
      const c = this.records.get(id);
      if (!c) throw new NotFound(`No such container: ${idOrName}`);
      return fn(c);
    });
  }

  /**
   * The skeleton of every lifecycle operation, as in Podman: lock → reload → ensureState(op), else dockerd's
   * error → act (`fn` saves what it changes).
   */
  transition<T>(idOrName: string, op: Operation, fn: (c: ContainerRecord) => Promise<T>): Promise<T> {
    return this.locked(idOrName, async (c) => {
      ensureState(op, this.statusOf(c), { id: c.id, asked: idOrName });
      return fn(c);
    });
  }

  /** A removal is in progress (see ContainerService.remove): the container shows as `removing` until it ends. */
  beginRemoval(id: string): void {
    this.removals.add(id);
  }

  endRemoval(id: string): void {
    this.removals.delete(id);
  }

  isRemoving(id: string): boolean {
    return this.removals.has(id);
  }

  /** Whether a container has, or is being given, this name. */
  nameTaken(name: string): boolean {
    return this.pendingNames.has(name) || this.named(name) !== undefined;
  }

  /**
   * Holds `name` for `owner` (a new container when undefined) while `fn` runs, so two creates or renames cannot both
   * take it; dockerd's message when another container has it.
   */
  async withName<T>(name: string, owner: string | undefined, fn: () => Promise<T>): Promise<T> {
    const holder = this.named(name);
    if (this.pendingNames.has(name) || (holder && holder.id !== owner)) {
      const by = holder ? `by container "${holder.id}"` : 'by another container';
      const prefix = owner ? 'Error when allocating new name: ' : '';
      throw new Conflict(`${prefix}Conflict. The container name "/${name}" is already in use ${by}. You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.pendingNames.add(name);
    try {
      return await fn();
    } finally {
      this.pendingNames.delete(name);
    }
  }

  private lock(id: string): Mutex {
    let m = this.locks.get(id);
    if (!m) this.locks.set(id, (m = new Mutex()));
    return m;
  }
}

function uniquePrefix(all: ContainerRecord[], prefix: string): ContainerRecord | undefined {
  if (!/^[a-f0-9]+$/.test(prefix)) return undefined;
  const m = all.filter((c) => c.id.startsWith(prefix));
  if (m.length > 1) throw new InvalidArgument(`multiple IDs found with provided prefix: ${prefix}`);
  return m[0];
}

/** Freezes a record and everything in it that is not frozen yet (parts shared with the last version already are). */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
  return value;
}
