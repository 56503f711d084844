// docker's boolean flag spellings (`--rm=false`, `-t=true`) on our command tree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildProgram, withPflagBooleans } from '../../src/cli/main.js';
import type { Cli } from '../../src/cli/context.js';

const program = await buildProgram(() => ({}) as Cli);
const rewrite = (...args: string[]) => withPflagBooleans(program, ['node', 'berth', ...args]).slice(2);

describe('pflag booleans', () => {
  it('turns --flag=true into --flag and drops --flag=false where false is the default', () => {
    assert.deepEqual(rewrite('run', '--rm=true', '-t=false', '-i=1', 'busybox', 'sh'), ['run', '--rm', '-i', 'busybox', 'sh']);
    assert.deepEqual(rewrite('container', 'rm', '--force=TRUE', 'c1'), ['container', 'rm', '--force', 'c1']);
  });
  it('uses the negation where the flag defaults to true', () => {
    assert.deepEqual(rewrite('commit', '--pause=false', 'c1'), ['commit', '--no-pause', 'c1']);
    assert.deepEqual(rewrite('commit', '-p', 'c1', 'repo:tag'), ['commit', '-p', 'c1', 'repo:tag']);
  });
  it('reads --flag=false as --no-flag, and --flag[=true] as the default, where only the negation exists', () => {
    assert.deepEqual(rewrite('run', '--sig-proxy=false', 'busybox'), ['run', '--no-sig-proxy', 'busybox']);
    assert.deepEqual(rewrite('attach', '--sig-proxy=true', 'c1'), ['attach', 'c1']);
    assert.deepEqual(rewrite('run', '--sig-proxy', '-d', 'busybox'), ['run', '-d', 'busybox']);
  });
  it('leaves flags with values, and everything from the first operand on, as they are', () => {
    assert.deepEqual(rewrite('-H', 'unix:///x.sock', 'run', '-e', 'A=true', '--name=false', 'busybox', 'env', '--rm=false'), [
      '-H', 'unix:///x.sock', 'run', '-e', 'A=true', '--name=false', 'busybox', 'env', '--rm=false',
    ]);
    assert.deepEqual(rewrite('run', '--rm=maybe', 'busybox'), ['run', '--rm=maybe', 'busybox']);
  });
});
