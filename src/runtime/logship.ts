// The log shipper. conmon (which outlives berthd) writes each container's output to a journal, `conmon.log` in the
// container's directory, as CRI "k8s-file" lines; berthd ships the journal into Docker's json-file log
// (`<id>-json.log`, rotated by max-size/max-file as dockerd rotates it), which is what `logs` and attach read.
//
// - Prompt: the journal is watched (inotify, plus a slow poll as a safety net) and shipped as soon as it grows.
// - Bounded: past `journalRotateAt` shipped bytes the journal is renamed to `conmon.log.old` and conmon is told to
//   reopen its log (REOPEN_LOGS_EVENT on its `ctl` fifo). Once the new journal exists conmon writes nothing more
//   to the old one: it is shipped to its end, then deleted.
// - Exactly once across a berthd crash: after each write the position is committed to `logship.json`: the
//   journal's inode and offset, and the json-file's inode and size. On resume the json-file is cut back to the
//   committed size (dropping lines written after the last commit) and shipping goes on from the committed offset,
//   so nothing is lost or repeated. A rotation commits before and after it, and writes nothing to the new file in
//   between, so at most an empty file is uncommitted. Files are found by inode, not name, so a crash halfway
//   through either rotation is recognised. The commit is a rename of a freshly written file without fsync: it
//   survives berthd being killed (the page cache stays); after a host crash neither log is durable anyway, as
//   with dockerd, which does not fsync its logs either.
import { EventEmitter } from 'node:events';
import { type FSWatcher, closeSync, constants, fstatSync, openSync, read, readFileSync, renameSync, statSync, truncateSync, unlinkSync, watch, write, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { JournalConverter, minConvertRoom } from './logformat.js';

/** Where one container's output goes. */
export interface ShipTarget {
  /** The container's directory: the journal and the shipping state live here. */
  dir: string;
  /** conmon's bundle directory, with its `ctl` fifo. */
  ctlDir: string;
  /** The json-file log; `maxSize` -1 means no rotation. */
  log: { path: string; maxSize: number; maxFiles: number };
  /** Attributes every entry carries (the `labels`, `env` and `tag` log options). */
  attrs?: Record<string, string>;
}

/** Journal bytes shipped before the journal is rotated. */
const journalRotateAt = 8 << 20;
/** Journal bytes converted per step. */
const inputChunk = 2 << 20;
const pollMs = 10_000;
const stateFile = 'logship.json';
/** The state record's size: JSON padded with spaces, so a shorter record never leaves stale bytes behind. */
const stateRecordSize = 256;

/** The journal conmon writes in a container directory (pass it to the monitor). */
export function journalPath(dir: string): string {
  return join(dir, 'conmon.log');
}

/** Ships every running container's journal into its json-file log. One per daemon. */
export class LogShipper {
  private readonly shipments = new Map<string, Shipment>();
  private readonly wakeups = new EventEmitter().setMaxListeners(0);

  /** `journalRotateAt`: journal bytes shipped before it is rotated (tests make it small). */
  constructor(
    private readonly log: Logger,
    private readonly o: { journalRotateAt?: number } = {},
  ) {}

  /** Removes what a previous run of the container left (all of it was shipped when that run ended). */
  reset(dir: string): void {
    for (const f of [journalPath(dir), `${journalPath(dir)}.old`, join(dir, stateFile)]) unlinkQuietly(f);
  }

  /** Starts shipping a container's journal, or resumes where a previous berthd left off; no-op if shipping. */
  ship(id: string, target: ShipTarget): void {
    if (this.shipments.has(id)) return;
    const s = new Shipment(target, () => this.wakeups.emit(id), this.log.child({ container: id }), this.o.journalRotateAt ?? journalRotateAt);
    this.shipments.set(id, s);
    s.begin();
  }

  /** Ships what is left (the container has exited, conmon with it) and stops: the json-file log is complete. */
  async drain(id: string): Promise<void> {
    const s = this.shipments.get(id);
    if (!s) return;
    try {
      await s.drain();
    } finally {
      this.shipments.delete(id);
      this.wakeups.emit(id);
    }
  }

  /** Stops shipping at once (the container is being removed). */
  async stop(id: string): Promise<void> {
    const s = this.shipments.get(id);
    this.shipments.delete(id);
    await s?.close();
    this.wakeups.emit(id);
  }

  /**
   * The most the journal may hold, for the monitor's own limit (conmon's `--log-size-max`), when the log itself is
   * bounded (`max-size`): while berthd runs the journal is rotated long before, but while berthd is down the
   * monitor keeps writing and starts a fresh journal at this size, dropping the oldest output as the json-file
   * rotation would have. An unbounded log keeps an unbounded journal, as dockerd's default json-file is unbounded.
   */
  journalCap(target: ShipTarget): number | undefined {
    const { maxSize, maxFiles } = target.log;
    return maxSize > 0 ? Math.max(maxSize * maxFiles, 2 * (this.o.journalRotateAt ?? journalRotateAt)) : undefined;
  }

  /** Calls `fn` whenever the container's json-file log grows or rotates; returns the unsubscribe function. */
  subscribe(id: string, fn: () => void): () => void {
    this.wakeups.on(id, fn);
    return () => this.wakeups.off(id, fn);
  }
}

interface Committed {
  journal: { ino: number; offset: number };
  log: { ino: number; size: number };
}

interface Journal {
  fd: number;
  ino: number;
  /** Shipped (and committed) up to here. */
  offset: number;
}

/** One container's shipping: the journal being read, the json-file being written, and the loop between them. */
class Shipment {
  private readonly converter: JournalConverter;
  private readonly main: string;
  private readonly old: string;
  private readonly statePath: string;
  private journal: Journal | undefined;
  private logFd = -1;
  private logIno = 0;
  private logSize = 0;
  /** conmon was asked to reopen its journal; the old one is being shipped until the new one appears. */
  private rotating = false;
  private fileWatcher: FSWatcher | undefined;
  private dirWatcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  /** Kept between steps while output is heavy (allocating megabytes per step would keep the GC busy). */
  private inputBuffer: Buffer | undefined;
  private outputBuffer: Buffer | undefined;
  /** Something was shipped since the last poll. */
  private busy = false;
  private stateFd = -1;

  constructor(
    private readonly t: ShipTarget,
    private readonly notify: () => void,
    private readonly log: Logger,
    private readonly journalLimit: number,
  ) {
    this.converter = new JournalConverter(t.attrs);
    this.main = journalPath(t.dir);
    this.old = `${this.main}.old`;
    this.statePath = join(t.dir, stateFile);
  }

  begin(): void {
    try {
      this.resume();
    } catch (e) {
      this.log.warn('log shipping could not start', { error: e });
    }
    this.timer = setInterval(() => this.tick(), pollMs);
    this.timer.unref();
    this.kick();
  }

  async drain(): Promise<void> {
    this.stopWatching();
    await this.running;
    try {
      if (!this.journal) this.openJournalIfAny();
      await this.shipToEnd();
      // conmon is gone: whatever it wrote is final. A journal it reopened before exiting comes after the old one.
      if (this.rotating && statSync(this.main, { throwIfNoEntry: false })) {
        this.switchJournal();
        await this.shipToEnd();
      }
    } finally {
      this.closeFiles();
    }
    unlinkQuietly(this.main);
    unlinkQuietly(this.old);
    unlinkQuietly(this.statePath);
  }

  async close(): Promise<void> {
    this.stopWatching();
    await this.running;
    this.closeFiles();
  }

  /** The safety-net poll; a poll period without output also lets the big buffers of a burst go. */
  private tick(): void {
    if (!this.busy) this.inputBuffer = this.outputBuffer = undefined;
    this.busy = false;
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      try {
        await this.pass();
      } catch (e) {
        // Left in the journal: the poll tries again (a full disk, say, may clear).
        this.log.warn('log shipping failed', { error: e });
        return;
      }
    }
  }

  private async pass(): Promise<void> {
    if (!this.journal && !this.openJournalIfAny()) return;
    // Checked before shipping: once the new journal exists, conmon writes nothing more to the old one. conmon
    // also starts a new one by itself at its size limit (see journalCap), without our rename.
    const main = statSync(this.main, { throwIfNoEntry: false });
    const reopened = this.rotating ? main !== undefined : main !== undefined && main.ino !== this.journal?.ino;
    await this.shipToEnd();
    if (this.stopped) return;
    if (reopened) {
      this.switchJournal();
      this.dirty = true;
    } else if (!this.rotating && (this.journal?.offset ?? 0) >= this.journalLimit) {
      this.rotateJournal();
    }
  }

  /** Converts and appends everything complete in the journal. */
  private async shipToEnd(): Promise<void> {
    const j = this.journal;
    if (!j) return;
    for (;;) {
      const available = fstatSync(j.fd).size - j.offset;
      if (available <= 0) return;
      const { input, output } = this.buffers(Math.min(available, inputChunk));
      const n = await readAt(j.fd, input, j.offset);
      const end = input.lastIndexOf(0x0a, n - 1) + 1;
      if (end === 0) return; // a line still being written
      await this.shipLines(j, input, end, output);
    }
  }

  /**
   * An input buffer of `size` bytes and an output buffer for its conversion, in one allocation (the converter
   * moves texts within it). Kept while output is heavy; small and fresh for a few lines.
   */
  private buffers(size: number): { input: Buffer; output: Buffer } {
    if (size < 64 * 1024) {
      const both = Buffer.allocUnsafe(size + minConvertRoom + 2 * size);
      return { input: both.subarray(0, size), output: both.subarray(size) };
    }
    if (!this.inputBuffer || !this.outputBuffer) {
      const both = Buffer.allocUnsafe(inputChunk + minConvertRoom + 2 * inputChunk);
      this.inputBuffer = both.subarray(0, inputChunk);
      this.outputBuffer = both.subarray(inputChunk);
    }
    return { input: this.inputBuffer.subarray(0, size), output: this.outputBuffer };
  }

  private async shipLines(j: Journal, input: Buffer, end: number, out: Buffer): Promise<void> {
    const { maxSize } = this.t.log;
    for (let pos = 0; pos < end; ) {
      if (maxSize > 0 && this.logSize >= maxSize) this.rotateLog();
      const r = this.converter.convert(input, pos, end, out, maxSize > 0 ? maxSize - this.logSize : Infinity);
      // A line too long to convert (conmon writes none) is skipped rather than stuck on.
      const used = r.used > 0 ? r.used : this.skipLine(input, pos);
      await writeAll(this.logFd, out, r.written);
      this.busy = true;
      this.logSize += r.written;
      pos += used;
      j.offset += used;
      this.commit();
      this.notify();
    }
  }

  private skipLine(input: Buffer, pos: number): number {
    const length = input.indexOf(0x0a, pos) + 1 - pos;
    this.log.warn('skipped a journal line too long to convert', { bytes: length });
    return length;
  }

  /** dockerd's rotation: `<log>` → `.1` → … → `.<max-file - 1>` (the oldest dropped), or a fresh file if max-file is 1. */
  private rotateLog(): void {
    const { path, maxFiles } = this.t.log;
    closeSync(this.logFd);
    const aside = `${path}.rotated`; // kept until the commit below, so its inode cannot be reused meanwhile
    if (maxFiles >= 2) {
      unlinkQuietly(`${path}.${maxFiles - 1}`);
      for (let i = maxFiles - 1; i >= 2; i--) renameQuietly(`${path}.${i - 1}`, `${path}.${i}`);
      renameQuietly(path, `${path}.1`);
    } else {
      renameQuietly(path, aside);
    }
    this.openLog(constants.O_TRUNC);
    this.commit();
    unlinkQuietly(aside);
    this.notify();
  }

  private rotateJournal(): void {
    if (!this.journal) return;
    renameSync(this.main, this.old);
    this.rotating = true;
    this.watchDir();
    requestReopen(this.t.ctlDir).catch((e: unknown) => this.log.debug('conmon did not take the reopen request (exiting?)', { error: e }));
  }

  /** The old journal is shipped to its end: go on with the one conmon reopened. */
  private switchJournal(): void {
    const previous = this.journal;
    const fd = openSync(this.main, 'r');
    this.journal = { fd, ino: fstatSync(fd).ino, offset: 0 };
    this.commit();
    if (previous) closeSync(previous.fd);
    unlinkQuietly(this.old);
    this.rotating = false;
    this.dirWatcher?.close();
    this.dirWatcher = undefined;
    this.watchFile();
  }

  /** Opens the files where the last commit left them: the json-file cut back to its committed size. */
  private resume(): void {
    const state = readState(this.statePath);
    this.repairLog(state);
    this.openLog(0);
    const old = statSync(this.old, { throwIfNoEntry: false });
    if (state && old?.ino === state.journal.ino) {
      this.journal = openJournal(this.old, state.journal.offset);
      this.rotating = true;
      this.watchDir();
      // A crash between the rename and the request: ask again (never twice once the new journal exists, as a
      // second reopen would replace it with an empty file).
      if (!statSync(this.main, { throwIfNoEntry: false })) requestReopen(this.t.ctlDir).catch(() => {});
    } else {
      if (old) unlinkQuietly(this.old); // shipped: the commit had moved on to the new journal
      const main = statSync(this.main, { throwIfNoEntry: false });
      if (main) this.journal = openJournal(this.main, state && main.ino === state.journal.ino ? state.journal.offset : 0);
    }
    this.commit();
    this.watchFile();
  }

  /** Drops what was written to the json-file after the last commit. */
  private repairLog(state: Committed | undefined): void {
    const { path } = this.t.log;
    unlinkQuietly(`${path}.rotated`);
    if (!state) return;
    const current = statSync(path, { throwIfNoEntry: false });
    if (current?.ino === state.log.ino) {
      if (current.size > state.log.size) truncateSync(path, state.log.size);
    } else if (current && current.size > 0) {
      truncateSync(path, 0); // begun after an uncommitted rotation: nothing in it is committed
    }
  }

  private openJournalIfAny(): boolean {
    const main = statSync(this.main, { throwIfNoEntry: false });
    if (!main) return false;
    this.journal = openJournal(this.main, 0);
    this.commit();
    this.watchFile();
    return true;
  }

  private openLog(extraFlags: number): void {
    this.logFd = openSync(this.t.log.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | extraFlags, 0o640);
    const st = fstatSync(this.logFd);
    this.logIno = st.ino;
    this.logSize = st.size;
  }

  /**
   * Records how far shipping got. One write of a fixed-size record at the start of the file: a single small
   * write is never seen torn after the writer dies (a rename per step costs more, ext4 flushing on replace).
   */
  private commit(): void {
    const state: Committed = { journal: { ino: this.journal?.ino ?? 0, offset: this.journal?.offset ?? 0 }, log: { ino: this.logIno, size: this.logSize } };
    if (this.stateFd < 0) this.stateFd = openSync(this.statePath, constants.O_WRONLY | constants.O_CREAT, 0o600);
    writeSync(this.stateFd, JSON.stringify(state).padEnd(stateRecordSize), 0);
  }

  private watchFile(): void {
    if (this.stopped) return;
    this.fileWatcher?.close();
    this.fileWatcher = undefined;
    try {
      this.fileWatcher = watch(this.rotating ? this.old : this.main, () => this.kick());
      this.fileWatcher.on('error', () => {});
    } catch {
      // no inotify: the poll still ships
    }
  }

  private watchDir(): void {
    if (this.dirWatcher || this.stopped) return;
    try {
      this.dirWatcher = watch(this.t.dir, (_event, name) => {
        if (name === 'conmon.log') this.kick();
      });
      this.dirWatcher.on('error', () => {});
    } catch {
      // the poll notices the new journal
    }
  }

  private stopWatching(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.fileWatcher?.close();
    this.dirWatcher?.close();
    this.fileWatcher = this.dirWatcher = undefined;
  }

  private closeFiles(): void {
    if (this.journal) closeQuietly(this.journal.fd);
    for (const fd of [this.logFd, this.stateFd]) if (fd >= 0) closeQuietly(fd);
    this.journal = undefined;
    this.logFd = this.stateFd = -1;
    this.inputBuffer = this.outputBuffer = undefined;
  }
}

function openJournal(path: string, offset: number): Journal {
  const fd = openSync(path, 'r');
  return { fd, ino: fstatSync(fd).ino, offset };
}

function readState(path: string): Committed | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Committed;
  } catch {
    return undefined;
  }
}

/** conmon's REOPEN_LOGS_EVENT, through its ctl fifo; non-blocking, so a gone conmon fails at once (ENXIO). */
async function requestReopen(ctlDir: string): Promise<void> {
  const fifo = await open(join(ctlDir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await fifo.write('2 0 0\n');
  } finally {
    await fifo.close();
  }
}

function readAt(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (e, n) => (e ? reject(e) : resolve(n))));
}

async function writeAll(fd: number, buf: Buffer, length: number): Promise<void> {
  for (let off = 0; off < length; ) {
    off += await new Promise<number>((resolve, reject) => write(fd, buf, off, length - off, null, (e, n) => (e ? reject(e) : resolve(n))));
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}

function renameQuietly(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    // a rotated file that does not exist yet
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
