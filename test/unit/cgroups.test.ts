// The cgroup counters behind `stats`, parsed from files in the kernel's own formats laid out as a cgroup fs in a
// temp dir: a unified (v2) hierarchy, which this host does not have, and a v1 one with a controller per mount.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NotFound } from '../../src/errors/index.js';
import { cgroupCounters, hostCpuTime } from '../../src/kernel/cgroups.js';

const cgroup = '/berth/4f1e2d';

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
}

const v2Files = {
  'cpu.stat': [
    'usage_usec 2403245',
    'user_usec 1803245',
    'system_usec 600000',
    'core_sched.force_idle_usec 0',
    'nr_periods 120',
    'nr_throttled 7',
    'throttled_usec 35012',
    'nr_bursts 0',
    'burst_usec 0',
    '',
  ].join('\n'),
  'memory.current': '57069568\n',
  'memory.max': 'max\n',
  'memory.events': 'low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\noom_group_kill 0\n',
  'memory.stat': [
    'anon 52727808',
    'file 4096000',
    'kernel 372736',
    'kernel_stack 32768',
    'pagetables 139264',
    'sock 0',
    'shmem 0',
    'file_mapped 0',
    'file_dirty 0',
    'file_writeback 0',
    'anon_thp 0',
    'inactive_anon 52695040',
    'active_anon 32768',
    'inactive_file 4001792',
    'active_file 94208',
    'unevictable 0',
    'slab_reclaimable 96032',
    'slab_unreclaimable 104328',
    'pgfault 14221',
    'pgmajfault 0',
    '',
  ].join('\n'),
  'pids.current': '3\n',
  'pids.max': 'max\n',
  'io.stat': '8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n253:1 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
};

