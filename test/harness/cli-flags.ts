// The options `berth create ARGS… busybox` parses to, for the CLI's unit tests.
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { type RunFlags, withCreateFlags } from '../../src/cli/commands/run-flags.js';

export function createFlags(...args: string[]): RunFlags {
  let parsed: RunFlags | undefined;
  const cmd = withCreateFlags(new Command('create'))
    .exitOverride()
    .action((_image: string, _cmd: string[], o: RunFlags) => {
      parsed = o;
    });
  cmd.parse([...args, 'busybox'], { from: 'user' });
  assert.ok(parsed);
  return parsed;
}
