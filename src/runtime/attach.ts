// conmon's attach socket and terminal control fifo: how stdin reaches a container (or exec) and its TTY is
// resized. The socket is SOCK_SEQPACKET, which Node's net module cannot open; node-unix-socket (a small native
// addon with prebuilt binaries) can.
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import unixSocket from 'node-unix-socket';
import { Conflict } from '../errors/index.js';

export type OutputStream = 'stdout' | 'stderr';

/** conmon prefixes each packet it sends with the pipe it came from (ctr_stdio.c: STDOUT_PIPE, STDERR_PIPE). */
const pipeNames: Record<number, OutputStream> = { 2: 'stdout', 3: 'stderr' };

/** conmon's receive buffer for attach packets (config.h CONN_SOCK_BUF_SIZE). */
const maxPacket = 32768;

/** sun_path holds 107 bytes: longer socket paths are reached through an open handle on their directory. */
const maxSocketPath = 107;

/** A connection to one conmon's attach socket: input goes to the process's stdin, output comes back tagged. */
export class AttachSocket {
  private constructor(private readonly socket: InstanceType<typeof unixSocket.SeqpacketSocket>) {}

  /** Connects to `<dir>/attach` (conmon's `--full-attach` location). */
  static async connect(dir: string): Promise<AttachSocket> {
    let path = join(dir, 'attach');
    let handle: FileHandle | undefined;
    if (Buffer.byteLength(path) > maxSocketPath) {
      handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      path = `/proc/self/fd/${handle.fd}/attach`;
    }
    const socket = new unixSocket.SeqpacketSocket();
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      try {
        socket.connect(path, () => {
          socket.off('error', reject);
          resolve();
        });
      } catch (e) {
        reject(e as Error);
      }
    }).finally(() => handle?.close().catch(() => {}));
    socket.on('error', () => {}); // a vanished peer shows up as 'close'
    return new AttachSocket(socket);
  }

  /** Output packets; conmon blocks on a full socket, so a connection must always be read (or closed). */
  onOutput(fn: (stream: OutputStream, data: Buffer) => void): void {
    this.socket.on('data', (packet: Buffer) => {
      const stream = pipeNames[packet[0] ?? 0];
      if (stream && packet.length > 1) fn(stream, packet.subarray(1));
    });
  }

  /** Called once when conmon closes the connection (the process exited). */
  onClose(fn: () => void): void {
    let called = false;
    const once = () => {
      if (!called) fn();
      called = true;
    };
    this.socket.once('end', once);
    this.socket.once('close', once);
  }

  /** Sends input in packets conmon can take whole (it reads each into a CONN_SOCK_BUF_SIZE buffer; more is cut). */
  async write(data: Buffer): Promise<void> {
    for (let off = 0; off < data.length; off += maxPacket) {
      const end = Math.min(off + maxPacket, data.length);
      await new Promise<void>((resolve) => this.socket.write(data, off, end - off, () => resolve()));
    }
  }

  /** Half-closes: conmon then closes the process's stdin (unless started with --leave-stdin-open). */
  closeStdin(): void {
    this.socket.end();
  }

  close(): void {
    this.socket.destroy();
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
