// Variable substitution per the spec's 12-interpolation.md: applied to every value (never to keys) of each file,
// before validation and merge.
import { ComposeFileError } from './errors.js';
import { isDict, join, Tagged } from './yaml.js';

export interface Env {
  lookup: (name: string) => string | undefined;
  warn: (msg: string) => void;
  /** Variables already warned about: Compose warns once for each. */
  warned: Set<string>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

class Invalid extends Error {}

/** Substitutes `$VAR`, `${VAR}` and the `${VAR<op>word}` forms in one string; `where` names the value for errors. */
export function substitute(s: string, env: Env, where: string): string {
  try {
    return sub(s, env);
  } catch (e) {
    if (e instanceof Invalid) throw new ComposeFileError(`invalid interpolation format for ${where}.\nYou may need to escape any $ with another $.\n${s}`);
    if (e instanceof ComposeFileError) throw new ComposeFileError(`error while interpolating ${where}: ${e.message}`);
    throw e;
  }
}

function sub(s: string, env: Env): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closing(s, i + 2);
      out += braced(s.slice(i + 2, end), env);
      i = end + 1;
    } else {
      const m = NAME.exec(s.slice(i + 1));
      if (!m) {
        // not a variable: the `$` stays as written
        out += '$';
        i++;
      } else {
        out += value(m[0], env);
        i += 1 + m[0].length;
      }
    }
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from` (nested `${…}` in defaults count). */
function closing(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '$') i++;
    else if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}' && --depth === 0) return i;
  }
  throw new Invalid();
}

function braced(body: string, env: Env): string {
  const m = NAME.exec(body);
  if (!m) throw new Invalid();
  const name = m[0];
  const rest = body.slice(name.length);
  if (rest === '') return value(name, env);
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (!op) throw new Invalid();
  const word = rest.slice(op.length);
  const v = env.lookup(name);
  const unset = v === undefined;
  const empty = unset || v === '';
  switch (op) {
    case ':-':
      return empty ? sub(word, env) : v;
    case '-':
      return unset ? sub(word, env) : v;
    case ':?':
    case '?':
      if (op === ':?' ? empty : unset) {
        const msg = sub(word, env);
        throw new ComposeFileError(`required variable ${name} is missing a value${msg ? `: ${msg}` : ''}`);
      }
      return v as string;
    default: // `:+` / `+`: the replacement when set
      return (op === ':+' ? !empty : !unset) ? sub(word, env) : '';
  }
}

function value(name: string, env: Env): string {
  const v = env.lookup(name);
  if (v !== undefined) return v;
  if (!env.warned.has(name)) {
    env.warned.add(name);
    env.warn(`The "${name}" variable is not set. Defaulting to a blank string.`);
  }
  return '';
}

/** Interpolates every string value under `v` (keys are left alone), keeping `!reset`/`!override` markers. */
export function interpolateTree(v: unknown, env: Env, path: string): unknown {
  if (typeof v === 'string') return v.includes('$') ? substitute(v, env, path) : v;
  if (Array.isArray(v)) return v.map((x, i) => interpolateTree(x, env, join(path, String(i))));
  if (v instanceof Tagged) return new Tagged(v.tag, interpolateTree(v.value, env, path));
  if (isDict(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = interpolateTree(x, env, join(path, k));
    return out;
  }
  return v;
}
