// Request bodies are checked at the edge against the Engine API's schemas (src/types/docker-api.gen.ts), so that a
// value of the wrong type is a 400 naming the field, in the words of dockerd's JSON decoder, before any service
// sees it. The checks are those of Go's decoder: JSON types and integer ranges, unknown fields ignored, null the
// same as absent; plus the enums dockerd refuses with a message of its own.
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { InvalidArgument } from '../errors/index.js';
import { type RequestBodies, requestSchemas } from '../types/docker-api.gen.js';

export type BodyName = keyof RequestBodies;

let ajv: Promise<Ajv> | undefined;
const compiled = new Map<BodyName, ValidateFunction>();

/**
 * Loaded and compiled on first use, so that daemon start-up pays for neither the validator (≈10 ms to load)
 * nor the schemas no request has needed yet.
 */
async function validatorFor(name: BodyName): Promise<ValidateFunction> {
  let fn = compiled.get(name);
  if (!fn) {
    // ajv is CommonJS: loaded on demand, a bundle chunk hands its exports over as the default export.
    ajv ??= import('ajv').then((m) => ((m as unknown as { default?: typeof m }).default ?? m).Ajv).then((Ajv) => new Ajv({ allErrors: false, verbose: true, allowUnionTypes: true, strict: true, code: { optimize: false } }).addVocabulary(['x-go', 'x-go-value', 'x-enum']));
    fn = (await ajv).compile(requestSchemas[name] as object);
    compiled.set(name, fn);
  }
  return fn;
}

/**
 * Loads the validator and compiles the container create schema ahead of the first request (≈100 ms cold, once per
 * process): for the server to run in the background once it is listening, so the first create does not pay.
 */
export async function warmValidators(): Promise<void> {
  await validatorFor('ContainerCreateRequest');
}

/**
 * Checks a decoded JSON body (undefined when the request had none) and returns it typed. Null-valued fields are
 * dropped first, as Go's decoder leaves a field alone on null. Throws InvalidArgument with dockerd's message.
 */
export async function validateBody<N extends BodyName>(name: N, body: unknown): Promise<RequestBodies[N]> {
  const value = body === undefined || body === null ? {} : dropNulls(body);
  const validate = await validatorFor(name);
  if (!validate(value)) throw new InvalidArgument(messageOf(validate.errors?.[0]));
  return value as RequestBodies[N];
}

function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (const item of v) dropNulls(item);
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (o[k] === null) delete o[k];
      else dropNulls(o[k]);
    }
  }
  return v;
}

/** JSON's name for a value's kind, as Go's decoder prints it. */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

/** dockerd's words for the first failed check: `json: cannot unmarshal <kind> into Go struct field <F> of type <T>`. */
function messageOf(e: ErrorObject | undefined): string {
  if (!e) return 'invalid request body';
  const schema = (e.parentSchema ?? {}) as { 'x-go'?: string; 'x-go-value'?: string; 'x-enum'?: string; type?: unknown };
  if (e.keyword === 'enum' && schema['x-enum']) return schema['x-enum'].replace('%s', String(e.data));
  const data: unknown = e.data;
  // Go quotes the number it could not fit (a fraction, or out of range) into an integer field.
  const what = typeof data === 'number' && schema.type === 'integer' ? `number ${data}` : kindOf(data);
  const into = schema['x-go'] ? `Go struct field ${schema['x-go']}` : `Go value of type ${schema['x-go-value'] ?? 'unknown'}`;
  return `json: cannot unmarshal ${what} into ${into}`;
}
