// `stats` through the API and both CLIs, with real containers on the real kernel: one burning a CPU, one holding
// 50 MB, one never started; one-shot, primed and streamed answers; the sampling ends when the client goes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type Daemon, dist, startDaemon } from '../harness/daemon.js';

type CpuStats = { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
type Stats = {
  read: string;
  preread: string;
  name: string;
  id: string;
  pids_stats: { current?: number };
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats: Record<string, unknown[] | null>;
};

const zeroTime = '0001-01-01T00:00:00Z';
const MiB = 1024 * 1024;

/** Reads `count` newline-delimited JSON frames from a streamed answer, then hangs up. */
async function readFrames(res: IncomingMessage, count: number): Promise<Stats[]> {
  const frames: Stats[] = [];
  let buf = '';
  try {
    for await (const chunk of res) {
      buf += (chunk as Buffer).toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0 && frames.length < count) {
        frames.push(JSON.parse(buf.slice(0, nl)) as Stats);
        buf = buf.slice(nl + 1);
      }
      if (frames.length >= count) break;
    }
  } finally {
    res.destroy();
  }
  return frames;
}

/** Whether berthd logged the end of a request to `url` (handlers log when they return). */
function requestEnded(d: Daemon, url: string): boolean {
  return d
    .logs()
    .split('\n')
    .some((l) => l.includes('"msg":"request"') && l.includes(`"url":"${url}"`));
}

