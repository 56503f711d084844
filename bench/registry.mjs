#!/usr/bin/env node
// Registries on loopback, two comparisons:
//
// 1. Push and pull (a suite benchmark, in run-all too): the 200 MiB, 5-layer image of bench/load.mjs (random,
//    incompressible) `docker push`ed to a fresh, empty registry, removed with `rmi`, and `docker pull`ed back (so
//    every layer goes up and comes down), through the same docker CLI against berthd and against dockerd 20.10.
//    One untimed repetition per daemon comes first: a daemon's first push and pull also pay its warm-up (its code
//    compiled, its threads started), which the measured ones would otherwise carry on one side only by chance.
//    Against berth-registry and, when Debian's docker-registry (distribution 2.8) is installed, against it too.
//    Each repetition gets its own registry (a registry that already has a blob is not pushed to), and the image is
//    `docker load`ed again (untimed) before each push, so every push starts from the same state. Median of 3.
//    Both daemons are up together and each repetition runs Berth then Docker (paired), unless BENCH_ONLY picks one.
//    Both engines reach 127.0.0.1 over plain HTTP without configuration (dockerd trusts 127.0.0.0/8 by default).
// 2. Serving (this script only; no daemon runs then): berth-registry against distribution, each holding that
//    image (uploaded uncompressed), serving 8 concurrent pulls: 8 curl processes, each fetching the manifest, the
//    config and the 5 layers (3 at a time, as docker does) over plain HTTP GETs into /dev/null. A bare node:http
//    server streaming the same files is measured beside them: Node's http over this loopback with no registry
//    logic. An untimed pull (in this process) first checks every blob's digest, then one untimed round warms up. The rounds
//    interleave the three servers, each round in another order. Median of 3; the
//    log gives each round's CPU time of the server and of this client.
//
//   node bench/registry.mjs         BENCH_REGISTRY_REPS=3 BENCH_REGISTRY_CLIENTS=8 BENCH_ONLY=berth|docker
//   BENCH_REGISTRY_SERVE=0          skip the serving comparison; BENCH_REGISTRY_SERVE=only runs it alone
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO, TMP_BASE, docker, formatTable, isMain, log, runSuite, stats, syncDisks, which } from './lib.mjs';
import { makeLoadArchive } from './load.mjs';

const REPS = Number(process.env.BENCH_REGISTRY_REPS || 3);
const CLIENTS = Number(process.env.BENCH_REGISTRY_CLIENTS || 8);
const LAYER_CONCURRENCY = 3;
const LOCAL_TAG = 'bench/load:latest'; // the tag in bench/load.mjs's archive
const REPO_PATH = 'bench/registry';
const DISTRIBUTION = '/usr/bin/docker-registry';

let archive; // { path, imageIdHex, diffIds, size }
let imageBytes = 0; // the layers' uncompressed size: the amount every push and pull moves (before compression)

// ---------------------------------------------------------------------------------------------------------------
// Registry servers on loopback, each in its own temp dir; all stopped and removed on every way out

const running = new Set();
const dirs = new Set();

