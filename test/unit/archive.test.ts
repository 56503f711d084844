import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { InvalidArgument } from '../../src/errors/index.js';
import { applyLayer, packLayer } from '../../src/layers/index.js';
import { sha, tarOf } from '../harness/images.js';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A tar with entry types the test harness's helper does not make: devices, fifos, xattrs, owners. */
async function richTar(): Promise<Buffer> {
  const p = pack();
  const out = collect(p as unknown as Readable);
  const t = new Date(1_600_000_000_000);
  p.entry({ name: 'dir/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime: t });
  p.entry({ name: 'dir/file', mode: 0o4755, uid: 1000, gid: 1001, mtime: t, pax: { 'SCHILY.xattr.user.berth': 'yes' } }, Buffer.from('content'));
  p.entry({ name: 'dir/hard', type: 'link', linkname: 'dir/file', mtime: t });
  p.entry({ name: 'dir/sym', type: 'symlink', linkname: '/etc/passwd', mtime: t });
  p.entry({ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime: t });
  p.entry({ name: 'fifo', type: 'fifo', mode: 0o600, mtime: t });
  p.entry({ name: 'empty', mode: 0o644, mtime: t }, Buffer.alloc(0));
  p.finalize();
  return out;
}

describe('layer archives', () => {
  let root: string;
  let n = 0;
  const fresh = async () => {
    const d = join(root, `d${++n}`);
    await mkdir(d);
    return d;
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-archive-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('applies every entry type with owners, modes, times and xattrs, and packs it back identically', async () => {
    const tar = await richTar();
    const a = await fresh();
    const applied = await applyLayer(Readable.from([tar]), a);
    assert.equal(applied.diffId, sha(tar));
    assert.equal(applied.size, 7 + '/etc/passwd'.length, 'file bytes plus the symlink, hard link counted once');
    const f = await stat(join(a, 'dir/file'));
    assert.equal(f.mode & 0o7777, 0o4755, 'setuid kept after chown');
    assert.equal(f.uid, 1000);
    assert.equal(f.gid, 1001);
    assert.equal(f.mtimeMs, 1_600_000_000_000);
    assert.equal((await stat(join(a, 'dir'))).mtimeMs, 1_600_000_000_000, 'directory mtime set after its contents');
    assert.equal((await stat(join(a, 'dir/hard'))).ino, f.ino, 'hard link shares the inode');
    assert.equal(await readlink(join(a, 'dir/sym')), '/etc/passwd');
    const dev = await lstat(join(a, 'dev/null'));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, (1 << 8) | 3);
    assert.ok((await lstat(join(a, 'fifo'))).isFIFO());
    assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'user.berth', join(a, 'dir/file')]).toString(), 'yes');
    // pack → apply elsewhere → pack again: the same bytes.
    const packed = await collect(packLayer(a));
    const b = await fresh();
    await applyLayer(Readable.from([packed]), b);
    assert.deepEqual(await collect(packLayer(b)), packed);
  });

  it('reads gzip and zstd layers and reports the diff ID of the uncompressed tar', async () => {
    const tar = await tarOf([{ name: 'x', content: 'compressed' }]);
    const gz = await applyLayer(Readable.from([gzipSync(tar)]), await fresh());
    assert.equal(gz.diffId, sha(tar));
    const zst = execFileSync('zstd', ['-c', '-q'], { input: tar });
    const z = await applyLayer(Readable.from([zst]), await fresh());
    assert.equal(z.diffId, sha(tar));
  });

  it('turns OCI whiteouts into overlay whiteouts and opaque directories, and back', async () => {
    const tar = await tarOf([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.removed' },
      { name: 'opaque/', type: 'directory' },
      { name: 'opaque/.wh..wh..opq' },
      { name: 'opaque/kept', content: 'k' },
    ]);
    const d = await fresh();
    await applyLayer(Readable.from([tar]), d);
    const wh = await lstat(join(d, 'etc/removed'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
    assert.deepEqual((await readdir(join(d, 'etc'))).sort(), ['removed']);
    assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(d, 'opaque')]).toString(), 'y');
    const names: string[] = [];
    const { extract } = await import('tar-stream');
    const ex = extract();
    const done = (async () => {
      for await (const e of ex) {
        names.push(e.header.name);
        e.resume();
      }
    })();
    packLayer(d, { overlayWhiteouts: true }).pipe(ex as unknown as NodeJS.WritableStream);
    await done;
    assert.deepEqual(names, ['etc/', 'etc/.wh.removed', 'opaque/', 'opaque/.wh..wh..opq', 'opaque/kept']);
  });

  for (const [what, files] of [
    ['a .. entry', [{ name: '../outside', content: 'x' }]],
    ['a deep .. entry', [{ name: 'a/../../outside', content: 'x' }]],
    ['an entry through a symlink to an absolute path', [{ name: 'link', type: 'symlink', linkname: '/' }, { name: 'link/outside', content: 'x' }]],
    ['an entry through a symlink to ..', [{ name: 'up', type: 'symlink', linkname: '..' }, { name: 'up/outside', content: 'x' }]],
    ['a hard link outside', [{ name: 'h', type: 'link', linkname: '../outside-target' }]],
    ['a hard link through a symlink', [{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 'l/passwd' }]],
  ] as const) {
    it(`refuses ${what} and writes nothing outside`, async () => {
      await writeFile(join(root, 'outside-target'), 'host file');
      const d = await fresh();
      const tar = await tarOf(files as never);
      await assert.rejects(applyLayer(Readable.from([tar]), d), InvalidArgument);
      await assert.rejects(stat(join(root, 'outside')));
      await assert.rejects(stat('/outside'));
      assert.equal(await readFile(join(root, 'outside-target'), 'utf8'), 'host file');
    });
  }

  it('rejects truncated tars and corrupt gzip', async () => {
    const tar = await tarOf([{ name: 'big', content: Buffer.alloc(10_000, 1) }]);
    await assert.rejects(applyLayer(Readable.from([tar.subarray(0, 3000)]), await fresh()), InvalidArgument);
    const gz = gzipSync(tar);
    gz.writeUInt8((gz[gz.length - 10] ?? 0) ^ 0xff, gz.length - 10);
    await assert.rejects(applyLayer(Readable.from([gz]), await fresh()), InvalidArgument);
  });

  it('lets a later entry replace an earlier one, file over directory and back', async () => {
    const tar = await tarOf([
      { name: 'x/', type: 'directory' },
      { name: 'x/inner', content: '1' },
      { name: 'x', content: 'now a file' },
      { name: 'y', content: 'file' },
      { name: 'y/', type: 'directory' },
    ]);
    const d = await fresh();
    await applyLayer(Readable.from([tar]), d);
    assert.equal(await readFile(join(d, 'x'), 'utf8'), 'now a file');
    assert.ok((await stat(join(d, 'y'))).isDirectory());
  });
});