async function until(what: string, test: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('stats', () => {
  let d: Daemon;
  const stats = (name: string, query: Record<string, string>) => d.client.json<Stats>('GET', `/containers/${name}/stats`, { query });

  before(async () => {
    d = await startDaemon();
    for (const args of [
      ['run', '-d', '--name', 'burner', 'busybox', 'sh', '-c', 'while :; do :; done'],
      // tail keeps the 50 MB "line" in memory until its input ends, 300 s later.
      ['run', '-d', '--name', 'holder', 'busybox', 'sh', '-c', '{ head -c 50m /dev/zero; sleep 300; } | tail'],
      ['create', '--name', 'idle', 'busybox'],
    ]) {
      const r = await d.berth(args);
      assert.equal(r.code, 0, r.stderr);
    }
    await until('the holder to fill its memory', async () => ((await stats('holder', { stream: '0', 'one-shot': '1' })).memory_stats.usage ?? 0) >= 50 * MiB);
  });
  after(async () => {
    await d.destroy();
  });

  it('stream=false: CPU, memory and PIDs from the cgroup, with an earlier CPU read to compare against', async () => {
    const s = await stats('burner', { stream: '0' });
    assert.equal(s.name, '/burner');
    assert.match(s.id, /^[0-9a-f]{64}$/);
    assert.ok(s.cpu_stats.cpu_usage.total_usage > s.precpu_stats.cpu_usage.total_usage, 'the burner used CPU between the reads');
    assert.ok(s.precpu_stats.cpu_usage.total_usage > 0);
    assert.ok((s.cpu_stats.system_cpu_usage ?? 0) > (s.precpu_stats.system_cpu_usage ?? 0));
    assert.ok((s.cpu_stats.online_cpus ?? 0) >= 1);
    assert.ok(Date.parse(s.read) > Date.parse(s.preread));
    assert.ok((s.pids_stats.current ?? 0) >= 1);
    assert.ok((s.memory_stats.usage ?? 0) > 0);
    const m = await stats('holder', { stream: '0' });
    assert.ok((m.memory_stats.usage ?? 0) >= 50 * MiB, `usage ${m.memory_stats.usage}`);
    assert.ok((m.memory_stats.limit ?? 0) > 0 && (m.memory_stats.limit ?? 0) <= (await import('node:os')).totalmem(), 'no limit: the host memory');
    assert.ok('total_inactive_file' in (m.memory_stats.stats ?? {}) || 'inactive_file' in (m.memory_stats.stats ?? {}));
    assert.ok((m.pids_stats.current ?? 0) >= 3, 'sh, sleep and tail');
  });

  it('one-shot=true answers at once without the earlier read', async () => {
    const started = Date.now();
    const s = await stats('burner', { stream: '0', 'one-shot': '1' });
    assert.ok(Date.now() - started < 400, 'no wait for a second read');
    assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
    assert.equal(s.precpu_stats.cpu_usage.total_usage, 0);
    assert.equal(s.preread, zeroTime);
    const both = await d.client.raw('GET', '/containers/burner/stats', { query: { stream: '1', 'one-shot': '1' } });
    both.resume();
    assert.equal(both.statusCode, 400);
  });

  it('stream=true: a frame a second, each with the previous CPU read; hanging up ends the sampling', async () => {
    const res = await d.client.call('GET', '/containers/burner/stats', { query: { stream: '1' } });
    const [first, second, third] = await readFrames(res, 3);
    assert.ok(first && second && third);
    assert.equal(first.preread, zeroTime);
    assert.deepEqual(second.precpu_stats, first.cpu_stats);
    assert.equal(second.preread, first.read);
    assert.deepEqual(third.precpu_stats, second.cpu_stats);
    const gap = Date.parse(third.read) - Date.parse(second.read);
    assert.ok(gap >= 900 && gap < 2000, `frames ${gap} ms apart`);
    await until('the stats handler to return after the client hung up', () => requestEnded(d, '/v1.45/containers/burner/stats?stream=1'), 3000);
  });

  it('docker stats --no-stream and berth stats --no-stream show the busy container with its CPU %', async () => {
    for (const cli of [d.docker, d.berth]) {
      const r = await cli(['stats', '--no-stream', 'burner', 'holder']);
      assert.equal(r.code, 0, r.stderr);
      const [header, ...rows] = r.stdout.trim().split('\n');
      assert.match(header ?? '', /^CONTAINER ID {3}NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
      const burner = rows.find((l) => / burner /.test(l)) ?? '';
      const cpu = Number(/ ([\d.]+)% /.exec(burner)?.[1]);
      assert.ok(cpu > 50, `CPU % of ${burner}`);
      const holder = rows.find((l) => / holder /.test(l)) ?? '';
      assert.match(holder, /^[0-9a-f]{12} +holder +[\d.]+% +(5\d|6\d)(\.\d+)?MiB \/ [\d.]+GiB +[\d.]+% +0B \/ 0B +[\d.]+[kMG]?B \/ [\d.]+[kMG]?B +\d+$/);
    }
  });

  it('--format with Go templates, table and json', async () => {
    for (const cli of [d.docker, d.berth]) {
      const names = await cli(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'burner']);
      assert.equal(names.stdout, 'burner 1\n', names.stderr);
      const table = await cli(['container', 'stats', '--no-stream', '--no-trunc', '--format', 'table {{.Container}}\t{{.ID}}', 'holder']);
      assert.match(table.stdout, /^CONTAINER +CONTAINER ID\nholder +[0-9a-f]{64}\n$/);
      const json = await cli(['stats', '--no-stream', '--format', 'json', 'burner']);
      assert.deepEqual(Object.keys(JSON.parse(json.stdout) as object), ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
    }
  });

  it('an unknown container is 404 and exit code 1', async () => {
    const res = await d.client.raw('GET', '/containers/x/stats', { query: { stream: '0' } });
    let body = '';
    for await (const c of res) body += (c as Buffer).toString();
    assert.equal(res.statusCode, 404);
    assert.deepEqual(JSON.parse(body), { message: 'No such container: x' });
    for (const cli of [d.docker, d.berth]) {
      const r = await cli(['stats', '--no-stream', 'x', 'burner']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'Error response from daemon: No such container: x\n');
    }
  });

  it('a container that is not running gets zeroed stats, as from dockerd', async () => {
    const s = await stats('idle', { stream: '0' });
    assert.equal(s.name, '/idle');
    assert.equal(s.read, zeroTime);
    assert.deepEqual(s.memory_stats, {});
    assert.deepEqual(s.pids_stats, {});
    assert.equal(s.cpu_stats.cpu_usage.total_usage, 0);
    assert.equal(s.blkio_stats['io_service_bytes_recursive'], null);
    for (const cli of [d.docker, d.berth]) {
      const r = await cli(['stats', '--no-stream', '-a', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.BlockIO}}|{{.PIDs}}']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.split('\n').includes('idle|0.00%|0B / 0B|0B / 0B|0'), r.stdout);
      const running = await cli(['stats', '--no-stream', '--format', '{{.Name}}']);
      assert.deepEqual(running.stdout.trim().split('\n').sort(), ['burner', 'holder'], 'without -a only running ones');
    }
  });

  it('a stream goes on with zeroed frames after the container stops, and ends when it is removed', async () => {
    assert.equal((await d.berth(['run', '-d', '--name', 'brief', 'busybox', 'sleep', '300'])).code, 0);
    const res = await d.client.call('GET', '/containers/brief/stats', { query: { stream: '1' } });
    const frames: Stats[] = [];
    let buf = '';
    const ended = (async () => {
      for await (const chunk of res) {
        buf += (chunk as Buffer).toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          frames.push(JSON.parse(buf.slice(0, nl)) as Stats);
          buf = buf.slice(nl + 1);
        }
      }
    })();
    try {
      await until('a running frame', () => frames.some((f) => f.read !== zeroTime));
      assert.equal((await d.berth(['stop', '-t', '0', 'brief'])).code, 0);
      await until('a zeroed frame', () => frames.at(-1)?.read === zeroTime);
      assert.equal(frames.at(-1)?.name, '/brief');
      assert.equal((await d.berth(['rm', 'brief'])).code, 0);
      await ended;
    } finally {
      res.destroy();
      await d.berth(['rm', '-f', 'brief']);
    }
  });

  it('berth stats (streaming) redraws the table in place until interrupted', async () => {
    const child = spawn(process.execPath, [dist('berth'), 'stats', 'burner'], { env: { ...process.env, BERTH_HOST: d.host }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    try {
      await until('three redraws', () => out.split('\x1b[H').length > 3, 5000);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    const screens = out.split('\x1b[H').slice(1);
    const last = screens.at(-2) ?? '';
    assert.match(last, /^CONTAINER ID {3}NAME .*\x1b\[K\n[0-9a-f]{12} +burner +[\d.]+% .*\x1b\[K\n\x1b\[K\n\x1b\[J$/);
  });
});
