// A container's state machine: which operations each state allows, and dockerd's answer when it does not.
// Every lifecycle operation checks here, under the container's lock, on the record it has just reloaded
// (Podman's ensureState), so no operation reasons on a state another request has since changed.
import { type BerthError, Conflict, NotModified } from '../../errors/index.js';

/** Docker's state names (State.Status). `removing` is a removal in progress (moby's RemovalInProgress). */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removing' | 'dead';
export const containerStatuses: readonly ContainerStatus[] = ['created', 'running', 'paused', 'restarting', 'exited', 'removing', 'dead'];

/** The operations whose allowed states this table decides. */
export type Operation = 'start' | 'stop' | 'kill' | 'pause' | 'unpause' | 'restart' | 'remove' | 'forceRemove' | 'exec' | 'resize' | 'top' | 'update' | 'rename';
export const operations: readonly Operation[] = ['start', 'stop', 'kill', 'pause', 'unpause', 'restart', 'remove', 'forceRemove', 'exec', 'resize', 'top', 'update', 'rename'];

/** Whom a refusal names: the full ID, and what the client called the container (dockerd's rm messages echo it). */
export interface Subject {
  id: string;
  asked: string;
}
type Refusal = (s: Subject) => BerthError;

const notRunning: Refusal = (s) => new Conflict(`Container ${s.id} is not running`);
const restarting: Refusal = (s) => new Conflict(`Container ${s.id} is restarting, wait until the container is running`);
const removing: Refusal = (s) => new Conflict(`removal of container ${s.id} is already in progress`);
const markedForRemoval: Refusal = () => new Conflict('container is marked for removal and cannot be started');
const down = (r: Refusal) => ({ created: r, exited: r, dead: r, removing });
const cannotRemove = (why: string): Refusal => (s) => new Conflict(`cannot remove container "${s.asked}": ${why}`);

/** For each operation, the states that refuse it; a state not listed allows it. */
const refusals: Record<Operation, Partial<Record<ContainerStatus, Refusal>>> = {
  start: {
    running: () => new NotModified('container already started'),
    restarting: () => new NotModified('container already started'),
    paused: () => new Conflict('cannot start a paused container, try unpause instead'),
    removing: markedForRemoval,
    dead: markedForRemoval,
  },
  stop: { ...down(() => new NotModified('container already stopped')), removing },
  kill: { ...down((s) => new Conflict(`Cannot kill container: ${s.asked}: Container ${s.id} is not running`)), restarting },
  pause: { ...down(notRunning), paused: (s) => new Conflict(`Container ${s.id} is already paused`), restarting },
  unpause: { ...down((s) => new Conflict(`Container ${s.id} is not paused`)), running: (s) => new Conflict(`Container ${s.id} is not paused`), restarting: (s) => new Conflict(`Container ${s.id} is not paused`) },
  restart: { removing, dead: markedForRemoval },
  remove: {
    running: cannotRemove('container is running: stop the container before removing or force remove'),
    paused: cannotRemove('container is paused and must be unpaused first'),
    restarting: cannotRemove('container is restarting: stop the container before removing or force remove'),
    removing,
  },
  forceRemove: { removing },
  exec: { ...down(notRunning), paused: (s) => new Conflict(`Container ${s.id} is paused, unpause the container before exec`), restarting },
  resize: { ...down(notRunning), restarting },
  top: { ...down(notRunning), restarting },
  update: { removing },
  rename: { removing },
};

/** Throws dockerd's error if `op` is not allowed in `status`. */
export function ensureState(op: Operation, status: ContainerStatus, s: Subject): void {
  const refuse = refusals[op][status];
  if (refuse) throw refuse(s);
}

/** Running or paused: the container's processes exist. */
export function isUp(status: ContainerStatus | undefined): boolean {
  return status === 'running' || status === 'paused';
}
