#!/usr/bin/env node
// Bridge networking, with the same docker CLI against each daemon (Docker here runs with its docker0 bridge,
// iptables rules and docker-proxy, all removed again afterwards):
//  - `docker run --rm busybox true` on the default bridge and with `--network none` (median of REPS): what the
//    bridge adds to a run;
//  - N detached containers on a user-defined network, one by one and PARALLEL at a time, and their `rm -f`;
//  - a TCP transfer of MIB MiB (time, smaller is better): host → published port on 127.0.0.1, container →
//    container on one network, and the same transfer over host networking (the floor).
//
//   node bench/network.mjs          BENCH_RUN_REPS=10 BENCH_CONTAINERS=50 BENCH_PARALLEL=8 BENCH_NET_MIB=512
import { connect } from 'node:net';
import { docker, isMain, log, main, timeDocker } from './lib.mjs';
import { BUSYBOX_IMAGE, busyboxArchive } from './savetar.mjs';

const REPS = Number(process.env.BENCH_RUN_REPS || 10);
const COUNT = Number(process.env.BENCH_CONTAINERS || 50);
const PARALLEL = Number(process.env.BENCH_PARALLEL || 8);
const MIB = Number(process.env.BENCH_NET_MIB || 512);
const IMAGE = BUSYBOX_IMAGE;
const NET = 'bench-net';

const ROW_RUN_BRIDGE = { name: `run --rm busybox true, default bridge (median of ${REPS})`, unit: 'ms' };
const ROW_RUN_NONE = { name: '  the same with --network none', unit: 'ms' };
const ROW_START = { name: `start ${COUNT} on a user-defined network, one by one`, unit: 'ms' };
const ROW_RM = { name: `rm -f of those ${COUNT}`, unit: 'ms' };
const ROW_START_PAR = { name: `start ${COUNT} on it, ${PARALLEL} at a time`, unit: 'ms' };
const ROW_RM_PAR = { name: `rm -f of those ${COUNT} too`, unit: 'ms' };
const ROW_TCP_PUBLISHED = { name: `TCP ${MIB} MiB host → published port (127.0.0.1)`, unit: 'ms' };
const ROW_TCP_C2C = { name: `TCP ${MIB} MiB container → container, one network`, unit: 'ms' };
const ROW_TCP_HOST = { name: `  host → host port over host networking (its floor)`, unit: 'ms' };
const ROW_TCP_C2C_HOST = { name: `  container → container over host networking (its floor)`, unit: 'ms' };

let archive;

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Sends MIB MiB to host:port from this process and waits until the receiver closes (it has read everything). */
function sendFromHost(port) {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(1 << 20);
    let sent = 0;
    let t0;
    const s = connect(port, '127.0.0.1', () => {
      t0 = process.hrtime.bigint();
      const pump = () => {
        while (sent < MIB) {
          sent++;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
    s.on('data', () => {});
    s.on('error', reject);
    s.on('close', () => (sent === MIB ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`connection closed after ${sent} MiB`))));
  });
}

/**
 * A container that reads one TCP connection to the end on `port` and exits; resolves once it listens. (nc's own
 * input never ends: busybox nc closes the connection when its stdin does.)
 */
async function sink(daemon, name, args, port) {
  await docker(daemon, ['run', '-d', '--pull', 'never', '--name', name, ...args, IMAGE, 'sh', '-c', `sleep 3600 | busybox nc -l -p ${port} > /dev/null`]);
  await new Promise((r) => setTimeout(r, 300)); // nc listening
}

