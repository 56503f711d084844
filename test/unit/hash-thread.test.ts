import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { crc32Stream, sha256Stream } from '../../src/util/hash-thread.js';

const expected = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Feeds `data` in chunks of the sizes `sizes` gives, in turn, waiting when update asks to. */
async function feed(data: Buffer, sizes: number[], where: 'worker' | 'here' = 'worker', size?: number): Promise<string> {
  const h = sha256Stream(where, size);
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    await h.update(data.subarray(off, off + n));
    off += n;
  }
  return h.digest();
}

describe('sha256Stream', () => {
  const data = randomBytes(40 << 20);

  it('gives the digest of what it was given, off the main thread, whatever the chunking (chunks bigger than its ring too)', async () => {
    for (const sizes of [[65536], [1, 4095, 100_000, 1 << 20], [9 << 20], [data.length]]) {
      assert.equal(await feed(data, sizes), expected(data), `chunks of ${sizes.join(', ')}`);
    }
    assert.equal(await feed(Buffer.alloc(0), [1]), expected(Buffer.alloc(0)), 'nothing at all');
  });

  it('with the size known beforehand: the same digests, a small stream hashed in place (update never asks to wait)', async () => {
    assert.equal(await feed(data, [65536, 1 << 20], 'worker', data.length), expected(data));
    const small = data.subarray(0, 1 << 20);
    assert.equal(await feed(small, [4096], 'worker', small.length), expected(small));
    const h = sha256Stream('worker', small.length);
    assert.equal(h.update(small), undefined);
    assert.equal(await h.digest(), expected(small));
  });

  it("'here' hashes on the calling thread: the same digests, and update never asks to wait", async () => {
    for (const sizes of [[65536], [1, 4095, 100_000, 1 << 20], [data.length]]) {
      assert.equal(await feed(data, sizes, 'here'), expected(data), `chunks of ${sizes.join(', ')}`);
    }
    const h = sha256Stream('here');
    for (let off = 0; off < data.length; off += 1 << 20) assert.equal(h.update(data.subarray(off, off + (1 << 20))), undefined);
    assert.equal(await h.digest(), expected(data));
  });

  it('keeps streams apart when many are fed at once, and hashes small ones in place', async () => {
    const parts = Array.from({ length: 6 }, (_, i) => data.subarray(i * (5 << 20), (i + 1) * (5 << 20) + i));
    const digests = await Promise.all(parts.map((p, i) => feed(p, [16384 * (i + 1)])));
    assert.deepEqual(digests, parts.map(expected));
    const small = data.subarray(0, 1000);
    assert.equal(await feed(small, [10]), expected(small));
  });

  it('CRC-32 (gzip\'s trailer) the same way, small and big', async () => {
    for (const part of [data.subarray(0, 999), data.subarray(0, 9 << 20)]) {
      const h = crc32Stream();
      for (let off = 0; off < part.length; off += 65536) await h.update(part.subarray(off, off + 65536));
      assert.equal(parseInt(await h.digest(), 16), crc32(part));
    }
  });

  it('a chunk changed after update does not change the digest: update keeps a copy (small and big streams)', async () => {
    const chunk = Buffer.from(data.subarray(0, 3 << 20));
    const h = sha256Stream();
    await h.update(chunk);
    const want = expected(chunk);
    chunk.fill(0);
    assert.equal(await h.digest(), want);
    const small = Buffer.from(data.subarray(0, 1000));
    const hs = sha256Stream();
    await hs.update(small);
    const wantSmall = expected(small);
    small.fill(0);
    assert.equal(await hs.digest(), wantSmall);
  });

  it('a stream dropped before its digest is forgotten: it does not keep the process alive', () => {
    const script = `
      const { sha256Stream } = await import(${JSON.stringify(new URL('../../src/util/hash-thread.ts', import.meta.url).href)});
      const done = sha256Stream();
      await done.update(Buffer.alloc(3 << 20, 1));
      console.log(await done.digest());
      let dropped = sha256Stream();
      await dropped.update(Buffer.alloc(3 << 20, 2));
      dropped = undefined;
      await new Promise((r) => setTimeout(r, 10));
      globalThis.gc();
    `;
    const dir = mkdtempSync(join(tmpdir(), 'berth-hash-'));
    try {
      writeFileSync(join(dir, 'drop.mts'), script);
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(dir, 'drop.mts')], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), expected(Buffer.alloc(3 << 20, 1)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
