// go-units' HumanDuration, shared by the daemon (container Status) and the CLI (CREATED columns).

/**
 * go-units HumanDuration for a duration in milliseconds: "Less than a second", "1 second", "N seconds",
 * "About a minute", "N minutes", "About an hour", "N hours" (under 48), "N days" (under 2 weeks),
 * "N weeks" (under 2 months of 30 days), "N months" (under 2 years), "N years".
 */
export function humanDuration(ms: number): string {
  const ns = Math.trunc(ms * 1e6); // time.Duration is in integer nanoseconds
  const seconds = Math.trunc(ns / 1e9);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ns / 6e10);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ns / 3.6e12 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ns / 3.6e12) / 24 / 365)} years`;
}

const goUnits: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration ("1m30s", "500ms", "0") in nanoseconds, as time.ParseDuration reads it. */
export function parseGoDuration(text: string): number {
  if (text === '0') return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`time: invalid duration "${text}"`);
  return Math.round(parts.reduce((sum, [, n = '0', unit = 's']) => sum + Number(n) * (goUnits[unit] ?? 0), 0));
}

/** Go's time.Duration.String() of `ns`: "300ms", "30s", "1m30s", "1.5s". */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const trim = (n: number) => String(Number(n.toFixed(9)));
  if (Math.abs(ns) < 1e3) return `${ns}ns`;
  if (Math.abs(ns) < 1e6) return `${trim(ns / 1e3)}µs`;
  if (Math.abs(ns) < 1e9) return `${trim(ns / 1e6)}ms`;
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${trim(s)}s`;
}
