import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/client/index.js';
import { dist, removeCgroupParent, run } from '../harness/daemon.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('berthd flags, config file and shutdown', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-daemon-'));
  });
  // A private parent cgroup: the daemon's start-up probe of the runtimes makes it.
  const cgroupParent = `berth-test-daemon-${process.pid}`;
  // Its own default bridge, taken from daemon.json as well (never the host's berth0).
  const bridge = `btd${process.pid % 100000}`;
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await removeCgroupParent(cgroupParent);
    await run('ip', ['link', 'del', bridge]);
    await run('nft', ['delete', 'table', 'ip', `berth-${bridge}`]);
  });

  it('takes hosts, roots, pidfile and log level from daemon.json, serves TCP too, and cleans up on SIGTERM', async () => {
    const made = async () => ({
      bridge: (await run('ip', ['link', 'show', bridge])).code === 0,
      table: (await run('nft', ['list', 'table', 'ip', `berth-${bridge}`])).code === 0,
      cgroups: (await readdir('/sys/fs/cgroup')).filter((c) => existsSync(join('/sys/fs/cgroup', c, cgroupParent))),
    });
    const port = await freePort();
    const sock = join(dir, 'cfg.sock');
    const pidfile = join(dir, 'berthd.pid');
    const config = join(dir, 'daemon.json');
    await writeFile(
      config,
      JSON.stringify({ hosts: [`unix://${sock}`, `tcp://127.0.0.1:${port}`], 'data-root': join(dir, 'root'), 'exec-root': join(dir, 'run'), pidfile, 'log-level': 'warn', 'cgroup-parent': cgroupParent, bridge }),
    );
    const child = spawn(process.execPath, [dist('berthd'), '--config-file', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const tcp = new EngineClient(`tcp://127.0.0.1:${port}`);
      for (let i = 0; i < 200; i++) {
        try {
          await tcp.json('GET', '/version');
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const info = await tcp.json<{ DockerRootDir: string }>('GET', '/info');
      assert.equal(info.DockerRootDir, join(dir, 'root'));
      const viaUnix = await new EngineClient(`unix://${sock}`).json<{ ApiVersion: string }>('GET', '/version');
      assert.equal(viaUnix.ApiVersion, '1.45');
      assert.equal((await stat(sock)).mode & 0o777, 0o660, 'socket is root-only');
      assert.equal((await readFile(pidfile, 'utf8')).trim(), String(child.pid));
      assert.equal(logs.includes('"level":"info"'), false, 'log-level warn hides info lines');
      const networks = await tcp.json<Array<{ Name: string; Options: Record<string, string> }>>('GET', '/networks');
      assert.equal(networks.find((n) => n.Name === 'bridge')?.Options['com.docker.network.bridge.name'], bridge);
      const running = await made();
      assert.ok(running.bridge && running.table && running.cgroups.length, JSON.stringify(running));
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    await assert.rejects(access(sock), 'socket removed on SIGTERM');
    await assert.rejects(access(pidfile), 'pidfile removed on SIGTERM');
    // With no container running, what it made in the kernel goes with it (the networking tests check that a
    // running container's bridge and rules stay).
    assert.deepEqual(await made(), { bridge: false, table: false, cgroups: [] });
  });

  it('refuses a bad log level and an explicit config file that does not exist', async () => {
    const bad = await run(process.execPath, [dist('berthd'), '--log-level', 'loud', '--config-file', join(dir, 'daemon.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid log level: loud/);
    const missing = await run(process.execPath, [dist('berthd'), '--config-file', join(dir, 'absent.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /unable to configure the Berth daemon with file .*absent\.json/);
  });
});