describe('cgroup counters', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-cgroups-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('v2: cpu.stat in ns, memory with its stat keys and OOM events, pids, io.stat per device', async () => {
    const fs = join(root, 'v2');
    await writeFiles(join(fs, cgroup), v2Files);
    const c = await cgroupCounters(cgroup, '2', fs);
    assert.deepEqual(c.cpu, { usageNs: 2403245000, userNs: 1803245000, systemNs: 600000000, periods: 120, throttledPeriods: 7, throttledNs: 35012000 });
    assert.equal(c.memory.usage, 57069568);
    assert.equal(c.memory.limit, Infinity, '"max" is no limit');
    assert.equal(c.memory.maxUsage, undefined, 'v2 keeps no high-water mark');
    assert.equal(c.memory.failcnt, 2, 'the oom count of memory.events');
    assert.equal(c.memory.stats['inactive_file'], 4001792);
    assert.equal(c.memory.stats['anon'], 52727808);
    assert.equal(Object.keys(c.memory.stats).length, 20);
    assert.deepEqual(c.pids, { current: 3 });
    assert.deepEqual(c.io.serviceBytes, [
      { major: 8, minor: 0, op: 'read', value: 1459200 },
      { major: 8, minor: 0, op: 'write', value: 314773504 },
      { major: 253, minor: 1, op: 'read', value: 4096 },
      { major: 253, minor: 1, op: 'write', value: 0 },
    ]);
    assert.deepEqual(c.io.serviced.map((e) => e.value), [192, 353, 1, 0]);
  });

  it('v2: set limits are read; missing controllers read as zeros', async () => {
    const fs = join(root, 'v2-limits');
    await writeFiles(join(fs, cgroup), { 'cpu.stat': 'usage_usec 10\nuser_usec 6\nsystem_usec 4\n', 'memory.max': '104857600\n', 'pids.max': '64\n', 'pids.current': '1\n' });
    const c = await cgroupCounters(cgroup, '2', fs);
    assert.equal(c.memory.limit, 104857600);
    assert.deepEqual(c.pids, { current: 1, limit: 64 });
    assert.deepEqual(c.cpu, { usageNs: 10000, userNs: 6000, systemNs: 4000, periods: 0, throttledPeriods: 0, throttledNs: 0 });
    assert.equal(c.memory.usage, 0);
    assert.deepEqual(c.memory.stats, {});
    assert.deepEqual(c.io, { serviceBytes: [], serviced: [] });
  });

  it('v1: cpuacct (total, per CPU, user/system ticks), cpu throttling, memory, pids, recursive blkio', async () => {
    const fs = join(root, 'v1');
    await writeFiles(join(fs, 'cpuacct', cgroup), {
      'cpuacct.usage': '354070559\n',
      'cpuacct.usage_percpu': '159407889 194662670 \n',
      'cpuacct.stat': 'user 16\nsystem 19\n',
    });
    await writeFiles(join(fs, 'cpu', cgroup), { 'cpu.stat': 'nr_periods 50\nnr_throttled 5\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n' });
    await writeFiles(join(fs, 'memory', cgroup), {
      'memory.usage_in_bytes': '32346112\n',
      'memory.max_usage_in_bytes': '32702464\n',
      'memory.limit_in_bytes': '9223372036854771712\n',
      'memory.failcnt': '0\n',
      'memory.stat': 'cache 4096\nrss 31760384\ninactive_file 4096\nhierarchical_memory_limit 9223372036854771712\ntotal_cache 4096\ntotal_rss 31760384\ntotal_inactive_file 4096\n',
    });
    await writeFiles(join(fs, 'pids', cgroup), { 'pids.current': '3\n', 'pids.max': 'max\n' });
    await writeFiles(join(fs, 'blkio', cgroup), {
      'blkio.throttle.io_service_bytes_recursive': '254:0 Read 8192\n254:0 Write 1048576\n254:0 Sync 1056768\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 1056768\nTotal 1056768\n',
      'blkio.throttle.io_service_bytes': 'Total 0\n',
      'blkio.throttle.io_serviced_recursive': '254:0 Read 2\n254:0 Write 256\nTotal 258\n',
    });
    const c = await cgroupCounters(cgroup, '1', fs);
    assert.deepEqual(c.cpu, {
      usageNs: 354070559,
      perCpuNs: [159407889, 194662670],
      userNs: 160000000,
      systemNs: 190000000,
      periods: 50,
      throttledPeriods: 5,
      throttledNs: 123456789,
    });
    assert.equal(c.memory.usage, 32346112);
    assert.equal(c.memory.maxUsage, 32702464);
    assert.equal(c.memory.limit, 9223372036854771712, 'unlimited is the kernel huge value, capped later');
    assert.equal(c.memory.stats['total_inactive_file'], 4096);
    assert.deepEqual(c.pids, { current: 3 });
    assert.deepEqual(
      c.io.serviceBytes.filter((e) => e.op === 'Read' || e.op === 'Write'),
      [
        { major: 254, minor: 0, op: 'Read', value: 8192 },
        { major: 254, minor: 0, op: 'Write', value: 1048576 },
      ],
    );
    assert.equal(c.io.serviceBytes.length, 6, 'per-device lines only: the all-devices Total line is left out');
    assert.deepEqual(c.io.serviced.map((e) => e.value), [2, 256]);
  });

  it('a cgroup that is gone (the container exited) is NotFound', async () => {
    await assert.rejects(cgroupCounters('/berth/gone', '2', join(root, 'v2')), NotFound);
    await assert.rejects(cgroupCounters('/berth/gone', '1', join(root, 'v1')), NotFound);
  });

  it("host CPU time: /proc/stat's cpu line in ns (user..softirq, no steal) and the online CPUs", async () => {
    const procStat = join(root, 'stat');
    await writeFile(
      procStat,
      [
        'cpu  122065 0 74137 2121324 8544 0 1018 981 0 0',
        'cpu0 60650 0 34721 1066356 1592 0 158 463 0 0',
        'cpu1 61414 0 39416 1054968 6951 0 860 517 0 0',
        'intr 38416543 0 9 0',
        'ctxt 61270449',
        'btime 1763884800',
        'processes 91031',
        '',
      ].join('\n'),
    );
    const host = await hostCpuTime(procStat);
    assert.equal(host.totalNs, (122065 + 74137 + 2121324 + 8544 + 1018) * 10_000_000);
    assert.equal(host.onlineCpus, 2);
  });
});
