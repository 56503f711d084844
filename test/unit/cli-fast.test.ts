// cli/fast.ts parses the hottest commands without commander: every command line it takes must give the options
// commander gives (and the same -H), and what it declines goes to commander.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import type { Cli } from '../../src/cli/context.js';
import { fastWords, parsePlain } from '../../src/cli/fast.js';
import { buildProgram, commandModules, withPflagBooleans } from '../../src/cli/main.js';

/** What commander makes of a command line: the global host and the command's options (its action replaced). */
async function viaCommander(args: string[]): Promise<{ host: string | undefined; options: Record<string, unknown> }> {
  const argv = ['node', 'berth', ...args];
  const word = parsePlain(argv)!.word;
  const program = await buildProgram(() => ({}) as Cli, commandModules[word]);
  let options: Record<string, unknown> = {};
  const command = program.commands.find((c: Command) => c.name() === word)!;
  command.action((o: Record<string, unknown>) => {
    options = { ...o };
  });
  await program.parseAsync(withPflagBooleans(program, argv));
  return { host: program.opts<{ host?: string }>().host, options };
}

describe('fast command lines', () => {
  it('give what commander gives', async () => {
    const lines = [
      ['ps'],
      ['ps', '-a'],
      ['ps', '-aq'],
      ['ps', '-qas'],
      ['ps', '--all', '--quiet', '--size'],
      ['ps', '-s', '--no-size'],
      ['ps', '--no-size', '-s'],
      ['ps', '--no-trunc'],
      ['ps', '-n', '3'],
      ['ps', '-n3'],
      ['ps', '-an3'],
      ['ps', '-an', '3'],
      ['ps', '--last=3', '--last', '4'],
      ['ps', '-l'],
      ['ps', '-f', 'status=running', '-fname', '--filter', 'label=a=b', '--filter=id=1'],
      ['ps', '--format', '{{.ID}}'],
      ['ps', '--format={{.ID}}\t{{.Names}}'],
      ['ps', '--format', ''],
      ['-H', 'unix:///x.sock', 'ps', '-a'],
      ['--host', 'unix:///y.sock', 'ps'],
      ['--host=unix:///z.sock', 'ps'],
      ['-Hunix:///w.sock', 'ps', '-q'],
    ];
    for (const args of lines) {
      const fast = parsePlain(['node', 'berth', ...args]);
      assert.ok(fast, `${args.join(' ')} is plain`);
      assert.deepEqual({ host: fast.host, options: fast.options }, await viaCommander(args), args.join(' '));
    }
  });

  it('leaves to commander what is not plain', () => {
    const declined = [
      [],
      ['images'],
      ['ps', '--help'],
      ['ps', '-h'],
      ['ps', 'x'],
      ['ps', '--'],
      ['ps', '-'],
      ['ps', '-x'],
      ['ps', '--bogus'],
      ['ps', '--all=false'],
      ['ps', '-a=true'],
      ['ps', '--size=0'],
      ['ps', '-n'],
      ['ps', '--format'],
      ['ps', '-f', '-a'],
      ['ps', '-fname=x'],
      ['ps', '-H', 'unix:///x.sock'],
      ['-v', 'ps'],
      ['-H'],
      ['container', 'ls'],
      ['logs', 'ps'],
    ];
    for (const args of declined) assert.equal(parsePlain(['node', 'berth', ...args]), undefined, args.join(' '));
  });

  it('answers only words the entry point sends it', async () => {
    const { readFile } = await import('node:fs/promises');
    const entry = await readFile(new URL('../../src/cmd/berth.ts', import.meta.url), 'utf8');
    assert.deepEqual(JSON.parse(/const fastWords = (\[.*\]);/.exec(entry)![1]!.replace(/'/g, '"')), [...fastWords]);
  });
});
