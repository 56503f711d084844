#!/usr/bin/env node
// CLI start-up: the `berth` CLI and the docker CLI against the same berthd, beside `node -e 0` (the floor of any
// Node CLI here), whole process wall time, median of REPS interleaved rounds after a warm-up round. Commands that make one or two API calls
// (ps, images, inspect, version), `--version` (none), and exec / run --rm.
//
//   node bench/cli.mjs              BENCH_CLI_REPS=11
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO, docker, dockerCli, isMain, log, startBerthd, stats } from './lib.mjs';
import { BUSYBOX_IMAGE, busyboxArchive } from './savetar.mjs';

const REPS = Number(process.env.BENCH_CLI_REPS || 11);

/** Wall time of one run of `argv` in ms; a failing run is an error. */
function once(argv, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * Median wall time of each command line in ms, after one unmeasured round. Interleaved: each round runs every
 * command line once, so a slow spell of the machine (this VM's speed drifts by half over minutes) weighs on the
 * floor and on both CLIs alike instead of on whichever was being measured then.
 */
function timeInterleaved(argvs, env) {
  for (const argv of argvs) once(argv, env);
  const samples = argvs.map(() => []);
  for (let i = 0; i < REPS; i++) argvs.forEach((argv, k) => samples[k].push(once(argv, env)));
  return samples.map((s) => stats(s).median);
}

export async function runCliBenchmark() {
  const archive = await busyboxArchive();
  const daemon = await startBerthd();
  try {
    await docker(daemon, ['load', '-i', archive.path]);
    await docker(daemon, ['run', '-d', '--name', 'bench-cli', '--network', 'none', BUSYBOX_IMAGE, 'sleep', '600']);
    const env = { ...process.env, DOCKER_HOST: daemon.host, BERTH_HOST: daemon.host, DOCKER_CLI_HINTS: 'false' };
    const berth = [process.execPath, join(REPO, 'dist', 'berth.cjs')];
    const commands = [['ps'], ['images'], ['inspect', BUSYBOX_IMAGE], ['version'], ['--version'], ['exec', 'bench-cli', 'true'], ['run', '--rm', '--network', 'none', BUSYBOX_IMAGE, 'true']];
    const argvs = [[process.execPath, '-e', '0'], ...commands.flatMap((args) => [[...berth, ...args], ...(args[0] === '--version' ? [] : [[dockerCli(), ...args]])])];
    const [floor, ...medians] = timeInterleaved(argvs, env);
    const rows = [];
    for (const args of commands) {
      const b = medians.shift();
      const d = args[0] === '--version' ? NaN : medians.shift();
      rows.push({ name: args.join(' '), berth: b, docker: d });
      log(`  ${args.join(' ')}: berth ${b.toFixed(0)} ms, docker ${Number.isNaN(d) ? '—' : d.toFixed(0)} ms`);
    }
    await docker(daemon, ['rm', '-f', 'bench-cli']);
    const w = Math.max(...rows.map((r) => r.name.length));
    console.log(`\nCLI start-up against one berthd (median of ${REPS}); node -e 0: ${floor.toFixed(0)} ms\n`);
    console.log(`| ${'command'.padEnd(w)} | berth | docker | berth − node -e 0 | docker/berth |`);
    console.log(`|:${'-'.repeat(w + 1)}|------:|-------:|------------------:|-------------:|`);
    for (const r of rows) {
      const d = Number.isNaN(r.docker) ? '—' : `${r.docker.toFixed(0)} ms`;
      const ratio = Number.isNaN(r.docker) ? '—' : `${(r.docker / r.berth).toFixed(2)}x`;
      console.log(`| ${r.name.padEnd(w)} | ${r.berth.toFixed(0)} ms | ${d} | ${(r.berth - floor).toFixed(0)} ms | ${ratio} |`);
    }
  } finally {
    await daemon.stop();
  }
}

if (isMain(import.meta.url)) await runCliBenchmark();
