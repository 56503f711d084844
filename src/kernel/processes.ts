import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Internal, InvalidArgument } from '../errors/index.js';

const run = promisify(execFile);

/**
 * The host's `ps` with these arguments (no shell, as dockerd runs it), keeping the rows of these pids: docker
 * top's table. The last column (the command) may contain spaces and is kept whole.
 */
export async function processTable(psArgs: string, pids: number[]): Promise<{ Titles: string[]; Processes: string[][] }> {
  // Only renaming the PID column is refused, since the rows are picked by it.
  for (const m of psArgs.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
    if (m[1] !== 'pid') throw new InvalidArgument(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
  const { stdout } = await run('ps', psArgs.split(/\s+/).filter(Boolean)).catch((e: { stderr?: string; message: string }) => {
    throw new Internal(e.stderr?.split('\n')[0] || `ps: ${e.message}`);
  });
  const [header = '', ...lines] = stdout.split('\n').filter(Boolean);
  const titles = header.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new InvalidArgument(`ps ${psArgs} has no PID column`);
  const wanted = new Set(pids);
  const processes = lines
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
    })
    .filter((f) => wanted.has(Number(f[pidCol])));
  return { Titles: titles, Processes: processes };
}
