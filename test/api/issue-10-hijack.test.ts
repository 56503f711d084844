// issue-10: hijacked connections (attach, exec start) whose clients detach or hang up at any moment must never take
// berthd down. Raw sockets, as the failing clients used them.
// (Unix sockets have no RST: a peer closing with unread data in its buffer is what gives the daemon ECONNRESET.)
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Daemon, startDaemon, waitForNoLeftovers } from '../harness/daemon.js';

/** Sends a hijack request on a raw socket; resolves with the socket once the status line and headers arrived. */
function hijack(d: Daemon, method: string, path: string, body?: unknown): Promise<{ socket: Socket; head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(d.host.replace('unix://', ''));
    socket.on('error', reject);
    const payload = body === undefined ? '' : JSON.stringify(body);
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ socket, head: buf.subarray(0, end).toString(), rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
  });
}

const ended = (socket: Socket, ms: number) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once('end', done).once('close', done);
    socket.resume();
  });

describe('issue-10: hijacked connections', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d?.destroy());

  /** rm -f, which must answer within `ms` (a hang is the bug; the bound only turns it into a failure). */
  const forceRemovedWithin = async (cid: string, ms: number) => {
    const removed = d.client.do('DELETE', `/containers/${cid}`, { query: { force: 1 } }).then(() => 'removed');
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise((r) => (timer = setTimeout(() => r('stuck'), ms)));
    assert.equal(await Promise.race([removed, stuck]), 'removed');
    clearTimeout(timer);
  };

  const alive = async () => {
    const res = await d.client.raw('GET', '/_ping');
    res.resume();
    assert.equal(res.statusCode, 200, 'berthd still answers');
    // The last-resort handler would keep berthd up anyway: an error that reaches it is still a bug.
    assert.doesNotMatch(d.logs(), /unhandled|uncaught/i);
  };

  it('issue-10 crash 2: exec with detach keys over a TTY detaches, and a client that then hangs up leaves berthd up', async () => {
    const { Id: cid } = await d.client.json<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['cat'], OpenStdin: true } });
    await d.client.do('POST', `/containers/${cid}/start`);
    const { Id: eid } = await d.client.json<{ Id: string }>('POST', `/containers/${cid}/exec`, {
      body: { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, Tty: true, DetachKeys: 'ctrl-p' },
    });
    const { socket, head } = await hijack(d, 'POST', `/exec/${eid}/start`, { Tty: true });
    assert.match(head, /^HTTP\/1.1 101/);
    socket.on('error', () => {});
    socket.write('abc');
    socket.write('\x10');
    assert.ok(await ended(socket, 5000), 'the daemon ended the session on the detach keys');
    socket.destroy();
    await new Promise((r) => setTimeout(r, 300));
    await alive();
    const exec = await d.client.json<{ Running: boolean }>('GET', `/exec/${eid}/json`);
    assert.equal(exec.Running, true, 'a detached exec goes on running');
    // The crash as the client suite hit it: the client hangs up with the echo of its input unread.
    for (let i = 0; i < 3; i++) {
      const { Id: e2 } = await d.client.json<{ Id: string }>('POST', `/containers/${cid}/exec`, { body: { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, Tty: true, DetachKeys: 'ctrl-p' } });
      const s2 = await hijack(d, 'POST', `/exec/${e2}/start`, { Tty: true });
      s2.socket.on('error', () => {});
      s2.socket.write('x'.repeat(4096) + '\n');
      await new Promise((r) => setTimeout(r, 200));
      s2.socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    await alive();
    await d.client.do('DELETE', `/containers/${cid}`, { query: { force: 1 } });
    await waitForNoLeftovers(d);
  });

  it('issue-10 crash 3: a hijack refused (no such container, no such route) whose client hangs up', async () => {
    for (const path of ['/containers/nosuch/attach?stream=1&stdout=1', '/exec/nosuch/start', '/networks/x/attach']) {
      const { socket, head } = await hijack(d, 'POST', path, path.includes('exec') ? { Tty: false } : undefined);
      assert.match(head, /^HTTP\/1.1 404/, path);
      socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    await alive();
  });

  it('input typed into a container that is not running, then a hang-up: the container can still be removed (chaos finding)', async () => {
    const { Id: cid } = await d.client.json<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['cat'], OpenStdin: true } });
    const a = await hijack(d, 'POST', `/containers/${cid}/attach?stream=1&stdin=1&stdout=1`);
    a.socket.on('error', () => {});
    a.socket.write('typed before any start\n');
    await new Promise((r) => setTimeout(r, 100));
    a.socket.destroy();
    // The write waited for a start that never came, and the removal waited for the write: a deadlock.
    await forceRemovedWithin(cid, 10_000);
    await alive();
  });

  it('rm -f of a container whose TTY exec was flooded with input (its monitor blocked on a full terminal)', async () => {
    const { Id: cid } = await d.client.json<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '600'] } });
    await d.client.do('POST', `/containers/${cid}/start`);
    const { Id: eid } = await d.client.json<{ Id: string }>('POST', `/containers/${cid}/exec`, {
      body: { Cmd: ['sh', '-c', 'while :; do echo tick; usleep 20000; done & exec cat'], AttachStdin: true, AttachStdout: true, Tty: true },
    });
    const e = await hijack(d, 'POST', `/exec/${eid}/start`, { Tty: true });
    e.socket.on('error', () => {});
    // Output is never read and input floods in: the terminal fills both ways and the exec's conmon blocks.
    e.socket.write(Buffer.alloc(256 * 1024, 'input line\n'));
    await new Promise((r) => setTimeout(r, 1000));
    e.socket.destroy();
    await forceRemovedWithin(cid, 20_000);
    await alive();
    await waitForNoLeftovers(d);
  });

  it('clients that hang up at every point of an attach and of an exec start', async () => {
    const { Id: cid } = await d.client.json<{ Id: string }>('POST', '/containers/create', {
      body: { Image: 'busybox', Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.05; done'], OpenStdin: true, Tty: false },
    });
    await d.client.do('POST', `/containers/${cid}/start`);
    for (const delay of [0, 1, 20, 100]) {
      const a = await hijack(d, 'POST', `/containers/${cid}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
      a.socket.on('error', () => {});
      a.socket.resume();
      a.socket.write('input\n');
      await new Promise((r) => setTimeout(r, delay));
      a.socket.destroy();
      const { Id: eid } = await d.client.json<{ Id: string }>('POST', `/containers/${cid}/exec`, { body: { Cmd: ['sh', '-c', 'cat; yes | head -c 1000000'], AttachStdin: true, AttachStdout: true, AttachStderr: true } });
      const e = await hijack(d, 'POST', `/exec/${eid}/start`, { Tty: false });
      e.socket.on('error', () => {});
      e.socket.resume();
      e.socket.end('x');
      await new Promise((r) => setTimeout(r, delay));
      e.socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    await alive();
    await d.client.do('DELETE', `/containers/${cid}`, { query: { force: 1 } });
    await waitForNoLeftovers(d);
  });
});
