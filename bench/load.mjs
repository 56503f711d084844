#!/usr/bin/env node
// `docker load` of a 200 MiB image (5 layers of random, incompressible data), against each daemon, with the same
// docker CLI. The image is removed between repetitions; median of 3. Also reports the daemon's peak memory.
//
//   node bench/load.mjs            (BENCH_ONLY=docker to measure the reference engine alone)
//   BENCH_LOAD_REPS=5 node bench/load.mjs
import { mkdtempSync, readFileSync, rmSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, docker, isMain, log, main, stats, syncDisks, withPeakRss } from './lib.mjs';
import { cached, imageConfig, writeRandomLayer, writeSaveArchive } from './savetar.mjs';

const LAYERS = 5;
const FILES_PER_LAYER = 4;
const FILE_SIZE = 10 << 20; // 4 × 10 MiB per layer, 5 layers: 200 MiB of content
const TAG = 'bench/load:latest';
const REPS = Number(process.env.BENCH_LOAD_REPS || 3);
const ARCHIVE = join(CACHE_DIR, `load-${LAYERS}x${(FILES_PER_LAYER * FILE_SIZE) >> 20}MiB-v1.tar`);

const TOTAL_MIB = (LAYERS * FILES_PER_LAYER * FILE_SIZE) >> 20;
const ROW_LOAD = { name: `load ${TOTAL_MIB} MiB image, ${LAYERS} layers (median of ${REPS})`, unit: 'ms' };
const ROW_HWM = { name: '  peak RSS of the daemon process during load', unit: 'MiB' };
const ROW_TREE = { name: '  peak RSS of all engine processes (sampled)', unit: 'MiB' };
const ROW_RMI = { name: `rmi of that image (median of ${REPS})`, unit: 'ms' };

let archive;

/** Makes (once; cached) the archive; returns { path, imageIdHex, layers }. */
export async function makeLoadArchive() {
  return cached(ARCHIVE, async (tmpPath) => {
    log(`generating ${ARCHIVE} (${TOTAL_MIB} MiB, once)…`);
    const work = mkdtempSync(join(CACHE_DIR, 'work-'));
    try {
      const layers = [];
      for (let i = 0; i < LAYERS; i++) {
        layers.push(await writeRandomLayer(join(work, `layer-${i}.tar`), { dir: `data/layer-${i}`, files: FILES_PER_LAYER, fileSize: FILE_SIZE }));
      }
      const diffIds = layers.map((l) => l.diffIdHex);
      const config = imageConfig({ diffIds, labels: { 'org.berth.bench': 'load' }, cmd: ['/bin/true'] });
      const res = await writeSaveArchive(tmpPath, { layers, images: [{ config, repoTags: [TAG], layers: diffIds }] });
      return { imageIdHex: res.images[0].idHex, diffIds };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

async function warmPageCache(path) {
  // Both daemons read the archive from the page cache, not the first one from disk.
  await new Promise((res, rej) => createReadStream(path, { highWaterMark: 4 << 20 }).on('data', () => {}).on('end', res).on('error', rej));
}

async function removeImage(daemon) {
  await docker(daemon, ['rmi', '-f', TAG], { allowFail: true });
}

async function checkLoaded(daemon) {
  const r = await docker(daemon, ['image', 'inspect', '--format', '{{.Id}} {{len .RootFS.Layers}}', TAG]);
  const [id, n] = r.stdout.trim().split(' ');
  if (id !== `sha256:${archive.imageIdHex}` || Number(n) !== LAYERS) {
    throw new Error(`after load, ${TAG} is "${r.stdout.trim()}", expected sha256:${archive.imageIdHex} with ${LAYERS} layers`);
  }
}

export const loadBenchmark = {
  name: 'load',
  rowNames: [ROW_LOAD, ROW_HWM, ROW_TREE, ROW_RMI],
  async prepare() {
    archive = await makeLoadArchive();
    log(`archive: ${archive.path} (${(archive.size / 1048576).toFixed(1)} MiB${archive.cached ? ', cached' : ''})`);
    await warmPageCache(archive.path);
  },
  async run(daemon) {
    const loads = [];
    const rmis = [];
    const hwms = [];
    const trees = [];
    await removeImage(daemon);
    for (let i = 0; i < REPS; i++) {
      syncDisks(); // each repetition starts with no dirty pages from the last one
      const { result, hwmMiB, treePeakMiB } = await withPeakRss(daemon, () => docker(daemon, ['load', '-i', archive.path]));
      loads.push(result.ms);
      if (hwmMiB !== null) hwms.push(hwmMiB);
      trees.push(treePeakMiB);
      await checkLoaded(daemon);
      syncDisks();
      rmis.push((await docker(daemon, ['rmi', TAG])).ms);
      log(`  ${daemon.name} rep ${i + 1}/${REPS}: load ${result.ms.toFixed(0)} ms, peak RSS ${hwmMiB?.toFixed(0) ?? '?'} MiB (engine ${treePeakMiB.toFixed(0)} MiB), rmi ${rmis.at(-1).toFixed(0)} ms`);
    }
    const rows = [
      { ...ROW_LOAD, value: stats(loads).median },
      ...(hwms.length ? [{ ...ROW_HWM, value: Math.max(...hwms) }] : []),
      { ...ROW_TREE, value: Math.max(...trees) },
      { ...ROW_RMI, value: stats(rmis).median },
    ];
    return rows;
  },
};

if (isMain(import.meta.url)) {
  await main(`docker load (${TOTAL_MIB} MiB, ${LAYERS} layers)`, [loadBenchmark]);
}
