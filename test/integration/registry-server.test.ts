// berth-registry as a real process on loopback (dist/berth-registry.js; `npm run build` first), driven by raw HTTP
// for the protocol's corners and by the real clients: skopeo (Debian `skopeo`) and dockerd 20.10 (Debian
// `docker.io`, started privately on vfs storage with no bridge and no iptables rules). Everything a test starts
// or writes is removed in `after`, also when a test failed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dist, run } from '../harness/daemon.js';
import { type BerthRegistry, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, type ReferenceDockerd, busyboxArchive, sha, startBerthRegistry, startReferenceDockerd } from '../harness/registries.js';

type ErrorBody = { errors: { code: string; message: string; detail: unknown }[] };
const codes = async (r: Response) => ((await r.json()) as ErrorBody).errors.map((e) => e.code);

describe('berth-registry', () => {
  let dir: string;
  let root: string;
  let reg: BerthRegistry;
  const u = (path: string) => `${reg.url}${path}`;

  /** Pushes a blob in one POST; returns its digest. */
  const pushBlob = async (repo: string, data: string | Buffer) => {
    const d = sha(data);
    const r = await fetch(u(`/v2/${repo}/blobs/uploads/?digest=${d}`), { method: 'POST', body: typeof data === 'string' ? data : new Uint8Array(data), headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(r.status, 201, await r.text());
    return d;
  };
  const pushManifest = async (repo: string, ref: string, body: string, type = OCI_MANIFEST) =>
    fetch(u(`/v2/${repo}/manifests/${ref}`), { method: 'PUT', body, headers: { 'Content-Type': type } });
  /** An OCI image manifest over freshly pushed config and layer blobs. */
  const imageManifest = async (repo: string, seed: string, extra: Record<string, unknown> = {}) => {
    const config = await pushBlob(repo, `{"seed":"${seed}"}`);
    const layer = await pushBlob(repo, `layer of ${seed}`);
    return JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: `{"seed":"${seed}"}`.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: `layer of ${seed}`.length }],
      ...extra,
    });
  };

  before(async () => {
    assert.ok(existsSync(dist('berth-registry')), 'run `npm run build` first');
    dir = await mkdtemp(join(tmpdir(), 'berth-regsrv-'));
    root = join(dir, 'root');
    reg = await startBerthRegistry(['serve', '--addr', '127.0.0.1:0', '--root', root]);
  });
  after(async () => {
    await reg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers the version check, and a route it does not know is a 404', async () => {
    const r = await fetch(u('/v2/'));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await r.json(), {});
    assert.equal((await fetch(u('/v3/'))).status, 404);
    const wrongMethod = await fetch(u('/v2/a/tags/list'), { method: 'POST' });
    assert.equal(wrongMethod.status, 405);
    assert.deepEqual(await codes(wrongMethod), ['UNSUPPORTED']);
  });

  it('monolithic POST ?digest=, blob GET/HEAD with ranges; a wrong digest is DIGEST_INVALID and stores nothing', async () => {
    const data = Buffer.from('0123456789abcdef');
    const d = await pushBlob('mono/repo', data);
    const head = await fetch(u(`/v2/mono/repo/blobs/${d}`), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '16');
    assert.equal(head.headers.get('docker-content-digest'), d);
    const get = await fetch(u(`/v2/mono/repo/blobs/${d}`));
    assert.equal(Buffer.from(await get.arrayBuffer()).toString(), data.toString());
    const part = await fetch(u(`/v2/mono/repo/blobs/${d}`), { headers: { Range: 'bytes=4-7' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 4-7/16');
    assert.equal(await part.text(), '4567');
    const suffix = await fetch(u(`/v2/mono/repo/blobs/${d}`), { headers: { Range: 'bytes=-3' } });
    assert.equal(await suffix.text(), 'def');
    const beyond = await fetch(u(`/v2/mono/repo/blobs/${d}`), { headers: { Range: 'bytes=99-' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), 'bytes */16');

    const bad = await fetch(u(`/v2/mono/repo/blobs/uploads/?digest=${sha('other')}`), { method: 'POST', body: 'not other' });
    assert.equal(bad.status, 400);
    assert.deepEqual(await codes(bad), ['DIGEST_INVALID']);
    assert.equal((await fetch(u(`/v2/mono/repo/blobs/${sha('not other')}`), { method: 'HEAD' })).status, 404);
    assert.deepEqual(await readdir(join(root, 'content', 'ingest')), [], 'a refused upload leaves no ingest file');
    const unknown = await fetch(u(`/v2/mono/repo/blobs/${sha('never pushed')}`));
    assert.equal(unknown.status, 404);
    assert.deepEqual(await codes(unknown), ['BLOB_UNKNOWN']);
    // Another repository does not see the blob until it is linked there (pushed or mounted).
    assert.equal((await fetch(u(`/v2/mono/other/blobs/${d}`), { method: 'HEAD' })).status, 404);
  });

  it('POST then PUT with the whole body, and chunked PATCHes with Content-Range, status, 416 and a final chunk in the PUT', async () => {
    const post = await fetch(u('/v2/chunky/blobs/uploads/'), { method: 'POST' });
    assert.equal(post.status, 202);
    const loc = post.headers.get('location') ?? '';
    assert.match(loc, /^\/v2\/chunky\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.equal(post.headers.get('range'), '0-0');
    const put = await fetch(u(`${loc}?digest=${sha('in one put')}`), { method: 'PUT', body: 'in one put' });
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('location'), `/v2/chunky/blobs/${sha('in one put')}`);
    assert.equal(await (await fetch(u(`/v2/chunky/blobs/${sha('in one put')}`))).text(), 'in one put');
    assert.equal((await fetch(u(loc))).status, 404, 'the session is gone once closed');

    const whole = 'aaaaabbbbbccccc';
    const s = await fetch(u('/v2/chunky/blobs/uploads/'), { method: 'POST', headers: { 'Content-Length': '0' } });
    let at = s.headers.get('location') ?? '';
    const p1 = await fetch(u(at), { method: 'PATCH', body: 'aaaaa', headers: { 'Content-Range': '0-4', 'Content-Type': 'application/octet-stream' } });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get('range'), '0-4');
    at = p1.headers.get('location') ?? '';
    const gap = await fetch(u(at), { method: 'PATCH', body: 'ccccc', headers: { 'Content-Range': '10-14' } });
    assert.equal(gap.status, 416);
    assert.equal(gap.headers.get('range'), '0-4', 'a refused chunk says where the upload stands');
    const short = await fetch(u(at), { method: 'PATCH', body: 'bbb', headers: { 'Content-Range': '5-9' } });
    assert.equal(short.status, 400, 'a chunk shorter than its range is refused');
    const status = await fetch(u(at));
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-4', 'and leaves nothing behind');
    const p2 = await fetch(u(at), { method: 'PATCH', body: 'bbbbb', headers: { 'Content-Range': '5-9' } });
    assert.equal(p2.headers.get('range'), '0-9');
    // A PATCH without Content-Range (docker's streaming upload) appends at the offset.
    const wrongTotal = await fetch(u(`${at}?digest=${sha('nope')}`), { method: 'PUT', body: 'ccccc', headers: { 'Content-Range': '10-14' } });
    assert.equal(wrongTotal.status, 400);
    assert.deepEqual(await codes(wrongTotal), ['DIGEST_INVALID']);
    assert.deepEqual(await codes(await fetch(u(at))), ['BLOB_UPLOAD_UNKNOWN'], 'a refused digest ends the session, as in distribution');

    const again = await fetch(u('/v2/chunky/blobs/uploads/'), { method: 'POST' });
    at = again.headers.get('location') ?? '';
    await fetch(u(at), { method: 'PATCH', body: 'aaaaabbbbb' });
    const fin = await fetch(u(`${at}?digest=${sha(whole)}`), { method: 'PUT', body: 'ccccc', headers: { 'Content-Range': '10-14' } });
    assert.equal(fin.status, 201, await fin.text());
    assert.equal(fin.headers.get('docker-content-digest'), sha(whole));
    assert.equal(await (await fetch(u(`/v2/chunky/blobs/${sha(whole)}`))).text(), whole);
  });

  it('cancels an upload; a session is unknown to other repositories and to malformed ids', async () => {
    const s = await fetch(u('/v2/cancel/me/blobs/uploads/'), { method: 'POST' });
    const loc = s.headers.get('location') ?? '';
    const id = loc.split('/').pop() ?? '';
    assert.deepEqual(await codes(await fetch(u(`/v2/someone/else/blobs/uploads/${id}`))), ['BLOB_UPLOAD_UNKNOWN']);
    assert.deepEqual(await codes(await fetch(u('/v2/cancel/me/blobs/uploads/..%2F..%2Fcontent'))), ['BLOB_UPLOAD_UNKNOWN']);
    const del = await fetch(u(loc), { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(existsSync(join(root, 'uploads', id)), false);
    const gone = await fetch(u(loc), { method: 'PATCH', body: 'x' });
    assert.equal(gone.status, 404);
    assert.deepEqual(await codes(gone), ['BLOB_UPLOAD_UNKNOWN']);
  });

  it('mounts a blob from another repository (stored once), and falls back to a session when it cannot', async () => {
    const d = await pushBlob('mount/src', 'shared layer bytes');
    const m = await fetch(u(`/v2/mount/dst/blobs/uploads/?mount=${d}&from=mount/src`), { method: 'POST' });
    assert.equal(m.status, 201);
    assert.equal(m.headers.get('location'), `/v2/mount/dst/blobs/${d}`);
    assert.equal(m.headers.get('docker-content-digest'), d);
    assert.equal(await (await fetch(u(`/v2/mount/dst/blobs/${d}`))).text(), 'shared layer bytes');
    // Pushing the same bytes to a third repository keeps one copy on disk.
    await pushBlob('mount/third', 'shared layer bytes');
    const files = (await readdir(join(root, 'content', 'blobs', 'sha256'))).filter((f) => `sha256:${f}` === d);
    assert.equal(files.length, 1);

    const miss = await fetch(u(`/v2/mount/dst2/blobs/uploads/?mount=${sha('absent')}&from=mount/src`), { method: 'POST' });
    assert.equal(miss.status, 202);
    assert.match(miss.headers.get('location') ?? '', /^\/v2\/mount\/dst2\/blobs\/uploads\//);

    // Deleting the blob from one repository unlinks it there only.
    const del = await fetch(u(`/v2/mount/dst/blobs/${d}`), { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.equal((await fetch(u(`/v2/mount/dst/blobs/${d}`), { method: 'HEAD' })).status, 404);
    assert.equal((await fetch(u(`/v2/mount/src/blobs/${d}`), { method: 'HEAD' })).status, 200);
    assert.deepEqual(await codes(await fetch(u(`/v2/mount/dst/blobs/${d}`), { method: 'DELETE' })), ['BLOB_UNKNOWN']);
  });

  it('manifests: PUT checks references and digests, GET/HEAD by tag and digest with content negotiation, DELETE', async () => {
    const body = await imageManifest('man/repo', 'one');
    const d = sha(body);
    const missing = JSON.stringify({ ...JSON.parse(body), layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha('absent layer'), size: 3 }] });
    const refused = await pushManifest('man/repo', 'v1', missing);
    assert.equal(refused.status, 400);
    assert.deepEqual(await codes(refused), ['MANIFEST_BLOB_UNKNOWN']);
    const wrongDigest = await pushManifest('man/repo', sha('something else'), body);
    assert.equal(wrongDigest.status, 400);
    assert.deepEqual(await codes(wrongDigest), ['DIGEST_INVALID']);
    assert.deepEqual(await codes(await pushManifest('man/repo', 'v1', '{not json')), ['MANIFEST_INVALID']);
    assert.deepEqual(await codes(await pushManifest('man/repo', 'v1', body, DOCKER_MANIFEST)), ['MANIFEST_INVALID'], 'mediaType contradicts Content-Type');

    const ok = await pushManifest('man/repo', 'v1', body);
    assert.equal(ok.status, 201, await ok.text());
    assert.equal(ok.headers.get('docker-content-digest'), d);
    assert.equal(ok.headers.get('location'), `/v2/man/repo/manifests/${d}`);
    for (const ref of ['v1', d]) {
      const g = await fetch(u(`/v2/man/repo/manifests/${ref}`), { headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}` } });
      assert.equal(g.status, 200);
      assert.equal(g.headers.get('content-type'), OCI_MANIFEST);
      assert.equal(g.headers.get('docker-content-digest'), d);
      assert.equal(await g.text(), body, 'the exact bytes pushed');
    }
    const h = await fetch(u('/v2/man/repo/manifests/v1'), { method: 'HEAD', headers: { Accept: OCI_MANIFEST } });
    assert.equal(h.headers.get('content-length'), String(Buffer.byteLength(body)));
    const notAccepted = await fetch(u('/v2/man/repo/manifests/v1'), { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(notAccepted.status, 404);
    assert.deepEqual(await codes(notAccepted), ['MANIFEST_UNKNOWN']);

    // An index whose entries must exist; a client that does not take indexes gets the linux/amd64 entry.
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: d, size: Buffer.byteLength(body), platform: { os: 'linux', architecture: 'amd64' } }] });
    const badIndex = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha('no such manifest'), size: 1 }] });
    assert.deepEqual(await codes(await pushManifest('man/repo', 'multi', badIndex, OCI_INDEX)), ['MANIFEST_BLOB_UNKNOWN']);
    assert.equal((await pushManifest('man/repo', 'multi', index, OCI_INDEX)).status, 201);
    const asIndex = await fetch(u('/v2/man/repo/manifests/multi'), { headers: { Accept: `${OCI_INDEX}, ${OCI_MANIFEST}` } });
    assert.equal(asIndex.headers.get('content-type'), OCI_INDEX);
    const asImage = await fetch(u('/v2/man/repo/manifests/multi'), { headers: { Accept: OCI_MANIFEST } });
    assert.equal(asImage.headers.get('docker-content-digest'), d);

    assert.deepEqual(await codes(await fetch(u('/v2/man/repo/manifests/nosuchtag'))), ['MANIFEST_UNKNOWN']);
    assert.deepEqual(await codes(await fetch(u('/v2/never/pushed/manifests/latest'))), ['MANIFEST_UNKNOWN']);
    // Deleting a tag leaves the manifest; deleting the manifest takes the tags pointing at it too.
    await pushManifest('man/repo', 'v2', body);
    assert.equal((await fetch(u('/v2/man/repo/manifests/v1'), { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(u('/v2/man/repo/manifests/v1'))).status, 404);
    assert.equal((await fetch(u(`/v2/man/repo/manifests/${d}`), { headers: { Accept: OCI_MANIFEST } })).status, 200);
    assert.equal((await fetch(u(`/v2/man/repo/manifests/${d}`), { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(u(`/v2/man/repo/manifests/${d}`))).status, 404);
    assert.equal((await fetch(u('/v2/man/repo/manifests/v2'))).status, 404);
    assert.deepEqual(await codes(await fetch(u(`/v2/man/repo/manifests/${d}`), { method: 'DELETE' })), ['MANIFEST_UNKNOWN']);
  });

  it('tags and the catalog come in pages with a Link to the next one', async () => {
    const body = await imageManifest('tags/repo', 'tags');
    for (const t of ['b', 'a', 'd', 'c', 'e']) assert.equal((await pushManifest('tags/repo', t, body)).status, 201);
    const all = await (await fetch(u('/v2/tags/repo/tags/list'))).json();
    assert.deepEqual(all, { name: 'tags/repo', tags: ['a', 'b', 'c', 'd', 'e'] });
    const seen: string[] = [];
    let next: string | null = '/v2/tags/repo/tags/list?n=2';
    let pages = 0;
    while (next) {
      const r: Response = await fetch(u(next));
      seen.push(...((await r.json()) as { tags: string[] }).tags);
      next = /^<([^>]+)>; rel="next"$/.exec(r.headers.get('link') ?? '')?.[1] ?? null;
      pages++;
    }
    assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'e']);
    assert.equal(pages, 3);
    const afterC = await (await fetch(u('/v2/tags/repo/tags/list?last=c'))).json();
    assert.deepEqual(afterC, { name: 'tags/repo', tags: ['d', 'e'] });
    const zero = await fetch(u('/v2/tags/repo/tags/list?n=0'));
    assert.deepEqual(((await zero.json()) as { tags: string[] }).tags, []);
    assert.equal(zero.headers.get('link'), null);
    assert.equal((await fetch(u('/v2/tags/repo/tags/list?n=x'))).status, 400);
    const unknown = await fetch(u('/v2/no/such/repo/tags/list'));
    assert.equal(unknown.status, 404);
    assert.deepEqual(await codes(unknown), ['NAME_UNKNOWN']);

    for (const r of ['cat/z', 'cat/y/deep']) assert.equal((await pushManifest(r, 'latest', await imageManifest(r, r))).status, 201);
    const full = ((await (await fetch(u('/v2/_catalog'))).json()) as { repositories: string[] }).repositories;
    assert.ok(full.includes('cat/z') && full.includes('cat/y/deep') && full.includes('tags/repo'), JSON.stringify(full));
    assert.deepEqual([...full].sort(), full);
    const first = await fetch(u('/v2/_catalog?n=1'));
    assert.deepEqual(await first.json(), { repositories: [full[0]] });
    assert.equal(first.headers.get('link'), `</v2/_catalog?last=${encodeURIComponent(full[0] ?? '')}&n=1>; rel="next"`);
  });

  it('the referrers API lists manifests by their subject, with artifactType and annotations, and filters', async () => {
    const subjectBody = await imageManifest('refs/repo', 'subject');
    const subject = sha(subjectBody);
    const empty = await fetch(u(`/v2/refs/repo/referrers/${subject}`));
    assert.equal(empty.status, 200);
    assert.equal(empty.headers.get('content-type'), OCI_INDEX);
    assert.deepEqual(((await empty.json()) as { manifests: unknown[] }).manifests, []);
    // A referrer may come before its subject (the spec requires accepting it).
    const emptyConfig = await pushBlob('refs/repo', '{}');
    const sig = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyConfig, size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: subject, size: Buffer.byteLength(subjectBody) },
      annotations: { 'org.example.signed-by': 'test' },
    });
    const sbom = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.example.sbom.config', digest: emptyConfig, size: 2 },
      layers: [],
      subject: { mediaType: OCI_MANIFEST, digest: subject, size: Buffer.byteLength(subjectBody) },
    });
    const put = await pushManifest('refs/repo', sha(sig), sig);
    assert.equal(put.status, 201, await put.text());
    assert.equal(put.headers.get('oci-subject'), subject);
    assert.equal((await pushManifest('refs/repo', sha(sbom), sbom)).status, 201);
    assert.equal((await pushManifest('refs/repo', 'v1', subjectBody)).status, 201);

    type Index = { manifests: { digest: string; artifactType?: string; annotations?: Record<string, string>; size: number }[] };
    const list = (await (await fetch(u(`/v2/refs/repo/referrers/${subject}`))).json()) as Index;
    const byDigest = new Map(list.manifests.map((m) => [m.digest, m]));
    assert.equal(list.manifests.length, 2);
    assert.equal(byDigest.get(sha(sig))?.artifactType, 'application/vnd.example.signature');
    assert.deepEqual(byDigest.get(sha(sig))?.annotations, { 'org.example.signed-by': 'test' });
    assert.equal(byDigest.get(sha(sig))?.size, Buffer.byteLength(sig));
    assert.equal(byDigest.get(sha(sbom))?.artifactType, 'application/vnd.example.sbom.config', 'no artifactType: the config media type');
    const filtered = await fetch(u(`/v2/refs/repo/referrers/${subject}?artifactType=application/vnd.example.signature`));
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(((await filtered.json()) as Index).manifests.map((m) => m.digest), [sha(sig)]);
    // Deleting a referrer takes it off the list.
    assert.equal((await fetch(u(`/v2/refs/repo/manifests/${sha(sbom)}`), { method: 'DELETE' })).status, 202);
    assert.deepEqual(((await (await fetch(u(`/v2/refs/repo/referrers/${subject}`))).json()) as Index).manifests.map((m) => m.digest), [sha(sig)]);
    assert.equal((await fetch(u('/v2/refs/repo/referrers/sha256:nothex'))).status, 400);
  });

  it('refuses invalid names and references with the spec codes', async () => {
    for (const name of ['Upper/case', 'a//b', 'trailing-', '-lead', `${'a'.repeat(256)}`]) {
      const r = await fetch(u(`/v2/${name}/tags/list`));
      assert.equal(r.status, 400, name);
      assert.deepEqual(await codes(r), ['NAME_INVALID'], name);
    }
    assert.deepEqual(await codes(await fetch(u('/v2/ok/blobs/sha256:short'))), ['DIGEST_INVALID']);
    assert.deepEqual(await codes(await fetch(u('/v2/ok/blobs/uploads/?digest=md5:abc'), { method: 'POST', body: 'x' })), ['DIGEST_INVALID']);
    assert.deepEqual(await codes(await pushManifest('ok', '-badtag', '{}')), ['MANIFEST_INVALID']);
    const big = await pushManifest('ok', 'big', 'x'.repeat(4 * 1024 * 1024 + 1));
    assert.equal(big.status, 413);
  });

  it('survives clients that go away mid-body and garbage on the wire; an interrupted chunk is cut off again', async () => {
    const s = await fetch(u('/v2/abort/repo/blobs/uploads/'), { method: 'POST' });
    const loc = s.headers.get('location') ?? '';
    await fetch(u(loc), { method: 'PATCH', body: 'first chunk' });
    const rawSend = (text: string) =>
      new Promise<void>((resolve) => {
        const sock = connect(reg.port, '127.0.0.1', () => {
          sock.write(text);
          setTimeout(() => {
            sock.destroy();
            resolve();
          }, 200);
        });
        sock.on('error', () => resolve());
      });
    // Announces 1 MB, sends a few bytes, hangs up: the chunk is dropped, the session stays at the earlier offset.
    await rawSend(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\npartial bytes`);
    await rawSend(`POST /v2/abort/repo/blobs/uploads/?digest=${sha('x'.repeat(100))} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nxxxx`);
    await rawSend(`GET /v2/abort/repo/blobs/${sha('never')} HTTP/1.1\r\nHost: x\r\n\r\n`); // gone before the answer
    await rawSend('BREW /coffee HTCPCP/1.0\r\n\x00\x01\r\n\r\n');
    await rawSend(`PUT /v2/abort/repo/manifests/t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`);
    await new Promise((r) => setTimeout(r, 200));
    const st = await fetch(u(loc));
    assert.equal(st.status, 204);
    assert.equal(st.headers.get('range'), `0-${'first chunk'.length - 1}`);
    assert.equal((await fetch(u(`/v2/abort/repo/blobs/${sha('x'.repeat(100))}`), { method: 'HEAD' })).status, 404);
    assert.deepEqual(await readdir(join(root, 'content', 'ingest')), []);
    assert.equal((await fetch(u('/v2/'))).status, 200, 'still serving');
    assert.equal(reg.proc.exitCode, null);
    // A blob read cut short by the client does not hurt the server either.
    const d = await pushBlob('abort/repo', Buffer.alloc(8 * 1024 * 1024, 7));
    const ctl = new AbortController();
    const r = await fetch(u(`/v2/abort/repo/blobs/${d}`), { signal: ctl.signal });
    const reader = r.body?.getReader();
    await reader?.read();
    ctl.abort();
    await reader?.cancel().catch(() => {});
    assert.equal((await fetch(u(`/v2/abort/repo/blobs/${d}`), { method: 'HEAD' })).status, 200);
  });

  it('restart: a live session resumes, stale sessions and ingest leftovers are reclaimed; old flags still start it', async () => {
    const s = await fetch(u('/v2/restart/repo/blobs/uploads/'), { method: 'POST' });
    const loc = s.headers.get('location') ?? '';
    await fetch(u(loc), { method: 'PATCH', body: 'half ' });
    const stale = await fetch(u('/v2/restart/repo/blobs/uploads/'), { method: 'POST' });
    const staleId = (stale.headers.get('location') ?? '').split('/').pop() ?? '';
    const old = new Date(Date.now() - 48 * 3600 * 1000);
    await utimes(join(root, 'uploads', staleId, 'data'), old, old);
    await writeFile(join(root, 'content', 'ingest', '999-crashed'), 'half a blob');
    await mkdir(join(root, 'uploads', 'not-a-session'));
    await reg.stop();
    // The flags-only form of the first releases.
    reg = await startBerthRegistry(['--addr', '127.0.0.1:0', '--root', root]);
    assert.deepEqual(await readdir(join(root, 'content', 'ingest')), []);
    const sessions = await readdir(join(root, 'uploads'));
    assert.ok(sessions.includes(loc.split('/').pop() ?? ''), 'the live session survives');
    assert.ok(!sessions.includes(staleId) && !sessions.includes('not-a-session'), sessions.join());
    const st = await fetch(u(loc));
    assert.equal(st.headers.get('range'), '0-4');
    const fin = await fetch(u(`${loc}?digest=${sha('half done')}`), { method: 'PUT', body: 'done' });
    assert.equal(fin.status, 201);
    assert.equal(await (await fetch(u(`/v2/restart/repo/blobs/${sha('half done')}`))).text(), 'half done');
  });

  describe('with skopeo', () => {
    let archive: string;
    before(async () => {
      archive = await busyboxArchive();
    });

    it('pushes docker and OCI images, reads them back unchanged, lists tags; oci-archive round trip', async () => {
      const host = `127.0.0.1:${reg.port}`;
      const skopeo = async (args: string[]) => {
        const r = await run('skopeo', args, { timeoutMs: 120_000 });
        assert.equal(r.code, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      await skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${host}/sk/busybox:v2s2`]);
      await skopeo(['copy', '--dest-tls-verify=false', '--format', 'oci', `docker-archive:${archive}`, `docker://${host}/sk/busybox:oci`]);
      const out = join(dir, 'oci.tar');
      await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/sk/busybox:oci`, `oci-archive:${out}`]);
      await skopeo(['copy', '--dest-tls-verify=false', `oci-archive:${out}`, `docker://${host}/sk/roundtrip:latest`]);
      const back = join(dir, 'back');
      await skopeo(['copy', '--src-tls-verify=false', `docker://${host}/sk/roundtrip:latest`, `dir:${back}`]);
      const manifest = JSON.parse(await readFile(join(back, 'manifest.json'), 'utf8')) as { mediaType: string; layers: { digest: string }[]; config: { digest: string } };
      assert.equal(manifest.mediaType, OCI_MANIFEST);
      for (const desc of [manifest.config, ...manifest.layers]) {
        const bytes = await readFile(join(back, desc.digest.slice(7)));
        assert.equal(sha(bytes), desc.digest, 'each blob read back matches its digest');
      }
      const inspect = JSON.parse(await skopeo(['inspect', '--tls-verify=false', `docker://${host}/sk/busybox:v2s2`])) as { Architecture: string; Layers: string[] };
      assert.equal(inspect.Architecture, 'amd64');
      const raw = JSON.parse(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/sk/busybox:v2s2`])) as { mediaType: string };
      assert.equal(raw.mediaType, DOCKER_MANIFEST);
      const tags = JSON.parse(await skopeo(['list-tags', '--tls-verify=false', `docker://${host}/sk/busybox`])) as { Tags: string[] };
      assert.deepEqual(tags.Tags, ['oci', 'v2s2']);
      await skopeo(['delete', '--tls-verify=false', `docker://${host}/sk/roundtrip:latest`]);
      assert.equal((await fetch(u('/v2/sk/roundtrip/manifests/latest'))).status, 404);
    });
  });

  describe('with dockerd 20.10', () => {
    let ref: ReferenceDockerd | undefined;
    const docker = (args: string[]) => (ref as ReferenceDockerd).docker(args);
    const dockerdLog = () => ref?.log() ?? '';

    before(async () => {
      ref = await startReferenceDockerd(await mkdtemp(join(tmpdir(), 'berth-regsrv-dockerd-')), { insecureRegistries: [`127.0.0.1:${reg.port}`] });
    });
    after(async () => {
      await ref?.stop();
    });

    it('docker push, then pull after removing the image; pulls what skopeo pushed; a second push mounts and skips', async () => {
      const load = await docker(['load', '-i', await busyboxArchive()]);
      assert.equal(load.code, 0, load.stderr);
      const ref = `127.0.0.1:${reg.port}/dock/busybox:v1`;
      assert.equal((await docker(['tag', 'bench/busybox:latest', ref])).code, 0);
      const push = await docker(['push', ref]);
      assert.equal(push.code, 0, `${push.stderr}\n${dockerdLog().slice(-2000)}`);
      const pushedDigest = /digest: (sha256:[a-f0-9]{64})/.exec(push.stdout)?.[1];
      assert.ok(pushedDigest, push.stdout);
      const head = await fetch(u('/v2/dock/busybox/manifests/v1'), { method: 'HEAD', headers: { Accept: DOCKER_MANIFEST } });
      assert.equal(head.headers.get('docker-content-digest'), pushedDigest);
      assert.equal(head.headers.get('content-type'), DOCKER_MANIFEST);

      const other = `127.0.0.1:${reg.port}/dock/copy:v1`;
      assert.equal((await docker(['tag', 'bench/busybox:latest', other])).code, 0);
      const again = await docker(['push', other]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /Mounted from dock\/busybox|Layer already exists/);

      assert.equal((await docker(['rmi', ref, other, 'bench/busybox:latest'])).code, 0);
      const pull = await docker(['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(pull.stdout, new RegExp(`Digest: ${pushedDigest}`));
      const digests = await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
      assert.match(digests.stdout, new RegExp(pushedDigest ?? 'x'));
      // What skopeo pushed as OCI (the earlier test) pulls into dockerd too.
      const oci = await docker(['pull', `127.0.0.1:${reg.port}/sk/busybox:oci`]);
      assert.equal(oci.code, 0, oci.stderr);
      const unknown = await docker(['pull', `127.0.0.1:${reg.port}/dock/busybox:nosuchtag`]);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /manifest unknown|not found/);
      assert.ok((await stat(join(root, 'repositories', 'dock', 'busybox', '_manifests'))).isDirectory());
    });
  });
});
