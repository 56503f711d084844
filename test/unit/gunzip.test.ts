import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createLayerGzip } from '../../src/layers/index.js';
import { gunzipChunks } from '../../src/layers/archive/gunzip.js';

/** Decodes `gz` fed in chunks of `size` bytes. */
async function gunzip(gz: Buffer, size: number): Promise<Buffer> {
  async function* chunks() {
    for (let i = 0; i < gz.length; i += size) yield gz.subarray(i, i + size);
  }
  const out: Buffer[] = [];
  for await (const c of gunzipChunks(chunks())) out.push(c);
  return Buffer.concat(out);
}

async function layerGzip(data: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of Readable.from([data]).pipe(createLayerGzip({ level: 1 }))) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('gunzip with stored blocks passed through', () => {
  const random = randomBytes(3 << 20);
  const text = Buffer.from('hello world, again and again '.repeat(40_000));

  it('stored, deflated, and several members, whatever the input chunking', async () => {
    const cases: Array<[string, Buffer, Buffer]> = [
      ['stored (level 0)', random, gzipSync(random, { level: 0 })],
      ['deflated', text, gzipSync(text)],
      ['three members', Buffer.concat([random, text, random]), Buffer.concat([gzipSync(random, { level: 0 }), gzipSync(text), gzipSync(random, { level: 0 })])],
      ['a header with a file name (FNAME)', text, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3]), Buffer.from('name.tar\0'), gzipSync(text).subarray(10)])],
    ];
    for (const [name, data, gz] of cases) {
      for (const size of [511, 65536, 1 << 20]) assert.ok((await gunzip(gz, size)).equals(data), `${name}, chunks of ${size}`);
    }
    // Byte by byte, on a small stream: every field split across reads.
    const small = gzipSync(text.subarray(0, 3000));
    assert.ok((await gunzip(small, 1)).equals(text.subarray(0, 3000)));
  });

  it('stored blocks, then compressed ones that refer back into them (the layer gzip of push)', async () => {
    const data = Buffer.concat([random.subarray(0, 2 << 20), text, random.subarray(0, 1 << 20), Buffer.from('abcabc'.repeat(100_000))]);
    const gz = await layerGzip(data);
    assert.ok(gz.length < data.length, 'some of it was deflated');
    for (const size of [4096, 65536, 1 << 20]) assert.ok((await gunzip(gz, size)).equals(data), `chunks of ${size}`);
  });

  it('refuses what is not gzip, and a stream cut short, in zlib’s words', async () => {
    await assert.rejects(gunzip(Buffer.from('not gzip at all'), 1024), /incorrect header check/);
    await assert.rejects(gunzip(gzipSync(random, { level: 0 }).subarray(0, 100_000), 65536), /unexpected end of file/);
    await assert.rejects(gunzip(gzipSync(text).subarray(0, 1000), 65536), /unexpected end of file/);
    const bad = Buffer.from(gzipSync(random.subarray(0, 1000), { level: 0 }));
    bad[13] = (bad[13] as number) ^ 0xff; // LEN no longer NLEN's complement
    await assert.rejects(gunzip(bad, 65536), /invalid stored block lengths/);
  });
});
