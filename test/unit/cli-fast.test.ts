// cli/fast.ts parses the hottest commands without commander: every command line it takes must give the options
// commander gives (and the same -H), and what it declines goes to commander.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import type { Cli } from '../../src/cli/context.js';
import { fastWords, parsePlain } from '../../src/cli/fast.js';
import { buildProgram, commandModules, withPflagBooleans } from '../../src/cli/main.js';

/** What commander makes of a command line: the global host, the operands and the options (its action replaced). */
async function viaCommander(args: string[]): Promise<{ host: string | undefined; operands: string[]; options: Record<string, unknown> }> {
  const argv = ['node', 'berth', ...args];
  const [word, sub] = parsePlain(argv)!.word.split(' ') as [string, string | undefined];
  const program = await buildProgram(() => ({}) as Cli, commandModules[word]);
  let options: Record<string, unknown> = {};
  let operands: string[] = [];
  const top = program.commands.find((c: Command) => c.name() === word)!;
  // a two-word command is its group's subcommand, under its name or its alias
  const command = sub === undefined ? top : top.commands.find((c: Command) => c.name() === sub || c.aliases().includes(sub))!;
  command.action((...a: unknown[]) => {
    options = { ...(a[a.length - 2] as Record<string, unknown>) };
    operands = a.slice(0, -2).flat().filter((x): x is string => x !== undefined);
  });
  await program.parseAsync(withPflagBooleans(program, argv));
  return { host: program.opts<{ host?: string }>().host, operands, options };
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
      ['images'],
      ['images', 'busybox'],
      ['images', '-aq', '--digests', 'busybox:1', '--no-trunc'],
      ['images', '--format', '{{.ID}}', '-f', 'dangling=true'],
      ['version'],
      ['version', '-f', '{{.Server.Version}}'],
      ['version', '--format={{json .}}'],
      ['inspect', 'a'],
      ['inspect', 'a', 'b', '-s', '--type', 'container'],
      ['inspect', '-f{{.Id}}', 'a'],
      ['inspect', '--type=image', '--format', '{{.Id}}', 'a'],
      ['logs', 'c'],
      ['logs', '--tail', '5', 'c'],
      ['logs', '-n5', '-ft', 'c', '--since', '10m', '--until=1h', '--details'],
      ['stop', 'a'],
      ['stop', '-t', '1', 'a', 'b', '-s', 'KILL'],
      ['stop', '--timeout=0', '--signal=TERM', 'a'],
      ['rm', 'a'],
      ['rm', '-fv', 'a', 'b'],
      ['rm', '--force', '--volumes', 'a'],
      ['-H', 'unix:///x.sock', 'rm', '-f', 'a'],
      ['exec', 'c', 'true'],
      ['exec', '-it', 'c', 'sh'],
      ['exec', '-d', '-u', '1000', '-w', '/tmp', '-e', 'A=1', '--env=B=2', '--env-file', 'f', '--privileged', 'c', 'sleep', '9'],
      ['exec', '--detach-keys', 'ctrl-a', '-ti', 'c', 'sh'],
      ['exec', 'c', 'ls', '-la', '--color', '-e', 'x'],
      ['exec', '-i', 'c', 'sh', '-c', 'echo -t -- --help'],
      ['exec', 'c', '--', 'ls'],
      ['network', 'ls'],
      ['network', 'list', '-q', '--no-trunc', '-f', 'driver=bridge', '--format', '{{.Name}}'],
      ['-H', 'unix:///x.sock', 'network', 'ls', '--filter=name=a'],
      ['volume', 'ls'],
      ['volume', 'list', '-qf', 'dangling=true', '--format={{.Name}}'],
      ['container', 'ls', '-aq'],
      ['container', 'list', '--no-trunc', '-n', '2'],
      ['container', 'ps', '-f', 'name=x'],
      ['image', 'ls', '-q', 'busybox'],
      ['image', 'list', '--digests'],
      ['container', 'logs', '-n', '3', 'c'],
      ['container', 'stop', '-t', '1', 'a', 'b'],
      ['container', 'rm', '-f', 'a'],
      ['container', 'exec', '-it', 'c', 'sh', '-l'],
      ['build', '.'],
      ['build', '-t', 'a:1', '-t', 'b', '--no-cache', '--pull', '-q', 'ctx'],
      ['build', '-f', 'df', '--build-arg', 'A=1', '--build-arg=B', '--label', 'l=1', '--target', 't', '--network', 'none', 'ctx'],
      ['build', '--no-rm', '--force-rm', '--iidfile', 'id', '--compress', '-m', '64m', '--memory-swap', '128m', '-c', '2', 'ctx'],
      ['build', '--cache-from', 'x', '--platform', 'linux/amd64', '--add-host', 'h:1.2.3.4', '--security-opt', 's', '--ulimit', 'nofile=1:2', 'ctx'],
      ['build', '--cpuset-cpus', '0', '--cpuset-mems', '0', '--cpu-period', '1', '--cpu-quota', '2', '--shm-size', '1m', '--cgroup-parent', 'p', 'ctx'],
      ['build', '--isolation', 'default', '--squash', '--disable-content-trust', '--rm', '-qt', 'x', 'ctx'],
      ['-H', 'unix:///x.sock', 'image', 'build', '-t', 'x', 'ctx'],
      ['builder', 'build', '--no-cache', 'ctx'],
    ];
    for (const args of lines) {
      const fast = parsePlain(['node', 'berth', ...args]);
      assert.ok(fast, `${args.join(' ')} is plain`);
      assert.deepEqual({ host: fast.host, operands: fast.operands, options: fast.options }, await viaCommander(args), args.join(' '));
    }
  });

  it('leaves to commander what is not plain', () => {
    const declined = [
      [],
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
      ['logs', 'ps', 'x'],
      ['logs'],
      ['logs', '-n', '-1', 'c'],
      ['images', 'a', 'b'],
      ['version', 'x'],
      ['inspect'],
      ['inspect', '--size=true', 'a'],
      ['stop'],
      ['stop', '--', 'a'],
      ['rm', '-f=true', 'a'],
      ['rm', '--force=false', 'a'],
      ['rm', '--link', 'a'],
      ['exec'],
      ['exec', 'c'],
      ['build'],
      ['build', '-'],
      ['build', 'a', 'b'],
      ['build', '--rm=false', 'ctx'],
      ['build', '--memory-swap', '-1', 'ctx'],
      ['build', '--help'],
      ['exec', '--help', 'c', 'sh'],
      ['exec', '-x', 'c', 'sh'],
      ['exec', '--tty=true', 'c', 'sh'],
      ['network'],
      ['network', 'rm', 'x'],
      ['network', 'ls', 'x'],
      ['network', '-q', 'ls'],
      ['volume', 'ls', 'x'],
      ['volume', 'ls', '--no-trunc'],
      ['container'],
      ['container', 'inspect', 'x'],
      ['container', 'run', 'busybox'],
      ['image', 'rm', 'x'],
    ];
    for (const args of declined) assert.equal(parsePlain(['node', 'berth', ...args]), undefined, args.join(' '));
  });

  it('answers only words the entry point sends it', async () => {
    const { readFile } = await import('node:fs/promises');
    const entry = await readFile(new URL('../../src/cmd/berth.ts', import.meta.url), 'utf8');
    assert.deepEqual(JSON.parse(/const fastWords = (\[.*\]);/.exec(entry)![1]!.replace(/'/g, '"')), [...fastWords]);
  });
});

describe("the fast path's code cache", () => {
  it("is written by the first run and used after; a cache V8 refuses is made again, an earlier build's removed", async () => {
    const { mkdtemp, readdir, readFile, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { dist, run } = await import('../harness/daemon.js');
    const home = await mkdtemp(join(tmpdir(), 'berth-cli-cache-'));
    try {
      // No daemon behind this address: the command fails the same way each time, and the cache is made at exit.
      const ps = () => run(process.execPath, [dist('berth'), 'ps'], { env: { XDG_CACHE_HOME: home, BERTH_HOST: `unix://${join(home, 'none.sock')}` } });
      const caches = async () => (await readdir(join(home, 'berth')).catch(() => [] as string[])).filter((f) => f.startsWith('cli-fast.cjs-'));
      const first = await ps();
      assert.equal(first.code, 1);
      assert.match(first.stderr, /Cannot connect to the Berth daemon/);
      const [made] = await caches();
      assert.match(made ?? '', /^cli-fast\.cjs-\d+-\d+-\d+\.v8$/);
      const size = (await readFile(join(home, 'berth', made!))).length;
      assert.ok(size > 10_000, `a code cache of ${size} bytes`);
      assert.deepEqual(await ps(), first);
      await writeFile(join(home, 'berth', made!), 'not a code cache');
      await writeFile(join(home, 'berth', 'cli-fast.cjs-1-2-3.v8'), 'an older build');
      assert.deepEqual(await ps(), first);
      assert.deepEqual(await caches(), [made]);
      assert.ok((await readFile(join(home, 'berth', made!))).length > 10_000, 'the refused cache was made again');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('the --format bundle', () => {
  it('is loaded only for a template: a plain ps neither reads nor compiles the engine; a template run caches it too', async () => {
    const { mkdtemp, readdir, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { dirname, join } = await import('node:path');
    const { dist, run } = await import('../harness/daemon.js');
    assert.doesNotMatch(await readFile(join(dirname(dist('berth')), 'cli-fast.cjs'), 'utf8'), /unclosed action/, "the fast path's bundle has no template parser");
    const home = await mkdtemp(join(tmpdir(), 'berth-cli-cache-'));
    try {
      const env = { XDG_CACHE_HOME: home, BERTH_HOST: `unix://${join(home, 'none.sock')}` };
      const caches = async () => (await readdir(join(home, 'berth')).catch(() => [] as string[])).map((f) => f.replace(/\.cjs-.*/, '.cjs')).sort();
      assert.equal((await run(process.execPath, [dist('berth'), 'ps'], { env })).code, 1);
      assert.deepEqual(await caches(), ['cli-fast.cjs']);
      // a template is parsed before the daemon is asked (docker ps checks its format first): the engine is loaded
      const bad = await run(process.execPath, [dist('berth'), 'inspect', '-f', '{{.Id', 'x'], { env });
      assert.equal(bad.code, 64, bad.stderr);
      assert.equal(bad.stderr, 'template parsing error: template: :1: unclosed action\n', 'the CliError of the format bundle is the fast path\'s');
      assert.deepEqual(await caches(), ['cli-fast.cjs', 'cli-format.cjs']);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("classes whose values cross the bundles are recognised by brand; a subclass keeps the prototype's check", async () => {
    const { CliError } = await import('../../src/cli/context.js');
    const { FlagError } = await import('../../src/cli/commands/run-flags.js');
    const { GoNil } = await import('../../src/cli/format/gofmt.js');
    // what another copy of the module makes: another class, the same brand
    const foreign = { [Symbol.for('berth.cli.CliError')]: true, message: 'x' };
    assert.ok(foreign instanceof CliError);
    assert.ok({ [Symbol.for('berth.format.GoNil')]: true } instanceof GoNil);
    assert.ok(!({} instanceof GoNil) && !((null as unknown) instanceof GoNil));
    const flag = new FlagError('memory', 'x', 'bad size');
    assert.ok(flag instanceof CliError && flag instanceof FlagError);
    assert.ok(!(new CliError('plain') instanceof FlagError));
    assert.ok(!(foreign instanceof FlagError));
  });
});
