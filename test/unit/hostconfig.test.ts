// The pure parts of run's options, against moby's own rules: tmpfs option merging, device cgroup rules, Go
// durations, healthcheck merging, and the json-file attrs encoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceCgroupRule, extraHost, tmpfsMount } from '../../src/services/containers/hostconfig.js';
import { mergeHealthcheck, probeCommand } from '../../src/services/containers/health.js';
import { logAttrsJson } from '../../src/runtime/logformat.js';
import { formatGoDuration, parseGoDuration } from '../../src/util/duration.js';

describe('run options', () => {
  it('merges tmpfs options as moby/sys/mount does: the last of conflicting options wins', () => {
    assert.deepEqual(tmpfsMount('/t', '').options, ['noexec', 'nosuid', 'nodev', 'rprivate']);
    assert.deepEqual(tmpfsMount('/t', 'exec,size=1m,size=2m,shared').options, ['nosuid', 'nodev', 'exec', 'size=2m', 'shared']);
    assert.deepEqual(tmpfsMount('/t', 'ro,rw,mode=1777,defaults').options, ['noexec', 'nosuid', 'nodev', 'rprivate', 'rw', 'mode=1777']);
    assert.throws(() => tmpfsMount('/t', 'nosuchopt'), /invalid tmpfs option "nosuchopt"/);
    assert.throws(() => tmpfsMount('/t', 'bogus=1'), /invalid tmpfs option "bogus"/);
    assert.throws(() => tmpfsMount('t', ''), /mount path must be absolute/);
    assert.throws(() => tmpfsMount('/', ''), /destination can't be '\/'/);
  });

  it('reads device cgroup rules as moby does, a * meaning any number', () => {
    assert.deepEqual(deviceCgroupRule('c 1:3 mr'), { allow: true, type: 'c', major: 1, minor: 3, access: 'mr' });
    assert.deepEqual(deviceCgroupRule('b 8:* rwm'), { allow: true, type: 'b', major: 8, access: 'rwm' });
    assert.deepEqual(deviceCgroupRule('a *:* m'), { allow: true, type: 'a', access: 'm' });
    for (const bad of ['c 1:3', 'x 1:3 r', 'c 1:3 rwx', 'c one:3 r', 'c 1:3  r']) assert.throws(() => deviceCgroupRule(bad), /invalid device cgroup rule format/);
  });

  it('turns --add-host entries into /etc/hosts lines, and refuses what is not one', () => {
    assert.equal(extraHost('db:10.0.0.1'), '10.0.0.1\tdb');
    assert.equal(extraHost('v6:[::1]'), '::1\tv6');
    assert.equal(extraHost('v6:::1'), '::1\tv6');
    assert.throws(() => extraHost('db:notanip'), /invalid IP address in add-host: "notanip"/);
    assert.throws(() => extraHost('two words:10.0.0.1'), /bad format for add-host/);
    assert.throws(() => extraHost('10.0.0.1'), /invalid IP address|bad format/);
  });

  it('parses and prints Go durations', () => {
    assert.equal(parseGoDuration('300ms'), 300e6);
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('0'), 0);
    for (const bad of ['', '5', '1x', 'ms', '1s2']) assert.throws(() => parseGoDuration(bad), /invalid duration/);
    assert.deepEqual([300e6, 30e9, 90e9, 1.5e9, 3600e9, 250e3].map(formatGoDuration), ['300ms', '30s', '1m30s', '1.5s', '1h0m0s', '250µs']);
  });

  it('merges a healthcheck with its image\'s, and knows which run no probe', () => {
    const image = { Test: ['CMD-SHELL', 'curl -f localhost'], Interval: 5e9, Retries: 5 };
    assert.deepEqual(mergeHealthcheck({ Interval: 1e9 }, image), { Test: image.Test, Interval: 1e9, Timeout: 0, StartPeriod: 0, StartInterval: 0, Retries: 5 });
    assert.equal(mergeHealthcheck(undefined, image), image);
    assert.deepEqual(probeCommand(image), ['/bin/sh', '-c', 'curl -f localhost']);
    assert.deepEqual(probeCommand({ Test: ['CMD', 'true'] }), ['true']);
    for (const none of [{ Test: ['NONE'] }, { Test: [] }, { Test: ['CMD'] }, { Test: ['WEIRD', 'x'] }, undefined]) assert.equal(probeCommand(none), undefined);
  });

  it('encodes json-file attrs as Go marshals a map: sorted keys, HTML characters escaped', () => {
    assert.equal(logAttrsJson({ z: '1', a: '<&>' }), '{"a":"\\u003c\\u0026\\u003e","z":"1"}');
  });
});
