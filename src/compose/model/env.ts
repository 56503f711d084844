// `.env`, `--env-file` and service `env_file` files: `KEY=VAL` lines, `export ` allowed, `#` comments, single
// quotes literal, double quotes with backslash escapes (and may span lines), `${VAR}` expanded outside single
// quotes, a `KEY` alone taking its value from the environment (left out when the environment has none).
import { readFile } from 'node:fs/promises';
import { ComposeFileError } from './errors.js';
import { substitute } from './interpolate.js';

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseEnvFile(text: string, file: string, lookup: (name: string) => string | undefined): Record<string, string> {
  const vars: Record<string, string> = {};
  const env = { lookup: (n: string) => lookup(n) ?? vars[n], warn: () => {}, warned: new Set<string>() };
  let i = 0;
  let line = 1;
  const n = text.length;
  const bad = (msg: string): never => {
    throw new ComposeFileError(`failed to read ${file}: line ${line}: ${msg}`);
  };
  while (i < n) {
    // one entry per iteration: skip blank space and comments first
    const eol = text.indexOf('\n', i) === -1 ? n : text.indexOf('\n', i);
    const raw = text.slice(i, eol);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i = eol + 1;
      line++;
      continue;
    }
    let body = raw.replace(/^\s*/, '');
    let start = i + (raw.length - body.length);
    if (/^export\s+/.test(body)) {
      const m = /^export\s+/.exec(body)![0];
      body = body.slice(m.length);
      start += m.length;
    }
    const eq = body.indexOf('=');
    const key = (eq === -1 ? body : body.slice(0, eq)).trim();
    if (!KEY.test(key)) bad(`unexpected character in variable name ${JSON.stringify(key)}`);
    if (eq === -1) {
      const v = lookup(key);
      if (v !== undefined) vars[key] = v;
      i = eol + 1;
      line++;
      continue;
    }
    let j = start + eq + 1;
    while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
    const q = text[j];
    if (q === "'" || q === '"') {
      let val = '';
      let k = j + 1;
      for (; k < n && text[k] !== q; k++) {
        if (text[k] === '\n') line++;
        if (q === '"' && text[k] === '\\' && k + 1 < n) {
          const e = text[++k]!;
          val += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === '$' ? '$$' : e;
        } else val += text[k] === '$' && q === "'" ? '$$' : text[k];
      }
      if (k >= n) bad(`unterminated quoted value for ${key}`);
      vars[key] = substitute(val, env, `${file}:${key}`);
      const after = text.indexOf('\n', k);
      i = after === -1 ? n : after + 1;
      line++;
      continue;
    }
    let val = text.slice(j, eol);
    const hash = val.search(/\s#/);
    if (hash !== -1) val = val.slice(0, hash);
    vars[key] = substitute(val.trim(), env, `${file}:${key}`);
    i = eol + 1;
    line++;
  }
  return vars;
}

/** Reads and parses one env file; undefined when it does not exist and `required` is false. */
export async function readEnvFile(path: string, lookup: (name: string) => string | undefined, required = true): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!required) return undefined;
      throw new ComposeFileError(`env file ${path} not found: stat ${path}: no such file or directory`);
    }
    throw new ComposeFileError(`failed to read ${path}: ${(e as Error).message}`);
  }
  return parseEnvFile(text, path, lookup);
}
