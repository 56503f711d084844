// docker pull against berthd, from Debian's docker-registry (distribution 2.8) run on loopback with images pushed
// by skopeo: Docker v2 schema 2 and OCI manifests, a hand-made OCI index, basic auth through X-Registry-Auth,
// dockerd 20.10's progress lines, RepoDigests, up-to-date pulls, pulls by digest and all tags; a corrupt layer and
// a registry gone mid-pull are refused and leave the content store and the image list as they were.
// Needs the Debian packages docker-registry, skopeo and apache2-utils (htpasswd).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, dist, run, startDaemon } from '../harness/daemon.js';
import { imageConfig, saveTar, sha, tarOf } from '../harness/images.js';
import { type Distribution, busyboxLayer, freePort, startDistribution } from '../harness/registries.js';

const accept = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');


describe('pull from a registry', () => {
  let dir: string;
  let d: Daemon;
  let open: Distribution;
  let authed: Distribution;
  let bbLayer: Buffer;
  const registries: Distribution[] = [];

  const push = async (archive: Buffer, dest: string, extra: string[] = []) => {
    const file = join(dir, `push-${randomBytes(4).toString('hex')}.tar`);
    await writeFile(file, archive);
    const r = await run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...extra, `docker-archive:${file}`, `docker://${dest}`]);
    await rm(file);
    assert.equal(r.code, 0, `skopeo copy to ${dest}: ${r.stderr}`);
  };
  const manifestOf = async (reg: Distribution, repo: string, ref: string) => {
    const res = await fetch(`http://${reg.host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: accept } });
    assert.equal(res.status, 200);
    const bytes = Buffer.from(await res.arrayBuffer());
    return { digest: sha(bytes), mediaType: res.headers.get('content-type') ?? '', size: bytes.length, json: JSON.parse(bytes.toString()) as { layers: Array<{ digest: string; size: number }>; config: { digest: string } } };
  };
  const docker = async (args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  /** What a failed pull must not change: blobs, unpacked layers, ingests and the image list. */
  const storeState = async () => ({
    blobs: (await readdir(join(d.dataRoot, 'content', 'blobs', 'sha256'))).sort(),
    ingests: await readdir(join(d.dataRoot, 'content', 'ingest')),
    layers: (await readdir(join(d.dataRoot, 'overlay2'))).sort(),
    images: (await docker(['images', '-a', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])).split('\n').sort(),
  });
  /** The raw JSON message stream of a pull through the API. */
  const apiPull = async (query: string, headers: Record<string, string> = {}) => {
    const res = await d.client.raw('POST', `/images/create?${query}`, { headers });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    return { status: res.statusCode ?? 0, text, messages: res.statusCode === 200 ? text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [] };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-pull-'));
    const htpasswd = join(dir, 'htpasswd');
    const h = await run('htpasswd', ['-Bbn', 'alice', 's3cret']);
    assert.equal(h.code, 0, h.stderr);
    await writeFile(htpasswd, h.stdout);
    open = await startDistribution(join(dir, 'open'));
    registries.push(open);
    authed = await startDistribution(join(dir, 'authed'), { htpasswd });
    registries.push(authed);
    d = await startDaemon();

    bbLayer = await busyboxLayer();
    const bb = await saveTar([{ tags: ['busybox:latest'], layers: [bbLayer] }]);
    await push(bb, `${open.host}/busybox:latest`);
    await push(bb, `${open.host}/busybox:other`);
    await push(bb, `${authed.host}/private:latest`, ['--dest-creds', 'alice:s3cret']);
  });
  after(async () => {
    await d?.destroy();
    for (const r of registries) await r.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('docker pull prints dockerd’s lines, records the repo digest, and the image runs; a second pull is up to date', async () => {
    const m = await manifestOf(open, 'busybox', 'latest');
    const layer = m.json.layers[0]?.digest.slice(7, 19);
    const out = await docker(['pull', `${open.host}/busybox`]);
    assert.deepEqual(out.trim().split('\n'), [
      'Using default tag: latest',
      'latest: Pulling from busybox',
      `${layer}: Pulling fs layer`,
      `${layer}: Verifying Checksum`,
      `${layer}: Download complete`,
      `${layer}: Pull complete`,
      `Digest: ${m.digest}`,
      `Status: Downloaded newer image for ${open.host}/busybox:latest`,
      `${open.host}/busybox:latest`,
    ]);
    assert.equal((await docker(['run', '--rm', '--pull', 'never', `${open.host}/busybox`, 'echo', 'pulled'])).trim(), 'pulled');
    const inspect = JSON.parse(await docker(['image', 'inspect', `${open.host}/busybox`]))[0];
    assert.deepEqual(inspect.RepoDigests, [`${open.host}/busybox@${m.digest}`]);
    assert.deepEqual(inspect.RepoTags, [`${open.host}/busybox:latest`]);
    assert.equal(inspect.Id, m.json.config.digest);

    const again = await docker(['pull', `${open.host}/busybox:latest`]);
    assert.deepEqual(again.trim().split('\n'), [
      'latest: Pulling from busybox',
      `Digest: ${m.digest}`,
      `Status: Image is up to date for ${open.host}/busybox:latest`,
      `${open.host}/busybox:latest`,
    ]);
  });

  it('docker build pulls a base image it does not have, and with --pull pulls again', async () => {
    const own = await tarOf([{ name: 'own', content: randomBytes(1000) }]);
    await push(await saveTar([{ tags: ['base:latest'], layers: [bbLayer, own] }]), `${open.host}/buildbase:latest`);
    const ctx = join(dir, 'build-ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${open.host}/buildbase\nRUN echo built-on-pulled > /x\n`);
    const r = await d.docker(['build', '-t', 'from-pulled', ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Step 1\/2 : FROM 127\.0\.0\.1:\d+\/buildbase\n(.*\n)*.*Pull complete\n(.*\n)*Status: Downloaded newer image for 127\.0\.0\.1:\d+\/buildbase:latest\n/);
    assert.equal((await docker(['run', '--rm', '--pull', 'never', 'from-pulled', 'cat', '/x'])).trim(), 'built-on-pulled');
    const again = await d.docker(['build', '--pull', '-t', 'from-pulled', ctx]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Status: Image is up to date for 127\.0\.0\.1:\d+\/buildbase:latest\n/);
    assert.match(again.stdout, / ---> Using cache\n/);
    await docker(['rmi', 'from-pulled', `${open.host}/buildbase`]);
  });

  it('an OCI image of five layers: the shared base already exists, three download at once, progress as dockerd sends it', async () => {
    const layers = [
      bbLayer,
      await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/hello', content: 'hello from layer 1\n' }]),
      await tarOf([{ name: 'data/', type: 'directory' }, { name: 'data/big', content: randomBytes(3 << 20) }]),
      await tarOf([{ name: 'data/small', content: randomBytes(1000) }]),
      await tarOf([{ name: 'etc/hello', content: 'hello from layer 4\n' }]),
    ];
    await push(await saveTar([{ tags: ['multi:latest'], layers }]), `${open.host}/multi:latest`, ['--format', 'oci']);
    const m = await manifestOf(open, 'multi', 'latest');
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const ids = m.json.layers.map((l) => l.digest.slice(7, 19));
    const { status, messages } = await apiPull(`fromImage=${open.host}/multi&tag=latest`);
    assert.equal(status, 200);
    const lines = (id: string) => messages.filter((x) => x['id'] === id).map((x) => x['status']);
    assert.deepEqual(messages[0], { status: 'Pulling from multi', id: 'latest' });
    assert.deepEqual(lines(ids[0] as string), ['Already exists']);
    for (const id of ids.slice(1)) {
      const seen = lines(id).filter((s) => s !== 'Downloading' && s !== 'Waiting');
      assert.deepEqual(seen, ['Pulling fs layer', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'], `layer ${id}: ${JSON.stringify(lines(id))}`);
    }
    // Four to download, three at a time: the last one waits.
    assert.deepEqual(messages.filter((x) => x['status'] === 'Waiting').map((x) => x['id']), [ids[4]]);
    const big = messages.filter((x) => x['id'] === ids[2] && x['status'] === 'Downloading');
    assert.ok(big.length >= 1);
    const last = big.at(-1) as { progressDetail: { current: number; total: number }; progress: string };
    assert.equal(last.progressDetail.current, m.json.layers[2]?.size);
    assert.equal(last.progressDetail.total, m.json.layers[2]?.size);
    assert.match(last.progress, /^\[={50}>\] +\d+(\.\d+)?MB\/\d+(\.\d+)?MB$/);
    assert.deepEqual(messages.slice(-2), [{ status: `Digest: ${m.digest}` }, { status: `Status: Downloaded newer image for ${open.host}/multi:latest` }]);
    assert.equal((await docker(['run', '--rm', '--pull', 'never', `${open.host}/multi`, 'cat', '/etc/hello', '/data/small'])).slice(0, 19), 'hello from layer 4\n');
    const inspect = JSON.parse(await docker(['image', 'inspect', `${open.host}/multi`]))[0];
    assert.equal(inspect.RootFS.Layers.length, 5);
    assert.deepEqual(inspect.RepoDigests, [`${open.host}/multi@${m.digest}`]);
  });

  it('pulled layers keep their files and a tar-split, not their tars: save gives the exact tars back, also after a restart; a layer writing a path twice is stored whole', async () => {
    const long = `deep/${'d'.repeat(120)}/${'f'.repeat(90)}.txt`; // past ustar's 100 bytes: a pax header
    const plain = await tarOf([
      { name: 'deep/', type: 'directory' },
      { name: long, content: randomBytes(70_000) },
      { name: 'deep/empty', content: '' },
      { name: 'deep/odd', content: randomBytes(513) },
      { name: 'deep/hard', type: 'link', linkname: 'deep/odd' },
      { name: 'deep/sym', type: 'symlink', linkname: '../nowhere' },
    ]);
    const whiteout = await tarOf([{ name: 'deep/.wh.empty', content: '' }, { name: 'top', content: 'top\n' }]);
    const twice = await tarOf([{ name: 'dup', content: 'first version\n' }, { name: 'dup', content: 'second\n' }]);
    const layers = [bbLayer, plain, whiteout, twice];
    await push(await saveTar([{ tags: ['split:latest'], layers }]), `${open.host}/split:latest`);
    await docker(['pull', '-q', `${open.host}/split:latest`]);
    // The layers' chain IDs (the OCI image spec's: sha256 of "parent-chain-id diff-id"), their directory names.
    const chain: string[] = [];
    for (const l of layers) chain.push(chain.length ? sha(`${chain.at(-1)} ${sha(l)}`) : sha(l));
    const hasSplit = (c: string) => readFile(join(d.dataRoot, 'overlay2', c.slice(7), 'tar-split.gz')).then(() => true, () => false);
    assert.deepEqual(await Promise.all(chain.slice(1).map(hasSplit)), [true, true, false], 'the last layer is stored instead');
    const blobs = await readdir(join(d.dataRoot, 'content', 'blobs', 'sha256'));
    assert.ok(blobs.includes(sha(twice).slice(7)), 'the layer writing dup twice is stored as its tar');
    assert.ok(!blobs.includes(sha(plain).slice(7)), 'the plain layer is not stored as a tar');
    assert.equal(await docker(['run', '--rm', '--pull', 'never', `${open.host}/split`, 'cat', '/dup', '/top']), 'second\ntop\n');
    const saved = async () => {
      const file = join(dir, 'split-save.tar');
      await docker(['save', '-o', file, `${open.host}/split`]);
      const out = await mkdtemp(join(dir, 'split-'));
      assert.equal((await run('tar', ['-xf', file, '-C', out])).code, 0);
      const got = await Promise.all(layers.map((l) => readFile(join(out, 'blobs', 'sha256', sha(l).slice(7))).then((b) => sha(b), () => 'missing')));
      await rm(out, { recursive: true });
      await rm(file);
      return got;
    };
    assert.deepEqual(await saved(), layers.map((l) => sha(l)));
    await d.kill9();
    await d.start();
    assert.deepEqual(await saved(), layers.map((l) => sha(l)), 'after a restart, the image and its tar-splits are whole');
    await docker(['rmi', `${open.host}/split`]);
  });

  it('a layer here only as another pulled image\'s files: the new chain unpacks it from them, keeps its own tar-split, and outlives that image', async () => {
    const shared = await tarOf([{ name: 'shared.bin', content: randomBytes(70_000) }]);
    const base = await tarOf([{ name: 'base.txt', content: 'base\n' }]);
    await push(await saveTar([{ tags: ['one:latest'], layers: [shared] }]), `${open.host}/one:latest`);
    await push(await saveTar([{ tags: ['two:latest'], layers: [base, shared] }]), `${open.host}/two:latest`);
    await docker(['pull', '-q', `${open.host}/one`]);
    const { messages } = await apiPull(`fromImage=${open.host}/two&tag=latest`);
    assert.deepEqual(messages.filter((m) => m['status'] === 'Already exists').length, 1, JSON.stringify(messages));
    await docker(['rmi', `${open.host}/one`]);
    const file = join(dir, 'two-save.tar');
    await docker(['save', '-o', file, `${open.host}/two`]);
    const out = await mkdtemp(join(dir, 'two-'));
    assert.equal((await run('tar', ['-xf', file, '-C', out])).code, 0);
    for (const l of [base, shared]) assert.equal(sha(await readFile(join(out, 'blobs', 'sha256', sha(l).slice(7)))), sha(l));
    await rm(out, { recursive: true });
    await rm(file);
    await docker(['rmi', `${open.host}/two`]);
  });

  it('by digest: no tag, the repo digest recorded; pulling it again is up to date', async () => {
    const m = await manifestOf(open, 'busybox', 'other');
    await docker(['rmi', `${open.host}/busybox:latest`]);
    const ref = `${open.host}/busybox@${m.digest}`;
    const out = await docker(['pull', ref]);
    assert.match(out, new RegExp(`^${ref.replace(/[.]/g, '\\.')}: Pulling from busybox$`, 'm'));
    assert.match(out, new RegExp(`Status: Downloaded newer image for ${ref.replace(/[.]/g, '\\.')}`));
    const inspect = JSON.parse(await docker(['image', 'inspect', ref]))[0];
    assert.deepEqual(inspect.RepoTags, []);
    assert.deepEqual(inspect.RepoDigests, [ref]);
    assert.match(await docker(['pull', ref]), /Status: Image is up to date for/);
    assert.equal((await docker(['run', '--rm', '--pull', 'never', ref, 'echo', 'by digest'])).trim(), 'by digest');
  });

  it('an OCI index: this host’s entry by default, another with --platform', async () => {
    const arm = await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/arch', content: 'arm64\n' }]);
    const armConfig = Buffer.from(imageConfig({ tags: [], layers: [arm] }).toString().replace('"architecture":"amd64"', '"architecture":"arm64","variant":"v8"'));
    await push(await saveTar([{ tags: ['x:arm64'], layers: [arm] }], { configOverride: armConfig }), `${open.host}/multiarch:arm64`, ['--format', 'oci']);
    await push(await saveTar([{ tags: ['x:amd64'], layers: [bbLayer] }]), `${open.host}/multiarch:amd64`, ['--format', 'oci']);
    const a = await manifestOf(open, 'multiarch', 'amd64');
    const b = await manifestOf(open, 'multiarch', 'arm64');
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: b.mediaType, digest: b.digest, size: b.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { mediaType: a.mediaType, digest: a.digest, size: a.size, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    });
    const put = await fetch(`http://${open.host}/v2/multiarch/manifests/latest`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: index });
    assert.equal(put.status, 201, await put.text());
    const out = await docker(['pull', `${open.host}/multiarch`]);
    assert.match(out, new RegExp(`Digest: ${sha(index)}`));
    const inspect = JSON.parse(await docker(['image', 'inspect', `${open.host}/multiarch`]))[0];
    assert.equal(inspect.Architecture, 'amd64');
    assert.equal(inspect.Id, a.json.config.digest);
    assert.deepEqual(inspect.RepoDigests, [`${open.host}/multiarch@${sha(index)}`]);
    assert.equal((await docker(['run', '--rm', '--pull', 'never', `${open.host}/multiarch`, 'echo', 'indexed'])).trim(), 'indexed');

    await docker(['pull', '--platform', 'linux/arm64', `${open.host}/multiarch`]);
    const armInspect = JSON.parse(await docker(['image', 'inspect', `${open.host}/multiarch`]))[0];
    assert.equal(armInspect.Architecture, 'arm64');
    assert.equal(armInspect.Id, b.json.config.digest);
    const none = await apiPull(`fromImage=${open.host}/multiarch&tag=latest&platform=linux/s390x`);
    assert.equal(none.status, 404);
    assert.match(none.text, /no matching manifest for linux\/s390x in the manifest list entries/);
  });

  it('basic auth: credentials from the CLI’s config reach the registry through X-Registry-Auth', async () => {
    const ref = `${authed.host}/private:latest`;
    const denied = await d.docker(['pull', ref]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /no basic auth credentials/);
    const cfgDir = join(d.dir, 'docker-config');
    await mkdir(cfgDir, { recursive: true });
    const login = (user: string, pass: string) =>
      writeFile(join(cfgDir, 'config.json'), JSON.stringify({ auths: { [authed.host]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } }));
    try {
      await login('alice', 'wrong');
      const wrong = await d.docker(['pull', ref]);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /unauthorized: authentication required/);
      await login('alice', 's3cret');
      assert.match(await docker(['pull', ref]), /Status: Downloaded newer image for/);
      // A build pulls its base with the credentials the CLI sends in X-Registry-Config.
      await docker(['rmi', ref]);
      const ctx = join(dir, 'private-ctx');
      await mkdir(ctx, { recursive: true });
      await writeFile(join(ctx, 'Dockerfile'), `FROM ${ref}\n`);
      assert.match(await docker(['build', '-t', 'from-private', ctx]), /Status: Downloaded newer image for .*private:latest/);
      await docker(['rmi', 'from-private']);
    } finally {
      await rm(join(cfgDir, 'config.json'), { force: true });
    }
    // The header as API clients send it, base64url JSON.
    const header = Buffer.from(JSON.stringify({ username: 'alice', password: 's3cret', serveraddress: authed.host })).toString('base64url');
    const r = await apiPull(`fromImage=${authed.host}/private&tag=latest`, { 'X-Registry-Auth': header });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /Image is up to date/);
  });

  it('all tags when the API is given no tag', async () => {
    const r = await apiPull(`fromImage=${open.host}/busybox`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.messages.filter((m) => String(m['status']).startsWith('Pulling from')).map((m) => m['id']), ['latest', 'other']);
    const rows = (await docker(['images', '--format', '{{.Repository}} {{.Tag}}'])).trim().split('\n');
    assert.deepEqual(rows.filter((r) => r.startsWith(`${open.host}/busybox `)).sort(), [`${open.host}/busybox latest`, `${open.host}/busybox other`]);
  });

  it('bad references are 400s before any network; an unreachable registry is named; an unknown tag is a 404', async () => {
    const bad = await apiPull('fromImage=Bad:Ref:x');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /invalid reference format/);
    const port = await freePort();
    const down = await d.docker(['pull', `127.0.0.1:${port}/busybox`]);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, new RegExp(`127\\.0\\.0\\.1:${port}/v2/.*ECONNREFUSED`));
    const unknown = await apiPull(`fromImage=${open.host}/busybox&tag=nope`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, new RegExp(`manifest for ${open.host}/busybox:nope not found: manifest unknown`));
  });

  it('a layer whose bytes do not match its digest is refused, and nothing of the pull is kept', async () => {
    const unique = await tarOf([{ name: 'junk', content: randomBytes(200_000) }]);
    await push(await saveTar([{ tags: ['corrupt:latest'], layers: [bbLayer, unique] }]), `${open.host}/corrupt:latest`);
    const m = await manifestOf(open, 'corrupt', 'latest');
    const target = m.json.layers[1]?.digest.slice(7) as string;
    // Same size, other bytes: only the digest can tell.
    const data = join(open.storage, 'docker/registry/v2/blobs/sha256', target.slice(0, 2), target, 'data');
    const bytes = await readFile(data);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    await writeFile(data, bytes);
    const before = await storeState();
    const r = await d.docker(['pull', `${open.host}/corrupt`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, new RegExp(`filesystem layer verification failed for digest sha256:${target}`));
    assert.deepEqual(await storeState(), before);
  });

  it('a layer the unpack refuses while its download is sound: the pull fails with the unpack’s reason, nothing is kept, berthd serves on', async () => {
    // Refused early (a write through a symlink), with megabytes still to come, and refused at the very end: the
    // unpack fails while the download and the store of the same bytes are still running, and after they are done.
    const early = await tarOf([
      { name: 'escape', type: 'symlink', linkname: '/tmp' },
      { name: 'escape/x', content: 'x' },
      { name: 'big', content: randomBytes(8 << 20) },
    ]);
    const late = await tarOf([
      { name: 'big', content: randomBytes(1 << 20) },
      { name: 'escape', type: 'symlink', linkname: '/tmp' },
      { name: 'escape/y', content: 'y' },
    ]);
    for (const [tag, layer, file] of [['early', early, 'x'], ['late', late, 'y']] as const) {
      await push(await saveTar([{ tags: [`refused:${tag}`], layers: [layer] }]), `${open.host}/refused:${tag}`);
      const before = await storeState();
      const r = await d.docker(['pull', `${open.host}/refused:${tag}`]);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stdout + r.stderr, new RegExp(`refusing to write escape/${file}: .*escape is a symlink`));
      assert.deepEqual(await storeState(), before);
    }
    const ping = await d.client.raw('GET', '/_ping');
    ping.resume();
    assert.equal(ping.statusCode, 200);
  });

  it('the registry gone mid-pull: other image operations go on meanwhile; the pull fails, nothing is kept, and a later pull succeeds', async () => {
    const big = await tarOf([{ name: 'big', content: randomBytes(24 << 20) }]);
    await push(await saveTar([{ tags: ['big:latest'], layers: [bbLayer, big] }]), `${open.host}/big:latest`);
    // A proxy in front of the registry, so the cut comes after the first bytes of the layer and not before.
    const sockets = new Set<Socket>();
    let forwarded = 0;
    let cut: () => void = () => {};
    const cutNow = new Promise<void>((r) => (cut = r));
    const [regHost, regPort] = open.host.split(':');
    const proxy = createServer((c) => {
      const up = connect(Number(regPort), regHost as string);
      sockets.add(c).add(up);
      c.pipe(up);
      up.on('data', (chunk: Buffer) => {
        forwarded += chunk.length;
        c.write(chunk);
        if (forwarded > 4 << 20) {
          up.pause();
          cut();
        }
      });
      for (const s of [c, up]) s.on('error', () => {});
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const before = await storeState();
      const pulling = apiPull(`fromImage=${proxyHost}/big&tag=latest`);
      await cutNow;
      // The stalled download holds no lock other image operations need: they go on meanwhile.
      await docker(['tag', 'busybox', 'during-pull:x']);
      await docker(['rmi', 'during-pull:x']);
      await open.stop();
      for (const s of sockets) s.destroy();
      const r = await pulling;
      assert.equal(r.status, 200);
      const lastMsg = r.messages.at(-1) as { error?: string };
      assert.ok(lastMsg.error, `the stream ends with an error: ${r.text.slice(-400)}`);
      assert.deepEqual(await storeState(), before);
    } finally {
      proxy.close();
      for (const s of sockets) s.destroy();
      await open.start();
    }
    assert.match(await docker(['pull', `${open.host}/big`]), /Downloaded newer image/);
  });

  it('registry mirrors: docker.io images come from the first mirror that has them (one refusing, one down), named as docker.io\'s; info lists them; a bad mirror stops the start', async () => {
    const own = await tarOf([{ name: 'mirrored', content: Buffer.from(`from the mirror ${randomBytes(8).toString('hex')}\n`) }]);
    await push(await saveTar([{ tags: ['mirrored:latest'], layers: [bbLayer, own] }]), `${open.host}/library/mirrored:latest`);
    const m = await manifestOf(open, 'library/mirrored', 'latest');
    const down = `http://127.0.0.1:${await freePort()}`;
    const mirrors = [`http://${authed.host}`, `${down}/`, `http://${open.host}`];
    await writeFile(join(d.dir, 'daemon.json'), JSON.stringify({ 'registry-mirrors': mirrors }));
    await d.stop();
    await d.start();
    try {
      const info = JSON.parse(await docker(['info', '--format', '{{json .RegistryConfig}}'])) as { Mirrors: string[]; IndexConfigs: Record<string, { Mirrors: string[] }> };
      const listed = [`http://${authed.host}/`, `${down}/`, `http://${open.host}/`];
      assert.deepEqual(info.Mirrors, listed);
      assert.deepEqual(info.IndexConfigs['docker.io']?.Mirrors, listed);
      const mirrorLines = `Registry Mirrors:\n${listed.map((u) => `  ${u}\n`).join('')}`;
      assert.ok((await docker(['info'])).includes(mirrorLines), 'docker info lists the mirrors');
      const own = await d.berth(['info']);
      assert.ok(own.stdout.includes(` Insecure Registries:\n  127.0.0.0/8\n ${mirrorLines} Live Restore Enabled:`), own.stdout);
      // The first mirror wants credentials, the second is not there: the third has the image.
      const out = await docker(['pull', 'mirrored']);
      assert.match(out, /^Using default tag: latest\nlatest: Pulling from library\/mirrored\n/);
      assert.match(out, new RegExp(`Digest: ${m.digest}\\nStatus: Downloaded newer image for mirrored:latest\\ndocker\\.io/library/mirrored:latest\\n$`));
      const inspect = JSON.parse(await docker(['image', 'inspect', 'mirrored']))[0];
      assert.deepEqual(inspect.RepoDigests, [`mirrored@${m.digest}`]);
      assert.deepEqual(inspect.RepoTags, ['mirrored:latest']);
      assert.equal(inspect.Id, m.json.config.digest);
      assert.match(d.logs(), /mirror failed, trying the next endpoint/);
      assert.match(await docker(['pull', 'docker.io/library/mirrored:latest']), /Status: Image is up to date for mirrored:latest/);
      assert.match(await docker(['run', '--rm', '--pull', 'never', 'mirrored', 'cat', '/mirrored']), /^from the mirror [0-9a-f]{16}\n$/);
      await docker(['rmi', 'mirrored']);
    } finally {
      await writeFile(join(d.dir, 'daemon.json'), '{}');
      await d.stop();
      await d.start();
    }
    // dockerd's checks and words for a bad mirror: berthd does not start.
    for (const [bad, message] of [
      ['ftp://mirror.example', 'invalid mirror: unsupported scheme "ftp" in "ftp://mirror.example"'],
      ['https://mirror.example/path', 'invalid mirror: path, query, or fragment at end of the URI "https://mirror.example/path"'],
      ['https://bob:pw@mirror.example', 'invalid mirror: username/password not allowed in URI'],
    ] as const) {
      await writeFile(join(dir, 'empty.json'), '{}');
      const r = await run(process.execPath, [dist('berthd'), '--config-file', join(dir, 'empty.json'), '--data-root', join(dir, 'never'), '--exec-root', join(dir, 'never-run'), '--registry-mirror', bad]);
      assert.notEqual(r.code, 0, bad);
      assert.ok(r.stderr.includes(message), `${bad}: ${r.stderr}`);
    }
    for (const made of ['never', 'never-run']) await assert.rejects(readdir(join(dir, made)), 'nothing was made');
  });
});
