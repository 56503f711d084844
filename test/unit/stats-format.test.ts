// `berth stats` rows from stats frames: docker's CPU %, memory without the inactive page cache (v1 and v2 keys),
// block I/O by operation, and its units.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type StatsFrame, statsRow, usageOf } from '../../src/cli/commands/stats.js';

const GiB = 1024 ** 3;

describe('stats rows', () => {
  it('CPU % is the container share of the host CPU time between the two reads, times the CPUs', () => {
    const f: StatsFrame = {
      name: '/busy',
      id: 'a'.repeat(64),
      cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 24_000_000_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 22_000_000_000 },
    };
    const row = statsRow('busy', usageOf(f), false, true);
    assert.equal(row['CPUPerc'], '100.00%');
    assert.equal(row['Name'], 'busy');
    assert.equal(row['ID'], 'aaaaaaaaaaaa');
    // Without online_cpus, the per-CPU list gives the count; a first frame (no precpu) still computes.
    const perCpu: StatsFrame = { cpu_stats: { cpu_usage: { total_usage: 500, percpu_usage: [250, 250, 0, 0] }, system_cpu_usage: 4000 } };
    assert.equal(usageOf(perCpu).cpuPercent, 50);
  });

  it('memory leaves out inactive file pages: total_inactive_file on v1, inactive_file on v2', () => {
    const v1 = usageOf({ memory_stats: { usage: 3 * 1024 * 1024, limit: 23.5 * GiB, stats: { total_inactive_file: 1.5 * 1024 * 1024, inactive_file: 0 } } });
    assert.equal(statsRow('x', v1, false, true)['MemUsage'], '1.5MiB / 23.5GiB');
    const v2 = usageOf({ memory_stats: { usage: 200 * 1024 * 1024, limit: 400 * 1024 * 1024, stats: { inactive_file: 100 * 1024 * 1024 } } });
    assert.equal(v2.memory, 100 * 1024 * 1024);
    assert.equal(statsRow('x', v2, false, true)['MemPerc'], '25.00%');
  });

  it('block I/O sums reads and writes in decimal units; a stopped container is all zeros', () => {
    const u = usageOf({
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 1_500_000 },
          { op: 'Write', value: 2_000 },
          { op: 'Total', value: 1_502_000 },
          { op: 'read', value: 500_000 },
        ],
      },
    });
    assert.equal(statsRow('x', u, false, true)['BlockIO'], '2MB / 2kB');
    const stopped = statsRow('gone', usageOf({ name: '/gone', id: 'b'.repeat(64), memory_stats: {}, blkio_stats: { io_service_bytes_recursive: null } }), false, false);
    assert.deepEqual(stopped, {
      Container: 'gone',
      Name: 'gone',
      ID: 'b'.repeat(64),
      CPUPerc: '0.00%',
      MemUsage: '0B / 0B',
      MemPerc: '0.00%',
      NetIO: '0B / 0B',
      BlockIO: '0B / 0B',
      PIDs: '0',
    });
  });

  it('a container without data shows dashes', () => {
    const row = statsRow('x', usageOf({}), true, true);
    assert.deepEqual([row['Name'], row['CPUPerc'], row['MemUsage'], row['PIDs']], ['--', '--', '-- / --', '--']);
  });
});
