#!/usr/bin/env node
// Volumes, with the same docker CLI against each daemon (both with `--network none`, as bench/run.mjs, so that
// only the volume differs):
//  - COUNT `docker run --rm --network none -v NAME:/data busybox true` one after another, on one named volume;
//  - the first use of a new volume at a path where the image has MIB MiB (docker's copy-up), REPS times with a
//    fresh volume each, median.
//
//   node bench/volumes.mjs          BENCH_CONTAINERS=50 BENCH_VOLUME_MIB=100 BENCH_VOLUME_REPS=3
import { docker, isMain, log, main, repeat } from './lib.mjs';
import { BUSYBOX_IMAGE, busyboxArchive } from './savetar.mjs';

const COUNT = Number(process.env.BENCH_CONTAINERS || 50);
const MIB = Number(process.env.BENCH_VOLUME_MIB || 100);
const REPS = Number(process.env.BENCH_VOLUME_REPS || 3);
const IMAGE = BUSYBOX_IMAGE;
const PAYLOAD = 'bench/payload:latest';

const ROW_RUNS = { name: `${COUNT} × run --rm -v NAME:/data busybox true`, unit: 'ms' };
const ROW_COPYUP = { name: `first use of a volume over ${MIB} MiB of the image (copy-up, median of ${REPS})`, unit: 'ms' };

let archive;

export const volumesBenchmark = {
  name: 'volumes',
  rowNames: [ROW_RUNS, ROW_COPYUP],
  async prepare() {
    archive = await busyboxArchive();
  },
  async run(daemon) {
    await docker(daemon, ['load', '-i', archive.path]);
    await docker(daemon, ['volume', 'create', 'bench-vol']);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < COUNT; i++) await docker(daemon, ['run', '--rm', '--network', 'none', '--pull', 'never', '-v', 'bench-vol:/data', IMAGE, 'true']);
    const runsMs = Number(process.hrtime.bigint() - t0) / 1e6;
    await docker(daemon, ['volume', 'rm', 'bench-vol']);
    log(`  ${daemon.name}: ${COUNT} run --rm -v: ${runsMs.toFixed(0)} ms`);

    // An image with MIB MiB under /payload (ten files), made by a container and committed.
    const files = 10;
    const each = Math.max(1, Math.round(MIB / files));
    await docker(daemon, ['run', '--name', 'bench-payload', '--pull', 'never', IMAGE, 'sh', '-c', `busybox mkdir /payload && for i in $(busybox seq ${files}); do busybox dd if=/dev/urandom of=/payload/f$i bs=1M count=${each} 2>/dev/null; done`]);
    await docker(daemon, ['commit', 'bench-payload', PAYLOAD]);
    await docker(daemon, ['rm', 'bench-payload']);
    let n = 0;
    const copyUp = await repeat(REPS, () => docker(daemon, ['run', '--rm', '--network', 'none', '--pull', 'never', '-v', `bench-copy-${n++}:/payload`, PAYLOAD, 'true']));
    for (let i = 0; i < n; i++) await docker(daemon, ['volume', 'rm', `bench-copy-${i}`], { allowFail: true });
    await docker(daemon, ['rmi', PAYLOAD, IMAGE], { allowFail: true });
    log(`  ${daemon.name}: copy-up of ${MIB} MiB: median ${copyUp.median.toFixed(0)} ms`);
    return [
      { ...ROW_RUNS, value: runsMs },
      { ...ROW_COPYUP, value: copyUp.median },
    ];
  },
};

if (isMain(import.meta.url)) {
  await main('Berth vs Docker: volumes', [volumesBenchmark]);
}
