import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/client/index.js';
import { type Daemon, startDaemon } from '../harness/daemon.js';
import { imageConfig, saveTar, tarOf } from '../harness/images.js';
import { assertConsistent, snapshot } from '../harness/store.js';

describe('bad input is refused cleanly', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d?.destroy());

  async function loadFails(tar: Buffer, message: RegExp): Promise<void> {
    const before = await snapshot(d.dataRoot);
    await assert.rejects(
      d.client.json('POST', '/images/load', { body: tar, headers: { 'Content-Type': 'application/x-tar' } }),
      (e: unknown) => e instanceof ApiError && e.status === 400 && message.test(e.message),
    );
    const after = await assertConsistent(d.dataRoot);
    assert.deepEqual([...after.blobs].sort(), [...before.blobs].sort(), 'no blob added');
    assert.deepEqual([...after.layers].sort(), [...before.layers].sort(), 'no layer added');
  }

  it('a corrupt archive', async () => {
    await loadFails(randomBytes(4096), /invalid tar|archive/);
    const cli = await d.berth(['load'], { input: randomBytes(2048) });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^Error response from daemon: /);
  });

  it('a truncated archive', async () => {
    const good = await saveTar([{ tags: ['trunc:1'], layers: [await tarOf([{ name: 'f', content: Buffer.alloc(3000, 1) }])] }]);
    await loadFails(good.subarray(0, 2048), /invalid|unexpected end|missing/i);
  });

  it('a layer whose content does not match the config (digest mismatch)', async () => {
    const real = await tarOf([{ name: 'real', content: 'real' }]);
    const claimed = await tarOf([{ name: 'claimed', content: 'claimed' }]);
    const config = imageConfig({ tags: [], layers: [claimed] });
    await loadFails(await saveTar([{ tags: ['mismatch:1'], layers: [real] }], { configOverride: config }), /digest mismatch/);
  });

  for (const [what, files] of [
    ['a .. entry', [{ name: '../escaped-by-dotdot', content: 'x' }]],
    ['an entry through a symlink to /', [{ name: 'link', type: 'symlink', linkname: '/tmp' }, { name: 'link/escaped-by-symlink', content: 'x' }]],
    ['a hard link to a host file', [{ name: 'pw', type: 'link', linkname: '../../../../../../etc/passwd' }]],
  ] as const) {
    it(`a layer with ${what}`, async () => {
      const layer = await tarOf(files as never);
      await loadFails(await saveTar([{ tags: ['evil:1'], layers: [layer] }]), /escape|outside|symlink|link/i);
      await assert.rejects(access('/tmp/escaped-by-symlink'));
    });
  }

  it('invalid and unknown references', async () => {
    const bad = await d.berth(['tag', 'busybox', 'Not:Valid:Ref']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid reference format/);
    await assert.rejects(d.client.json('POST', '/images/busybox/tag', { query: { repo: 'UPPER' } }), (e: unknown) => e instanceof ApiError && e.status === 400);
    await assert.rejects(d.client.json('GET', '/images/does-not-exist/json'), (e: unknown) => e instanceof ApiError && e.status === 404 && /No such image: does-not-exist:latest/.test(e.message));
    const inspect = await d.docker(['image', 'inspect', 'does-not-exist']);
    assert.equal(inspect.code, 1);
    assert.match(inspect.stderr, /No such image: does-not-exist/);
  });

  it('bad filters and flags', async () => {
    await assert.rejects(d.client.json('GET', '/images/json', { query: { filters: '{"nonsense":["1"]}' } }), (e: unknown) => e instanceof ApiError && e.status === 400);
    await assert.rejects(d.client.json('GET', '/images/json', { query: { filters: 'not json' } }), (e: unknown) => e instanceof ApiError && e.status === 400);
    const flag = await d.berth(['images', '--no-such-flag']);
    assert.equal(flag.code, 125);
  });
});
