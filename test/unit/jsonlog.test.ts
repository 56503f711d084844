// Docker's json-file logs: the conversion of conmon's journal (format and escaping as dockerd writes them), the
// parser that reads them back, the reader of a rotated log set (tail, since/until, follow across rotations), and
// the shipper (rotation, journal rotation through conmon's ctl fifo, resuming after a crash without loss or
// repeats). On temp files, with a fake conmon where one is needed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, existsSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { appendFile, mkdir, mkdtemp, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JournalConverter, LogBatch, LogShipper, fixedTime, readJsonLog, utcTime, type LogFollow } from '../../src/runtime/index.js';
import { createLogger } from '../../src/util/logger.js';

const stamp = '2026-11-23T08:52:44.034500800+00:00';
const time = '2026-11-23T08:52:44.0345008Z';

/** conmon's journal line. */
const k8s = (text: string | Buffer, o: { stream?: 'stdout' | 'stderr'; partial?: boolean; at?: string } = {}) =>
  Buffer.concat([Buffer.from(`${o.at ?? stamp} ${o.stream ?? 'stdout'} ${o.partial ? 'P' : 'F'} `), Buffer.from(text), Buffer.from('\n')]);

function convert(input: Buffer, limit = Infinity, room = 1 << 20): { out: string; used: number; limitReached: boolean } {
  const out = Buffer.alloc(Math.max(room, 1 << 20));
  const r = new JournalConverter().convert(input, 0, input.length, out, limit);
  return { out: out.subarray(0, r.written).toString('latin1'), used: r.used, limitReached: r.limitReached };
}

const jsonLine = (log: string, stream = 'stdout', t = time) => `{"log":${log},"stream":"${stream}","time":"${t}"}\n`;

/** Go's encoding of a log text, written independently of the converter: a reference for the random test. */
function goQuote(bytes: Buffer): string {
  let out = '"';
  const text = bytes.toString('utf8'); // the random texts below hold valid UTF-8 and lone 0xff bytes only
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&') out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c === 0xfffd) out += '\\ufffd';
    else out += Buffer.from(ch, 'utf8').toString('latin1');
  }
  return `${out}"`;
}

describe('journal conversion', () => {
  it('writes complete lines as dockerd does, times in UTC with trailing zeros trimmed', () => {
    const r = convert(Buffer.concat([k8s('hello'), k8s('oops', { stream: 'stderr' }), k8s('', {})]));
    assert.equal(r.out, jsonLine('"hello\\n"') + jsonLine('"oops\\n"', 'stderr') + jsonLine('"\\n"'));
    assert.equal(utcTime('2026-01-02T03:04:05.120000000+02:00'), '2026-01-02T01:04:05.12Z');
    assert.equal(utcTime('2026-01-01T00:30:00.000000000-01:00'), '2026-01-01T01:30:00Z');
    assert.equal(fixedTime('2026-01-01T01:30:00Z'), '2026-01-01T01:30:00.000000000Z');
    assert.equal(fixedTime('2026-01-01T01:30:00.5Z'), '2026-01-01T01:30:00.500000000Z');
  });

  it('escapes as moby\'s encoder: short forms for " \\ \\n \\r, \\u00XX for other controls and < > &, \\ufffd per bad byte', () => {
    const text = Buffer.concat([Buffer.from('a<b>&"\\ \t\x01\x7f é \u2028'), Buffer.from([0xff, 0xfe, 0xe2, 0x82, 0x61]), Buffer.from('\r')]);
    const r = convert(k8s(text));
    assert.equal(r.out, jsonLine('"a\\u003cb\\u003e\\u0026\\"\\\\ \\u0009\\u0001\x7f \xc3\xa9 \\u2028\\ufffd\\ufffd\\ufffd\\ufffda\\r\\n"'));
    assert.deepEqual(JSON.parse(Buffer.from(r.out, 'latin1').toString('utf8')).log, 'a<b>&"\\ \t\x01\x7f é \u2028\ufffd\ufffd\ufffd\ufffda\r\n');
  });

  it('joins a partial line with what directly follows on its stream, and ships a lone one at once', () => {
    const later = '2026-11-23T08:52:45.000000001+00:00';
    const joined = convert(Buffer.concat([k8s('ab', { partial: true }), k8s('cd', { at: later })]));
    assert.equal(joined.out, jsonLine('"abcd\\n"'), 'one entry, with the time of its first part');
    const apart = convert(Buffer.concat([k8s('ab', { partial: true }), k8s('x', { stream: 'stderr' }), k8s('cd')]));
    assert.equal(apart.out, jsonLine('"ab"') + jsonLine('"x\\n"', 'stderr') + jsonLine('"cd\\n"'));
    const prompt = convert(k8s('$ ', { partial: true }));
    assert.equal(prompt.out, jsonLine('"$ "'));
    const long = convert(Buffer.concat([k8s('a'.repeat(10000), { partial: true }), k8s('b'.repeat(10000), { partial: true }), k8s('c')]));
    assert.equal(long.out, jsonLine(`"${'a'.repeat(10000)}"`) + jsonLine(`"${'b'.repeat(10000)}c\\n"`), 'no entry over 16 KiB');
  });

  it('stops after the entry that reaches the limit, and skips lines conmon never writes', () => {
    const input = Buffer.concat([k8s('one'), Buffer.from('garbage\n'), k8s('two'), k8s('three')]);
    const first = convert(input, 10);
    assert.equal(first.out, jsonLine('"one\\n"'));
    assert.ok(first.limitReached);
    assert.equal(first.used, k8s('one').length);
    assert.equal(convert(input).out, jsonLine('"one\\n"') + jsonLine('"two\\n"') + jsonLine('"three\\n"'));
    assert.equal(convert(Buffer.from(`${stamp} stdout F incomplete`)).used, 0, 'a line without its newline waits');
  });

  it('matches a reference encoder on random texts, across conversion windows', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = ['a', 'b', ' ', '"', '\\', '<', '>', '&', '\t', '\x01', '\x1f', '\x7f', 'é', '→', '😀', '\u2028', '\r'];
    const lines: Buffer[] = [];
    let expected = '';
    for (let i = 0; i < 5000; i++) {
      const parts: Buffer[] = [];
      for (let n = rand(60); n > 0; n--) parts.push(rand(40) === 0 ? Buffer.from([0xff]) : Buffer.from(alphabet[rand(alphabet.length)] as string));
      const text = Buffer.concat(parts);
      const stream = rand(4) === 0 ? 'stderr' : 'stdout';
      lines.push(k8s(text, { stream }));
      expected += jsonLine(goQuote(Buffer.concat([text, Buffer.from('\n')])), stream);
    }
    for (let i = 0; i < 3000; i++) lines.push(k8s('x'.repeat(rand(100)), { partial: true }), k8s('y'));
    const input = Buffer.concat(lines);
    const r = convert(input, Infinity, 8 << 20);
    assert.equal(r.used, input.length);
    const head = Buffer.from(r.out, 'latin1').toString('latin1', 0, Buffer.byteLength(expected, 'latin1'));
    assert.equal(head, expected);
    const { batch } = LogBatch.parse(Buffer.from(r.out, 'latin1'), Buffer.byteLength(r.out, 'latin1'));
    assert.equal(batch.length, 5000 + 3000, 'every partial line was joined with its continuation, window cuts or not');
  });
});

