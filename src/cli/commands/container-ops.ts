// What the fast path (cli/fast.ts) runs of the container commands — logs, stop, rm — apart from container.ts,
// whose run flags bring commander and ~40 kB of option parsers with them.
import { pipeline } from 'node:stream/promises';
import { type Cli, CliError, forEachName } from '../context.js';
import { parseTimeFilter } from '../../util/timestamp.js';
import { demux } from './interactive.js';

/**
 * `--since`/`--until` as the API takes them, Unix seconds with nine fractional digits: from a duration before now
 * ("10m", "1h30m"), an RFC 3339 time, or Unix seconds (passed on as given).
 */
function apiTimestamp(value: string | undefined, flag: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  // RFC 3339 keeps its nanoseconds (a Date would round them to milliseconds, and miss an entry's exact time).
  const rfc = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$/.exec(value);
  const wholeSeconds = rfc ? Date.parse(`${rfc[1]}${rfc[3] ?? ''}`) / 1000 : NaN;
  if (!Number.isNaN(wholeSeconds)) return `${wholeSeconds}.${(rfc?.[2] ?? '').padEnd(9, '0')}`;
  let ms: number;
  try {
    ms = parseTimeFilter(value);
  } catch {
    throw new CliError(`invalid value for "${flag}": failed to parse value as time or duration: "${value}"`);
  }
  const seconds = Math.floor(ms / 1000);
  return `${seconds}.${String(Math.round((ms - seconds * 1000) * 1e6)).padStart(9, '0')}`;
}

/** `stop`/`kill`/`rm`/…: one request per container, its name echoed on success, like docker. */
export function onEachContainer(cli: Cli, names: string[], method: string, action: string, query: Record<string, string | boolean | undefined> = {}): Promise<void> {
  return forEachName(cli, names, async (n) => {
    await cli.client().do(method, `/containers/${encodeURIComponent(n)}${action}`, { query });
    cli.out(n);
  });
}

export interface LogsOptions {
  follow?: boolean;
  tail: string;
  timestamps?: boolean;
  since?: string;
  until?: string;
  details?: boolean;
}

/** `logs`: the container's log, demultiplexed unless it is a TTY's raw stream. */
export async function showLogs(cli: Cli, name: string, o: LogsOptions): Promise<void> {
  const res = await cli.client().call('GET', `/containers/${encodeURIComponent(name)}/logs`, {
    query: { stdout: true, stderr: true, follow: o.follow, tail: o.tail, timestamps: o.timestamps, details: o.details, since: apiTimestamp(o.since, 'since'), until: apiTimestamp(o.until, 'until') },
  });
  // A TTY container's log is its raw output (the daemon says so), anything else comes in frames.
  if (String(res.headers['content-type']).includes('raw-stream')) await pipeline(res, process.stdout, { end: false });
  else await demux(res);
}
