// kernel/scoped.ts (paths resolved as inside a chroot, safe against symlink swaps) and layers/archive/copy.ts
// (docker cp's archives read and written through it), on a temporary tree with an "outside" next to the root.
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ScopedRoot, removeAt } from '../../src/kernel/scoped.js';
import { extractInRoot, packInRoot } from '../../src/layers/index.js';
import { tarOf } from '../harness/images.js';

describe('scoped root', () => {
  let dir: string;
  let root: string;
  let outside: string;
  let r: ScopedRoot;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-scoped-'));
    root = join(dir, 'root');
    outside = join(dir, 'outside');
    await mkdir(join(root, 'data', 'sub'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(outside, 'secret'), 'host');
    await writeFile(join(root, 'data', 'file'), 'inside');
    await symlink('/data', join(root, 'abs'));
    await symlink('../../../../..', join(root, 'up'));
    await symlink(outside, join(root, 'out'));
    await symlink('loop2', join(root, 'loop1'));
    await symlink('loop1', join(root, 'loop2'));
    await symlink('/missing/x/../y', join(root, 'dangling'));
    r = await ScopedRoot.open(root);
  });
  after(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  const partsOf = async (path: string, followLast = false) => {
    const loc = await r.locate(path, { followLast });
    await loc.close();
    return loc.parts;
  };

  it('resolves symlinks as inside the root: absolute targets from the root, `..` stopping at it', async () => {
    assert.deepEqual(await partsOf('/abs/file'), ['data', 'file']);
    assert.deepEqual(await partsOf('abs', true), ['data']);
    assert.deepEqual(await partsOf('abs'), ['abs'], 'the last component is not followed unless asked');
    assert.deepEqual(await partsOf('/up/up/../../data/sub'), ['data', 'sub']);
    assert.deepEqual(await partsOf('/../../..'), []);
    // `out` points at the host directory's path, which does not exist inside the root.
    await assert.rejects(r.locate('/out/secret'), { code: 'ENOENT' });
    assert.equal(await r.realPath('/out/secret'), `${outside}/secret`);
    await assert.rejects(r.locate('/loop1/x'), { code: 'ELOOP' });
    await assert.rejects(r.locate('/data/file/x'), { code: 'ENOTDIR' });
    assert.equal(await r.realPath('/dangling'), '/missing/y');
    assert.equal(await r.realPath('/up'), '/');
  });

  it('a directory swapped for a symlink after resolution is refused, not followed', async () => {
    const loc = await r.locate('/data/sub/new', { followLast: true });
    await rename(join(root, 'data'), join(root, 'data-moved'));
    await symlink(outside, join(root, 'data'));
    try {
      // The open parent is the real directory, wherever it went: writing there stays inside the root.
      await writeFile(loc.path, 'written');
      assert.equal(await readFile(join(root, 'data-moved', 'sub', 'new'), 'utf8'), 'written');
      // O_NOFOLLOW|O_DIRECTORY on a symlink: ENOTDIR (ELOOP without O_DIRECTORY).
      await assert.rejects(r.openParts(['data', 'sub']), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR' || e.code === 'ELOOP');
      assert.deepEqual((await readdir(outside)).sort(), ['secret']);
    } finally {
      await loc.close();
      await rm(join(root, 'data'));
      await rename(join(root, 'data-moved'), join(root, 'data'));
      await rm(join(root, 'data', 'sub', 'new'));
    }
  });

  it('removeAt deletes a tree without following the symlinks in it', async () => {
    await mkdir(join(root, 'doomed'));
    await symlink(outside, join(root, 'doomed', 'link'));
    const top = await r.openParts([]);
    try {
      await removeAt(top, 'doomed');
    } finally {
      await top.close();
    }
    assert.equal(await lstat(join(root, 'doomed')).then(() => true, () => false), false);
    assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'host');
  });

  it('extraction follows symlinks only inside the root and refuses names climbing out', async () => {
    const tmp = ['tmp'];
    await mkdir(join(root, 'tmp'));
    const extract = (entries: Parameters<typeof tarOf>[0]) => tarOf(entries).then((t) => extractInRoot(r, tmp, Readable.from([t])));
    await extract([{ name: 'lnk', type: 'symlink', linkname: outside }, { name: 'lnk/secret', content: 'pwned' }]);
    await extract([{ name: 'rel', type: 'symlink', linkname: '../../../../..' }, { name: 'rel/escaped', content: 'pwned' }]);
    await extract([{ name: `/abs-name`, content: 'x' }]);
    await assert.rejects(extract([{ name: '../../x', content: 'pwned' }]), /invalid entry name/);
    await assert.rejects(extract([{ name: 'h', type: 'link', linkname: '../../outside/secret' }]), /invalid hard link target/);
    assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'host');
    assert.deepEqual(await readdir(outside), ['secret']);
    assert.equal(await readFile(join(root, ...outside.split('/').filter(Boolean), 'secret'), 'utf8'), 'pwned', 'written in the root');
    assert.equal(await readFile(join(root, 'escaped'), 'utf8'), 'pwned');
    assert.equal(await readFile(join(root, 'tmp', 'abs-name'), 'utf8'), 'x');
    await assert.rejects(lstat(join(dir, 'escaped')));
  });

  it('packs a directory as docker names it, without following symlinks inside', async () => {
    const loc = await r.locate('/data');
    const chunks: Buffer[] = [];
    for await (const c of packInRoot(loc, await loc.lstat(), 'data')) chunks.push(c as Buffer);
    const tar = join(dir, 'data.tar');
    await writeFile(tar, Buffer.concat(chunks));
    const { execFileSync } = await import('node:child_process');
    assert.deepEqual(execFileSync('tar', ['-tf', tar]).toString().trim().split('\n'), ['data/', 'data/file', 'data/sub/']);
  });
});
