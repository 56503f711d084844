import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, type Socket, createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendFileRange } from '../../src/util/send-file.js';

/** A real TCP connection on loopback: `send` runs on the server side, the client side reads until the end. */
async function overSocket(send: (sink: Socket) => Promise<void>, o: { clientReads?: number } = {}): Promise<{ sent: Promise<void>; received: Promise<Buffer> }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const sink = await accepted;
  sink.on('error', () => {}); // a reset by the client: seen by sendFileRange through its writes
  server.close();
  const received = new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    client.on('data', (b: Buffer) => {
      parts.push(b);
      size += b.length;
      if (o.clientReads !== undefined && size >= o.clientReads) client.destroy();
    });
    client.on('close', () => resolve(Buffer.concat(parts)));
    client.on('error', reject);
  });
  const sent = send(sink).finally(() => sink.end());
  sent.catch(() => sink.destroy());
  return { sent, received };
}

/** Descriptors of this process open on `file` (other descriptors, sockets closing say, come and go meanwhile). */
const openOn = async (file: string) => {
  const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return links.filter((l) => l === file).length;
};

describe('sendFileRange', () => {
  let dir: string;
  let path: string;
  const data = randomBytes((5 << 20) + 12345);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-sendfile-'));
    path = join(dir, 'blob');
    await writeFile(path, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('sends exactly the range asked for: whole, across buffer boundaries, one byte, the last byte', async () => {
    for (const [start, end] of [[0, data.length - 1], [1, (4 << 20) + 7], [(2 << 20) - 1, 2 << 20], [77, 77], [data.length - 1, data.length - 1]] as const) {
      const { sent, received } = await overSocket((sink) => sendFileRange(path, start, end, sink));
      await sent;
      assert.ok((await received).equals(data.subarray(start, end + 1)), `bytes ${start}-${end}`);
    }
    assert.equal(await openOn(path), 0, 'the file is closed after each');
  });

  it('rejects when the file is shorter than the range, and when the receiver goes away; the file is closed', async () => {
    const short = await overSocket((sink) => sendFileRange(path, 0, data.length + 10, sink));
    await assert.rejects(short.sent, /ended at/);
    assert.equal((await short.received).length, data.length);
    const gone = await overSocket((sink) => sendFileRange(path, 0, data.length - 1, sink), { clientReads: 1 });
    await assert.rejects(gone.sent);
    assert.ok((await gone.received).length < data.length);
    assert.equal(await openOn(path), 0);
  });

  it('one sink takes many files in turn, sharing the buffers, and keeps no listener per file', async () => {
    const { sent, received } = await overSocket(async (sink) => {
      const listeners = sink.listenerCount('close');
      const buffers: Buffer[] = [];
      for (let i = 0; i < 20; i++) await sendFileRange(path, i * 1000, i * 1000 + (3 << 20) - 1, sink, { buffers });
      assert.equal(sink.listenerCount('close'), listeners);
      assert.equal(buffers.length, 2);
    });
    await sent;
    const want = Buffer.concat(Array.from({ length: 20 }, (_, i) => data.subarray(i * 1000, i * 1000 + (3 << 20))));
    assert.ok((await received).equals(want));
  });
});
