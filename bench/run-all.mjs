#!/usr/bin/env node
// Runs every benchmark against berthd, then against the reference dockerd (each daemon started once, fresh, and
// stopped before the other starts), and prints one combined table.
//
//   npm run build && node bench/run-all.mjs
//   BENCH_ONLY=docker node bench/run-all.mjs     (reference engine alone, while berthd is not ready)
import { buildBenchmark } from './build.mjs';
import { composeBenchmark } from './compose.mjs';
import { imagesBenchmark } from './images.mjs';
import { main } from './lib.mjs';
import { loadBenchmark } from './load.mjs';
import { logsBenchmark } from './logs.mjs';
import { networkBenchmark } from './network.mjs';
import { registryBenchmark } from './registry.mjs';
import { runBenchmark } from './run.mjs';

await main('Berth vs Docker', [loadBenchmark, imagesBenchmark, runBenchmark, logsBenchmark, networkBenchmark, buildBenchmark, registryBenchmark, composeBenchmark]);
