// What `compose` prints besides tables: the progress of each object (Compose v2's `Container x  Started` lines,
// redrawn as a block on a terminal), and container output with a coloured `name |` prefix per container.
import type { Progress, ResourceKind } from '../../compose/index.js';

interface Row {
  kind: ResourceKind;
  name: string;
  status: string;
  error: boolean;
  started: number;
  ended?: number;
}

const doneStatuses = new Set(['Created', 'Started', 'Running', 'Stopped', 'Removed', 'Recreated', 'Healthy', 'Exited', 'Killed', 'Paused', 'Unpaused', 'Pulled', 'Built', 'Skipped', 'Error']);

/**
 * A progress reporter. Plain (not a terminal, or `--progress plain`): a line per change, as Compose v2 prints
 * them. On a terminal: Compose's block (`[+] Running 2/2`, one line per object with its elapsed time), redrawn in
 * place at most every 100 ms and once more at the end.
 */
export class ProgressPrinter {
  private readonly rows: Row[] = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly mode: 'tty' | 'plain' | 'json' | 'quiet';

  constructor(
    mode: string,
    private readonly title = 'Running',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.mode = mode === 'auto' ? (stream.isTTY === true ? 'tty' : 'plain') : (mode as ProgressPrinter['mode']);
  }

  readonly report: Progress = (kind, name, status, error = false) => {
    if (this.mode === 'quiet') return;
    if (this.mode === 'plain') {
      this.stream.write(` ${kind} ${name}  ${status}\n`);
      return;
    }
    if (this.mode === 'json') {
      // Compose v2's machine-readable stream: one object per event, the same ids and statuses as the plain lines
      this.stream.write(`${JSON.stringify({ id: `${kind} ${name}`, status })}\n`);
      return;
    }
    let row = this.rows.find((r) => r.kind === kind && r.name === name);
    if (!row) this.rows.push((row = { kind, name, status, error, started: Date.now() }));
    row.status = status;
    row.error = error;
    row.ended = doneStatuses.has(status) ? Date.now() : undefined;
    this.timer ??= setTimeout(() => this.draw(), 100);
  };

  /** Draws the last state (call before printing anything else, and at the end). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.mode === 'tty' && this.rows.length) this.draw();
  }

  private draw(): void {
    this.timer = undefined;
    const done = this.rows.filter((r) => r.ended !== undefined).length;
    const width = Math.max(...this.rows.map((r) => r.kind.length + r.name.length + 1));
    const lines = [`[+] ${this.title} ${done}/${this.rows.length}`];
    for (const r of this.rows) {
      const mark = r.error ? '\x1b[31m✘\x1b[0m' : r.ended !== undefined ? '\x1b[32m✔\x1b[0m' : '⠿';
      const secs = (((r.ended ?? Date.now()) - r.started) / 1000).toFixed(1);
      lines.push(` ${mark} ${`${r.kind} ${r.name}`.padEnd(width)}  ${r.status.padEnd(12)} ${secs.padStart(6)}s`);
    }
    const up = this.drawn ? `\x1b[${this.drawn}A` : '';
    this.stream.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawn = lines.length;
  }
}

const colours = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

/**
 * Prefixes container output lines with `name  | ` (names padded to the longest), coloured per container on a
 * terminal, as `compose logs` and attached `up` do.
 */
export class LogPrinter {
  private width = 0;
  private next = 0;
  private readonly colour = new Map<string, number>();

  constructor(
    private readonly o: { color: boolean; prefix: boolean; timestamps?: boolean },
    names: string[] = [],
  ) {
    for (const n of names) this.register(n);
  }

  register(name: string): void {
    this.width = Math.max(this.width, name.length);
    if (!this.colour.has(name)) this.colour.set(name, colours[this.next++ % colours.length]!);
  }

  private prefix(name: string): string {
    if (!this.o.prefix) return '';
    const text = `${name.padEnd(this.width)} | `;
    return this.o.color ? `\x1b[${this.colour.get(name)}m${text}\x1b[0m` : text;
  }

  /** A line-buffered writer for one container's stream. */
  writer(name: string, out: NodeJS.WriteStream = process.stdout): { write(chunk: Buffer): void; end(): void } {
    this.register(name);
    let pending = '';
    return {
      write: (chunk) => {
        pending += chunk.toString('utf8');
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          out.write(`${this.prefix(name)}${pending.slice(0, nl + 1)}`);
          pending = pending.slice(nl + 1);
        }
      },
      end: () => {
        if (pending) out.write(`${this.prefix(name)}${pending}\n`);
        pending = '';
      },
    };
  }

  /** A line of Compose's own about a container (`web-1 exited with code 0`). */
  event(name: string, text: string): void {
    const who = this.o.color ? `\x1b[${this.colour.get(name) ?? 0}m${name}\x1b[0m` : name;
    process.stdout.write(`${who} ${text}\n`);
  }
}

/**
 * Reads a container's log or attach stream: multiplexed frames (no TTY) go to the stdout/stderr writers, a TTY's
 * raw bytes to stdout. Resolves when the stream ends.
 */
export async function pipeContainerStream(stream: AsyncIterable<Buffer | string>, tty: boolean, out: { write(b: Buffer): void; end(): void }, err = out): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      const data: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (tty) {
        out.write(data);
        continue;
      }
      buf = buf.length ? Buffer.concat([buf, data]) : data;
      while (buf.length >= 8) {
        const size = buf.readUInt32BE(4);
        if (buf.length < 8 + size) break;
        (buf[0] === 2 ? err : out).write(buf.subarray(8, 8 + size));
        buf = buf.subarray(8 + size);
      }
    }
  } finally {
    out.end();
    if (err !== out) err.end();
  }
}