/** A temp dir named and owned as bench/lib.mjs's, so a later run reaps it (and what names it) if this one is killed. */
function tempDir(kind) {
  mkdirSync(TMP_BASE, { recursive: true });
  const dir = mkdtempSync(join(TMP_BASE, `bbench-${kind}-`));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  dirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

// The last resort (bench/lib.mjs turns SIGINT/SIGTERM into an exit too): servers killed, their dirs removed.
process.on('exit', () => {
  for (const r of running) {
    try {
      r.proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (running.size) spawnSync('sleep', ['0.2']); // SIGKILL is not instant: no writes into a dir being removed
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

function track(name, dir, proc, logFile) {
  const reg = {
    name,
    dir,
    proc,
    host: '',
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      removeTempDir(dir);
      running.delete(reg);
    },
    logTail: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n') : ''),
  };
  running.add(reg);
  proc.on('error', () => {}); // seen as an exit below
  return reg;
}

async function waitForV2(reg, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (reg.proc.exitCode !== null || reg.proc.signalCode !== null) break;
    if (reg.host && (await httpGet(`http://${reg.host}/v2/`).then((r) => r.status === 200, () => false))) return reg;
    await sleep(50);
  }
  const tail = reg.logTail();
  await reg.stop();
  throw new Error(`${reg.name} did not answer /v2/ within ${timeoutMs / 1000}s:\n${tail}`);
}

/** berth-registry on 127.0.0.1, a port of its choosing (it prints it), storage in a fresh temp dir. */
async function startBerthRegistry() {
  const dir = tempDir('berth-registry');
  const logFile = join(dir, 'registry.log');
  const proc = spawn(process.execPath, [join(REPO, 'dist', 'berth-registry.js'), 'serve', '--addr', '127.0.0.1:0', '--root', join(dir, 'root'), '--log-level', 'error'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const reg = track('berth-registry', dir, proc, logFile);
  let text = '';
  proc.stderr.on('data', (c) => {
    text += c;
    writeFileSync(logFile, text);
    const m = /listening on .*:(\d+)/.exec(text);
    if (m && !reg.host) reg.host = `127.0.0.1:${m[1]}`;
  });
  return waitForV2(reg);
}

/** distribution 2.8 (Debian's docker-registry binary, never its packaged service) with Debian's config, minus auth. */
async function startDistribution() {
  const dir = tempDir('distribution');
  const port = await freePort();
  const config = join(dir, 'config.yml');
  // Debian's /etc/docker/registry/config.yml (in-memory blob descriptor cache, delete enabled) on a private
  // root and port, without its htpasswd auth and health checks, and logging errors only, as berth-registry here.
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'root')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'registry.log');
  const fd = openSync(logFile, 'a');
  const proc = spawn(DISTRIBUTION, ['serve', config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const reg = track('distribution', dir, proc, logFile);
  reg.host = `127.0.0.1:${port}`;
  return waitForV2(reg);
}

/** The floor: a bare node:http server streaming the image's files by path (manifest and blobs), nothing else. */
async function startBareServer(files) {
  const dir = tempDir('bare-http');
  const port = await freePort();
  const map = join(dir, 'files.json');
  writeFileSync(map, JSON.stringify(files));
  const script = `
    const http = require('node:http'), fs = require('node:fs');
    const files = JSON.parse(fs.readFileSync(${JSON.stringify(map)}, 'utf8'));
    http.createServer((req, res) => {
      const f = files[req.url.split('?')[0]];
      if (req.url === '/v2/') return res.end('{}');
      if (!f) { res.statusCode = 404; return res.end(); }
      res.writeHead(200, { 'content-type': f.type, 'content-length': fs.statSync(f.path).size });
      fs.createReadStream(f.path, { highWaterMark: 1 << 20 }).pipe(res);
    }).listen(${port}, '127.0.0.1');`;
  const logFile = join(dir, 'server.log');
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'ignore'] });
  const reg = track('bare node:http', dir, proc, logFile);
  reg.host = `127.0.0.1:${port}`;
  return waitForV2(reg);
}

// ---------------------------------------------------------------------------------------------------------------
// A minimal HTTP client (keep-alive, bodies discarded or hashed)

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function httpRequest(url, { method = 'GET', headers = {}, body, hash = false } = {}) {
  return new Promise((res, rej) => {
    const req = request(url, { method, headers, agent }, (r) => {
      let bytes = 0;
      const h = hash ? createHash('sha256') : null;
      const small = [];
      r.on('data', (c) => {
        bytes += c.length;
        if (h) h.update(c);
        if (bytes <= 1 << 16) small.push(c); // error bodies and the like; a blob's megabytes are not kept
      });
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, bytes, digest: h && `sha256:${h.digest('hex')}`, text: () => Buffer.concat(small).toString('utf8') }));
      r.on('error', rej);
    });
    req.on('error', rej);
    if (body && typeof body.pipe === 'function') body.pipe(req);
    else req.end(body);
  });
}

const httpGet = (url, o) => httpRequest(url, o);

