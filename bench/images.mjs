#!/usr/bin/env node
// Listing images with 1,000 images in the store: `docker images`, `images -q` and `images --format`, 10 times each,
// median. The 1,000 images come from one save-format archive (loaded once, and that load is timed too): they share
// one tiny layer and differ by a label, so each has its own config and ID, and each its own tag bench/img-N:latest.
//
//   node bench/images.mjs          (BENCH_ONLY=docker to measure the reference engine alone)
//   BENCH_IMAGES=1000 BENCH_IMAGES_REPS=10 node bench/images.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, apiGet, docker, isMain, log, main, repeat, syncDisks, timeDocker } from './lib.mjs';
import { cached, imageConfig, writeSaveArchive, writeSmallLayer } from './savetar.mjs';

const COUNT = Number(process.env.BENCH_IMAGES || 1000);
const REPS = Number(process.env.BENCH_IMAGES_REPS || 10);
const ARCHIVE = join(CACHE_DIR, `images-${COUNT}-v1.tar`);
const PREFIX = 'bench/img-';
const n = COUNT.toLocaleString('en-US');

const LISTS = [
  { args: ['images'], row: { name: `images (${n} images, median of ${REPS})`, unit: 'ms' } },
  { args: ['images', '-q'], row: { name: `images -q (${n} images, median of ${REPS})`, unit: 'ms' } },
  { args: ['images', '--format', '{{.Repository}}'], row: { name: `images --format '{{.Repository}}' (median of ${REPS})`, unit: 'ms' } },
];
// The same listing without the CLI (whose own start-up is ~40-50 ms of every row above): the daemon's share.
const ROW_API = { name: `GET /images/json, no CLI (median of ${REPS})`, unit: 'ms' };
const ROW_LOAD = { name: `load ${n} small images from one archive (once)`, unit: 'ms' };

let archive;

export async function makeImagesArchive() {
  return cached(ARCHIVE, async (tmpPath) => {
    log(`generating ${ARCHIVE} (${n} images, once)…`);
    const work = mkdtempSync(join(CACHE_DIR, 'work-'));
    try {
      const layer = await writeSmallLayer(join(work, 'layer.tar'), { 'bench/hello.txt': 'hello from a Berth benchmark image\n' });
      const images = [];
      for (let i = 0; i < COUNT; i++) {
        const config = imageConfig({ diffIds: [layer.diffIdHex], labels: { 'org.berth.bench': 'images', 'org.berth.bench.index': String(i) }, cmd: ['/bin/true'] });
        images.push({ config, repoTags: [`${PREFIX}${i}:latest`], layers: [layer.diffIdHex] });
      }
      const res = await writeSaveArchive(tmpPath, { layers: [layer], images });
      return { count: COUNT, distinctIds: new Set(res.images.map((x) => x.idHex)).size };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

async function countBenchImages(daemon) {
  const r = await docker(daemon, ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith(PREFIX));
  return { tags: lines.length, ids: new Set(lines.map((l) => l.split(' ')[1])).size };
}

export const imagesBenchmark = {
  name: 'images',
  rowNames: [ROW_LOAD, ...LISTS.map((l) => l.row), ROW_API],
  async prepare() {
    archive = await makeImagesArchive();
    if (archive.distinctIds !== COUNT) throw new Error(`archive has ${archive.distinctIds} distinct images, expected ${COUNT}`);
    log(`archive: ${archive.path} (${(archive.size / 1048576).toFixed(1)} MiB${archive.cached ? ', cached' : ''})`);
  },
  async run(daemon) {
    syncDisks();
    const load = await docker(daemon, ['load', '-i', archive.path]);
    const got = await countBenchImages(daemon);
    if (got.tags !== COUNT || got.ids !== COUNT) {
      throw new Error(`after load, ${daemon.name} lists ${got.tags} ${PREFIX}* tags with ${got.ids} distinct IDs, expected ${COUNT}`);
    }
    const rows = [{ ...ROW_LOAD, value: load.ms }];
    for (const l of LISTS) {
      const s = await timeDocker(daemon, l.args, REPS, { warmup: 1 });
      log(`  ${daemon.name} ${l.args.join(' ')}: median ${s.median.toFixed(1)} ms, min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)}`);
      rows.push({ ...l.row, value: s.median });
    }
    const api = await repeat(
      REPS,
      async () => {
        const r = await apiGet(daemon.socketPath, '/images/json', 60_000);
        if (r.status !== 200) throw new Error(`GET /images/json: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
        if (r.body.length < COUNT * 50) throw new Error(`GET /images/json returned only ${r.body.length} bytes`);
      },
      { warmup: 1 },
    );
    log(`  ${daemon.name} GET /images/json: median ${api.median.toFixed(1)} ms, min ${api.min.toFixed(1)}, max ${api.max.toFixed(1)}`);
    rows.push({ ...ROW_API, value: api.median });
    // Leave the daemon as it was found (run-all runs the suites one after another on the same daemon).
    await docker(daemon, ['rmi', ...Array.from({ length: COUNT }, (_, i) => `${PREFIX}${i}:latest`)], { allowFail: true });
    return rows;
  },
};

if (isMain(import.meta.url)) {
  await main(`docker images with ${n} images`, [imagesBenchmark]);
}
