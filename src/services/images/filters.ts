import { InvalidArgument } from '../../errors/index.js';
import type { ImageRecord } from '../../metadata/index.js';
import { parseTimeFilter } from '../../util/timestamp.js';

/** Docker's list filters, decoded: each key maps to the values given for it. */
export type Filters = Record<string, string[]>;

const imageFilterKeys = new Set(['dangling', 'reference', 'label', 'before', 'since', 'until']);

/** Go's path.Match for `reference=` patterns: `*` and `?` stop at `/`, `[…]` classes. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new InvalidArgument(`invalid reference filter: ${pattern}`);
      re += '[' + pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function matchesLabels(labels: Record<string, string>, wanted: string[]): boolean {
  return wanted.every((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
  });
}

export { parseTimeFilter };

/** With a `reference=` filter Docker lists only the tags that match it. */
export function matchingTags(repoTags: string[], filters: Filters): string[] {
  const refs = filters['reference'];
  if (!refs?.length) return repoTags;
  const res = refs.map(globToRegExp);
  return repoTags.filter((t) => res.some((re) => re.test(t) || re.test(t.slice(0, t.lastIndexOf(':')))));
}

/** Whether an image passes `docker images --filter …`. `resolve` finds the images named by before/since. */
export function matchImage(
  rec: ImageRecord,
  repoTags: string[],
  filters: Filters,
  resolve: (name: string) => ImageRecord,
): boolean {
  for (const key of Object.keys(filters)) {
    if (!imageFilterKeys.has(key)) throw new InvalidArgument(`invalid filter '${key}'`);
  }
  const dangling = filters['dangling'];
  if (dangling?.length) {
    const want = dangling[0];
    if (want !== 'true' && want !== 'false' && want !== '1' && want !== '0') {
      throw new InvalidArgument(`invalid filter 'dangling=${want}'`);
    }
    if ((want === 'true' || want === '1') !== (repoTags.length === 0)) return false;
  }
  const refs = filters['reference'];
  if (refs?.length) {
    const ok = refs.some((p) => {
      const re = globToRegExp(p);
      return repoTags.some((t) => re.test(t) || re.test(t.slice(0, t.lastIndexOf(':'))));
    });
    if (!ok) return false;
  }
  if (filters['label']?.length && !matchesLabels(rec.labels, filters['label'])) return false;
  const created = Date.parse(rec.created);
  for (const b of filters['before'] ?? []) if (!(created < Date.parse(resolve(b).created))) return false;
  for (const s of filters['since'] ?? []) if (!(created > Date.parse(resolve(s).created))) return false;
  for (const u of filters['until'] ?? []) if (!(created < parseTimeFilter(u))) return false;
  return true;
}
