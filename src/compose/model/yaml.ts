// YAML to plain values, walked by hand rather than with Document.toJS so that each value's line is kept (errors name
// file, line and key path) and the merge tags `!reset` / `!override` survive as markers for the merge step.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ComposeFileError } from './errors.js';

/** A value tagged `!reset` or `!override` in an override file: the merge replaces or removes instead of merging. */
export class Tagged {
  constructor(
    readonly tag: 'reset' | 'override',
    readonly value: unknown,
  ) {}
}

export interface ParsedFile {
  /** Absolute path, or `-` for stdin. */
  file: string;
  data: Record<string, unknown>;
  /** Line (1-based) of each key path (`services.web.ports.0`). */
  lines: Map<string, number>;
}

export type Dict = Record<string, unknown>;
export const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tagged);

export function parseYaml(text: string, file: string): ParsedFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, merge: false, uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0].line;
    throw new ComposeFileError(`yaml: ${line ? `line ${line}: ` : ''}${err.message.split('\n')[0]} in ${file}`);
  }
  const lines = new Map<string, number>();
  const lineOf = (n: Node | null | undefined): number | undefined => (n?.range ? lc.linePos(n.range[0]).line : undefined);
  const walk = (node: unknown, path: string, depth: number): unknown => {
    if (depth > 200) throw new ComposeFileError(`${file}: yaml: document too deep at ${path}`);
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return walk(node.resolve(doc as Document), path, depth + 1);
    const n = node as Node;
    const line = lineOf(n);
    if (line !== undefined && path && !lines.has(path)) lines.set(path, line);
    let value: unknown;
    if (isScalar(n)) value = n.value;
    else if (isSeq(n)) value = n.items.map((it, i) => walk(it, join(path, String(i)), depth + 1));
    else if (isMap(n)) {
      const out: Dict = {};
      const merged: Dict = {};
      for (const pair of n.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        if (k === '<<') {
          // YAML merge keys: the referenced mappings fill keys this mapping does not set itself; earlier ones win.
          const src = walk(pair.value, path, depth + 1);
          for (const m of Array.isArray(src) ? src : [src]) {
            if (!isDict(m)) throw new ComposeFileError(`${file}: yaml: line ${lineOf(pair.value as Node) ?? '?'}: merge key needs a mapping or a list of mappings`);
            for (const [mk, mv] of Object.entries(m)) if (!(mk in merged)) merged[mk] = mv;
          }
          continue;
        }
        const key = k === null ? '' : String(k);
        const kpath = join(path, key);
        const kl = lineOf(pair.key as Node);
        if (kl !== undefined) lines.set(kpath, kl);
        out[key] = walk(pair.value, kpath, depth + 1);
      }
      value = { ...merged, ...out };
    } else value = null;
    if (n.tag === '!reset') return new Tagged('reset', value);
    if (n.tag === '!override') return new Tagged('override', value);
    return value;
  };
  const data = walk(doc.contents, '', 0);
  if (data === null) throw new ComposeFileError(`${file}: empty compose file`);
  if (!isDict(data)) throw new ComposeFileError(`${file}: top-level object must be a mapping`);
  return { file, data, lines };
}

export const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

/** The line of a key path, or of its nearest ancestor that has one. */
export function lineFor(lines: Map<string, number>, path: string): number | undefined {
  for (let p = path; ; p = p.slice(0, Math.max(0, p.lastIndexOf('.')))) {
    const l = lines.get(p);
    if (l !== undefined) return l;
    if (!p) return undefined;
  }
}
