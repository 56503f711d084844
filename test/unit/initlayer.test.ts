// The shared init layers (services/containers/etc.ts): what they hold, which one an image gets, and that a
// half-made one from a daemon that died is cleared rather than used.
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InitLayers } from '../../src/services/containers/etc.js';

describe('init layers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-init-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('an image with a plain /etc gets the mountpoints, /.dockerenv, the /etc files and /etc/mtab', async () => {
    const root = join(dir, 'a');
    await mkdir(join(root, 'etc.tmp-999999', 'junk'), { recursive: true }); // left by a daemon that died
    const layers = new InitLayers(root);
    const kind = await layers.forImage([]);
    assert.equal(kind, 'etc');
    assert.deepEqual(await readdir(root), ['etc']);
    const layer = layers.path(kind);
    for (const d of ['proc', 'sys', 'dev/pts', 'dev/shm']) assert.ok((await lstat(join(layer, d))).isDirectory(), d);
    for (const f of ['.dockerenv', 'dev/console', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']) assert.ok((await lstat(join(layer, f))).isFile(), f);
    assert.equal(await readlink(join(layer, 'etc', 'mtab')), '/proc/mounts');
    assert.equal(await layers.forImage([]), 'etc', 'made once, then reused');
  });

  it('an image whose /etc is a symlink gets a layer without /etc', async () => {
    const image = join(dir, 'image');
    await mkdir(join(image, 'realetc'), { recursive: true });
    await symlink('realetc', join(image, 'etc'));
    const upper = join(dir, 'upper');
    await mkdir(upper);
    await writeFile(join(upper, 'other'), '');
    const layers = new InitLayers(join(dir, 'b'));
    assert.equal(await layers.forImage([upper, image]), 'no-etc');
    assert.deepEqual((await readdir(layers.path('no-etc'))).sort(), ['.dockerenv', 'dev', 'proc', 'sys']);
  });
});
