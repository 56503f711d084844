// stdin, TTYs, attach, detach keys and exec — through conmon's attach socket, with the docker CLI and ours.
// TTY cases run the CLIs under `script`, which gives them a real pseudo-terminal of a known size.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { WebSocket } from 'ws';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, dist, run, startDaemon } from '../harness/daemon.js';

describe('interactive containers and exec', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.destroy();
  });

  const ok = async (args: string[], input?: string) => {
    const r = await d.berth(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  /**
   * Runs a shell command line under a pseudo-terminal of 40 rows × 100 columns, typing what the `keys` shell
   * snippet prints; returns what it printed. stdin stays open meanwhile: script turns an early EOF into bytes.
   */
  const inTerminal = async (commandLine: string, keys = 'sleep 2') => {
    const file = join(d.dir, `typescript-${Math.random().toString(36).slice(2)}`);
    const r = await run('sh', ['-c', `(${keys}) | script -qec ${JSON.stringify(`stty rows 40 cols 100; ${commandLine}`)} ${file} > /dev/null`], {
      env: { DOCKER_HOST: d.host, BERTH_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') },
    });
    const text = await readFile(file, 'utf8');
    await rm(file, { force: true });
    const exit = /COMMAND_EXIT_CODE="(\d+)"/.exec(text)?.[1];
    const raw = text.split('\n').slice(1, -2).join('\n');
    return { code: r.code, exit: Number(exit), output: raw.replace(/\r/g, ''), raw };
  };

  it('run -i: piped stdin reaches the process, and its end closes the container stdin', async () => {
    const theirs = await d.docker(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo rc=$?'], { input: 'from docker\n' });
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(theirs.stdout, 'from docker\nrc=0\n');
    const ours = await d.berth(['run', '--rm', '-i', 'busybox', 'wc', '-c'], { input: 'x'.repeat(100_000) });
    assert.equal(ours.stdout.trim(), '100000');
  });

  it('run -it: a real TTY of the client terminal size, for both CLIs', async () => {
    for (const cli of ['docker', `${process.execPath} ${dist('berth')}`]) {
      const r = await inTerminal(`${cli} run --rm -it busybox sh -c 'tty; stty size; exit 4'`);
      assert.equal(r.exit, 4, r.output);
      assert.match(r.output, /^\/dev\/pts\/0\n40 100$/m, `${cli}: ${r.output}`);
      // The container's pty ends lines with \r\n; a client terminal left with output processing doubles the \r.
      assert.match(r.raw, /^\/dev\/pts\/0\r\n40 100\r$/m, `${cli}: ${JSON.stringify(r.raw)}`);
    }
  });

  it("the seed's example: run -it -v mydata:/data, typing into a shell; the data outlives the container", async () => {
    const berth = `${process.execPath} ${dist('berth')}`;
    const typed = await inTerminal(`${berth} run --rm -it -v bvol-mydata:/data busybox sh`, "sleep 1.5; printf 'echo kept > /data/f; exit 5\\n'; sleep 1.5");
    assert.equal(typed.exit, 5, typed.output);
    const read = await inTerminal(`${berth} run --rm -it -v bvol-mydata:/data busybox cat /data/f`);
    assert.match(read.output, /^kept$/m, read.output);
    await ok(['volume', 'rm', 'bvol-mydata']);
  });

  it('resize changes a running TTY container terminal', async () => {
    await ok(['run', '-dit', '--name', 'tty1', 'busybox', 'sh']);
    await d.client.do('POST', '/containers/tty1/resize', { query: { h: '33', w: '77' } });
    assert.equal((await ok(['exec', 'tty1', 'stty', '-F', '/proc/1/fd/0', 'size'])).trim(), '33 77');
    const gone = await d.client.call('POST', '/containers/nosuch/resize', { query: { h: '1', w: '1' } }).catch((e: Error) => e);
    assert.match(String(gone), /No such container: nosuch/);
  });

  it('attach: input to a running container; ctrl-p ctrl-q detaches from a TTY and leaves it running', async () => {
    await ok(['run', '-di', '--name', 'cat1', 'busybox', 'cat']);
    const socket = await d.client.hijack('POST', '/containers/cat1/attach', { query: { stream: true, stdin: true, stdout: true } });
    const received: Buffer[] = [];
    socket.on('data', (b: Buffer) => received.push(b));
    socket.end('typed line\n'); // half-close: the container was not started for one attach, its stdin stays open
    for (let i = 0; i < 50 && !Buffer.concat(received).includes('typed line'); i++) await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    assert.match(Buffer.concat(received).toString(), /typed line/);
    assert.equal((await ok(['inspect', '--format', '{{.State.Status}}', 'cat1'])).trim(), 'running');

    await ok(['run', '-dit', '--name', 'tty2', 'busybox', 'sh']);
    const r = await inTerminal('docker attach tty2', `sleep 1; printf 'echo typed-in-tty\\n'; sleep 0.5; printf '\\020\\021'; sleep 2`);
    // The docker CLI ends an attach that was detached from with its "read escape sequence" error (exit 1).
    assert.equal(r.exit, 1, r.output);
    assert.match(r.output, /typed-in-tty\n/);
    assert.match(r.output, /read escape sequence/);
    assert.equal((await ok(['inspect', '--format', '{{.State.Status}}', 'tty2'])).trim(), 'running');
    // A raw API client with its own keys: the input before them is delivered, the stream closes at them.
    const raw = await d.client.hijack('POST', '/containers/tty2/attach', { query: { stream: true, stdin: true, stdout: true, detachKeys: 'ctrl-x,y' } });
    raw.resume();
    raw.write('echo second > /tmp/second\n\x18y');
    await new Promise((res) => raw.once('close', res));
    assert.equal(await ok(['exec', 'tty2', 'cat', '/tmp/second']), 'second\n');
    assert.equal((await ok(['inspect', '--format', '{{.State.Status}}', 'tty2'])).trim(), 'running');
    const bad = await d.client.hijack('POST', '/containers/tty2/attach', { query: { stream: true, detachKeys: 'ctrl-1' } }).catch((e: Error) => e);
    assert.match(String(bad), /Invalid detach keys \(ctrl-1\) provided/);
  });

  it('exec: exit code, streams kept apart, env, user, workdir, stdin, detached', async () => {
    await ok(['run', '-d', '--name', 'box', 'busybox', 'sleep', '600']);
    const r = await d.docker(['exec', 'box', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(await ok(['exec', '-e', 'A=1', '-w', '/tmp', '-u', 'nobody', 'box', 'sh', '-c', 'echo $A $(pwd) $(id -u)']), '1 /tmp 65534\n');
    assert.equal((await d.docker(['exec', '-i', 'box', 'wc', '-l'], { input: 'a\nb\nc\n' })).stdout.trim(), '3');
    assert.equal((await d.berth(['exec', '-i', 'box', 'cat'], { input: 'via berth' })).stdout, 'via berth');
    await ok(['exec', '-d', 'box', 'sh', '-c', 'echo bg > /tmp/bg']);
    for (let i = 0; i < 50 && (await d.berth(['exec', 'box', 'cat', '/tmp/bg'])).stdout !== 'bg\n'; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(await ok(['exec', 'box', 'cat', '/tmp/bg']), 'bg\n');
    const caps = await ok(['exec', '--privileged', 'box', 'grep', 'CapEff', '/proc/self/status']);
    assert.notEqual(caps.trim().split(/\s+/)[1], '00000000a80425fb', '--privileged exec gets every capability');
  });

  it('exec -it gets a TTY of the client size', async () => {
    for (const cli of ['docker', `${process.execPath} ${dist('berth')}`]) {
      const r = await inTerminal(`${cli} exec -it box sh -c 'tty; stty size'`);
      assert.equal(r.exit, 0, r.output);
      assert.match(r.output, /^\/dev\/pts\/\d+\n40 100$/m, `${cli}: ${r.output}`);
    }
  });

  it('exec errors: unknown command (126), stopped container (409), unknown exec (404)', async () => {
    const missing = await d.docker(['exec', 'box', 'nosuchcmd']);
    assert.equal(missing.code, 126);
    assert.match(missing.stdout + missing.stderr, /executable file not found/);
    const created = await d.client.json<{ Id: string }>('POST', '/containers/box/exec', { body: { Cmd: ['true'], AttachStdout: true } });
    await d.client.do('POST', `/exec/${created.Id}/start`, { body: { Detach: true } });
    for (let i = 0; i < 50; i++) {
      const st = await d.client.json<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${created.Id}/json`);
      if (st.ExitCode !== null) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const info = await d.client.json<{ ExitCode: number; ContainerID: string; ProcessConfig: { entrypoint: string } }>('GET', `/exec/${created.Id}/json`);
    assert.equal(info.ExitCode, 0);
    assert.equal(info.ProcessConfig.entrypoint, 'true');
    const unknown = await d.client.call('GET', '/exec/0123456789/json').catch((e: Error) => e);
    assert.match(String(unknown), /No such exec instance/);
    await ok(['create', '--name', 'idle', 'busybox', 'true']);
    const stopped = await d.docker(['exec', 'idle', 'true']);
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /is not running/);
  });

  it('exec works on a container re-adopted after berthd is killed', async () => {
    await d.kill9();
    await d.start();
    assert.equal(await ok(['exec', 'box', 'echo', 'still here']), 'still here\n');
    const piped = await d.docker(['exec', '-i', 'cat1', 'true']);
    assert.equal(piped.code, 0, piped.stderr);
  });
  it('run without a TTY proxies the signals it gets to the container, unless --sig-proxy=false (both CLIs)', async () => {
    const script = 'trap "echo got INT; exit 3" INT; echo ready; while true; do sleep 0.1; done';
    for (const [name, cmd, args, env] of [
      ['docker', 'docker', [], { DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, 'docker-config') }],
      ['berth', process.execPath, [dist('berth')], { BERTH_HOST: d.host }],
    ] as const) {
      const child = spawn(cmd, [...args, 'run', '--rm', 'busybox', 'sh', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGINT');
      assert.equal(await exited, 3, `${name}: ${out}`);
      assert.equal(out, 'ready\ngot INT\n', name);
    }
    // Not proxied: the CLI dies of its signal, the container goes on.
    const child = spawn(process.execPath, [dist('berth'), 'run', '--name', 'unproxied', '--sig-proxy=false', 'busybox', 'sh', '-c', script], { env: { ...process.env, BERTH_HOST: d.host }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    assert.equal(await exited, 'SIGINT');
    assert.equal((await ok(['inspect', '--format', '{{.State.Status}}', 'unproxied'])).trim(), 'running');
    await ok(['rm', '-f', 'unproxied']);
  });

  it('--cidfile gets the new ID (and an existing one is refused); --label-file adds labels', async () => {
    const cidfile = join(d.dir, 'cid');
    const labels = join(d.dir, 'labels');
    await writeFile(labels, '# team labels\nteam=blue\n\ntier=web\n');
    const id = (await ok(['create', '--cidfile', cidfile, '--label-file', labels, '-l', 'tier=db', 'busybox'])).trim();
    assert.equal(await readFile(cidfile, 'utf8'), id);
    assert.equal((await ok(['inspect', '--format', '{{json .Config.Labels}}', id])).trim(), '{"team":"blue","tier":"db"}');
    const again = await d.berth(['create', '--cidfile', cidfile, 'busybox']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Container ID file found, make sure the other container isn't running or delete/);
    await ok(['rm', id]);
  });
  it('start -a streams the output and exits with the container code; start -ai feeds stdin (both CLIs)', async () => {
    await ok(['create', '--name', 'startattach', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    await ok(['create', '-i', '--name', 'startstdin', 'busybox', 'cat']);
    for (const cli of ['docker', 'berth'] as const) {
      const r = await d[cli](['start', '-a', 'startattach']);
      assert.deepEqual([r.code, r.stdout, r.stderr], [4, 'out\n', 'err\n'], cli);
      const i = await d[cli](['start', '-ai', 'startstdin'], { input: 'hello\n' });
      assert.deepEqual([i.code, i.stdout], [0, 'hello\n'], `${cli}: ${i.stderr}`);
    }
    const two = await d.berth(['start', '-a', 'startattach', 'startstdin']);
    assert.equal(two.code, 1);
    assert.match(two.stderr, /you cannot start and attach multiple containers at once/);
    await ok(['rm', 'startattach', 'startstdin']);
  });
  it('run -a attaches only the streams listed; exec --env-file sets the variables of a file (both CLIs)', async () => {
    const envFile = join(d.dir, 'exec.env');
    await writeFile(envFile, '# comment\nFROM_FILE=yes\n');
    await ok(['run', '-d', '--name', 'envtarget', 'busybox', 'sleep', '60']);
    for (const cli of ['docker', 'berth'] as const) {
      const errOnly = await d[cli](['run', '--rm', '-a', 'stderr', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
      assert.deepEqual([errOnly.code, errOnly.stdout, errOnly.stderr], [0, '', 'err\n'], cli);
      const env = await d[cli](['exec', '--env-file', envFile, 'envtarget', 'sh', '-c', 'echo $FROM_FILE']);
      assert.equal(env.stdout, 'yes\n', `${cli}: ${env.stderr}`);
    }
    await ok(['rm', '-f', 'envtarget']);
  });
  it('a finished exec session leaves no files behind (health checks run one every interval)', async () => {
    const id = (await ok(['run', '-d', '--name', 'manyexecs', 'busybox', 'sleep', '60'])).trim();
    for (let i = 0; i < 3; i++) assert.equal((await ok(['exec', 'manyexecs', 'echo', String(i)])).trim(), String(i));
    await ok(['exec', '-d', 'manyexecs', 'true']);
    const dir = join(d.dir, 'run', 'containers', id, 'exec');
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      left = await readdir(dir).catch(() => []);
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(left, []);
    await ok(['rm', '-f', 'manyexecs']);
  });
  it('attach over a WebSocket (/attach/ws): raw output as binary messages, messages as stdin; 404 for no container', async () => {
    await ok(['run', '-d', '-i', '--name', 'wsattach', 'busybox', 'sh', '-c', 'while read l; do echo "out:$l"; echo "err:$l" >&2; done']);
    const socketPath = d.host.replace(/^unix:\/\//, '');
    const url = (path: string) => `ws+unix://${socketPath}:${path}`;
    const received: Array<{ binary: boolean; text: string }> = [];
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url('/containers/wsattach/attach/ws?stream=1&stdout=1&stderr=1&stdin=1'));
      ws.on('open', () => ws.send(Buffer.from('hello\n')));
      ws.on('message', (data: Buffer, binary: boolean) => {
        received.push({ binary, text: data.toString() });
        const all = received.map((m) => m.text).join('');
        if (all.includes('err:hello\n') && all.includes('out:hello\n')) ws.close();
      });
      ws.on('close', () => resolve());
      ws.on('error', reject);
      setTimeout(() => ws.close(), 5000).unref();
    });
    assert.ok(received.every((m) => m.binary), 'binary messages');
    // (in whichever order conmon read the two pipes)
    assert.deepEqual(received.map((m) => m.text).join('').split('\n').sort(), ['', 'err:hello', 'out:hello'], 'both streams, raw, without frames');
    const status = await new Promise<number | undefined>((resolve) => {
      const ws = new WebSocket(url('/containers/no-such-container/attach/ws?stream=1'));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('error', () => resolve(undefined));
    });
    assert.equal(status, 404);
    await ok(['rm', '-f', 'wsattach']);
  });
});
