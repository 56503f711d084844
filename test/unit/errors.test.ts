import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { toHttpError } from '../../src/api/errors.js';
import * as errors from '../../src/errors/index.js';

type ErrorClass = new (m: string) => errors.BerthError;
const classes = (Object.values(errors) as unknown[]).filter(
  (v): v is ErrorClass => typeof v === 'function' && (v as { prototype: unknown }).prototype instanceof errors.BerthError,
);

describe('error mapping', () => {
  it('maps every domain error to the status docs/errors.md gives it', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Map([...doc.matchAll(/^\| `(\w+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
    assert.equal(documented.size, classes.length, 'docs/errors.md lists exactly the codes that exist');
    for (const C of classes) {
      const e = new C('boom');
      const mapped = toHttpError(e);
      assert.equal(mapped.status, documented.get(e.code), e.code);
      assert.equal(mapped.message, 'boom');
    }
  });
  it('turns unknown errors into 500 and flags them for logging', () => {
    const m = toHttpError(new TypeError('oops'));
    assert.deepEqual(m, { status: 500, message: 'oops', unexpected: true });
  });
});