/** A monolithic upload (POST, then PUT with the digest) of `file`, or of `bytes`. */
async function uploadBlob(host, digest, { file, bytes }) {
  const start = await httpRequest(`http://${host}/v2/${REPO_PATH}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': 0 } });
  if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status} ${start.text()}`);
  const loc = new URL(start.headers.location, `http://${host}`);
  loc.searchParams.set('digest', digest);
  const size = file ? statSync(file).size : bytes.length;
  const body = file ? createReadStream(file, { highWaterMark: 1 << 20 }) : bytes;
  const put = await httpRequest(loc.href, { method: 'PUT', headers: { 'content-length': size, 'content-type': 'application/octet-stream' }, body });
  if (put.status !== 201) throw new Error(`upload of ${digest}: HTTP ${put.status} ${put.text()}`);
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Push and pull through each daemon

function registryKinds() {
  return [
    { name: 'berth-registry', start: startBerthRegistry },
    ...(which(DISTRIBUTION) ? [{ name: 'distribution', start: startDistribution }] : []),
  ];
}

const ROW = (what, reg) => ({ name: `${what} ${reg} (median of ${REPS})`, unit: 'ms' });

async function checkImage(daemon, ref) {
  const r = await docker(daemon, ['image', 'inspect', '--format', '{{.Id}} {{len .RootFS.Layers}}', ref]);
  const [id, n] = r.stdout.trim().split(' ');
  if (id !== `sha256:${archive.imageIdHex}` || Number(n) !== archive.diffIds.length) {
    throw new Error(`${ref} on ${daemon.name} is "${r.stdout.trim()}", expected sha256:${archive.imageIdHex} with ${archive.diffIds.length} layers`);
  }
}

const mbps = (ms) => (imageBytes / 1e6 / (ms / 1000)).toFixed(0);

export const registryBenchmark = {
  name: 'registry',
  rowNames: registryKinds().flatMap((k) => [ROW('push to', k.name), ROW('pull from', k.name)]),
  async prepare() {
    archive = await makeLoadArchive();
    imageBytes = layerBytes(archive.path);
    log(`image: ${archive.path} (${(imageBytes / 1e6).toFixed(0)} MB of layers${archive.cached ? ', cached' : ''})`);
  },
  /** One side at a time (BENCH_ONLY=berth|docker). */
  async run(daemon) {
    const rows = [];
    await pushAndPull(daemon, registryKinds()[0], 'warm-up (untimed)');
    for (const kind of registryKinds()) {
      const pushes = [];
      const pulls = [];
      for (let i = 0; i < REPS; i++) {
        const m = await pushAndPull(daemon, kind, `rep ${i + 1}/${REPS}`);
        pushes.push(m.push);
        pulls.push(m.pull);
      }
      rows.push({ ...ROW('push to', kind.name), value: stats(pushes).median }, { ...ROW('pull from', kind.name), value: stats(pulls).median });
    }
    return rows;
  },
  /**
   * Both daemons up; each repetition runs Berth then Docker against the same kind of registry, so that a slower
   * spell of the VM (its speed drifts by half within minutes) falls on both sides of a ratio.
   */
  async runPaired(daemons) {
    const rows = [];
    for (const side of ['berth', 'docker']) await pushAndPull(daemons[side], registryKinds()[0], 'warm-up (untimed)');
    for (const kind of registryKinds()) {
      const times = { berth: { push: [], pull: [] }, docker: { push: [], pull: [] } };
      for (let i = 0; i < REPS; i++) {
        for (const side of ['berth', 'docker']) {
          const m = await pushAndPull(daemons[side], kind, `rep ${i + 1}/${REPS}`);
          times[side].push.push(m.push);
          times[side].pull.push(m.pull);
        }
      }
      const cells = (what) => ({ berth: stats(times.berth[what]).median, docker: stats(times.docker[what]).median });
      rows.push({ ...ROW('push to', kind.name), cells: cells('push') }, { ...ROW('pull from', kind.name), cells: cells('pull') });
    }
    return rows;
  },
};

/** One repetition: a fresh registry of `kind`, the image loaded and pushed to it, removed, and pulled back. */
async function pushAndPull(daemon, kind, what) {
  const reg = await kind.start();
  const ref = `${reg.host}/${REPO_PATH}:latest`;
  try {
    await docker(daemon, ['load', '-i', archive.path]);
    await docker(daemon, ['tag', LOCAL_TAG, ref]);
    syncDisks();
    const push = await docker(daemon, ['push', ref]);
    // Every tag goes, so that the layers go too, and the pull has to download all of them.
    await docker(daemon, ['rmi', LOCAL_TAG, ref]);
    syncDisks();
    const pull = await docker(daemon, ['pull', ref]);
    await checkImage(daemon, ref);
    log(`  ${daemon.name} ${kind.name} ${what}: push ${push.ms.toFixed(0)} ms (${mbps(push.ms)} MB/s), pull ${pull.ms.toFixed(0)} ms (${mbps(pull.ms)} MB/s), registry holds ${(du(reg.dir) / 1e6).toFixed(0)} MB`);
    return { push: push.ms, pull: pull.ms };
  } catch (e) {
    throw new Error(`${e.message}${reg.logTail() ? `\n${kind.name} log:\n${reg.logTail()}` : ''}`);
  } finally {
    await docker(daemon, ['rmi', '-f', LOCAL_TAG, ref], { allowFail: true });
    await reg.stop();
  }
}

/** User + system CPU time of process `pid` (and its waited-for children) so far, in ms. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / 100; // clock ticks: USER_HZ 100
  } catch {
    return NaN;
  }
}

/** Bytes under `dir` (what the registry stored: compressed layers as the engine pushed them). */
function du(dir) {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]) || 0;
}

