#!/usr/bin/env node
// Image builds: a 10-instruction Dockerfile over a 50 MiB context (FROM, ENV, WORKDIR, COPY of the context, two
// RUNs that read and touch the copied files, LABEL, EXPOSE, USER, CMD), built with no cache and then again fully
// cached, REPS times each, median; with both sides asked for, both daemons are up and every builder runs in turn
// within each round (paired, as bench/registry.mjs). Every RUN uses `--network none`, so that only the builder differs (dockerd here
// runs without a bridge, and BuildKit's RUN would otherwise need one). Before each no-cache build the build cache
// is pruned (untimed): BuildKit would otherwise receive only the context's changes.
//
//   Berth:  `berth build` against berthd, and the docker CLI's classic builder (DOCKER_BUILDKIT=0) against it.
//   Docker: Debian's dockerd 20.10 with its classic builder (docker 28 CLI, DOCKER_BUILDKIT=0) and with its
//           built-in BuildKit (Debian's docker 20.10 CLI, DOCKER_BUILDKIT=1: the docker 28 CLI here has no buildx).
//
//   node bench/build.mjs            BENCH_BUILD_REPS=3 BENCH_BUILD_MIB=50 BENCH_BUILDKIT_CLI=/usr/bin/docker
import { createHash, randomFillSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, REPO, TMP_BASE, docker, dockerCli, isMain, log, main, repeat, stats, which } from './lib.mjs';
import { BUSYBOX_IMAGE, busyboxArchive } from './savetar.mjs';

const REPS = Number(process.env.BENCH_BUILD_REPS || 3);
const MIB = Number(process.env.BENCH_BUILD_MIB || 50);
const BIG_FILES = 5;
const TAG = 'bench/build:latest';

const rows = {
  classicCold: { name: `build, no cache, ${MIB} MiB context (median of ${REPS}): berth build | docker classic`, unit: 'ms' },
  classicWarm: { name: `  rebuild, fully cached: berth build | docker classic`, unit: 'ms' },
  kitCold: { name: `build, no cache: berth build | docker BuildKit`, unit: 'ms' },
  kitWarm: { name: `  rebuild, fully cached: berth build | docker BuildKit`, unit: 'ms' },
  cliCold: { name: `build, no cache, docker CLI classic (DOCKER_BUILDKIT=0) on both`, unit: 'ms' },
  cliWarm: { name: `  rebuild, fully cached, docker CLI classic on both`, unit: 'ms' },
};

const DOCKERFILE = [
  `FROM ${BUSYBOX_IMAGE}`,
  'ENV APP_HOME=/app BENCH=build',
  'WORKDIR /app',
  'COPY . /app/',
  // the bench image links only a few applets: the others through `busybox <applet>`
  'RUN busybox md5sum data/*.bin > /app/data.md5',
  'RUN busybox touch small/* && busybox chmod 0640 small/config.json && echo built >> small/notes.txt',
  'LABEL org.example.bench=build org.example.size=50MiB',
  'EXPOSE 8080/tcp',
  'USER 1000:1000',
  'CMD ["sh", "/app/small/app.sh"]',
  '',
].join('\n');

let archive;
let context;
let expectedMd5;

