// The terminal side of attach, `run -i/-t` and `exec`: stdin to the hijacked connection, output back (raw for a
// TTY, demultiplexed otherwise), raw mode and window-size changes for TTYs.
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import type { Socket } from 'node:net';
import { parseDetachKeys } from '../../util/detach-keys.js';
import { type Cli, CliError, ExitCode, describeError } from '../context.js';

/** Writes demultiplexed attach/log frames to stdout and stderr; returns when the stream ends. */
export async function demux(stream: AsyncIterable<Buffer | string>): Promise<void> {
  let buf = Buffer.alloc(0);
  for await (const chunk of stream) {
    buf = Buffer.concat([buf, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const payload = buf.subarray(8, 8 + size);
      (buf[0] === 2 ? process.stderr : process.stdout).write(payload);
      buf = buf.subarray(8 + size);
    }
  }
}

export interface StreamOptions {
  tty: boolean;
  /** Send our stdin (and half-close when it ends). */
  stdin: boolean;
  /** The detach sequence (the daemon acts on it; we only need to know it was typed). */
  detachKeys?: string;
  /** Tells the daemon the terminal's size on every change (the caller sends the first once the process runs). */
  resize?: (height: number, width: number) => Promise<void>;
}

/** docker refuses a TTY whose input is not a terminal. */
export function checkTty(o: { tty?: boolean; interactive?: boolean }): void {
  if (o.tty && o.interactive && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', ExitCode.Failure);
}

/**
 * Runs a hijacked session until the daemon ends the output. Input stops when the output ends (detach keys, or
 * the process exited), and the terminal is restored.
 */
export async function holdSession(socket: Socket, o: StreamOptions): Promise<{ detached: boolean }> {
  const keys = parseDetachKeys(o.detachKeys);
  let recent = Buffer.alloc(0);
  let detached = false;
  const stdin = process.stdin;
  const raw = o.tty && stdin.isTTY;
  if (raw) {
    stdin.setRawMode(true);
    // libuv's raw mode keeps output processing (ONLCR), docker's does not: the container's own pty has already
    // turned "\n" into "\r\n". setRawMode(false) restores the terminal as it was before, OPOST included.
    spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  }
  const onResize = () => void sendTerminalSize(o.resize);
  if (o.tty && o.resize) process.stdout.on('resize', onResize);
  const onData = (d: Buffer) => {
    recent = Buffer.concat([recent, d]).subarray(-64);
    if (recent.includes(keys)) detached = true;
    socket.write(d);
  };
  const onEnd = () => socket.end();
  if (o.stdin) {
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.resume();
  }
  try {
    if (o.tty) {
      for await (const chunk of socket) process.stdout.write(chunk as Buffer);
    } else {
      await demux(socket);
    }
  } finally {
    process.stdout.off('resize', onResize);
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    stdin.unref?.();
  }
  return { detached };
}

/** Sends the local terminal's size (when stdout is one). Errors are ignored: the process may be gone already. */
export async function sendTerminalSize(resize?: (height: number, width: number) => Promise<void>): Promise<void> {
  if (!resize || !process.stdout.isTTY) return;
  await resize(process.stdout.rows, process.stdout.columns).catch(() => {});
}

/** `-i`/`-t`/`--detach-keys`, shared by `run`, `exec` and (in part) `attach`. */
export const withStdioFlags = (cmd: Command) =>
  cmd
    .option('-i, --interactive', 'Keep STDIN open even if not attached')
    .option('-t, --tty', 'Allocate a pseudo-TTY')
    .option('--detach-keys <string>', 'Override the key sequence for detaching a container');

/** The signals docker's CLI forwards that Node lets a process catch; returns the function that stops forwarding. */
export function proxySignals(cli: Cli, id: string): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  const forward = (signal: NodeJS.Signals) => {
    cli.client().do('POST', `/containers/${id}/kill`, { query: { signal } }).catch((e: unknown) => cli.err(`error: ${describeError(e)}`));
  };
  for (const s of signals) process.on(s, forward);
  return () => {
    for (const s of signals) process.off(s, forward);
  };
}