/** The summed size of the layer tars in a docker-save archive (its manifest's Layers), read with tar. */
function layerBytes(path) {
  const r = spawnSync('tar', ['-tvf', path], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`tar -tvf ${path}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.endsWith('/layer.tar'))
    .reduce((n, l) => n + Number(l.trim().split(/\s+/)[2]), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Serving concurrent pulls

/** The image as registry content, from the archive: { dir, config: {digest, file}, layers: [{digest, file, size}] }. */
function unpackImage() {
  const dir = tempDir('serve-image');
  const r = spawnSync('tar', ['-xf', archive.path, '-C', dir]);
  if (r.status !== 0) throw new Error(`tar -xf ${archive.path}: ${r.stderr}`);
  const [m] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const configFile = join(dir, m.Config);
  const config = { digest: `sha256:${m.Config.replace(/\.json$/, '')}`, file: configFile, size: statSync(configFile).size };
  const layers = m.Layers.map((l, i) => ({ digest: `sha256:${archive.diffIds[i]}`, file: join(dir, l), size: statSync(join(dir, l)).size }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
    }),
  );
  const manifestFile = join(dir, 'oci-manifest.json');
  writeFileSync(manifestFile, manifest);
  const pullBytes = manifest.length + config.size + layers.reduce((n, l) => n + l.size, 0);
  return { dir, config, layers, manifest, manifestFile, pullBytes };
}

async function pushImage(host, img) {
  for (const b of [img.config, ...img.layers]) await uploadBlob(host, b.digest, { file: b.file });
  const r = await httpRequest(`http://${host}/v2/${REPO_PATH}/manifests/latest`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': img.manifest.length },
    body: img.manifest,
  });
  if (r.status !== 201) throw new Error(`manifest PUT: HTTP ${r.status} ${r.text()}`);
}