/** The context, made once per run in a temp dir (removed on exit): random data files, a few small ones. */
function makeContext() {
  const dir = mkdtempSync(join(TMP_BASE, 'bbench-buildctx-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'small'));
  const each = Math.floor((MIB * 1024 * 1024) / BIG_FILES);
  const sums = [];
  for (let i = 0; i < BIG_FILES; i++) {
    const buf = randomFillSync(Buffer.allocUnsafe(each));
    writeFileSync(join(dir, 'data', `blob-${i}.bin`), buf);
    sums.push(`${createHash('md5').update(buf).digest('hex')}  data/blob-${i}.bin`);
  }
  writeFileSync(join(dir, 'small', 'app.sh'), 'echo "hello from $APP_HOME"\n');
  writeFileSync(join(dir, 'small', 'config.json'), JSON.stringify({ name: 'bench', port: 8080 }) + '\n');
  writeFileSync(join(dir, 'small', 'notes.txt'), 'notes\n');
  writeFileSync(join(dir, 'scratch.tmp'), 'left out by .dockerignore\n');
  writeFileSync(join(dir, '.dockerignore'), '*.tmp\n');
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  return { dir, md5: sums.join('\n') + '\n' };
}

/** The environment of every CLI: no host contexts or configs, as bench/lib.mjs's own runs. */
function cliEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const k of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION']) delete env[k];
  env.DOCKER_CONFIG = join(CACHE_DIR, 'cli-config');
  env.DOCKER_CLI_HINTS = 'false';
  return env;
}

/** Runs a CLI to its end; resolves its wall time in ms (spawn to exit), rejects on a non-zero exit. */
function timed(cmd, args, env) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: cliEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    const err = [];
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', rej);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) res(ms);
      else rej(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${Buffer.concat(err).toString().trim().split('\n').slice(-3).join(' / ')}`));
    });
  });
}

const buildArgs = (daemon, cache) => ['-H', daemon.host, 'build', '--network', 'none', ...(cache ? [] : ['--no-cache']), '-t', TAG, context.dir];

// BuildKit keeps the last context it was sent and transfers only what changed, even with --no-cache: the build
// cache goes before each no-cache build (untimed), so that each starts from nothing, as a first build does.
const prune = (daemon) => docker(daemon, ['builder', 'prune', '-a', '-f'], { allowFail: true });

/**
 * One builder: REPS no-cache builds, one untimed cached build (the cache of the last one is in place by then), REPS
 * cached. `cmd` is [program, ...its leading arguments].
 */
async function measure(daemon, what, [program, ...lead], env) {
  const cold = await repeat(REPS, () => timed(program, [...lead, ...buildArgs(daemon, false)], env), { before: () => prune(daemon) });
  await verify(daemon, what);
  const warm = await repeat(REPS, () => timed(program, [...lead, ...buildArgs(daemon, true)], env), { warmup: 1 });
  log(`  ${daemon.name}, ${what}: no cache ${cold.median.toFixed(0)} ms, cached ${warm.median.toFixed(0)} ms (of ${cold.values.map((v) => v.toFixed(0)).join(', ')} / ${warm.values.map((v) => v.toFixed(0)).join(', ')})`);
  return { cold: cold.median, warm: warm.median };
}

/** The image must be what the Dockerfile says: the RUN's checksums of the copied files, and its config. */
async function verify(daemon, what) {
  const sums = await docker(daemon, ['run', '--rm', '--network', 'none', TAG, 'busybox', 'cat', '/app/data.md5']);
  if (sums.stdout !== expectedMd5) throw new Error(`${what}: the image's /app/data.md5 is not the context's checksums`);
  const cfg = (await docker(daemon, ['image', 'inspect', '-f', '{{json .Config.Cmd}} {{.Config.User}} {{.Config.WorkingDir}} {{json .Config.ExposedPorts}} {{index .Config.Labels "org.example.bench"}}', TAG])).stdout.trim();
  if (cfg !== '["sh","/app/small/app.sh"] 1000:1000 /app {"8080/tcp":{}} build') throw new Error(`${what}: unexpected config ${cfg}`);
}

/** The builders compared, each a CLI against a daemon; `row` names its side of the table's rows. */
function builders(daemons) {
  const kitCli = which(process.env.BENCH_BUILDKIT_CLI || '/usr/bin/docker');
  return [
    { daemon: daemons.berth, what: 'berth build', cmd: [process.execPath, join(REPO, 'dist', 'berth.cjs')], env: {} },
    { daemon: daemons.berth, what: 'docker CLI classic', cmd: [dockerCli()], env: { DOCKER_BUILDKIT: '0' } },
    { daemon: daemons.docker, what: 'classic builder', cmd: [dockerCli()], env: { DOCKER_BUILDKIT: '0' } },
    ...(kitCli ? [{ daemon: daemons.docker, what: 'BuildKit', cmd: [kitCli], env: { DOCKER_BUILDKIT: '1' } }] : []),
  ];
}

/**
 * Both daemons up, every builder in turn within each round (no-cache rounds first, then cached ones after one
 * untimed cached build each): this VM's speed drifts by tens of per cent within minutes, and a slow spell must
 * fall on both sides of a ratio. Each builder's first image is checked.
 */
async function measurePaired(daemons) {
  const all = builders(daemons);
  for (const d of [daemons.berth, daemons.docker]) await docker(d, ['load', '-i', archive.path]);
  const build = (b, cache) => timed(b.cmd[0], [...b.cmd.slice(1), ...buildArgs(b.daemon, cache)], b.env);
  const times = all.map(() => ({ cold: [], warm: [] }));
  for (let i = 0; i < REPS; i++) {
    for (const [k, b] of all.entries()) {
      await prune(b.daemon);
      times[k].cold.push(await build(b, false));
      if (i === 0) await verify(b.daemon, b.what);
    }
  }
  for (const b of all) await build(b, true);
  for (let i = 0; i < REPS; i++) for (const [k, b] of all.entries()) times[k].warm.push(await build(b, true));
  const result = {};
  for (const [k, b] of all.entries()) {
    const cold = stats(times[k].cold);
    const warm = stats(times[k].warm);
    log(`  ${b.daemon.name}, ${b.what}: no cache ${cold.median.toFixed(0)} ms, cached ${warm.median.toFixed(0)} ms (of ${cold.values.map((v) => v.toFixed(0)).join(', ')} / ${warm.values.map((v) => v.toFixed(0)).join(', ')})`);
    result[b.what] = { cold: cold.median, warm: warm.median };
  }
  return result;
}

export const buildBenchmark = {
  name: 'build',
  rowNames: Object.values(rows),
  async prepare() {
    archive = await busyboxArchive();
    const c = makeContext();
    context = c;
    expectedMd5 = c.md5;
  },
  async runPaired(daemons) {
    const m = await measurePaired(daemons);
    const kit = m.BuildKit ?? { cold: 'n/a', warm: 'n/a' };
    const pair = (row, berth, docker) => ({ ...row, cells: { berth, docker } });
    return [
      pair(rows.classicCold, m['berth build'].cold, m['classic builder'].cold),
      pair(rows.classicWarm, m['berth build'].warm, m['classic builder'].warm),
      pair(rows.kitCold, m['berth build'].cold, kit.cold),
      pair(rows.kitWarm, m['berth build'].warm, kit.warm),
      pair(rows.cliCold, m['docker CLI classic'].cold, m['classic builder'].cold),
      pair(rows.cliWarm, m['docker CLI classic'].warm, m['classic builder'].warm),
    ];
  },
  /** One side alone (BENCH_ONLY=berth|docker). */
  async run(daemon) {
    await docker(daemon, ['load', '-i', archive.path]);
    const classicCli = [dockerCli()];
    if (daemon.name === 'berth') {
      const own = await measure(daemon, 'berth build', [process.execPath, join(REPO, 'dist', 'berth.cjs')], {});
      const out = [
        { ...rows.classicCold, value: own.cold },
        { ...rows.classicWarm, value: own.warm },
        { ...rows.kitCold, value: own.cold },
        { ...rows.kitWarm, value: own.warm },
      ];
      try {
        const viaDocker = await measure(daemon, 'docker CLI classic', classicCli, { DOCKER_BUILDKIT: '0' });
        return [...out, { ...rows.cliCold, value: viaDocker.cold }, { ...rows.cliWarm, value: viaDocker.warm }];
      } catch (e) {
        log(`  berth, docker CLI classic: ${e.message}`);
        return [...out, { ...rows.cliCold, value: 'error' }, { ...rows.cliWarm, value: 'error' }];
      }
    }
    const classic = await measure(daemon, 'classic builder', classicCli, { DOCKER_BUILDKIT: '0' });
    const out = [
      { ...rows.classicCold, value: classic.cold },
      { ...rows.classicWarm, value: classic.warm },
      { ...rows.cliCold, value: classic.cold },
      { ...rows.cliWarm, value: classic.warm },
    ];
    const kitCli = which(process.env.BENCH_BUILDKIT_CLI || '/usr/bin/docker');
    if (!kitCli) return [...out, { ...rows.kitCold, value: 'n/a' }, { ...rows.kitWarm, value: 'n/a' }];
    const kit = await measure(daemon, 'BuildKit', [kitCli], { DOCKER_BUILDKIT: '1' });
    return [...out, { ...rows.kitCold, value: kit.cold }, { ...rows.kitWarm, value: kit.warm }];
  },
};

if (isMain(import.meta.url)) {
  await main('Berth vs Docker: image build', [buildBenchmark]);
}
