// Merging files per the spec's 13-merge.md, on the interpolated, validated trees: mappings merged key by key,
// sequences appended, with the per-attribute exceptions (shell commands replaced, ports/volumes/secrets/configs
// unique by key, list-or-dict attributes merged as maps) and the `!reset` / `!override` tags.
import { parsePortShort, parseVolumeShort } from './syntax.js';
import { type Dict, isDict, Tagged } from './yaml.js';

/** Drops `!reset` values and unwraps `!override` ones (what a file means on its own). */
export function clean(v: unknown): unknown {
  if (v instanceof Tagged) return v.tag === 'reset' ? undefined : clean(v.value);
  if (Array.isArray(v)) return v.map(clean);
  if (isDict(v)) {
    const out: Dict = {};
    for (const [k, x] of Object.entries(v)) {
      const c = clean(x);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  return v;
}

const replaced = new Set(['command', 'entrypoint', 'healthcheck.test']);
const asMaps = new Set(['environment', 'labels', 'annotations', 'sysctls', 'extra_hosts', 'build.args', 'build.labels', 'deploy.labels', 'logging.options', 'depends_on', 'networks', 'ulimits']);
const unique: Record<string, (v: unknown) => string> = {
  ports: (v) => {
    const p = typeof v === 'string' || typeof v === 'number' ? parsePortShort(v)[0]! : (v as Dict);
    return JSON.stringify([p.host_ip ?? '', String(p.target), p.published === undefined ? '' : String(p.published), p.protocol ?? 'tcp']);
  },
  volumes: (v) => (typeof v === 'string' ? parseVolumeShort(v).target : String((v as Dict).target)),
  secrets: (v) => (typeof v === 'string' ? v : String((v as Dict).target ?? (v as Dict).source)),
  configs: (v) => (typeof v === 'string' ? v : String((v as Dict).target ?? (v as Dict).source)),
};
const toList = new Set(['env_file', 'dns', 'dns_search', 'tmpfs']);

/** A list-or-dict value as a dict (`KEY=VAL` → KEY: VAL, a bare `KEY` → null). */
export function listToMap(v: unknown, sep = '='): Dict {
  if (isDict(v)) return v;
  const out: Dict = {};
  for (const item of Array.isArray(v) ? v : []) {
    if (isDict(item)) Object.assign(out, item);
    else {
      const s = String(item);
      const i = s.indexOf(sep);
      out[i === -1 ? s : s.slice(0, i)] = i === -1 ? null : s.slice(i + 1);
    }
  }
  return out;
}

function prepare(path: string, v: unknown): unknown {
  if (v instanceof Tagged) return v;
  if (asMaps.has(path) && Array.isArray(v)) return listToMap(v, path === 'extra_hosts' ? (String(v[0] ?? '').includes('=') ? '=' : ':') : '=');
  if (toList.has(path) && typeof v === 'string') return [v];
  if (path === 'build' && typeof v === 'string') return { context: v };
  return v;
}

/** Merges one service (or other resource) definition over another; `path` is the key path inside it. */
export function mergeValue(base: unknown, over: unknown, path = ''): unknown {
  if (over instanceof Tagged) return over.tag === 'reset' ? undefined : clean(over.value);
  if (base === undefined) return clean(over);
  if (replaced.has(path)) return clean(over);
  const b = prepare(path, base);
  const o = prepare(path, over);
  if (path === 'logging' && isDict(b) && isDict(o) && b.driver !== undefined && o.driver !== undefined && b.driver !== o.driver) return clean(o);
  if (isDict(b) && isDict(o)) {
    const out: Dict = { ...b };
    for (const [k, x] of Object.entries(o)) {
      const m = mergeValue(b[k], x, path ? `${path}.${k}` : k);
      if (m === undefined) delete out[k];
      else out[k] = m;
    }
    return out;
  }
  if (Array.isArray(b) && Array.isArray(o)) {
    const keyOf = unique[path];
    if (keyOf) {
      const out = [...b];
      const index = new Map(out.map((x, i) => [keyOf(x), i]));
      for (const x of o.map(clean)) {
        const i = index.get(keyOf(x));
        if (i === undefined) {
          index.set(keyOf(x), out.length);
          out.push(x);
        } else out[i] = x;
      }
      return out;
    }
    const out = [...b];
    for (const x of o.map(clean)) if (!(typeof x !== 'object' && out.includes(x))) out.push(x);
    return out;
  }
  return clean(o);
}

/** Merges a whole file over the model so far: services by name, other sections by key. */
export function mergeFiles(base: Dict, over: Dict): Dict {
  const out: Dict = { ...base };
  for (const [section, value] of Object.entries(over)) {
    if (['services', 'networks', 'volumes', 'secrets', 'configs'].includes(section) && isDict(value) && isDict(out[section])) {
      const merged: Dict = { ...(out[section] as Dict) };
      for (const [k, v] of Object.entries(value)) {
        const m = mergeValue(merged[k], v);
        if (m === undefined) delete merged[k];
        else merged[k] = m;
      }
      out[section] = merged;
    } else {
      const m = mergeValue(out[section], value, `/${section}`);
      if (m === undefined) delete out[section];
      else out[section] = m;
    }
  }
  return out;
}
