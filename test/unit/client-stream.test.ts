// The client's streamed requests (a build): the body goes chunked and arrives whole, the answer is de-chunked
// whatever its reads look like, an error answer given before the body was read is what the caller hears, and an
// answer cut short is an error, not a quiet end.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ApiError, EngineClient } from '../../src/client/index.js';

let dir: string;
let server: Server;
/** What the next connection gets: called with the socket once the request's head has arrived. */
let answer: (socket: Socket, request: () => Promise<Buffer>) => void;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-stream-'));
  server = createServer((socket) => {
    let got = Buffer.alloc(0);
    let whole: (b: Buffer) => void = () => {};
    const request = new Promise<Buffer>((r) => (whole = r));
    let started = false;
    socket.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.includes('0\r\n\r\n')) whole(got);
      if (!started && got.includes('\r\n\r\n')) {
        started = true;
        answer(socket, () => request);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(join(dir, 'sock'), r));
});
after(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

const client = () => new EngineClient(`unix://${join(dir, 'sock')}`);
const body = (parts: string[]) => async (sink: Writable) => {
  for (const p of parts) await new Promise<void>((r, j) => sink.write(Buffer.from(p), (e) => (e ? j(e) : r())));
};
async function text(r: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('client stream', () => {
  it('sends the body chunked and reads a chunked answer split anywhere, a byte at a time included', async () => {
    const chunked = '5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld\n\r\n0\r\n\r\n';
    answer = (socket, request) => {
      void request().then(async (req) => {
        assert.match(req.toString(), /^POST \/v1\.45\/build\?t=x HTTP\/1\.1\r\n[^]*Transfer-Encoding: chunked\r\n/);
        assert.ok(req.toString().endsWith('\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'), 'the empty write sent nothing');
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (const ch of chunked) {
          socket.write(ch);
          await new Promise((r) => setImmediate(r));
        }
        socket.end();
      });
    };
    const res = await client().stream('POST', '/build', { query: { t: 'x' }, body: body(['abc', '', 'de']) });
    assert.equal(await text(res), 'hello world\n');
  });

  it('an error answered before the body was read is the ApiError told, with the daemon\'s message', async () => {
    answer = (socket) => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"message":"bad Dockerfile"}');
    const big = Array.from({ length: 64 }, () => 'x'.repeat(1 << 16));
    await assert.rejects(client().stream('POST', '/build', { body: body(big) }), (e: unknown) => e instanceof ApiError && e.status === 400 && e.message === 'bad Dockerfile');
  });

  it('an answer cut short fails its reader', async () => {
    answer = (socket, request) => void request().then(() => socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'));
    const res = await client().stream('POST', '/build', { body: body(['a']) });
    await assert.rejects(text(res), /before the end of its answer/);
  });

  it('no daemon is a ConnectError', async () => {
    await assert.rejects(new EngineClient(`unix://${join(dir, 'none')}`).stream('POST', '/build', { body: body([]) }), /Cannot connect to the Berth daemon/);
  });
});
