// Runs every test file with node's test runner (one file at a time: they share the machine's kernel state).
// Ends with the runner's own summary, which CI reads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? find(p) : name.endsWith('.test.ts') ? [p] : [];
  });
}
const only = process.argv.slice(2);
const files = (only.length ? only : find('test')).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// What an earlier run killed outright left behind (its daemons' containers, mounts, cgroups) goes first.
spawnSync(process.execPath, ['--import', 'tsx', 'test/harness/sweep.ts'], { stdio: 'inherit' });
const tap = join(mkdtempSync(join(tmpdir(), 'berth-tap-')), 'report.tap');
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { stdio: 'inherit' },
);
let report = '';
try {
  report = readFileSync(tap, 'utf8');
} catch {
  // the runner died before writing its report: the counts below are zero and the exit code says why
} finally {
  rmSync(dirname(tap), { recursive: true, force: true });
}
const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(report)?.[1] ?? 0);
console.log(`${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped`);
process.exit(r.status ?? 1);
