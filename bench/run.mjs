#!/usr/bin/env node
// Container start-up, throughput and per-container overhead, with the same docker CLI against each daemon:
//  - `docker run --rm bench/busybox true`, end to end (median of REPS);
//  - N detached `sleep` containers started one after another, then removed with one `docker rm -f`; then N more
//    started PARALLEL at a time (separate CLI processes, as a script or compose would) and removed the same way;
//  - the PSS of the per-container monitors (Berth: conmon; Docker: containerd-shim) while those N run, and the CPU
//    the engine (daemons and monitors) uses over 10 s while they run idle.
// Both run with `--network none` (the reference dockerd runs without a bridge so it leaves the host alone).
//
//   node bench/run.mjs              BENCH_RUN_REPS=10 BENCH_CONTAINERS=50 BENCH_PARALLEL=8
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, docker, isMain, log, main, syncDisks, timeDocker } from './lib.mjs';
import { BUSYBOX_IMAGE, busyboxArchive } from './savetar.mjs';

const REPS = Number(process.env.BENCH_RUN_REPS || 10);
const COUNT = Number(process.env.BENCH_CONTAINERS || 50);
const PARALLEL = Number(process.env.BENCH_PARALLEL || 8);
const IMAGE = BUSYBOX_IMAGE;

const ROW_RUN = { name: `run --rm busybox true (median of ${REPS})`, unit: 'ms' };
const ROW_START = { name: `start ${COUNT} detached containers, one by one`, unit: 'ms' };
const ROW_RM = { name: `rm -f of those ${COUNT} containers`, unit: 'ms' };
const ROW_PSS = { name: '  monitor PSS per running container', unit: 'KiB' };
const ROW_IDLE = { name: `  engine CPU while those ${COUNT} run idle, per 10 s`, unit: 'ms' };
const ROW_START_PAR = { name: `start ${COUNT} detached containers, ${PARALLEL} at a time`, unit: 'ms' };
const ROW_RM_PAR = { name: `rm -f of those ${COUNT} too`, unit: 'ms' };

let archive;

/** Proportional set size (KiB) of the engine's per-container monitor processes. */
function monitorPss(daemon) {
  let total = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const exe = cmd.split('\0')[0] ?? '';
    if (!/(^|\/)(conmon|containerd-shim[\w-]*)$/.test(exe) || !cmd.includes(daemon.dir)) continue;
    try {
      const m = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
      total += m ? Number(m[1]) : 0;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** CPU time (ms) used so far by the engine's processes: the daemon(s) and monitors started under its dir. */
function engineCpuMs(daemon) {
  const tick = 10; // USER_HZ is 100 on Linux
  let total = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(daemon.dir)) continue;
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/**
 * The floor for `run --rm`: `runc run` of the very bundle berthd wrote (same rootfs, seccomp profile, masks),
 * with nothing around it. Logged beside Berth's figure to show what the engine adds.
 */
async function bareRuntime(daemon) {
  const id = (await docker(daemon, ['run', '-d', '--network', 'none', '--pull', 'never', IMAGE, 'sleep', '600'])).stdout.trim();
  const work = join(daemon.dir, 'bare-runc');
  mkdirSync(work, { recursive: true });
  const spec = JSON.parse(readFileSync(join(daemon.dir, 'run', 'containers', id, 'config.json'), 'utf8'));
  spec.process.args = ['true'];
  spec.linux.cgroupsPath = `/berth-bench-bare/${process.pid}`;
  writeFileSync(join(work, 'config.json'), JSON.stringify(spec));
  const times = [];
  for (let i = 0; i <= REPS; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync('runc', ['--root', join(work, 'state'), 'run', '--bundle', work, `bare-${i}`], { stdio: 'ignore' });
    if (i > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6); // the first is a warm-up
    execFileSync('runc', ['--root', join(work, 'state'), 'delete', '--force', `bare-${i}`], { stdio: 'ignore' });
  }
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    for (const dir of [`/sys/fs/cgroup/${ctl}/berth-bench-bare/${process.pid}`, `/sys/fs/cgroup/${ctl}/berth-bench-bare`]) {
      try {
        rmdirSync(dir);
      } catch {
        // not there on this controller
      }
    }
  }
  await docker(daemon, ['rm', '-f', id]);
  times.sort((a, b) => a - b);
  log(`  bare runc run of berthd's bundle (same seccomp profile and mounts): median ${times[Math.floor(times.length / 2)].toFixed(1)} ms`);
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export const runBenchmark = {
  name: 'run',
  rowNames: [ROW_RUN, ROW_START, ROW_RM, ROW_PSS, ROW_IDLE, ROW_START_PAR, ROW_RM_PAR],
  async prepare() {
    archive = await busyboxArchive();
  },
  async run(daemon) {
    await docker(daemon, ['load', '-i', archive.path]);
    syncDisks(); // no writeback left from an earlier benchmark slows the fsyncs measured here
    const run = await timeDocker(daemon, ['run', '--rm', '--network', 'none', '--pull', 'never', IMAGE, 'true'], REPS, { warmup: 1 });
    log(`  ${daemon.name} run --rm: median ${run.median.toFixed(1)} ms, min ${run.min.toFixed(1)}, max ${run.max.toFixed(1)}`);
    if (daemon.name === 'berth') await bareRuntime(daemon);
    const sleeper = (n) => docker(daemon, ['run', '-d', '--network', 'none', '--pull', 'never', '--name', n, IMAGE, 'sleep', '600']);
    const names = Array.from({ length: COUNT }, (_, i) => `bench-sleep-${i}`);
    const startMs = await timed(async () => {
      for (const n of names) await sleeper(n);
    });
    await new Promise((r) => setTimeout(r, 500));
    const pss = monitorPss(daemon) / COUNT;
    // What keeping containers costs while nothing happens (polls, timers), in the engine and its monitors.
    const cpu0 = engineCpuMs(daemon);
    await new Promise((r) => setTimeout(r, 10_000));
    const idleCpu = engineCpuMs(daemon) - cpu0;
    const rmMs = await timed(() => docker(daemon, ['rm', '-f', ...names]));
    log(`  ${daemon.name}: start ${COUNT} ${startMs.toFixed(0)} ms, rm -f ${rmMs.toFixed(0)} ms, monitor PSS ${pss.toFixed(0)} KiB each, idle CPU ${idleCpu} ms per 10 s`);
    const more = names.map((n) => `${n}-p`);
    const startParMs = await timed(async () => {
      const queue = [...more];
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        for (let n = queue.shift(); n; n = queue.shift()) await sleeper(n);
      }));
    });
    const rmParMs = await timed(() => docker(daemon, ['rm', '-f', ...more]));
    log(`  ${daemon.name}: start ${COUNT}, ${PARALLEL} at a time, ${startParMs.toFixed(0)} ms, rm -f ${rmParMs.toFixed(0)} ms`);
    await docker(daemon, ['rmi', IMAGE], { allowFail: true });
    return [
      { ...ROW_RUN, value: run.median },
      { ...ROW_START, value: startMs },
      { ...ROW_RM, value: rmMs },
      { ...ROW_PSS, value: pss },
      { ...ROW_IDLE, value: idleCpu },
      { ...ROW_START_PAR, value: startParMs },
      { ...ROW_RM_PAR, value: rmParMs },
    ];
  },
};

if (isMain(import.meta.url)) {
  await main('Berth vs Docker: containers', [runBenchmark]);
}
