// The CLI loads only the command modules a command word needs (cli/main.ts): each top-level command, built from
// just those modules, must be the same command (subcommands and flags) as in the whole program.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import type { Cli } from '../../src/cli/context.js';
import { buildProgram, commandModules, commandWord } from '../../src/cli/main.js';

const cliFor = () => ({}) as Cli;
const shape = (c: Command): unknown => ({
  name: c.name(),
  options: c.options.map((o) => o.flags).sort(),
  commands: c.commands.map(shape).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
});

describe('command modules', () => {
  it('every top-level command is the same when only its modules are loaded', async () => {
    const whole = await buildProgram(cliFor);
    for (const command of whole.commands) {
      const modules = commandModules[command.name()];
      assert.ok(modules, `${command.name()} is in the command table`);
      const alone = (await buildProgram(cliFor, modules)).commands.find((c) => c.name() === command.name());
      assert.ok(alone, `${command.name()} is registered by ${modules.join(', ')}`);
      assert.deepEqual(shape(alone), shape(command), command.name());
    }
  });

  it('finds the command word after the global flags', () => {
    const word = (...args: string[]) => commandWord(['node', 'berth', ...args]);
    assert.equal(word('ps', '-a'), 'ps');
    assert.equal(word('-H', 'unix:///x.sock', 'images'), 'images');
    assert.equal(word('--host=unix:///x.sock', 'container', 'ls'), 'container');
    assert.equal(word('-Hunix:///x.sock', 'rm', 'x'), 'rm');
    assert.equal(word('--help'), undefined);
    assert.equal(word(), undefined);
  });
});
