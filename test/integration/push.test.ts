// docker push and docker login through berthd (the real docker 28 CLI), to berth-registry and to Debian's
// docker-registry (distribution 2.8, with htpasswd basic auth); what was pushed is checked over HTTP (config and
// gunzipped layers against the image's digests), with skopeo and by pulling it back. A second push finds the
// layers, another repository mounts them, a registry killed mid-push fails the push and changes nothing in
// Berth's store. `berth push|pull|login|logout` print what docker prints. Needs `npm run build`, the Debian
// packages docker-registry, skopeo and apache2-utils (htpasswd). Everything started is stopped in `after`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { asDocker } from '../harness/compare.js';
import { type Daemon, run, startDaemon } from '../harness/daemon.js';
import { saveTar, sha, tarOf } from '../harness/images.js';
import { DOCKER_MANIFEST, busyboxLayer, startBerthRegistry, startDistribution } from '../harness/registries.js';

interface Registry {
  host: string;
  stop(): Promise<void>;
}

const berthRegistry = (root: string) => startBerthRegistry(['serve', '--addr', '127.0.0.1:0', '--root', root]);

describe('push to a registry', () => {
  let dir: string;
  let d: Daemon;
  let open: Registry;
  let authed: Registry;
  const registries: Registry[] = [];
  let layers: Buffer[];
  let imageId: string;
  const cfgDir = () => join(d.dir, 'docker-config');

  const docker = async (args: string[], input?: string) => {
    const r = await d.docker(args, ...(input === undefined ? [] : [{ input }]));
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stdout}${r.stderr}\n${d.logs().slice(-3000)}`);
    return r.stdout;
  };
  const berth = (args: string[], input?: string) => d.berth(args, { env: { DOCKER_CONFIG: cfgDir() }, ...(input !== undefined && { input }) });
  /** Fetches from a registry, with basic credentials when given. */
  const get = async (reg: Registry, path: string, auth?: string, accept = DOCKER_MANIFEST) => {
    const res = await fetch(`http://${reg.host}${path}`, { headers: { Accept: accept, ...(auth && { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` }) } });
    assert.equal(res.status, 200, `GET ${path}`);
    return Buffer.from(await res.arrayBuffer());
  };
  /** What was pushed: the manifest's digest and size, its config the image's, each layer the image's tar gzipped. */
  const checkPushed = async (reg: Registry, repo: string, tag: string, auth?: string) => {
    const bytes = await get(reg, `/v2/${repo}/manifests/${tag}`, auth);
    const m = JSON.parse(bytes.toString()) as { mediaType: string; config: { digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }> };
    assert.equal(m.mediaType, DOCKER_MANIFEST);
    assert.equal(m.config.digest, imageId);
    assert.equal(sha(await get(reg, `/v2/${repo}/blobs/${m.config.digest}`, auth)), imageId);
    assert.equal(m.layers.length, layers.length);
    for (const [i, l] of m.layers.entries()) {
      assert.equal(l.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
      const blob = await get(reg, `/v2/${repo}/blobs/${l.digest}`, auth);
      assert.equal(sha(blob), l.digest);
      assert.equal(blob.length, l.size);
      assert.ok(gunzipSync(blob).equals(layers[i] as Buffer), `layer ${i} unpacks to the image's tar`);
    }
    return { digest: sha(bytes), size: bytes.length, layers: m.layers };
  };
  const short = (b: Buffer) => sha(b).slice(7, 19);
  const storeState = async () => ({
    blobs: (await readdir(join(d.dataRoot, 'content', 'blobs', 'sha256'))).sort(),
    ingests: await readdir(join(d.dataRoot, 'content', 'ingest')),
    images: (await docker(['images', '-a', '--no-trunc', '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}} {{.ID}}'])).split('\n').sort(),
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-push-'));
    const htpasswd = join(dir, 'htpasswd');
    const h = await run('htpasswd', ['-Bbn', 'alice', 's3cret']);
    assert.equal(h.code, 0, h.stderr);
    await writeFile(htpasswd, h.stdout);
    open = await berthRegistry(join(dir, 'breg'));
    registries.push(open);
    authed = await startDistribution(join(dir, 'dist'), { htpasswd });
    registries.push(authed);
    d = await startDaemon();
    layers = [await busyboxLayer(['sh', 'cat', 'echo']), await tarOf([{ name: 'data', content: randomBytes(300_000) }])];
    const archive = join(dir, 'img.tar');
    await writeFile(archive, await saveTar([{ tags: ['pushme:latest'], layers }]));
    await docker(['load', '-i', archive]);
    imageId = (await docker(['image', 'inspect', '--format', '{{.Id}}', 'pushme'])).trim();
  });
  after(async () => {
    await d?.destroy();
    for (const r of registries) await r.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('docker push to berth-registry prints dockerd’s lines and records the repo digest; a second push finds the layers, another repository mounts them', async () => {
    const ref = `${open.host}/proj/img`;
    await docker(['tag', 'pushme', `${ref}:v1`]);
    const out = await docker(['push', `${ref}:v1`]);
    const pushed = await checkPushed(open, 'proj/img', 'v1');
    const ids = layers.map(short).reverse();
    const lines = out.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), [`The push refers to repository [${ref}]`, ...ids.map((i) => `${i}: Preparing`)]);
    assert.deepEqual(lines.slice(3, 5).sort(), ids.map((i) => `${i}: Pushed`).sort());
    assert.deepEqual(lines.slice(5), [`v1: digest: ${pushed.digest} size: ${pushed.size}`]);
    const inspect = JSON.parse(await docker(['image', 'inspect', `${ref}:v1`]))[0];
    assert.deepEqual(inspect.RepoDigests, [`${ref}@${pushed.digest}`]);

    // Where each layer went is kept on disk: after a restart of berthd the layers are still found.
    await d.stop();
    await d.start();
    const again = (await docker(['push', `${ref}:v1`])).trim().split('\n');
    assert.deepEqual(again.slice(3, 5).sort(), ids.map((i) => `${i}: Layer already exists`).sort());
    assert.equal(again[5], `v1: digest: ${pushed.digest} size: ${pushed.size}`);

    await docker(['tag', 'pushme', `${open.host}/other/img:v1`]);
    const mounted = (await docker(['push', `${open.host}/other/img:v1`])).trim().split('\n');
    assert.deepEqual(mounted.slice(3, 5).sort(), ids.map((i) => `${i}: Mounted from proj/img`).sort());
    assert.equal((await checkPushed(open, 'other/img', 'v1')).digest, pushed.digest);

    // skopeo reads what was pushed, and berthd pulls it back after the image is gone.
    const sk = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}:v1`]);
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal(JSON.parse(sk.stdout).Digest, pushed.digest);
    await docker(['tag', `${ref}:v1`, 'keep:latest']);
    await docker(['rmi', `${ref}:v1`, `${open.host}/other/img:v1`, 'pushme', 'keep']);
    const pull = await docker(['pull', `${ref}:v1`]);
    assert.match(pull, new RegExp(`Digest: ${pushed.digest}`));
    assert.equal((await docker(['image', 'inspect', '--format', '{{.Id}}', `${ref}:v1`])).trim(), imageId);
    assert.equal((await docker(['run', '--rm', '--pull', 'never', `${ref}:v1`, 'echo', 'round trip'])).trim(), 'round trip');
    await docker(['tag', `${ref}:v1`, 'pushme:latest']);
  });

  it('push -a pushes every tag in order; a missing tag or repository is docker’s error', async () => {
    const ref = `${open.host}/all/img`;
    await docker(['tag', 'pushme', `${ref}:b`]);
    await docker(['tag', 'pushme', `${ref}:a`]);
    const out = await docker(['push', '-a', ref]);
    assert.deepEqual(out.split('\n').filter((l) => l.includes('digest:')).map((l) => l.split(':')[0]), ['a', 'b']);
    const missing = await d.docker(['push', `${ref}:nosuch`]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), `tag does not exist: ${ref}:nosuch`);
    const none = await d.docker(['push', `${open.host}/nothing/here:v1`]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr.trim(), `An image does not exist locally with the tag: ${open.host}/nothing/here`);
    const bad = await d.client.raw('POST', '/images/Bad:Ref:x/push?tag=latest', { headers: { 'X-Registry-Auth': 'e30=' } });
    bad.resume();
    assert.equal(bad.statusCode, 400);
  });

  it('docker login against berthd checks the credentials at distribution; push then authenticates; logout forgets them', async () => {
    const ref = `${authed.host}/priv/img:v1`;
    await docker(['tag', 'pushme', ref]);
    const denied = await d.docker(['push', ref]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /no basic auth credentials|unauthorized/);

    const wrong = await d.docker(['login', '-u', 'alice', '--password-stdin', authed.host], { input: 'nope\n' });
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr.trim(), `Error response from daemon: login attempt to http://${authed.host}/v2/ failed with status: 401 Unauthorized`);
    const ok = await d.docker(['login', '-u', 'alice', '--password-stdin', authed.host], { input: 's3cret\n' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'Login Succeeded');

    const out = await docker(['push', ref]);
    const pushed = await checkPushed(authed, 'priv/img', 'v1', 'alice:s3cret');
    assert.match(out, new RegExp(`v1: digest: ${pushed.digest} size: ${pushed.size}`));
    const sk = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'alice:s3cret', `docker://${ref}`]);
    assert.equal(sk.code, 0, sk.stderr);
    assert.equal(JSON.parse(sk.stdout).Digest, pushed.digest);
    await docker(['logout', authed.host]);
  });

  it('a registry killed mid-push is a clear error and leaves Berth’s store unchanged', async () => {
    const doomed = await berthRegistry(join(dir, 'doomed'));
    registries.push(doomed);
    const archive = join(dir, 'big.tar');
    await writeFile(archive, await saveTar([{ tags: [`${doomed.host}/big/img:latest`], layers: [layers[0] as Buffer, await tarOf([{ name: 'big', content: randomBytes(48 << 20) }])] }]));
    await docker(['load', '-i', archive]);
    await rm(archive);
    const state = await storeState();
    const res = await d.client.raw('POST', `/images/${doomed.host}/big/img/push?tag=latest`, { headers: { 'X-Registry-Auth': 'e30=' } });
    assert.equal(res.statusCode, 200);
    let text = '';
    for await (const c of res) {
      text += (c as Buffer).toString();
      if (text.includes('"Pushing"')) await doomed.stop();
    }
    const last = JSON.parse(text.trim().split('\n').pop() ?? '{}') as { error?: string };
    assert.ok(last.error, text.slice(-500));
    assert.match(last.error, new RegExp(`127\\.0\\.0\\.1:${doomed.host.split(':')[1]}`));
    assert.deepEqual(await storeState(), state);
    assert.equal((await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', `${doomed.host}/big/img`])).trim(), '[]');
  });

  it('berth login, push, pull and logout print what docker prints', async () => {
    const cfg = join(cfgDir(), 'config.json');
    /** Both CLIs from the same config file; each leaves the same file behind. */
    const pair = async (args: string[], input?: string) => {
      const start = await readFile(cfg, 'utf8').catch(() => undefined);
      const theirs = await d.docker(args, ...(input === undefined ? [] : [{ input }]));
      const theirConfig = await readFile(cfg, 'utf8').catch(() => '');
      if (start === undefined) await rm(cfg, { force: true });
      else await writeFile(cfg, start, { mode: 0o600 });
      const ours = await berth(args, input);
      const ourConfig = await readFile(cfg, 'utf8').catch(() => '');
      assert.equal(asDocker(ours.stderr), theirs.stderr, `berth ${args.join(' ')}: stderr`);
      assert.equal(ours.code, theirs.code, `berth ${args.join(' ')}: exit code`);
      assert.equal(ourConfig, theirConfig, `berth ${args.join(' ')}: config.json`);
      return { ours, theirs };
    };
    await rm(cfg, { force: true });
    let r = await pair(['login', '-u', 'alice', '-p', 's3cret', authed.host]);
    assert.equal(r.ours.stdout, r.theirs.stdout);
    assert.equal((await stat(cfg)).mode & 0o777, 0o600);
    r = await pair(['login', '-u', 'alice', '-p', 'bad', authed.host]);
    r = await pair(['login', '-u', 'alice', '--password-stdin', '-p', 'x', authed.host], 'x\n');
    r = await pair(['login', authed.host]);
    assert.equal(r.ours.stdout, r.theirs.stdout);

    // Logged in (berth wrote the file): both push with the stored credentials.
    await berth(['login', '-u', 'alice', '--password-stdin', authed.host], 's3cret\n');
    const ref = `${authed.host}/cli/img:v1`;
    await docker(['tag', 'pushme', ref]);
    const first = await berth(['push', ref]);
    assert.equal(first.code, 0, first.stderr);
    const theirs = await d.docker(['push', ref]);
    const ours = await berth(['push', ref]);
    assert.equal(ours.code, 0, ours.stderr);
    const sorted = (s: string) => s.split('\n').sort().join('\n');
    assert.equal(sorted(ours.stdout), sorted(theirs.stdout));
    assert.equal(ours.stderr, theirs.stderr);
    const q = await berth(['push', '-q', ref]);
    assert.equal(q.stdout, `${ref}\n`);

    await docker(['rmi', ref]);
    const ourPull = await berth(['pull', `${authed.host}/cli/img:v1`]);
    assert.equal(ourPull.code, 0, ourPull.stderr);
    await docker(['rmi', ref]);
    const theirPull = await d.docker(['pull', `${authed.host}/cli/img:v1`]);
    assert.equal(ourPull.stdout, theirPull.stdout);
    assert.equal((await berth(['pull', '-q', ref])).stdout, `${ref}\n`);

    const out = await berth(['logout', authed.host]);
    assert.equal(out.stdout, `Removing login credentials for ${authed.host}\n`);
    assert.deepEqual(JSON.parse(await readFile(cfg, 'utf8')), { auths: {} });
    const denied = await berth(['pull', ref]);
    assert.equal(denied.code, 1);
  });
});
