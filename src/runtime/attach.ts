// conmon's attach socket and terminal control fifo: how stdin reaches a container (or exec) and its TTY is
// resized. The socket is SOCK_SEQPACKET, which Node's net module cannot open. The native half of the npm package
// node-unix-socket (its prebuilt addon, `node-unix-socket-linux-x64-gnu`) can; its JS half is not used because
// it lists platform packages that were never published, which breaks `npm ci`. The few lines driving the addon
// are below (AttachSocket).
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Conflict } from '../errors/index.js';

/** The addon's socket handle: it reports through `emit` on the object given to its constructor. */
interface SeqpacketWrap {
  init(self: SeqpacketWrap): void;
  connect(path: string): void;
  startRecv(): void;
  write(buf: Buffer, offset: number, length: number, cb: () => void): void;
  shutdownWhenFlushed(): void;
  close(): void;
}
type WrapClass = new (events: { emit: (event: string, ...args: unknown[]) => boolean }) => SeqpacketWrap;

let wrapClass: WrapClass | undefined;
function seqpacketWrap(): WrapClass {
  wrapClass ??= (createRequire(import.meta.url)('node-unix-socket-linux-x64-gnu') as { SeqpacketSocketWrap: WrapClass }).SeqpacketSocketWrap;
  return wrapClass;
}

export type OutputStream = 'stdout' | 'stderr';

/** conmon prefixes each packet it sends with the pipe it came from (ctr_stdio.c: STDOUT_PIPE, STDERR_PIPE). */
const pipeNames: Record<number, OutputStream> = { 2: 'stdout', 3: 'stderr' };

/** conmon's receive buffer for attach packets (config.h CONN_SOCK_BUF_SIZE). */
const maxPacket = 32768;

/** sun_path holds 107 bytes: longer socket paths are reached through an open handle on their directory. */
const maxSocketPath = 107;

/** A connection to one conmon's attach socket: input goes to the process's stdin, output comes back tagged. */
export class AttachSocket {
  private readonly events = new EventEmitter();
  private readonly wrap: SeqpacketWrap;
  private closed = false;

  private constructor() {
    this.events.on('error', () => {}); // a vanished peer also shows up as 'end'
    this.events.once('end', () => setImmediate(() => this.close())); // after the listeners below have run
    this.events.emit = this.events.emit.bind(this.events); // the addon calls it detached from its object
    this.wrap = new (seqpacketWrap())(this.events);
    this.wrap.init(this.wrap);
  }

  /** Connects to `<dir>/attach` (conmon's `--full-attach` location). */
  static async connect(dir: string): Promise<AttachSocket> {
    let path = join(dir, 'attach');
    let handle: FileHandle | undefined;
    if (Buffer.byteLength(path) > maxSocketPath) {
      handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      path = `/proc/self/fd/${handle.fd}/attach`;
    }
    const s = new AttachSocket();
    try {
      await new Promise<void>((resolve, reject) => {
        s.events.once('_error', reject);
        s.events.once('_connect', () => {
          s.events.off('_error', reject);
          s.wrap.startRecv();
          resolve();
        });
        s.wrap.connect(path);
      });
    } catch (e) {
      s.close();
      throw e;
    } finally {
      await handle?.close();
    }
    return s;
  }

  /** Output packets; conmon blocks on a full socket, so a connection must always be read (or closed). */
  onOutput(fn: (stream: OutputStream, data: Buffer) => void): void {
    this.events.on('_data', (packet: Buffer) => {
      const stream = pipeNames[packet[0] ?? 0];
      if (stream && packet.length > 1) fn(stream, packet.subarray(1));
    });
  }

  /** Called once when conmon closes the connection (the process exited) or it fails. */
  onClose(fn: () => void): void {
    let called = false;
    const once = () => {
      if (!called) fn();
      called = true;
    };
    this.events.once('end', once);
    this.events.once('_error', once);
  }

  /** Sends input in packets conmon can take whole (it reads each into a CONN_SOCK_BUF_SIZE buffer; more is cut). */
  async write(data: Buffer): Promise<void> {
    for (let off = 0; off < data.length && !this.closed; off += maxPacket) {
      const end = Math.min(off + maxPacket, data.length);
      await new Promise<void>((resolve) => this.wrap.write(data, off, end - off, resolve));
    }
  }

  /** Half-closes: conmon then closes the process's stdin (unless started with --leave-stdin-open). */
  closeStdin(): void {
    if (!this.closed) this.wrap.shutdownWhenFlushed();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wrap.close();
  }
}

/**
 * Resizes the TTY of the process a conmon watches, through its `ctl` fifo (message type 1: window resize).
 * Non-blocking: if conmon is gone there is no reader, and the open fails at once instead of hanging.
 */
export async function resizeTerminal(dir: string, height: number, width: number): Promise<void> {
  const fifo = await open(join(dir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENXIO' || e.code === 'ENOENT') throw new Conflict('the process has exited: its terminal cannot be resized', { cause: e });
    throw e;
  });
  try {
    await fifo.write(`1 ${Math.trunc(height)} ${Math.trunc(width)}\n`);
  } finally {
    await fifo.close();
  }
}
