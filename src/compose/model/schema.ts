// Each file is checked against the Compose specification's JSON schema (draft-07, a copy of the spec's own file),
// after interpolation and before anything else, with errors naming the file, the line and the key path.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ComposeFileError } from './errors.js';
import type { VerdictCache } from './verdicts.js';
import { lineFor, type ParsedFile, Tagged } from './yaml.js';

let compiled: Promise<ValidateFunction> | undefined;

/**
 * The schema compiled ahead of time (scripts/gen-compose-validator.mjs, ajv's standalone code): compiling it here
 * took ~170 ms of every compose command's start.
 */
async function validator(): Promise<ValidateFunction> {
  compiled ??= import('./compose-validator.gen.js').then((m) => m.validate as ValidateFunction);
  return compiled;
}

/** `!reset`/`!override` markers stand for their values while validating. */
function untag(v: unknown): unknown {
  if (v instanceof Tagged) return v.tag === 'reset' ? undefined : untag(v.value);
  if (Array.isArray(v)) return v.map(untag);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const u = untag(x);
      if (u !== undefined) out[k] = u;
    }
    return out;
  }
  return v;
}

/** Checks one file's data; with `verdicts`, a content that passed before is not checked again. */
export async function validateFile(f: ParsedFile, data: Record<string, unknown>, verdicts?: VerdictCache): Promise<void> {
  const value = untag(data);
  const key = verdicts?.key(value);
  if (key && (await verdicts?.isValid(key))) return;
  const validate = await validator();
  if (validate(value)) {
    if (key) await verdicts?.remember(key);
    return;
  }
  const err = pick(validate.errors ?? []);
  let path = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.');
  let msg: string;
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = String((err.params as { additionalProperty: string }).additionalProperty);
      msg = `additional properties '${extra}' not allowed`;
      const line = f.lines.get(path ? `${path}.${extra}` : extra);
      return fail(f, line ?? lineFor(f.lines, path), path, msg);
    }
    case 'type':
      msg = `must be a ${String((err.params as { type: string | string[] }).type).replace(/,/g, ' or ')}`;
      break;
    case 'required':
      msg = `missing property '${(err.params as { missingProperty: string }).missingProperty}'`;
      break;
    case 'enum':
      msg = `must be one of ${((err.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'pattern':
      msg = `does not match pattern ${JSON.stringify((err.params as { pattern: string }).pattern)}`;
      break;
    case 'uniqueItems':
      msg = 'array items must be unique';
      break;
    default:
      msg = err.message ?? 'invalid value';
  }
  if (!path) path = '(root)';
  fail(f, lineFor(f.lines, path === '(root)' ? '' : path), path, msg);
}

function fail(f: ParsedFile, line: number | undefined, path: string, msg: string): never {
  throw new ComposeFileError(`validating ${f.file}: ${line !== undefined ? `line ${line}: ` : ''}${path || '(root)'}: ${msg}`);
}

/**
 * With `oneOf`/`anyOf` ajv reports every branch's failure: the most useful one is the deepest, preferring an
 * unknown key or a missing one over a type mismatch of a branch the user did not mean.
 */
function pick(errors: ErrorObject[]): ErrorObject {
  const rank = (e: ErrorObject): number => (e.keyword === 'additionalProperties' ? 3 : e.keyword === 'required' ? 2 : e.keyword === 'oneOf' || e.keyword === 'anyOf' ? 0 : 1);
  let best = errors[0]!;
  for (const e of errors) {
    const d = e.instancePath.split('/').length;
    const bd = best.instancePath.split('/').length;
    if (d > bd || (d === bd && rank(e) > rank(best))) best = e;
  }
  return best;
}
