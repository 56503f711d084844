import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateName } from '../../src/util/names.js';

describe('generated container names', () => {
  it('are adjective_surname, valid container names, without a digit when nothing clashes', () => {
    for (let i = 0; i < 500; i++) {
      const name = generateName(() => false);
      assert.match(name, /^[a-z]+_[a-z]+$/);
      assert.match(name, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
    }
  });

  it('vary', () => {
    assert.ok(new Set(Array.from({ length: 50 }, () => generateName(() => false))).size > 40);
  });

  it('get a digit on a clash', () => {
    let calls = 0;
    const name = generateName(() => ++calls === 1);
    assert.match(name, /^[a-z]+_[a-z]+\d$/);
  });

  it('terminate with a free name when every short one is taken', () => {
    const name = generateName((n) => !/\d{2,}$/.test(n));
    assert.match(name, /^[a-z]+_[a-z]+\d{2,}$/);
  });
});
