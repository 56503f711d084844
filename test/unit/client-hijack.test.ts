// The client's hijacked connections (attach, exec start): nothing the daemon sends may be lost, also when it comes
// in the same read as the 101 answer (a failed exec's message did, under load, and the CLI printed nothing).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/client/index.js';

let dir: string;
let server: Server;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-hijack-'));
  // One write: the upgrade answer and the stream's first bytes together, then the end.
  server = createServer((socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nunable to find user nosuch\r\n'));
  });
  await new Promise<void>((r) => server.listen(join(dir, 'sock'), r));
});
after(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('client hijack', () => {
  it('keeps the bytes that arrive with the 101 answer', async () => {
    const socket = await new EngineClient(`unix://${join(dir, 'sock')}`).hijack('POST', '/exec/x/start', { body: { Detach: false, Tty: true } });
    const chunks: Buffer[] = [];
    for await (const c of socket) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'unable to find user nosuch\r\n');
  });
});
