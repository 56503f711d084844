#!/usr/bin/env node
// Container logs, with the same docker CLI against each daemon:
//  - write: `docker run -d` of a container writing 200 MiB of 80-character lines to stdout, then `docker wait`
//    (the engine has stored all of it when wait returns: dockerd's copier, Berth's journal shipper);
//  - read: `docker logs <c> > /dev/null` of that container (the CLI demultiplexes everything);
//  - `docker logs --tail 10` of it.
// Medians of BENCH_LOGS_REPS runs (a fresh container each time).
//
//   node bench/logs.mjs            BENCH_LOGS_REPS=3 BENCH_LOGS_MIB=200
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, docker, dockerCli, isMain, log, main, stats, syncDisks } from './lib.mjs';
import { BUSYBOX_IMAGE, busyboxArchive } from './savetar.mjs';

const REPS = Number(process.env.BENCH_LOGS_REPS || 3);
const MIB = Number(process.env.BENCH_LOGS_MIB || 200);
const BYTES = MIB * 1024 * 1024;
const IMAGE = BUSYBOX_IMAGE;
const LINE = 'x'.repeat(79); // with its newline, 80 bytes

const ROW_WRITE = { name: `write: run -d + wait, ${MIB} MiB to stdout (median of ${REPS})`, unit: 'ms' };
const ROW_WRITE_RATE = { name: '  write throughput', unit: '' };
const ROW_READ = { name: `read: logs > /dev/null, ${MIB} MiB (median of ${REPS})`, unit: 'ms' };
const ROW_READ_RATE = { name: '  read throughput', unit: '' };
const ROW_TAIL = { name: `logs --tail 10 of it (median of ${REPS})`, unit: 'ms' };

let archive;

/** The docker CLI's environment as bench/lib.mjs sets it (a private, empty client config). */
function cliEnv() {
  const env = { ...process.env, DOCKER_CLI_HINTS: 'false', DOCKER_CONFIG: join(CACHE_DIR, 'cli-config') };
  for (const k of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_API_VERSION']) delete env[k];
  mkdirSync(env.DOCKER_CONFIG, { recursive: true });
  return env;
}

/** `docker logs` with its stdout on /dev/null (200 MiB must not pass through this process); resolves the ms. */
function logsToDevNull(daemon, args) {
  return new Promise((resolve, reject) => {
    const devnull = openSync('/dev/null', 'w');
    const t0 = process.hrtime.bigint();
    const child = spawn(dockerCli(), ['-H', daemon.host, 'logs', ...args], { env: cliEnv(), stdio: ['ignore', devnull, 'pipe'] });
    closeSync(devnull);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`docker logs ${args.join(' ')} against ${daemon.name} failed (${code}): ${stderr.trim()}`));
      else resolve(ms);
    });
  });
}

const rate = (ms) => `${(BYTES / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;

export const logsBenchmark = {
  name: 'logs',
  rowNames: [ROW_WRITE, ROW_WRITE_RATE, ROW_READ, ROW_READ_RATE, ROW_TAIL],
  async prepare() {
    archive = await busyboxArchive();
  },
  async run(daemon) {
    await docker(daemon, ['load', '-i', archive.path]);
    const writes = [];
    const reads = [];
    const tails = [];
    for (let i = 0; i < REPS; i++) {
      syncDisks(); // each write starts with no dirty pages from the last one (or an earlier benchmark)
      const t0 = process.hrtime.bigint();
      const id = (await docker(daemon, ['run', '-d', '--network', 'none', '--pull', 'never', IMAGE, 'sh', '-c', `yes "${LINE}" | head -c ${BYTES}`])).stdout.trim();
      const code = (await docker(daemon, ['wait', id])).stdout.trim();
      writes.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (code !== '0') throw new Error(`the writer exited with ${code}`);
      reads.push(await logsToDevNull(daemon, [id]));
      const t1 = process.hrtime.bigint();
      const tail = (await docker(daemon, ['logs', '--tail', '10', id])).stdout;
      tails.push(Number(process.hrtime.bigint() - t1) / 1e6);
      if (tail !== `${LINE}\n`.repeat(10)) throw new Error(`logs --tail 10 gave ${JSON.stringify(tail.slice(0, 200))}`);
      log(`  ${daemon.name}: write ${writes.at(-1).toFixed(0)} ms (${rate(writes.at(-1))}), read ${reads.at(-1).toFixed(0)} ms (${rate(reads.at(-1))}), tail ${tails.at(-1).toFixed(0)} ms`);
      await docker(daemon, ['rm', '-f', id]);
    }
    await docker(daemon, ['rmi', IMAGE], { allowFail: true });
    const w = stats(writes).median;
    const r = stats(reads).median;
    return [
      { ...ROW_WRITE, value: w },
      { ...ROW_WRITE_RATE, value: rate(w) },
      { ...ROW_READ, value: r },
      { ...ROW_READ_RATE, value: rate(r) },
      { ...ROW_TAIL, value: stats(tails).median },
    ];
  },
};

if (isMain(import.meta.url)) {
  await main('Berth vs Docker: container logs', [logsBenchmark]);
}
