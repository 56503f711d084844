// `ps` filters, as dockerd checks and applies them (moby daemon/list.go): the values checked first, with dockerd's
// messages, then one predicate for the records.
import { InvalidArgument } from '../../errors/index.js';
import { zeroTime } from '../../util/timestamp.js';
import type { ContainerRecord } from './record.js';

export type Filters = Record<string, string[]>;

/** The states `status` filters accept, in dockerd's order (its error lists them). */
const containerStates = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
const known = new Set(['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'health', 'network', 'volume', 'publish', 'expose', 'is-task', 'isolation']);

/** Refuses unknown filters and bad values before anything is listed. */
export function checkListFilters(filters: Filters): void {
  for (const key of ['publish', 'expose']) {
    for (const v of filters[key] ?? []) if (v.includes(':')) throw new InvalidArgument(`filter for '${key}' should not contain ':': ${v}`);
  }
  for (const v of filters['is-task'] ?? []) {
    if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgument(`invalid filter 'is-task=${v}'`);
  }
  for (const h of filters['health'] ?? []) {
    if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h)) {
      throw new InvalidArgument(`invalid filter 'health=${h}'. Expected one of starting, healthy, unhealthy, none`);
    }
  }
  for (const k of Object.keys(filters)) if (!known.has(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  for (const s of filters['status'] ?? []) {
    if (!containerStates.includes(s)) {
      throw new InvalidArgument(`invalid filter 'status=${s}': invalid value for state (${s}): must be one of ${containerStates.join(', ')}`);
    }
  }
  for (const v of filters['exited'] ?? []) {
    if (!/^[+-]?\d+$/.test(v)) throw new InvalidArgument(`invalid filter 'exited=${v}': strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
  }
}

/**
 * Whether a record passes every filter: any value of a key may match. `createdOf` gives the creation time of the
 * container a `before`/`since` names; `ancestorIds` are the image IDs the `ancestor` values name.
 */
export function listFilter(filters: Filters, o: { createdOf: (name: string) => string; ancestorIds: string[] }): (c: ContainerRecord) => boolean {
  const any = (key: string, test: (v: string) => boolean) => !filters[key]?.length || filters[key].some(test);
  return (c) =>
    any('id', (v) => c.id.startsWith(v)) &&
    any('name', (v) => matchesPattern(v, `/${c.name}`) || matchesPattern(v, c.name)) &&
    any('status', (v) => v === c.state.status) &&
    any('exited', (v) => c.state.status === 'exited' && c.state.startedAt !== zeroTime && c.state.exitCode === Number(v)) &&
    any('ancestor', () => o.ancestorIds.includes(c.image) || (filters['ancestor'] ?? []).includes(c.imageName)) &&
    any('before', (v) => c.created < o.createdOf(v)) &&
    any('since', (v) => c.created > o.createdOf(v)) &&
    any('health', (v) => (c.state.health?.Status ?? 'none') === v) &&
    // No container has volumes, published ports or a swarm task yet; `none` and `host` are its only networks.
    any('network', (v) => ['none', 'host'].includes(c.hostConfig.NetworkMode) && v === c.hostConfig.NetworkMode) &&
    !filters['volume']?.length &&
    !filters['publish']?.length &&
    !filters['expose']?.length &&
    any('is-task', (v) => v === 'false' || v === '0') &&
    any('isolation', (v) => v === 'default' || v === '') &&
    labelsMatch(filters['label'], c.config.Labels);
}

/** A `name` filter is a regular expression, as in dockerd; one that does not compile matches nothing. */
export function matchesPattern(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}

/** Every `key` or `key=value` of a label filter holds (no filter: true). */
export function labelsMatch(wanted: string[] | undefined, labels: Record<string, string>): boolean {
  return (wanted ?? []).every((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
  });
}
