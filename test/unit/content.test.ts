import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openContentStore, type ContentStore } from '../../src/content/index.js';
import { FailedPrecondition } from '../../src/errors/index.js';
import { sha256 } from '../../src/oci/index.js';

describe('content store', () => {
  let root: string;
  let store: ContentStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    store = await openContentStore(root);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('stores by digest and reads back', async () => {
    const info = await store.put('hello');
    assert.equal(info.digest, sha256('hello'));
    assert.equal((await store.read(info.digest)).toString(), 'hello');
    assert.deepEqual(await store.info(info.digest), { digest: info.digest, size: 5 });
  });
  it('streams large input and verifies the expected digest', async () => {
    const data = Buffer.alloc(5 << 20, 7);
    const info = await store.ingest(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), { digest: sha256(data), size: data.length });
    assert.equal(info.size, data.length);
  });
  it('rejects a digest mismatch and keeps nothing', async () => {
    const before = (await store.list()).length;
    await assert.rejects(store.put('tampered', { digest: sha256('original') }), FailedPrecondition);
    await assert.rejects(store.put('toolong', { size: 3 }), FailedPrecondition);
    assert.equal((await store.list()).length, before);
    assert.deepEqual(await readdir(join(root, 'ingest')), []);
  });
  it('adopts a complete file after verifying it, and never keeps a wrong one', async () => {
    const file = join(root, 'upload');
    await writeFile(file, 'adopted');
    const info = await store.adopt(file, { digest: sha256('adopted') });
    assert.equal((await store.read(info.digest)).toString(), 'adopted');
    assert.deepEqual((await readdir(root)).includes('upload'), false, 'the file was moved, not copied');
    const before = (await store.list()).length;
    await writeFile(file, 'tampered');
    await assert.rejects(store.adopt(file, { digest: sha256('original') }), FailedPrecondition);
    assert.equal((await store.list()).length, before);
    assert.deepEqual((await readdir(root)).includes('upload'), false);
  });
  it('is idempotent for content it already has', async () => {
    const a = await store.put('same');
    const b = await store.put('same');
    assert.deepEqual(a, b);
  });
  it('reclaims ingests left by a crash', async () => {
    await writeFile(join(root, 'ingest', 'stale-1'), 'partial');
    assert.equal(await store.reclaimIngests(), 1);
    assert.deepEqual(await readdir(join(root, 'ingest')), []);
  });
  it('refuses to build a path from an invalid digest', () => {
    assert.throws(() => store.path('sha256:../../etc/passwd' as never));
  });
});
