import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pack } from 'tar-stream';
import { applyLayer, assembleTar, decodeTarSplit, encodeTarSplit, TarSplitter } from '../../src/layers/index.js';

/** Unpacks `tar` with a splitter; returns the tar made again from the files, or undefined when there is no split. */
async function roundTrip(dir: string, tar: Buffer): Promise<Buffer | undefined> {
  const dest = await mkdtemp(join(dir, 'layer-'));
  const split = new TarSplitter();
  await applyLayer(Readable.from([tar]), dest, { split });
  const made = split.result();
  if (!made) return undefined;
  const again = await decodeTarSplit(await encodeTarSplit(made));
  const chunks: Buffer[] = [];
  for await (const c of assembleTar(again, dest)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A tar from tar-stream's writer, entries as given (duplicates and whiteouts included). */
async function streamTar(entries: Array<{ name: string; content?: Buffer | string; type?: 'directory' | 'file' }>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if (e.type === 'directory') p.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else p.entry({ name: e.name, mode: 0o644 }, Buffer.from(e.content ?? ''));
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('tar-split: a layer tar made again from its unpacked files', () => {
  let dir: string;
  let src: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-tarsplit-'));
    src = join(dir, 'src');
    const deep = join(src, 'd'.repeat(110), 'e'.repeat(110));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, `${'f'.repeat(120)}.bin`), randomBytes(3 << 20)); // long name, several chunks
    await writeFile(join(src, 'odd'), randomBytes(1001)); // data not a multiple of 512
    await writeFile(join(src, 'empty'), '');
    await link(join(src, 'odd'), join(src, 'hard'));
    await symlink(`/${'t'.repeat(150)}`, join(src, 'longlink')); // long link target
    await writeFile(join(src, 'ünïcode name'), 'x');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // GNU long-name entries, pax headers, and oldgnu's variant of the GNU ones.
  for (const format of ['gnu', 'pax', 'oldgnu'] as const) {
    it(`GNU tar --format=${format}: byte for byte`, async (t) => {
      const tar = execFileSync('tar', ['-C', src, `--format=${format}`, '--sort=name', '-cf', '-', '.'], { maxBuffer: 64 << 20 });
      const again = await roundTrip(dir, tar);
      t.diagnostic(`${tar.length} bytes`);
      assert.ok(again, 'a split');
      assert.ok(again.equals(tar), 'the same bytes');
    });
  }

  it('trailing blocks past the end marker are kept as they were', async () => {
    const tar = Buffer.concat([await streamTar([{ name: 'a', content: 'a' }]), Buffer.alloc(10240)]);
    assert.ok((await roundTrip(dir, tar))?.equals(tar));
  });

  it('no split when a payload does not survive as a file: a path written twice, a whiteout with content, a file replaced by a directory', async () => {
    assert.equal(await roundTrip(dir, await streamTar([{ name: 'dup', content: 'one' }, { name: 'dup', content: 'two' }])), undefined);
    assert.equal(await roundTrip(dir, await streamTar([{ name: 'x', content: 'x' }, { name: '.wh.y', content: 'not empty' }])), undefined);
    assert.equal(await roundTrip(dir, await streamTar([{ name: 'p', content: 'file first' }, { name: 'p', type: 'directory' }])), undefined);
    // Empty duplicates carry no payload: nothing is lost.
    const empty = await streamTar([{ name: 'e', content: '' }, { name: 'e', content: '' }]);
    assert.ok((await roundTrip(dir, empty))?.equals(empty));
  });

  it('a file changed after unpacking fails the stream instead of giving other bytes', async () => {
    const tar = await streamTar([{ name: 'f', content: 'original' }]);
    const dest = await mkdtemp(join(dir, 'layer-'));
    const split = new TarSplitter();
    await applyLayer(Readable.from([tar]), dest, { split });
    await writeFile(join(dest, 'f'), 'longer than before');
    const made = split.result();
    assert.ok(made);
    await assert.rejects(async () => {
      for await (const _ of assembleTar(made, dest));
    }, /is 18 bytes, its tar entry 8/);
    assert.equal((await readFile(join(dest, 'f'), 'utf8')).length, 18);
  });
});
