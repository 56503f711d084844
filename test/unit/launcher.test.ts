import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProgramError, runProgram, useLauncher } from '../../src/kernel/launcher.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-launcher-'));
  useLauncher(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The launcher's shell: this process's /bin/sh child. */
function shellPid(): number {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => /\b(sh|dash|bash)$/.test(l.trim()));
  assert.ok(line, `no launcher shell among ${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

describe('launcher: programs run through one long-lived shell', () => {
  it('passes arguments verbatim, feeds stdin, and returns stdout and stderr', async () => {
    const args = ["it's", '$HOME', '`id`', 'a b', '"q"', '\\n', '*', ''];
    const { stdout } = await runProgram('printf', ['%s|', ...args]);
    assert.equal(stdout, `${args.join('|')}|`);
    assert.equal((await runProgram('cat', [], { input: 'line 1\nline 2\n' })).stdout, 'line 1\nline 2\n');
    assert.equal((await runProgram('sh', ['-c', 'echo out; echo err >&2'])).stderr, 'err\n');
    // Without input the program reads nothing (not berthd's stdin).
    assert.equal((await runProgram('cat', [])).stdout, '');
  });

  it('rejects a failing program with its exit status and stderr, and leaves no files behind', async () => {
    const e = await runProgram('sh', ['-c', 'echo partial; echo broken >&2; exit 3']).then(
      () => assert.fail('resolved'),
      (x: unknown) => x,
    );
    assert.ok(e instanceof ProgramError);
    assert.equal(e.code, 3);
    assert.equal(e.stderr, 'broken\n');
    assert.equal(e.stdout, 'partial\n');
    assert.match(e.message, /^Command failed: sh -c/);
    assert.equal((await runProgram('sh', ['-c', 'exit 127']).catch((x: ProgramError) => x.code)), 127);
    assert.deepEqual(await readdir(dir), []);
  });

  it('sets the environment and working directory, and opens extra descriptors for writing (a FIFO here)', async () => {
    const env = await runProgram('sh', ['-c', 'echo "$A|$B|$(pwd)"'], { env: { A: "it's", B: '$HOME' }, cwd: dir });
    assert.equal(env.stdout, `it's|$HOME|${dir}\n`);
    const fifo = join(dir, 'report.fifo');
    execFileSync('mkfifo', [fifo]);
    const report = readFile(fifo, 'utf8'); // the program's side opens once a reader is there
    await runProgram('sh', ['-c', 'echo reported >&3'], { fds: { 3: fifo } });
    assert.equal(await report, 'reported\n');
    await assert.rejects(runProgram('true', [], { cwd: join(dir, 'missing') }), ProgramError);
    await rm(fifo);
  });

  it('runs programs concurrently, each getting its own output', async () => {
    const started = Date.now();
    const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => runProgram('sh', ['-c', `sleep 0.3; echo ${i}`])));
    assert.deepEqual(
      outs.map((o) => o.stdout),
      Array.from({ length: 20 }, (_, i) => `${i}\n`),
    );
    assert.ok(Date.now() - started < 3000, 'the sleeps ran one after another');
  });

  it('kills a program that outlives its timeout', async () => {
    const e = await runProgram('sleep', ['30'], { timeoutMs: 200 }).catch((x: ProgramError) => x);
    assert.ok(e instanceof ProgramError);
    assert.equal(e.code, 137);
    assert.match(e.message, /timed out/);
  });

  it('fails what was pending when the shell dies, and starts another for the next program', async () => {
    await runProgram('true', []);
    const pending = runProgram('sleep', ['1']); // outlives the shell, briefly
    await new Promise((r) => setTimeout(r, 200));
    process.kill(shellPid(), 'SIGKILL');
    await assert.rejects(pending, /launcher shell exited/);
    assert.equal((await runProgram('echo', ['again'])).stdout, 'again\n');
  });
});
