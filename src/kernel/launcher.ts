// Short-lived programs (runc start/delete, mount, umount, nft, ip -n …) run through one long-lived /bin/sh.
//
// Why not child_process directly: Node (libuv) starts a program with fork(), and the event loop waits until the
// child has exec'd. Forking berthd (~80 MB resident) costs ~8-10 ms here, during which no request moves: under a
// compose up or down that was a third of berthd's CPU. A shell forks in a fraction of a millisecond and does so in
// its own process, so berthd only writes a line. Programs that live on (conmon, the DNS server) or stream
// (zstd) still use child_process.
//
// The protocol, one line per program to the shell's stdin (arguments single-quoted, so nothing is expanded):
//   ( { 'prog' 'arg' … <in >out 2>err & echo "p N $!"; wait $!; echo "d N $?"; } & )
// The outer subshell returns at once (the shell never accumulates jobs), the group runs in the background and
// reports the program's pid and then its exit status on the shell's stdout; stdin, stdout and stderr are files in
// the launcher's directory (on /run), read and removed when the status arrives. If the shell dies, the programs
// it was waiting for fail and the next call starts another.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A program that failed: the shape of child_process.execFile's errors (callers read `stderr` and `code`). */
export class ProgramError extends Error {
  constructor(
    message: string,
    readonly code: number | string,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface RunOptions {
  /** Written to the program's stdin (else it reads /dev/null). */
  input?: string;
  /** Killed (SIGKILL) when it runs longer. */
  timeoutMs?: number;
  /** Added to the program's environment. */
  env?: Record<string, string>;
  /** The program's working directory. */
  cwd?: string;
  /**
   * Descriptors past stdio, each opened for writing on a path: a FIFO the caller reads (opening it, as the
   * program's side is opened only once there is a reader).
   */
  fds?: Record<number, string>;
}

interface Pending {
  program: string;
  args: string[];
  pid?: number;
  timedOut?: boolean;
  timer?: NodeJS.Timeout;
  done: (code: number) => void;
  fail: (e: Error) => void;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** SIGKILL to a program that may have ended meanwhile (then there is nothing to do). */
function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

class Launcher {
  private shell: ChildProcessWithoutNullStreams | undefined;
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  private buffered = '';

  constructor(private readonly dir: string) {}

  async run(program: string, args: string[], o: RunOptions): Promise<{ stdout: string; stderr: string }> {
    const n = ++this.next;
    const file = (ext: string) => join(this.dir, `${n}.${ext}`);
    if (o.input !== undefined) await writeFile(file('in'), o.input);
    try {
      const code = await new Promise<number>((done, fail) => {
        const p: Pending = { program, args, done, fail };
        this.pending.set(n, p);
        this.holdProcess();
        if (o.timeoutMs) {
          p.timer = setTimeout(() => {
            p.timedOut = true;
            if (p.pid) kill(p.pid);
          }, o.timeoutMs);
        }
        // `env` and `exec` keep the program's pid the one `$!` names (for the timeout's kill).
        const env = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`);
        let cmd = [...(env.length ? ['env', ...env] : []), program, ...args].map(quote).join(' ');
        if (o.cwd) cmd = `{ cd ${quote(o.cwd)} && exec ${cmd}; }`;
        const stdin = o.input !== undefined ? quote(file('in')) : '/dev/null';
        const fds = Object.entries(o.fds ?? {}).map(([fd, path]) => ` ${Number(fd)}>${quote(path)}`).join('');
        this.write(`( { ${cmd} <${stdin} >${quote(file('out'))} 2>${quote(file('err'))}${fds} & echo "p ${n} $!"; wait $!; echo "d ${n} $?"; } & )\n`);
      });
      const [stdout, stderr] = await Promise.all([readFile(file('out'), 'utf8'), readFile(file('err'), 'utf8')]);
      if (code !== 0) {
        const timedOut = this.pending.get(n)?.timedOut;
        throw new ProgramError(`Command failed: ${[program, ...args].join(' ')}${timedOut ? ' (timed out)' : ''}\n${stderr}`, code, stdout, stderr);
      }
      return { stdout, stderr };
    } finally {
      const p = this.pending.get(n);
      if (p?.timer) clearTimeout(p.timer);
      this.pending.delete(n);
      this.holdProcess();
      await Promise.all(['in', 'out', 'err'].map((ext) => rm(file(ext), { force: true }))).catch(() => {});
    }
  }

  /** The shell keeps this process alive only while a program runs (an idle launcher must not hold a CLI or a
   *  test runner open). */
  private holdProcess(): void {
    const sh = this.shell;
    if (!sh) return;
    const hold = this.pending.size > 0;
    // The pipes are sockets (with ref/unref), typed as plain streams.
    for (const h of [sh, sh.stdout, sh.stdin, sh.stderr] as unknown as Array<{ ref(): unknown; unref(): unknown }>) {
      if (hold) h.ref();
      else h.unref();
    }
  }

  private write(line: string): void {
    if (!this.shell) {
      this.shell = this.start();
      this.holdProcess();
    }
    this.shell.stdin.write(line);
  }

  private start(): ChildProcessWithoutNullStreams {
    const sh = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
    sh.stdout.setEncoding('utf8');
    sh.stdout.on('data', (chunk: string) => this.read(chunk));
    sh.stderr.resume(); // the shell's own complaints; each program's stderr goes to its file
    sh.stdin.on('error', () => {}); // a dead shell: its exit fails what is pending
    const gone = (why: string) => {
      if (this.shell !== sh) return;
      this.shell = undefined;
      this.buffered = '';
      for (const p of this.pending.values()) p.fail(new ProgramError(`${p.program}: the launcher shell ${why}`, 'ELAUNCHER', '', ''));
    };
    sh.on('error', (e) => gone(`failed: ${e.message}`));
    sh.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
    return sh;
  }

  private read(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const [kind, n, value] = this.buffered.slice(0, nl).split(' ');
      this.buffered = this.buffered.slice(nl + 1);
      const p = this.pending.get(Number(n));
      if (!p) continue;
      if (kind === 'p') {
        p.pid = Number(value);
        if (p.timedOut) kill(p.pid);
      } else if (kind === 'd') {
        clearTimeout(p.timer); // its pid may be another process's from now on
        p.pid = undefined;
        p.done(Number(value));
      }
    }
  }
}

let launcher: Launcher | undefined;

/** Sends this process's short-lived programs through a shell, with their files in `dir` (under berthd's exec
 *  root). The shell ends with this process: its stdin closes. */
export function useLauncher(dir: string): void {
  launcher = new Launcher(dir);
}

/**
 * Runs a program to its end: resolves with its output, or rejects with a ProgramError carrying its exit status and
 * stderr. Through the launcher when this process has one (berthd), else directly.
 */
export function runProgram(program: string, args: string[], o: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  if (launcher) return launcher.run(program, args, o);
  return spawnProgram(program, args, o);
}

async function spawnProgram(program: string, args: string[], o: RunOptions): Promise<{ stdout: string; stderr: string }> {
  const extra = await Promise.all(Object.entries(o.fds ?? {}).map(async ([fd, path]) => [Number(fd), await open(path, 'w')] as const));
  const stdio: Array<'ignore' | 'pipe' | number> = [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
  for (const [fd, fh] of extra) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = fh.fd;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio,
      ...(o.cwd && { cwd: o.cwd }),
      ...(o.env && { env: { ...process.env, ...o.env } }),
      ...(o.timeoutMs && { timeout: o.timeoutMs, killSignal: 'SIGKILL' as const }),
    });
    for (const [, fh] of extra) void fh.close().catch(() => {}); // the child has its own copies
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin?.on('error', () => {}); // a program that exits early closes its stdin: its exit status tells
    child.stdin?.end(o.input);
    child.on('error', (e) => reject(new ProgramError(`${program}: ${e.message}`, (e as NodeJS.ErrnoException).code ?? 'ENOENT', stdout, stderr)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new ProgramError(`Command failed: ${[program, ...args].join(' ')}\n${stderr}`, code ?? (signal ? 128 : 1), stdout, stderr));
    });
  });
}