/** One client's pull, checked: manifest, config, then the layers LAYER_CONCURRENCY at a time, each body hashed. */
async function verifiedPull(host, img) {
  const base = `http://${host}/v2/${REPO_PATH}`;
  const m = await httpGet(`${base}/manifests/latest`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  if (m.status !== 200) throw new Error(`GET manifest: HTTP ${m.status}`);
  const blobs = [img.config, ...img.layers];
  const get = async (b) => {
    const r = await httpGet(`${base}/blobs/${b.digest}`, { hash: true });
    if (r.status !== 200 || r.bytes !== b.size) throw new Error(`GET ${b.digest}: HTTP ${r.status}, ${r.bytes} of ${b.size} bytes`);
    if (r.digest !== b.digest) throw new Error(`GET ${b.digest}: the body's digest is ${r.digest}`);
  };
  await get(blobs[0]);
  const queue = blobs.slice(1);
  await Promise.all(Array.from({ length: LAYER_CONCURRENCY }, async () => {
    for (let b = queue.shift(); b; b = queue.shift()) await get(b);
  }));
  agent.destroy(); // no idle keep-alive sockets left in the server
}

/**
 * One timed client's pull: a curl process fetching the manifest, the config and the layers, LAYER_CONCURRENCY at a
 * time, into /dev/null. (curl rather than this process: a Node client here cost several times the CPU on some
 * rounds than on others, which showed up as the server's time.) Resolves the bytes it received.
 */
function curlPull(host, img) {
  const base = `http://${host}/v2/${REPO_PATH}`;
  const urls = [`${base}/manifests/latest`, ...[img.config, ...img.layers].map((b) => `${base}/blobs/${b.digest}`)];
  const args = ['-sS', '--fail', '--parallel', '--parallel-max', String(LAYER_CONCURRENCY), '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', '-w', '%{size_download}\\n'];
  for (const u of urls) args.push('-o', '/dev/null', u);
  return new Promise((res, rej) => {
    const c = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('close', (code) => {
      if (code !== 0) return rej(new Error(`curl against ${host} failed (${code}): ${err.trim()}`));
      res(out.trim().split('\n').reduce((n, l) => n + Number(l), 0));
    });
  });
}

/** A server ready to be timed: its copy checked and in the page cache, one untimed round done. */
async function warmUp(reg, img) {
  await verifiedPull(reg.host, img);
  await servingRound(reg, img);
}

/** One timed round: CLIENTS curl pulls at once. Resolves the wall time in ms. */
async function servingRound(reg, img, label) {
  const server0 = cpuMs(reg.proc.pid);
  const client0 = cpuMs(process.pid);
  const t0 = process.hrtime.bigint();
  const got = await Promise.all(Array.from({ length: CLIENTS }, () => curlPull(reg.host, img)));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const total = got.reduce((a, b) => a + b, 0);
  if (total !== img.pullBytes * CLIENTS) throw new Error(`${reg.name}: ${CLIENTS} pulls received ${total} bytes, not ${img.pullBytes * CLIENTS}`);
  // Where the time goes: the server's CPU time and the clients' (curl), beside the wall time.
  if (label) log(`  ${reg.name} ${label}: ${CLIENTS} pulls, ${(total / 1e6).toFixed(0)} MB in ${ms.toFixed(0)} ms: ${(total / 1e6 / (ms / 1000)).toFixed(0)} MB/s; CPU: server ${(cpuMs(reg.proc.pid) - server0).toFixed(0)} ms, clients ${(cpuMs(process.pid) - client0).toFixed(0)} ms`);
  return ms;
}

export async function servingComparison() {
  const img = unpackImage();
  const total = CLIENTS * img.pullBytes;
  const results = {};
  const notes = [];
  const servers = [];
  try {
    for (const kind of registryKinds()) {
      try {
        const reg = await kind.start();
        servers.push(reg);
        await pushImage(reg.host, img);
      } catch (e) {
        notes.push(`${kind.name}: failed: ${e.message}`);
        results[kind.name] = 'error';
      }
    }
    const files = { [`/v2/${REPO_PATH}/manifests/latest`]: { path: img.manifestFile, type: 'application/vnd.oci.image.manifest.v1+json' } };
    for (const b of [img.config, ...img.layers]) files[`/v2/${REPO_PATH}/blobs/${b.digest}`] = { path: b.file, type: 'application/octet-stream' };
    servers.push(await startBareServer(files));
    syncDisks();
    for (const reg of servers) await warmUp(reg, img);
    // Rounds interleave the servers (this VM's speed drifts over a run), each round in another order.
    const times = new Map(servers.map((r) => [r, []]));
    for (let i = 0; i < REPS; i++) {
      const order = servers.map((_, k) => servers[(k + i) % servers.length]);
      for (const reg of order) times.get(reg).push(await servingRound(reg, img, `round ${i + 1}/${REPS}`));
    }
    for (const [reg, t] of times) results[reg.name] = stats(t).median;
  } finally {
    for (const reg of servers) await reg.stop();
    removeTempDir(img.dir);
  }
  const rate = (ms) => (typeof ms === 'number' ? `${(total / 1e6 / (ms / 1000)).toFixed(0)} MB/s` : ms);
  const name = `${CLIENTS} concurrent pulls of the image, ${(total / 1e6).toFixed(0)} MB (median of ${REPS})`;
  const table = formatTable([{ name, unit: 'ms', berth: results['berth-registry'], docker: results.distribution ?? 'n/a' }]).replace(' berth |', ' b-reg |').replace(' docker |', ' distr. |');
  process.stdout.write(
    [
      `\nServing: berth-registry (b-reg) vs distribution 2.8 (distr., Debian's docker-registry); ratio = distribution's time / berth-registry's`,
      '',
      table,
      '',
      `- berth-registry ${rate(results['berth-registry'])}, distribution ${rate(results.distribution ?? 'n/a')}; a bare node:http server streaming the same files ${rate(results['bare node:http'])} (Node's http on this loopback, no registry logic)`,
      ...notes.map((n) => `- ${n}`),
      '',
    ].join('\n'),
  );
  return notes.length === 0;
}

// ---------------------------------------------------------------------------------------------------------------

if (isMain(import.meta.url)) {
  try {
    let ok = true;
    if (process.env.BENCH_REGISTRY_SERVE === 'only') {
      archive = await makeLoadArchive();
      process.exitCode = (await servingComparison()) ? 0 : 1;
      process.exit();
    }
    const { rows, failed } = await runSuite(`Berth vs Docker: push and pull, ${REPS} times, a fresh registry each time`, [registryBenchmark]);
    const lines = rows
      .filter((r) => typeof r.berth === 'number' || typeof r.docker === 'number')
      .map((r) => `- ${r.name.replace(/ \(median.*/, '')}: berth ${typeof r.berth === 'number' ? `${mbps(r.berth)} MB/s` : r.berth}, docker ${typeof r.docker === 'number' ? `${mbps(r.docker)} MB/s` : r.docker} (MB of uncompressed layers per second)`);
    process.stdout.write(`Throughput (${(imageBytes / 1e6).toFixed(0)} MB; the ratio above is also Berth's throughput / Docker's):\n${lines.join('\n')}\n`);
    ok = !failed;
    if (process.env.BENCH_REGISTRY_SERVE !== '0') ok = (await servingComparison()) && ok;
    process.exitCode = ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`\nbench: ${e.message}\n`);
    process.exitCode = 2;
  }
}