describe('parsing json-file lines', () => {
  it('reads back texts, streams and times, through the fast path and the slow one', () => {
    const texts = ['plain', 'with "quotes" and \\ and <tags>', 'tab\there é', 'partial'];
    const input = Buffer.concat(texts.map((t, i) => k8s(t, { partial: i === 3, stream: i === 1 ? 'stderr' : 'stdout' })));
    const out = Buffer.alloc(1 << 20);
    const n = new JournalConverter().convert(input, 0, input.length, out).written;
    const foreign = Buffer.from(`{"stream":"stderr","time":"${time}","log":"foreign\\n"}\nnot json\n{"log":"torn`);
    const all = Buffer.concat([out.subarray(0, n), foreign]);
    const { batch, used } = LogBatch.parse(all, all.length);
    assert.equal(used, all.length - '{"log":"torn'.length, 'the torn last line is left for later');
    assert.equal(batch.length, 5);
    assert.deepEqual(
      Array.from({ length: batch.length }, (_, i) => [batch.stream(i), batch.text(i).toString(), batch.time(i)]),
      [
        ['stdout', 'plain\n', time],
        ['stderr', 'with "quotes" and \\ and <tags>\n', time],
        ['stdout', 'tab\there é\n', time],
        ['stdout', 'partial', time],
        ['stderr', 'foreign\n', time],
      ],
    );
    assert.equal(batch.timestamp(0), '2026-11-23T08:52:44.034500800Z');
    batch.skip(1);
    batch.truncate(2);
    assert.deepEqual([batch.length, batch.text(0).toString(), batch.text(1).toString()], [2, 'with "quotes" and \\ and <tags>\n', 'tab\there é\n']);
  });
});

/** A json-file line at second `s` of a fixed minute. */
const entry = (text: string, s: number) => jsonLine(JSON.stringify(`${text}\n`), 'stdout', `2026-11-23T08:00:${String(s).padStart(2, '0')}.5Z`);

async function collect(gen: AsyncGenerator<LogBatch>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of gen) for (let i = 0; i < b.length; i++) out.push(b.text(i).toString().trimEnd());
  return out;
}

