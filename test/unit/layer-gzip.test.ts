import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type GzipStats, createLayerGzip } from '../../src/layers/index.js';

async function gzipOf(data: Buffer, chunk: number, stats?: GzipStats): Promise<Buffer> {
  const parts = function* () {
    for (let o = 0; o < data.length; o += chunk) yield data.subarray(o, o + chunk);
  };
  const out: Buffer[] = [];
  for await (const c of Readable.from(parts()).pipe(createLayerGzip(stats ? { stats } : {}))) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** Text-like data: compresses well, as most layer content does. */
function texty(n: number): Buffer {
  const words = ['layer', 'image', 'registry', 'blob', 'digest', 'manifest', 'config', 'berth', '\n', ' '];
  let s = '';
  for (let i = 0; s.length < n; i++) s += words[(i * 7919) % words.length] + String(i % 97);
  return Buffer.from(s.slice(0, n));
}

describe('createLayerGzip', () => {
  it('stores random data and deflates compressible data; zlib and gzip(1) read both back', async () => {
    const data = Buffer.concat([randomBytes(3 << 20), texty(3 << 20), randomBytes(12345)]);
    const stats: GzipStats = { stored: 0, deflated: 0 };
    const gz = await gzipOf(data, 65536, stats);
    assert.deepEqual(gunzipSync(gz), data);
    assert.deepEqual(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }), data);
    assert.ok(stats.stored >= 3 && stats.deflated >= 3, JSON.stringify(stats));
    // Stored costs 5 bytes per 64 KiB block; the text part must have shrunk well below its size.
    assert.ok(gz.length < data.length - (2 << 20), `${gz.length} of ${data.length}`);
  });

  it('gives the same bytes however the input is chunked (one tar, one blob)', async () => {
    const data = Buffer.concat([texty(1500000), randomBytes(1 << 20)]);
    const a = await gzipOf(data, 65536);
    const b = await gzipOf(data, 77777);
    const c = await gzipOf(data, data.length);
    assert.equal(createHash('sha256').update(a).digest('hex'), createHash('sha256').update(b).digest('hex'));
    assert.deepEqual(a, c);
  });

  it('makes valid streams of empty and tiny input', async () => {
    for (const data of [Buffer.alloc(0), Buffer.from('x'), randomBytes(70000)]) {
      assert.deepEqual(gunzipSync(await gzipOf(data, 1000)), data);
    }
  });
});
