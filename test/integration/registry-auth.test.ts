// berth-registry's configuration, auth (htpasswd basic and bearer tokens), TLS and garbage collection, as real
// processes on loopback (dist/berth-registry.js; `npm run build` first), driven by raw HTTP, skopeo and a private
// dockerd 20.10 (vfs storage, no bridge, no iptables rules). htpasswd files come from Debian's `htpasswd -B`, the
// certificate from `openssl`. Everything a test starts or writes is removed in `after`, also when a test failed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dist, run } from '../harness/daemon.js';
import { type BerthRegistry, OCI_MANIFEST, type ReferenceDockerd, busyboxArchive, sha, startBerthRegistry, startReferenceDockerd } from '../harness/registries.js';

/** Every registry a test started, stopped in `after` whatever happened. */
const running = new Set<BerthRegistry>();

async function startRegistry(args: string[]): Promise<BerthRegistry> {
  const reg = await startBerthRegistry(args);
  running.add(reg);
  return reg;
}

/** Runs berth-registry expecting it to refuse to start; returns its stderr. */
async function refusesToStart(args: string[], message: RegExp): Promise<void> {
  const r = await run(process.execPath, [dist('berth-registry'), ...args], { timeoutMs: 15_000 });
  assert.equal(r.code, 1, `exit code for ${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /listening on/);
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
type ErrorBody = { errors: { code: string; message: string; detail: unknown }[] };
const codes = async (r: Response) => ((await r.json()) as ErrorBody).errors.map((e) => e.code);

async function skopeo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('skopeo', args, { timeoutMs: 120_000 });
}
async function skopeoOk(args: string[]): Promise<string> {
  const r = await skopeo(args);
  assert.equal(r.code, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('berth-registry auth, TLS, config and garbage collection', () => {
  let dir: string;
  let htpasswd: string;
  let archive: string;

  before(async () => {
    assert.ok(existsSync(dist('berth-registry')), 'run `npm run build` first');
    dir = await mkdtemp(join(tmpdir(), 'berth-regauth-'));
    htpasswd = join(dir, 'htpasswd');
    // Real `$2y$` entries from Debian's apache2-utils.
    for (const [user, pw, create] of [
      ['alice', 'alice-secret', true],
      ['bob', 'bob-secret', false],
    ] as const) {
      const r = await run('htpasswd', [...(create ? ['-c'] : []), '-bB', htpasswd, user, pw]);
      assert.equal(r.code, 0, r.stderr);
    }
    archive = await busyboxArchive();
  });
  after(async () => {
    for (const r of [...running]) await r.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** skopeo pushes to alice/busybox as alice, fails with a wrong password, and is refused as bob: his refusal. */
  const pushesAsAliceOnly = async (host: string) => {
    await skopeoOk(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-secret', `docker-archive:${archive}`, `docker://${host}/alice/busybox:v1`]);
    const wrong = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:wrong', `docker-archive:${archive}`, `docker://${host}/alice/busybox:v2`]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /unauthorized|authentication required/i);
    const denied = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'bob:bob-secret', `docker-archive:${archive}`, `docker://${host}/alice/busybox:bob`]);
    assert.notEqual(denied.code, 0);
    return denied;
  };

  /** Writes a config file and starts a registry with it on a fresh root. */
  const withConfig = async (name: string, yaml: string, extraArgs: string[] = []) => {
    const file = join(dir, `${name}.yml`);
    await writeFile(file, `addr: 127.0.0.1:0\nroot: ${join(dir, `${name}-root`)}\n${yaml}`);
    return startRegistry(['serve', '--config', file, ...extraArgs]);
  };

  const accessRules = `
  access:
    - { account: alice, repository: "**", actions: ["*"] }
    - { account: bob, repository: "bob/**", actions: [pull, push] }
    - { account: "*", repository: "alice/*", actions: [pull] }`;

  it('refuses a bad configuration before listening, naming the key or file', async () => {
    const cfg = async (name: string, text: string) => {
      const f = join(dir, name);
      await writeFile(f, text);
      return f;
    };
    const root = join(dir, 'never');
    await refusesToStart(['serve', '--config', await cfg('unknown.yml', 'addr: 127.0.0.1:0\nlisten: 1\n')], /unknown key "listen"/);
    await refusesToStart(['serve', '--config', await cfg('nested.yml', 'auth:\n  htpasswd: {path: x, realms: y}\n')], /unknown key "auth\.htpasswd\.realms"/);
    await refusesToStart(['serve', '--config', await cfg('type.yml', 'auth:\n  anonymous_pull: "yes"\n')], /auth\.anonymous_pull: must be true or false/);
    await refusesToStart(['serve', '--config', await cfg('list.yml', 'auth:\n  htpasswd: {path: ' + htpasswd + '}\n  access: {alice: all}\n')], /auth\.access: must be a list/);
    await refusesToStart(['serve', '--config', await cfg('action.yml', `auth:\n  htpasswd: {path: ${htpasswd}}\n  access:\n    - {account: a, repository: b, actions: [fly]}\n`)], /auth\.access\[0\]\.actions\[0\]: "fly"/);
    await refusesToStart(['serve', '--config', await cfg('yaml.yml', 'addr: [unclosed\n')], /not valid YAML/);
    await refusesToStart(['serve', '--config', join(dir, 'absent.yml')], /cannot read config file .*absent\.yml/);
    await refusesToStart(['serve', '--config', await cfg('nohtp.yml', `root: ${root}\nauth:\n  htpasswd: {path: /nonexistent/htpasswd}\n`)], /cannot read htpasswd file \/nonexistent\/htpasswd/);
    const md5 = join(dir, 'md5.htpasswd');
    assert.equal((await run('htpasswd', ['-cbm', md5, 'carol', 'pw'])).code, 0);
    await refusesToStart(['serve', '--config', await cfg('md5.yml', `root: ${root}\nauth:\n  htpasswd: {path: ${md5}}\n`)], /htpasswd file .*md5\.htpasswd, line 1 \(carol\): only bcrypt/);
    await refusesToStart(['serve', '--config', await cfg('tls.yml', `root: ${root}\ntls: {certificate: /nonexistent.crt, key: /nonexistent.key}\n`)], /cannot read TLS certificate \/nonexistent\.crt/);
    await refusesToStart(['serve', '--config', await cfg('tokenonly.yml', `root: ${root}\nauth:\n  token: {}\n`)], /htpasswd is required/);
    await refusesToStart(['serve', '--log-level', 'loud', '--config', await cfg('fine.yml', 'addr: 127.0.0.1:0\n')], /invalid log level "loud"/);
    assert.equal(existsSync(root), false, 'nothing was written for a refused configuration');
  });

  it('flags override the config file', async () => {
    const other = join(dir, 'flag-root');
    const reg = await withConfig('override', 'log: {level: debug}\n', ['--root', other, '--addr', '127.0.0.1:0', '--log-level', 'info']);
    assert.equal((await fetch(`http://${reg.host}/v2/`)).status, 200);
    assert.ok(existsSync(join(other, 'repositories')), 'the --root flag won');
    assert.equal(existsSync(join(dir, 'override-root')), false);
    assert.doesNotMatch(reg.logs(), /"level":"debug"/, 'the --log-level flag won');
    await reg.stop();
  });

  describe('htpasswd basic auth', () => {
    let reg: BerthRegistry;
    let u: (p: string) => string;
    before(async () => {
      reg = await withConfig('basic', `auth:\n  anonymous_pull: true\n  htpasswd: {path: ${htpasswd}, realm: "Berth test"}\n${accessRules}\n`);
      u = (p) => `http://${reg.host}${p}`;
    });
    after(async () => reg?.stop());

    it('challenges with Basic, refuses a wrong password, allows by the access rules, pulls anonymously', async () => {
      const anon = await fetch(u('/v2/'));
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="Berth test"');
      assert.deepEqual(await codes(anon), ['UNAUTHORIZED']);
      const wrong = await fetch(u('/v2/'), { headers: { Authorization: basic('alice', 'nope') } });
      assert.equal(wrong.status, 401);
      assert.deepEqual(await codes(wrong), ['UNAUTHORIZED']);
      assert.equal((await fetch(u('/v2/'), { headers: { Authorization: basic('nobody', 'alice-secret') } })).status, 401);
      assert.equal((await fetch(u('/v2/'), { headers: { Authorization: basic('alice', 'alice-secret') } })).status, 200);

      const blob = 'basic auth blob';
      const push = (user: string, pw: string, repo: string) => fetch(u(`/v2/${repo}/blobs/uploads/?digest=${sha(blob)}`), { method: 'POST', body: blob, headers: { Authorization: basic(user, pw) } });
      assert.equal((await push('alice', 'alice-secret', 'alice/repo')).status, 201);
      const denied = await push('bob', 'bob-secret', 'alice/repo');
      assert.equal(denied.status, 403);
      assert.deepEqual(await codes(denied), ['DENIED']);
      assert.equal((await push('bob', 'bob-secret', 'bob/repo')).status, 201);
      const anonPush = await fetch(u(`/v2/anon/blobs/uploads/?digest=${sha(blob)}`), { method: 'POST', body: blob });
      assert.equal(anonPush.status, 401);
      assert.equal(anonPush.headers.get('www-authenticate'), 'Basic realm="Berth test"');
      // Anonymous pull (configured), and skopeo's empty `Basic Og==` counts as anonymous.
      assert.equal(await (await fetch(u(`/v2/alice/repo/blobs/${sha(blob)}`))).text(), blob);
      assert.equal((await fetch(u(`/v2/alice/repo/blobs/${sha(blob)}`), { headers: { Authorization: 'Basic Og==' } })).status, 200);
      assert.equal((await fetch(u(`/v2/alice/repo/blobs/${sha(blob)}`), { method: 'DELETE' })).status, 401);
      assert.equal((await fetch(u(`/v2/alice/repo/blobs/${sha(blob)}`), { method: 'DELETE', headers: { Authorization: basic('bob', 'bob-secret') } })).status, 403);
      // A mount needs pull on the source: bob may not read carol/…, so he gets an upload session, not the blob.
      assert.equal((await push('alice', 'alice-secret', 'carol/private')).status, 201);
      const mount = await fetch(u(`/v2/bob/copy/blobs/uploads/?mount=${sha(blob)}&from=carol/private`), { method: 'POST', headers: { Authorization: basic('bob', 'bob-secret') } });
      assert.equal(mount.status, 202);
      const mounted = await fetch(u(`/v2/bob/copy/blobs/uploads/?mount=${sha(blob)}&from=alice/repo`), { method: 'POST', headers: { Authorization: basic('bob', 'bob-secret') } });
      assert.equal(mounted.status, 201, 'every user may pull alice/*');
    });

    it('skopeo with --dest-creds / --src-creds: push, denied push, wrong password, anonymous pull', async () => {
      assert.match((await pushesAsAliceOnly(reg.host)).stderr, /denied/i);
      await skopeoOk(['copy', '--src-tls-verify=false', '--src-creds', 'bob:bob-secret', `docker://${reg.host}/alice/busybox:v1`, `dir:${join(dir, 'basic-bob')}`]);
      await skopeoOk(['copy', '--src-tls-verify=false', '--src-no-creds', `docker://${reg.host}/alice/busybox:v1`, `dir:${join(dir, 'basic-anon')}`]);
      const anonPush = await skopeo(['copy', '--dest-tls-verify=false', '--dest-no-creds', `docker-archive:${archive}`, `docker://${reg.host}/alice/busybox:anon`]);
      assert.notEqual(anonPush.code, 0);
    });
  });

  describe('token auth', () => {
    let reg: BerthRegistry;
    let u: (p: string) => string;
    const token = async (query: string, user?: [string, string]) => {
      const r = await fetch(u(`/token?service=berth-test&${query}`), user ? { headers: { Authorization: basic(...user) } } : {});
      assert.equal(r.status, 200, await r.clone().text());
      return ((await r.json()) as { token: string }).token;
    };
    const claims = (t: string) => JSON.parse(Buffer.from(t.split('.')[1] ?? '', 'base64url').toString()) as { sub: string; aud: string; exp: number; access: { type: string; name: string; actions: string[] }[] };
    before(async () => {
      reg = await withConfig('token', `auth:\n  anonymous_pull: true\n  htpasswd: {path: ${htpasswd}}\n  token: {service: berth-test}\n${accessRules}\n`);
      u = (p) => `http://${reg.host}${p}`;
    });
    after(async () => reg?.stop());

    it('challenges with Bearer, issues tokens holding the granted part of the scope, verifies them', async () => {
      const anon = await fetch(u('/v2/alice/x/blobs/uploads/'), { method: 'POST' });
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get('www-authenticate'), `Bearer realm="http://${reg.host}/token",service="berth-test",scope="repository:alice/x:pull,push"`);
      assert.deepEqual(await codes(anon), ['UNAUTHORIZED']);
      assert.equal((await fetch(u('/v2/'))).headers.get('www-authenticate'), `Bearer realm="http://${reg.host}/token",service="berth-test"`);
      assert.ok(existsSync(join(dir, 'token-root', 'auth', 'token-key.pem')), 'a signing key was generated under the root');

      const wrong = await fetch(u('/token?service=berth-test&scope=repository:alice/x:pull'), { headers: { Authorization: basic('alice', 'nope') } });
      assert.equal(wrong.status, 401);
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      const bobTok = await token('scope=repository:alice/x:pull,push&scope=repository:bob/x:pull,push', ['bob', 'bob-secret']);
      const c = claims(bobTok);
      assert.equal(c.sub, 'bob');
      assert.equal(c.aud, 'berth-test');
      assert.deepEqual(c.access, [
        { type: 'repository', name: 'alice/x', actions: ['pull'] },
        { type: 'repository', name: 'bob/x', actions: ['pull', 'push'] },
      ]);
      const anonTok = claims(await token('scope=repository:alice/x:pull,push'));
      assert.deepEqual(anonTok.access, [{ type: 'repository', name: 'alice/x', actions: ['pull'] }]);

      const blob = 'token blob';
      const push = (tok: string, repo: string) => fetch(u(`/v2/${repo}/blobs/uploads/?digest=${sha(blob)}`), { method: 'POST', body: blob, headers: { Authorization: `Bearer ${tok}` } });
      assert.equal((await push(bobTok, 'bob/x')).status, 201);
      const insufficient = await push(bobTok, 'alice/x');
      assert.equal(insufficient.status, 401);
      assert.match(insufficient.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
      assert.equal((await push(bobTok, 'bob/other')).status, 401, 'a token is for the repositories it names');
      // Forged: the payload changed under the signature; and a token for another audience.
      const [h, , s] = bobTok.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...c, access: [{ type: 'repository', name: 'alice/x', actions: ['push'] }] })).toString('base64url')}.${s}`;
      const bad = await push(forged, 'alice/x');
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.equal((await fetch(u('/token?service=elsewhere'))).status, 400);
      // Mounting needs pull on the source: bob's token does not name carol/…, so no mount.
      const aliceTok = await token('scope=repository:carol/x:pull,push', ['alice', 'alice-secret']);
      assert.equal((await push(aliceTok, 'carol/x')).status, 201);
      const mount = await fetch(u(`/v2/bob/x/blobs/uploads/?mount=${sha(blob)}&from=carol/x`), { method: 'POST', headers: { Authorization: `Bearer ${bobTok}` } });
      assert.equal(mount.status, 202);
      const bobMount = await token('scope=repository:bob/y:pull,push&scope=repository:bob/x:pull', ['bob', 'bob-secret']);
      const ok = await fetch(u(`/v2/bob/y/blobs/uploads/?mount=${sha(blob)}&from=bob/x`), { method: 'POST', headers: { Authorization: `Bearer ${bobMount}` } });
      assert.equal(ok.status, 201);
      // The catalog needs its own scope, only for authenticated users.
      const cat = await token('scope=registry:catalog:*', ['bob', 'bob-secret']);
      assert.equal((await fetch(u('/v2/_catalog'), { headers: { Authorization: `Bearer ${cat}` } })).status, 200);
      assert.equal((await fetch(u('/v2/_catalog'), { headers: { Authorization: `Bearer ${await token('scope=registry:catalog:*')}` } })).status, 401);
    });

    it('skopeo follows the token flow: push, denied push, wrong password, anonymous pull, delete', async () => {
      await pushesAsAliceOnly(reg.host);
      await skopeoOk(['copy', '--src-tls-verify=false', '--src-no-creds', `docker://${reg.host}/alice/busybox:v1`, `dir:${join(dir, 'token-anon')}`]);
      await skopeoOk(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'bob:bob-secret', '--dest-creds', 'bob:bob-secret', `docker://${reg.host}/alice/busybox:v1`, `docker://${reg.host}/bob/busybox:v1`]);
      const noDelete = await skopeo(['delete', '--tls-verify=false', '--creds', 'bob:bob-secret', `docker://${reg.host}/bob/busybox:v1`]);
      assert.notEqual(noDelete.code, 0, 'bob has no delete grant');
      await skopeoOk(['delete', '--tls-verify=false', '--creds', 'alice:alice-secret', `docker://${reg.host}/bob/busybox:v1`]);
    });
  });

  describe('with dockerd 20.10', () => {
    let basicReg: BerthRegistry;
    let tokenReg: BerthRegistry;
    let ref: ReferenceDockerd | undefined;
    const docker = (args: string[], input?: string) => (ref as ReferenceDockerd).docker(args, input);
    const dockerdLog = () => ref?.log() ?? '';

    before(async () => {
      basicReg = await withConfig('dbasic', `auth:\n  anonymous_pull: true\n  htpasswd: {path: ${htpasswd}}\n${accessRules}\n`);
      tokenReg = await withConfig('dtoken', `auth:\n  anonymous_pull: true\n  htpasswd: {path: ${htpasswd}}\n  token: {}\n${accessRules}\n`);
      // Plain HTTP for the registries and for the token realm on loopback.
      ref = await startReferenceDockerd(await mkdtemp(join(tmpdir(), 'berth-regauth-dockerd-')), { insecureRegistries: [basicReg.host, tokenReg.host] });
      const load = await docker(['load', '-i', archive]);
      assert.equal(load.code, 0, load.stderr);
    });
    after(async () => {
      await ref?.stop();
      await basicReg?.stop();
      await tokenReg?.stop();
    });

    for (const scheme of ['basic', 'token'] as const) {
      it(`${scheme} auth: wrong password refused, login, push, pull back; a user without push is denied; anonymous pull (token)`, async () => {
        const host = scheme === 'basic' ? basicReg.host : tokenReg.host;
        const wrong = await docker(['login', '-u', 'alice', '--password-stdin', host], 'wrong');
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /unauthorized|401/i);
        const login = await docker(['login', '-u', 'alice', '--password-stdin', host], 'alice-secret');
        assert.equal(login.code, 0, `${login.stderr}\n${dockerdLog().slice(-2000)}`);
        assert.match(login.stdout, /Login Succeeded/);
        const ref = `${host}/alice/busybox:v1`;
        assert.equal((await docker(['tag', 'bench/busybox:latest', ref])).code, 0);
        const push = await docker(['push', ref]);
        assert.equal(push.code, 0, `${push.stderr}\n${dockerdLog().slice(-2000)}`);
        const digest = /digest: (sha256:[a-f0-9]{64})/.exec(push.stdout)?.[1];
        assert.ok(digest, push.stdout);
        assert.equal((await docker(['rmi', ref])).code, 0);
        const pull = await docker(['pull', ref]);
        assert.equal(pull.code, 0, pull.stderr);
        assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));

        assert.equal((await docker(['login', '-u', 'bob', '--password-stdin', host], 'bob-secret')).code, 0);
        const denied = await docker(['push', ref]);
        assert.notEqual(denied.code, 0, 'bob may not push to alice/*');
        assert.match(denied.stderr, /denied|unauthorized|authentication required/i);
        const mine = `${host}/bob/busybox:v1`;
        assert.equal((await docker(['tag', 'bench/busybox:latest', mine])).code, 0);
        const bobPush = await docker(['push', mine]);
        assert.equal(bobPush.code, 0, bobPush.stderr);

        assert.equal((await docker(['logout', host])).code, 0);
        assert.equal((await docker(['rmi', ref, mine])).code, 0);
        const anon = await docker(['pull', ref]);
        if (scheme === 'token') assert.equal(anon.code, 0, `anonymous pull: ${anon.stderr}`);
        // The docker client refuses a Basic challenge (which /v2/ must give, or login would accept any password)
        // without credentials, before asking: anonymous docker pulls need token auth (skopeo's work with both).
        else assert.match(anon.stderr, /no basic auth credentials/);
        const anonPush = await docker(['push', ref]);
        assert.notEqual(anonPush.code, 0, 'anonymous push is refused');
        if (scheme === 'token') assert.equal((await docker(['rmi', ref])).code, 0);
      });
    }
  });

  describe('TLS', () => {
    let reg: BerthRegistry;
    let certDir: string;
    before(async () => {
      certDir = join(dir, 'certs');
      await mkdir(certDir);
      const r = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(certDir, 'ca.crt')]);
      assert.equal(r.code, 0, r.stderr);
      reg = await withConfig('tls', `tls: {certificate: ${join(certDir, 'ca.crt')}, key: ${join(dir, 'tls.key')}}\nauth:\n  htpasswd: {path: ${htpasswd}}\n  token: {}\n`);
    });
    after(async () => reg?.stop());

    it('serves HTTPS (token realm https too): skopeo with --dest-cert-dir and --tls-verify=false; plain HTTP is not answered', async () => {
      assert.match(reg.logs(), /listening on .* \(TLS\)/);
      await skopeoOk(['copy', '--dest-cert-dir', certDir, '--dest-creds', 'alice:alice-secret', `docker-archive:${archive}`, `docker://${reg.host}/tls/busybox:v1`]);
      await skopeoOk(['copy', '--src-tls-verify=false', '--src-creds', 'alice:alice-secret', `docker://${reg.host}/tls/busybox:v1`, `dir:${join(dir, 'tls-back')}`]);
      const untrusted = await skopeo(['inspect', '--creds', 'alice:alice-secret', `docker://${reg.host}/tls/busybox:v1`]);
      assert.notEqual(untrusted.code, 0, 'a client that does not trust the certificate is refused');
      assert.match(untrusted.stderr, /certificate/);
      await assert.rejects(fetch(`http://${reg.host}/v2/`));
      assert.equal(reg.proc.exitCode, null, 'still serving after refused handshakes');
    });
  });

  describe('garbage collection', () => {
    let reg: BerthRegistry;
    let root: string;
    let u: (p: string) => string;
    before(async () => {
      reg = await withConfig('gc', 'gc: {grace: 0}\n');
      root = join(dir, 'gc-root');
      u = (p) => `http://${reg.host}${p}`;
    });
    after(async () => reg?.stop());

    const blobs = async () => new Set((await readdir(join(root, 'content', 'blobs', 'sha256'))).map((h) => `sha256:${h}`));
    const pushBlob = async (repo: string, data: string) => {
      const r = await fetch(u(`/v2/${repo}/blobs/uploads/?digest=${sha(data)}`), { method: 'POST', body: data });
      assert.equal(r.status, 201);
      return sha(data);
    };
    const image = async (repo: string, ref: string, seed: string, extra: Record<string, unknown> = {}) => {
      const config = await pushBlob(repo, `{"seed":"${seed}"}`);
      const layer = await pushBlob(repo, `layer ${seed}`);
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: `{"seed":"${seed}"}`.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: `layer ${seed}`.length }],
        ...extra,
      });
      const r = await fetch(u(`/v2/${repo}/manifests/${ref}`), { method: 'PUT', body, headers: { 'Content-Type': OCI_MANIFEST } });
      assert.equal(r.status, 201, await r.text());
      return { manifest: sha(body), config, layer, body };
    };
    const gcDone = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        if ((reg.logs().match(/garbage collection done/g) ?? []).length >= n) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail(`no garbage collection: ${reg.logs()}`);
    };

    it('online (SIGUSR1): removes exactly the unreferenced blobs while a pull runs', async () => {
      await skopeoOk(['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${reg.host}/gc/busybox:v1`]);
      const kept = await image('gc/kept', 'v1', 'kept');
      const gone = await image('gc/gone', 'v1', 'gone');
      const orphan = await pushBlob('gc/orphan', 'an orphan blob');
      const stillLinked = await pushBlob('gc/linked', 'linked only, no manifest');
      const shared = await pushBlob('gc/other', `layer kept`); // the same bytes as kept's layer, linked twice
      assert.equal(shared, kept.layer);
      // Unreference: delete gone's manifest and unlink its blobs and the orphan.
      assert.equal((await fetch(u(`/v2/gc/gone/manifests/${gone.manifest}`), { method: 'DELETE' })).status, 202);
      for (const d of [gone.config, gone.layer]) assert.equal((await fetch(u(`/v2/gc/gone/blobs/${d}`), { method: 'DELETE' })).status, 202);
      assert.equal((await fetch(u(`/v2/gc/orphan/blobs/${orphan}`), { method: 'DELETE' })).status, 202);
      assert.equal((await fetch(u(`/v2/gc/other/blobs/${shared}`), { method: 'DELETE' })).status, 202);
      const before = await blobs();
      const expectGone = new Set([gone.manifest, gone.config, gone.layer, orphan]);
      for (const d of expectGone) assert.ok(before.has(d));

      // A pull in flight while the collection runs.
      const pull = skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/gc/busybox:v1`, `dir:${join(dir, 'gc-pull')}`]);
      const reads = (async () => {
        for (let i = 0; i < 20; i++) {
          const r = await fetch(u(`/v2/gc/kept/blobs/${kept.layer}`));
          assert.equal(await r.text(), 'layer kept');
        }
      })();
      reg.proc.kill('SIGUSR1');
      await gcDone(1);
      const [pulled] = await Promise.all([pull, reads]);
      assert.equal(pulled.code, 0, pulled.stderr);

      const after = await blobs();
      assert.deepEqual(new Set([...before].filter((d) => !after.has(d))), expectGone, 'exactly the unreferenced blobs went');
      assert.ok(after.has(stillLinked), 'a blob linked by a repository is kept');
      assert.ok(after.has(kept.layer), 'a blob one repository still links is kept');
      assert.match(reg.logs(), /"blobs":4/);
      const pullAgain = await skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/gc/busybox:v1`, `dir:${join(dir, 'gc-pull2')}`]);
      assert.equal(pullAgain.code, 0, pullAgain.stderr);
      // An upload in progress is not content yet and is left alone.
      const s = await fetch(u('/v2/gc/up/blobs/uploads/'), { method: 'POST' });
      const loc = s.headers.get('location') ?? '';
      await fetch(u(loc), { method: 'PATCH', body: 'half of a blob' });
      reg.proc.kill('SIGUSR1');
      await gcDone(2);
      assert.equal((await fetch(u(loc))).headers.get('range'), '0-13');
    });

    it('garbage-collect command: --dry-run lists, --delete-untagged removes untagged manifests but keeps referrers of kept ones', async () => {
      const base = await image('gcu/repo', 'v1', 'base');
      const old = await image('gcu/repo', 'v0', 'old');
      // Retag v0 away: `old` becomes untagged.
      assert.equal((await fetch(u('/v2/gcu/repo/manifests/v0'), { method: 'DELETE' })).status, 202);
      const sig = await image('gcu/repo', 'sha256-sig', 'sig', { subject: { mediaType: OCI_MANIFEST, digest: base.manifest, size: Buffer.byteLength(base.body) } });
      assert.equal((await fetch(u('/v2/gcu/repo/manifests/sha256-sig'), { method: 'DELETE' })).status, 202, 'the signature is untagged too');
      await reg.stop();

      const gc = (args: string[]) => run(process.execPath, [dist('berth-registry'), 'garbage-collect', '--root', root, ...args]);
      const dry = await gc(['--dry-run', '--delete-untagged', '--grace', '0']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`manifest eligible for deletion: gcu/repo@${old.manifest}`));
      assert.doesNotMatch(dry.stdout, new RegExp(sig.manifest), 'a referrer of a kept manifest stays');
      const beforeRun = await blobs();
      assert.ok(beforeRun.has(old.manifest), 'a dry run deletes nothing');
      const young = await gc(['--delete-untagged']);
      assert.equal(young.code, 0, young.stderr);
      assert.match(young.stdout, /^0 blobs \(0 bytes\) and 0 manifests deleted/m, 'the default grace period keeps what was just written');
      const real = await gc(['--delete-untagged', '--grace', '0']);
      assert.equal(real.code, 0, real.stderr);
      const afterRun = await blobs();
      for (const d of [old.manifest, old.config, old.layer]) assert.ok(!afterRun.has(d), `${d} collected`);
      for (const d of [base.manifest, base.config, base.layer, sig.manifest]) assert.ok(afterRun.has(d), `${d} kept`);
      const bad = await gc(['--root', join(dir, 'no-such-root')]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /not a berth-registry root/);
    });
  });
});
