// Every (state, operation) pair of a container, against what dockerd answers: allowed, 304 or 409 with its message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../../src/errors/index.js';
import { type ContainerStatus, type Operation, containerStatuses, ensureState, operations } from '../../src/services/containers/state.js';

type Outcome = 'ok' | 'NotModified' | 'Conflict';
const o: Outcome = 'ok';
const N: Outcome = 'NotModified';
const C: Outcome = 'Conflict';

// Columns: created running paused restarting exited removing dead
const expected: Record<Operation, Outcome[]> = {
  start: [o, N, C, N, o, C, C],
  stop: [N, o, o, o, N, C, N],
  kill: [C, o, o, C, C, C, C],
  pause: [C, o, C, C, C, C, C],
  unpause: [C, C, o, C, C, C, C],
  restart: [o, o, o, o, o, C, C],
  remove: [o, C, C, C, o, C, o],
  forceRemove: [o, o, o, o, o, C, o],
  exec: [C, o, C, C, C, C, C],
  resize: [C, o, o, C, C, C, C],
  top: [C, o, o, C, C, C, C],
  update: [o, o, o, o, o, C, o],
  rename: [o, o, o, o, o, C, o],
};

function outcome(op: Operation, status: ContainerStatus): { kind: Outcome; message?: string } {
  try {
    ensureState(op, status, { id: 'c0ffee', asked: 'web' });
    return { kind: 'ok' };
  } catch (e) {
    assert.ok(isBerthError(e), `${op} in ${status} threw a non-domain error`);
    return { kind: e.code as Outcome, message: e.message };
  }
}

describe('container state machine', () => {
  it('has a row for every operation and a column for every state', () => {
    assert.deepEqual(Object.keys(expected).sort(), [...operations].sort());
    assert.deepEqual(containerStatuses, ['created', 'running', 'paused', 'restarting', 'exited', 'removing', 'dead']);
  });

  for (const op of operations) {
    it(`${op}: allowed and refused states`, () => {
      containerStatuses.forEach((status, i) => assert.equal(outcome(op, status).kind, expected[op][i], `${op} in ${status}`));
    });
  }

  it("uses dockerd's messages", () => {
    assert.equal(outcome('remove', 'restarting').message, 'cannot remove container "web": container is restarting: stop the container before removing or force remove');
    assert.equal(outcome('remove', 'running').message, 'cannot remove container "web": container is running: stop the container before removing or force remove');
    assert.equal(outcome('start', 'paused').message, 'cannot start a paused container, try unpause instead');
    assert.equal(outcome('start', 'running').message, 'container already started');
    assert.equal(outcome('stop', 'exited').message, 'container already stopped');
    assert.equal(outcome('exec', 'paused').message, 'Container c0ffee is paused, unpause the container before exec');
    assert.equal(outcome('kill', 'restarting').message, 'Container c0ffee is restarting, wait until the container is running');
    assert.equal(outcome('kill', 'exited').message, 'Cannot kill container: web: Container c0ffee is not running');
    assert.equal(outcome('forceRemove', 'removing').message, 'removal of container c0ffee is already in progress');
  });
});
