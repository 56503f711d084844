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
