// Run before the suite (scripts/run-tests.mjs): removes what an earlier run that was killed outright (SIGKILL, a
// lost machine session) could not clean up itself: its temp dirs with their containers' monitors, runtime states,
// mounts and cgroups. Only dirs left alone for a while and no longer used by a berthd are touched, so a suite
// running at the same time on this machine keeps its own.
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forceCleanup } from './daemon.js';

const staleAfterMs = 30 * 60_000;
/** The tests' mkdtemp dirs (`berth-<what>-XXXXXX`); not the benchmarks' cache, say. */
const testDir = /^berth-[a-z]+-[A-Za-z0-9]{6}$/;

async function daemonCommandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes('berthd')) lines.push(cmd);
  }
  return lines;
}

const daemons = await daemonCommandLines();
for (const name of await readdir(tmpdir())) {
  if (!testDir.test(name)) continue;
  const dir = join(tmpdir(), name);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory() || Date.now() - info.mtimeMs < staleAfterMs) continue;
  if (daemons.some((cmd) => cmd.includes(dir))) continue;
  console.log(`removing ${dir}, left by an earlier test run`);
  await forceCleanup(dir);
  await rm(dir, { recursive: true, force: true });
}
