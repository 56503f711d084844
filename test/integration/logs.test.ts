// Container logs as Docker's json-file driver keeps them: the file on disk, what `logs` serves (tail, since, until,
// timestamps, follow, stdout and stderr apart), rotation by --log-opt, the `none` driver, and the journal conmon
// writes being shipped without loss or repeats through journal rotations and a berthd crash. Real containers,
// both CLIs.
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Daemon, type RunResult, startDaemon } from '../harness/daemon.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('container logs', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d.destroy();
  });

  const ok = (r: RunResult, what: string) => {
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    return r.stdout;
  };
  const logPath = async (name: string) => ok(await d.docker(['inspect', '--format', '{{.LogPath}}', name]), 'inspect').trim();
  const entries = async (name: string) =>
    (await readFile(await logPath(name), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { log: string; stream: string; time: string });

  it('stores JSON lines as dockerd does; logs keeps stdout and stderr apart, partial lines whole', async () => {
    ok(await d.docker(['run', '--name', 'disk', 'busybox', 'sh', '-c', 'echo out; echo err >&2; printf "a\\"b<c>"; sleep 0.3; echo " end"']), 'run');
    const lines = await entries('disk');
    // (how stdout and stderr interleave depends on which pipe conmon reads first)
    assert.deepEqual(lines.filter((e) => e.stream === 'stdout').map((e) => e.log), ['out\n', 'a"b<c>', ' end\n'], 'a partial line is an entry without "\\n"');
    assert.deepEqual(lines.filter((e) => e.stream === 'stderr').map((e) => e.log), ['err\n']);
    for (const e of lines) assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    const raw = await readFile(await logPath('disk'), 'utf8');
    assert.match(raw, /^\{"log":"out\\n","stream":"stdout","time":"[^"]+"\}\n/, 'the exact shape and key order');
    assert.match(raw, /\{"log":"a\\"b\\u003cc\\u003e","stream":"stdout"/, 'escaped as moby does');
    for (const cli of [d.docker, d.berth]) {
      const r = await cli(['logs', 'disk']);
      assert.equal(r.stdout, 'out\na"b<c> end\n');
      assert.equal(r.stderr, 'err\n');
    }
    const i = JSON.parse(ok(await d.docker(['inspect', 'disk']), 'inspect'))[0] as { LogPath: string; HostConfig: { LogConfig: unknown } };
    assert.match(i.LogPath, /\/([0-9a-f]{64})\/\1-json\.log$/);
    assert.deepEqual(i.HostConfig.LogConfig, { Type: 'json-file', Config: {} });
  });

  it('the labels, env and tag log options add attrs to every entry, which logs --details shows (both CLIs)', async () => {
    const id = ok(await d.docker(['run', '-d', '--name', 'detailed', '--log-opt', 'labels=team,absent', '--log-opt', 'env=FOO', '--log-opt', 'tag={{.Name}}/{{.ID}}', '-l', 'team=blue<x>', '-e', 'FOO=b r', 'busybox', 'echo', 'hi']), 'run').trim();
    ok(await d.docker(['wait', 'detailed']), 'wait');
    const raw = await readFile(await logPath('detailed'), 'utf8');
    // dockerd's order (log, stream, attrs, time) and Go's map encoding (sorted keys, < and > escaped).
    assert.match(raw, new RegExp(`^\\{"log":"hi\\\\n","stream":"stdout","attrs":\\{"FOO":"b r","tag":"detailed/${id.slice(0, 12)}","team":"blue\\\\u003cx\\\\u003e"\\},"time":"[^"]+"\\}\\n$`));
    for (const cli of [d.docker, d.berth]) {
      assert.equal((await cli(['logs', '--details', 'detailed'])).stdout, `FOO=b+r,tag=detailed%2F${id.slice(0, 12)},team=blue%3Cx%3E hi\n`);
      assert.equal((await cli(['logs', 'detailed'])).stdout, 'hi\n');
      assert.equal((await cli(['logs', '--details', 'disk'])).stdout.split('\n')[0], ' out', 'no attributes: just the space');
    }
  });

  it('--tail, -t, --since and --until (RFC 3339, Unix and relative times), with both CLIs', async () => {
    ok(await d.docker(['run', '--name', 'timed', 'busybox', 'sh', '-c', 'echo one; sleep 1.1; echo two; sleep 1.1; echo three; echo four >&2']), 'run');
    for (const cli of [d.docker, d.berth]) {
      assert.equal((await cli(['logs', '--tail', '2', 'timed'])).stdout, 'three\n');
      assert.equal((await cli(['logs', '--tail', '2', 'timed'])).stderr, 'four\n');
      assert.equal((await cli(['logs', '-n', '0', 'timed'])).stdout, '');
    }
    const stamped = ok(await d.docker(['logs', '-t', 'timed']), 'logs -t').trim().split('\n');
    assert.equal(stamped.length, 3);
    for (const l of stamped) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|two|three)$/);
    assert.equal((await d.berth(['logs', '--timestamps', 'timed'])).stdout.trim().split('\n').join('\n'), stamped.join('\n'));
    const two = (stamped[1] as string).split(' ')[0] as string;
    const twoUnix = (Date.parse(two) / 1000).toFixed(3);
    for (const cli of [d.docker, d.berth]) {
      assert.equal((await cli(['logs', '--since', two, 'timed'])).stdout, 'two\nthree\n');
      assert.equal((await cli(['logs', '--until', two, 'timed'])).stdout, 'one\ntwo\n');
      assert.equal((await cli(['logs', '--since', twoUnix, '--until', two, 'timed'])).stdout, 'two\n');
      assert.equal((await cli(['logs', '--since', '1h', 'timed'])).stdout, 'one\ntwo\nthree\n');
      assert.equal((await cli(['logs', '--until', '1h', 'timed'])).stdout, '');
    }
    const bad = await d.berth(['logs', '--since', 'soon', 'timed']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid value for "since"/);
  });

  it('-f follows what is written after the call and ends when the container exits', async () => {
    ok(await d.docker(['run', '-d', '--name', 'chatty', 'busybox', 'sh', '-c', 'echo before; sleep 1; for i in 1 2 3; do echo after $i; echo warn $i >&2; sleep 0.3; done']), 'run -d');
    await sleep(300);
    const t0 = Date.now();
    const [theirs, ours] = await Promise.all([d.docker(['logs', '-f', 'chatty']), d.berth(['logs', '-f', '--tail', '1', 'chatty'])]);
    assert.ok(Date.now() - t0 > 1000, 'the followers waited for the output');
    assert.equal(theirs.stdout, 'before\nafter 1\nafter 2\nafter 3\n');
    assert.equal(theirs.stderr, 'warn 1\nwarn 2\nwarn 3\n');
    assert.equal(ours.stdout, 'before\nafter 1\nafter 2\nafter 3\n');
    const tty = ok(await d.docker(['run', '-t', '--name', 'tty', 'busybox', 'echo', 'on a tty']), 'run -t');
    assert.equal(tty, 'on a tty\r\n');
    assert.equal((await d.docker(['logs', 'tty'])).stdout, 'on a tty\r\n', 'a TTY container has one raw stream');
    assert.equal((await d.berth(['logs', 'tty'])).stdout, 'on a tty\r\n');
  });

  it('rotates with --log-opt max-size and max-file, and logs shows the kept tail in order', async () => {
    const id = ok(await d.docker(['run', '-d', '--name', 'rotating', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', 'i=1; while [ $i -le 300 ]; do echo line $i; [ $((i % 50)) = 0 ] && sleep 0.1; i=$((i + 1)); done']), 'run -d').trim();
    let most = 0;
    const dir = join(d.dataRoot, 'containers', id);
    while ((await d.docker(['inspect', '--format', '{{.State.Running}}', id])).stdout.trim() === 'true') {
      most = Math.max(most, (await readdir(dir)).filter((f) => f.includes('-json.log')).length);
      await sleep(20);
    }
    ok(await d.docker(['wait', id]), 'wait');
    const files = (await readdir(dir)).filter((f) => f.includes('-json.log')).sort();
    assert.deepEqual(files, [`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2`]);
    assert.ok(most <= 3, `never more than 3 files (saw ${most})`);
    for (const f of files.slice(1)) assert.ok((await stat(join(dir, f))).size < 1100, `${f} was rotated at 1 kB`);
    const shown = ok(await d.docker(['logs', 'rotating']), 'logs').trim().split('\n');
    const first = Number(shown[0]?.split(' ')[1]);
    assert.ok(first > 1 && shown.length < 300, 'the oldest lines are gone');
    assert.deepEqual(shown, Array.from({ length: 300 - first + 1 }, (_, i) => `line ${first + i}`));
    assert.deepEqual((await d.berth(['logs', '--tail', '3', 'rotating'])).stdout, 'line 298\nline 299\nline 300\n');
    const cfg = ok(await d.docker(['inspect', '--format', '{{json .HostConfig.LogConfig}}', 'rotating']), 'inspect').trim();
    assert.deepEqual(JSON.parse(cfg), { Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '3' } });
  });

  it('--log-driver none: the output still reaches an attached client, but nothing is logged', async () => {
    for (const cli of [d.docker, d.berth]) {
      const r = await cli(['run', '--rm', '--log-driver', 'none', 'busybox', 'sh', '-c', 'echo hi; echo ho >&2']);
      assert.equal(r.stdout, 'hi\n');
      assert.equal(r.stderr, 'ho\n');
    }
    ok(await d.docker(['run', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'echo', 'hi']), 'run');
    const logs = await d.docker(['logs', 'quiet']);
    assert.equal(logs.code, 1);
    assert.match(logs.stderr, /configured logging driver does not support reading/);
    assert.equal(ok(await d.docker(['inspect', '--format', '{{.LogPath}} {{json .HostConfig.LogConfig}}', 'quiet']), 'inspect').trim(), '{"Type":"none","Config":{}}');
    const id = ok(await d.docker(['inspect', '--format', '{{.Id}}', 'quiet']), 'inspect').trim();
    assert.deepEqual((await readdir(join(d.dataRoot, 'containers', id))).filter((f) => f.includes('json.log')), []);
  });

  it('bad log options are refused with dockerd\'s messages (exit 125)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--log-opt', 'max-size=abc'], /failed to initialize logging driver: invalid size: 'abc'/],
      [['--log-opt', 'max-size=0'], /max-size must be a positive number/],
      [['--log-opt', 'max-file=0'], /max-file cannot be less than 1/],
      [['--log-opt', 'max-file=x'], /strconv\.Atoi: parsing "x": invalid syntax/],
      [['--log-opt', 'colour=blue'], /unknown log opt 'colour' for json-file log driver/],
      [['--log-driver', 'bogus'], /error looking up logging plugin bogus: plugin "bogus" not found/],
      [['--log-driver', 'none', '--log-opt', 'max-size=1k'], /invalid logging opts for driver none/],
    ];
    for (const [flags, message] of cases) {
      for (const cli of [d.docker, d.berth]) {
        const r = await cli(['run', '--rm', ...flags, 'busybox', 'true']);
        assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
    }
  });

  it('with a bounded log, the journal stays bounded while berthd is down; the newest lines are kept', async () => {
    // ~48 MB of numbered lines written while berthd is down, with max-size=1m: the journal is capped at 16 MiB.
    const script = 'sleep 1; seq 1 6000000';
    const id = ok(await d.docker(['run', '-d', '--name', 'capped', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', script]), 'run -d').trim();
    const journal = join(d.dataRoot, 'containers', id, 'conmon.log');
    await d.kill9();
    let biggest = 0;
    const watch = setInterval(() => void stat(journal).then((s) => (biggest = Math.max(biggest, s.size)), () => {}), 10);
    try {
      for (let i = 0; i < 300 && !(await stat(join(d.dir, 'run', 'containers', id, 'exits', id)).then(() => true, () => false)); i++) await sleep(100);
    } finally {
      clearInterval(watch);
    }
    assert.ok(biggest > 8 << 20 && biggest <= (16 << 20) + 65536, `the journal grew to ${biggest} bytes, no more than the cap`);
    await d.start();
    ok(await d.docker(['wait', id]), 'wait');
    const lines = ok(await d.docker(['logs', 'capped']), 'logs').trim().split('\n');
    assert.equal(lines.at(-1), '6000000', 'the last line is kept');
    const first = Number(lines[0]);
    assert.deepEqual(lines.slice(0, 3), [String(first), String(first + 1), String(first + 2)], 'what is kept is in order');
    ok(await d.docker(['rm', 'capped']), 'rm');
  });

  it('a chatty container loses and repeats no line through journal rotations and a berthd kill -9', async () => {
    // 600,000 numbered lines over about three seconds: ~30 MB of journal, rotated every 8 MiB.
    const script = 'i=0; while [ $i -lt 30 ]; do seq $((i * 20000 + 1)) $((i * 20000 + 20000)); i=$((i + 1)); sleep 0.1; done';
    const id = ok(await d.docker(['run', '-d', '--name', 'numbers', 'busybox', 'sh', '-c', script]), 'run -d').trim();
    const journal = join(d.dataRoot, 'containers', id, 'conmon.log');
    let biggest = 0;
    const watch = setInterval(() => void stat(journal).then((s) => (biggest = Math.max(biggest, s.size)), () => {}), 20);
    try {
      await sleep(1200);
      await d.kill9();
      await sleep(1000); // conmon goes on writing the journal meanwhile
      await d.start();
      ok(await d.docker(['wait', id]), 'wait');
    } finally {
      clearInterval(watch);
    }
    const out = ok(await d.docker(['logs', 'numbers']), 'logs');
    const expected = Array.from({ length: 600_000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(out.length, expected.length, 'as many bytes as written');
    assert.ok(out === expected, 'every line once, in order');
    // Unrotated, it would reach ~30 MB; the margin is for a loaded machine, where berthd's restart (and so the
    // next rotation) comes later while conmon goes on writing.
    assert.ok(biggest < 26_000_000, `the journal was rotated (it reached ${biggest} bytes of ~30 MB)`);
    assert.deepEqual((await readdir(join(d.dataRoot, 'containers', id))).filter((f) => f.startsWith('conmon') || f.startsWith('logship')), [], 'journal and state cleared');
  });
});