/** Time of a transfer from host to a published port (retried while the listener comes up). */
async function hostToPort(daemon, name, publishArgs, port, hostPort) {
  await sink(daemon, name, publishArgs, port);
  try {
    for (let i = 0; ; i++) {
      try {
        return await sendFromHost(hostPort);
      } catch (e) {
        if (i >= 20) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await docker(daemon, ['rm', '-f', name], { allowFail: true });
  }
}

/** Time of a transfer between two containers, measured inside the sender (start-up excluded). */
async function containerToContainer(daemon, netArgs, target, port, name) {
  await sink(daemon, name, netArgs, port);
  try {
    // /proc/uptime (10 ms steps): busybox's date has no nanoseconds.
    const script = `read t0 x < /proc/uptime; busybox dd if=/dev/zero bs=1M count=${MIB} 2>/dev/null | busybox nc ${target} ${port}; read t1 x < /proc/uptime; busybox awk "BEGIN { print ($t1 - $t0) * 1000 }"`;
    const out = await docker(daemon, ['run', '--rm', '--pull', 'never', ...netArgs, IMAGE, 'sh', '-c', script]);
    return Number(out.stdout.trim());
  } finally {
    await docker(daemon, ['rm', '-f', name], { allowFail: true });
  }
}

export const networkBenchmark = {
  name: 'network',
  /** Docker with its bridge, NAT and docker-proxy: what its users get. */
  dockerBridge: true,
  rowNames: [ROW_RUN_BRIDGE, ROW_RUN_NONE, ROW_START, ROW_RM, ROW_START_PAR, ROW_RM_PAR, ROW_TCP_PUBLISHED, ROW_TCP_HOST, ROW_TCP_C2C, ROW_TCP_C2C_HOST],
  async prepare() {
    archive = await busyboxArchive();
  },
  async run(daemon) {
    await docker(daemon, ['load', '-i', archive.path]);
    const bridge = await timeDocker(daemon, ['run', '--rm', '--pull', 'never', IMAGE, 'true'], REPS, { warmup: 1 });
    const none = await timeDocker(daemon, ['run', '--rm', '--network', 'none', '--pull', 'never', IMAGE, 'true'], REPS, { warmup: 1 });
    log(`  ${daemon.name} run --rm: bridge ${bridge.median.toFixed(1)} ms, none ${none.median.toFixed(1)} ms: the bridge adds ${(bridge.median - none.median).toFixed(1)} ms`);

    await docker(daemon, ['network', 'create', NET]);
    const rows = [];
    try {
      const sleeper = (n) => docker(daemon, ['run', '-d', '--network', NET, '--pull', 'never', '--name', n, IMAGE, 'sleep', '600']);
      const names = Array.from({ length: COUNT }, (_, i) => `bench-net-${i}`);
      const startMs = await timed(async () => {
        for (const n of names) await sleeper(n);
      });
      const rmMs = await timed(() => docker(daemon, ['rm', '-f', ...names]));
      const more = names.map((n) => `${n}-p`);
      const startParMs = await timed(async () => {
        const queue = [...more];
        await Promise.all(Array.from({ length: PARALLEL }, async () => {
          for (let n = queue.shift(); n; n = queue.shift()) await sleeper(n);
        }));
      });
      const rmParMs = await timed(() => docker(daemon, ['rm', '-f', ...more]));
      log(`  ${daemon.name}: ${COUNT} on ${NET}: start ${startMs.toFixed(0)} ms, rm -f ${rmMs.toFixed(0)} ms; ${PARALLEL} at a time ${startParMs.toFixed(0)} ms, rm -f ${rmParMs.toFixed(0)} ms`);

      const published = await hostToPort(daemon, 'bench-tcp-pub', ['-p', '127.0.0.1:18480:5001'], 5001, 18480);
      const c2c = await containerToContainer(daemon, ['--network', NET], 'bench-tcp-sink', 5001, 'bench-tcp-sink');
      const floor = await hostToPort(daemon, 'bench-tcp-host', ['--network', 'host'], 18481, 18481);
      // The same busybox dd | nc pair with both ends on the host's network: what the tools manage without a bridge.
      const c2cFloor = await containerToContainer(daemon, ['--network', 'host'], '127.0.0.1', 18482, 'bench-tcp-hostsink');
      const rate = (ms) => `${((MIB / ms) * 1000).toFixed(0)} MiB/s`;
      log(`  ${daemon.name}: TCP ${MIB} MiB: published port ${rate(published)} (host networking ${rate(floor)}), container→container ${rate(c2c)} (host networking ${rate(c2cFloor)})`);
      rows.push(
        { ...ROW_START, value: startMs },
        { ...ROW_RM, value: rmMs },
        { ...ROW_START_PAR, value: startParMs },
        { ...ROW_RM_PAR, value: rmParMs },
        { ...ROW_TCP_PUBLISHED, value: published },
        { ...ROW_TCP_HOST, value: floor },
        { ...ROW_TCP_C2C, value: c2c },
        { ...ROW_TCP_C2C_HOST, value: c2cFloor },
      );
    } finally {
      await docker(daemon, ['network', 'rm', NET], { allowFail: true });
      await docker(daemon, ['rmi', IMAGE], { allowFail: true });
    }
    return [{ ...ROW_RUN_BRIDGE, value: bridge.median }, { ...ROW_RUN_NONE, value: none.median }, ...rows];
  },
};

if (isMain(import.meta.url)) {
  await main('Berth vs Docker: networking', [networkBenchmark]);
}