describe('reading a rotated log set', () => {
  let dir: string;
  let path: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-jsonlog-'));
    path = join(dir, 'c-json.log');
    await writeFile(`${path}.2`, entry('a', 1) + entry('b', 2));
    await writeFile(`${path}.1`, entry('c', 3) + entry('d', 4));
    await writeFile(path, entry('e', 5) + entry('f', 6) + '{"log":"torn');
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const files = () => ({ path, maxFiles: 3 });

  it('reads oldest first; tail reads backwards across files; since/until filter by time', async () => {
    assert.deepEqual(await collect(readJsonLog(files())), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(await collect(readJsonLog(files(), { tail: 3 })), ['d', 'e', 'f']);
    assert.deepEqual(await collect(readJsonLog(files(), { tail: 2 })), ['e', 'f']);
    assert.deepEqual(await collect(readJsonLog(files(), { tail: 0 })), []);
    assert.deepEqual(await collect(readJsonLog(files(), { tail: 100 })), ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(await collect(readJsonLog(files(), { since: '2026-11-23T08:00:03.000000000Z', until: '2026-11-23T08:00:05.500000000Z' })), ['c', 'd', 'e']);
    assert.deepEqual(await collect(readJsonLog(files(), { tail: 4, since: '2026-11-23T08:00:04Z' })), ['d', 'e', 'f']);
    assert.deepEqual(await collect(readJsonLog({ path: join(dir, 'none.log'), maxFiles: 1 })), []);
  });

  it('follows the current file across a rotation until the writer is done, from a given position', async () => {
    const p = join(dir, 'f-json.log');
    await writeFile(p, entry('old', 1));
    const wakes = new Set<() => void>();
    let done = false;
    const follow: LogFollow = {
      subscribe: (w) => (wakes.add(w), () => wakes.delete(w)),
      done: () => done,
    };
    const wake = () => wakes.forEach((w) => w());
    const { logEnd } = await import('../../src/runtime/index.js');
    const reader = collect(readJsonLog({ path: p, maxFiles: 2 }, { after: logEnd(p) as { ino: number; size: number }, follow }));
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(p, entry('one', 2));
    wake();
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(p, entry('two', 3));
    await rename(p, `${p}.1`); // rotated: the follower finishes the old file, then reopens the path
    await writeFile(p, entry('three', 4));
    wake();
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(p, entry('four', 5));
    done = true;
    wake();
    assert.deepEqual(await reader, ['one', 'two', 'three', 'four']);
  });
});

describe('the log shipper', () => {
  let root: string;
  const log = createLogger('error');
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-logship-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function container(name: string, maxSize = -1, maxFiles = 1) {
    const dir = join(root, name);
    await mkdir(dir);
    return { dir, ctlDir: dir, log: { path: join(dir, `${name}-json.log`), maxSize, maxFiles } };
  }
  const lines = (from: number, to: number) => Buffer.concat(Array.from({ length: to - from }, (_, i) => k8s(String(from + i))));
  async function shipped(path: string): Promise<string[]> {
    const set = [];
    for (let i = 9; i >= 1; i--) if (existsSync(`${path}.${i}`)) set.push(`${path}.${i}`);
    set.push(path);
    let text = '';
    for (const f of set) text += await readFile(f, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { log: string }).log.trimEnd());
  }
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));
  const waitFor = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(await check());
  };

  it('ships as the journal grows; the drain completes the log and clears the journal', async () => {
    const t = await container('plain');
    const shipper = new LogShipper(log);
    await writeFile(join(t.dir, 'conmon.log'), lines(0, 10));
    let wakes = 0;
    shipper.subscribe('plain', () => wakes++);
    shipper.ship('plain', t);
    await waitFor(async () => (await shipped(t.log.path)).length === 10);
    await appendFile(join(t.dir, 'conmon.log'), lines(10, 20));
    await waitFor(async () => (await shipped(t.log.path)).length === 20);
    assert.ok(wakes >= 2, 'followers are woken');
    await appendFile(join(t.dir, 'conmon.log'), lines(20, 25));
    await shipper.drain('plain');
    assert.deepEqual(await shipped(t.log.path), range(0, 25));
    assert.deepEqual((await readdir(t.dir)).sort(), ['plain-json.log']);
  });

  it('follows a journal the monitor replaced on its own at its size cap: the old one to its end, then the new', async () => {
    const t = await container('capped');
    const shipper = new LogShipper(log);
    const journal = join(t.dir, 'conmon.log');
    await writeFile(journal, lines(0, 10));
    shipper.ship('capped', t);
    await waitFor(async () => (await shipped(t.log.path)).length === 10);
    // As conmon's --log-size-max does: a fresh file renamed over the journal, after the last lines of the old.
    await appendFile(journal, lines(10, 15));
    await writeFile(`${journal}.tmp`, lines(15, 20));
    await rename(`${journal}.tmp`, journal);
    await waitFor(async () => (await shipped(t.log.path)).length === 20);
    await appendFile(journal, lines(20, 22));
    await shipper.drain('capped');
    assert.deepEqual(await shipped(t.log.path), range(0, 22));
  });

  it('caps the journal only for a bounded log, above the size it is rotated at', async () => {
    const shipper = new LogShipper(log, { journalRotateAt: 1 << 20 });
    assert.equal(shipper.journalCap(await container('unbounded')), undefined);
    assert.equal(shipper.journalCap(await container('small', 1000, 3)), 2 << 20);
    assert.equal(shipper.journalCap(await container('big', 10 << 20, 3)), 30 << 20);
  });

  it('rotates like dockerd: never more than max-file files, the newest lines kept in order', async () => {
    const t = await container('rot', 1000, 3);
    const shipper = new LogShipper(log);
    await writeFile(join(t.dir, 'conmon.log'), lines(0, 200));
    shipper.ship('rot', t);
    await shipper.drain('rot');
    const files = (await readdir(t.dir)).sort();
    assert.deepEqual(files, ['rot-json.log', 'rot-json.log.1', 'rot-json.log.2']);
    const kept = await shipped(t.log.path);
    assert.deepEqual(kept, range(200 - kept.length, 200));
    for (const f of files.slice(1)) {
      const size = (await readFile(join(t.dir, f))).length;
      assert.ok(size >= 1000 && size < 1100, `${f} is rotated once it reaches max-size (${size} bytes)`);
    }
  });

  it('resumes after a crash without losing or repeating lines, dropping what was written after the last commit', async () => {
    const t = await container('crash');
    const journal = join(t.dir, 'conmon.log');
    await writeFile(journal, lines(0, 50));
    const first = new LogShipper(log);
    first.ship('crash', t);
    await waitFor(async () => (await shipped(t.log.path)).length === 50);
    await first.stop('crash'); // as if berthd died: nothing drained, the state left as it was
    await appendFile(t.log.path, jsonLine('"uncommitted\\n"')); // a write that its commit never followed
    await appendFile(journal, lines(50, 80)); // conmon goes on while berthd is down
    const second = new LogShipper(log);
    second.ship('crash', t);
    await second.drain('crash');
    assert.deepEqual(await shipped(t.log.path), range(0, 80));
  });

  it('resumes after a crash between a rotation and its commit', async () => {
    const t = await container('midrotation', -1, 2);
    const journal = join(t.dir, 'conmon.log');
    await writeFile(journal, lines(0, 30));
    const first = new LogShipper(log);
    first.ship('midrotation', t);
    await waitFor(async () => (await shipped(t.log.path)).length === 30);
    await first.stop('midrotation');
    // The rotation renamed the file and made a new one, then berthd died before committing it.
    await rename(t.log.path, `${t.log.path}.1`);
    await writeFile(t.log.path, jsonLine('"uncommitted\\n"'));
    await appendFile(journal, lines(30, 40));
    const second = new LogShipper(log);
    second.ship('midrotation', t);
    await second.drain('midrotation');
    assert.deepEqual(await shipped(t.log.path), range(0, 40));
  });

  it('rotates the journal through conmon\'s ctl fifo, losslessly', async () => {
    const t = await container('journal');
    const journal = join(t.dir, 'conmon.log');
    execFileSync('mkfifo', [join(t.dir, 'ctl')]);
    await writeFile(journal, '');
    // A fake conmon: writes through its open descriptor; on "2 0 0" reopens its log as conmon does (a new file
    // renamed into place), one thing at a time.
    let fh = await open(journal, 'a');
    let queue = Promise.resolve();
    const serially = (fn: () => Promise<void>) => (queue = queue.then(fn));
    let reopens = 0;
    // Read through libuv's pipe handling (a file stream's pending read would keep it from closing).
    const ctl = new Socket({ fd: openSync(join(t.dir, 'ctl'), constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
    ctl.on('data', (d) => {
      if (!String(d).includes('2 0 0')) return;
      void serially(async () => {
        await fh.close();
        fh = await open(`${journal}.tmp`, 'w');
        await rename(`${journal}.tmp`, journal);
        reopens++;
      });
    });
    const shipper = new LogShipper(log, { journalRotateAt: 2000 });
    shipper.ship('journal', t);
    for (let i = 0; i < 2000; i += 20) {
      await serially(async () => void (await fh.write(lines(i, i + 20))));
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(async () => (await shipped(t.log.path)).length === 2000);
    ctl.destroy();
    await serially(() => fh.close());
    await shipper.drain('journal');
    assert.ok(reopens >= 2, `the journal was rotated (${reopens} times)`);
    assert.deepEqual(await shipped(t.log.path), range(0, 2000));
    assert.equal(existsSync(`${journal}.old`), false);
  });
});
