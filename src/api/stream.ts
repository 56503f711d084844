// Docker's stream framing for attach and logs of non-TTY containers: an 8-byte header per chunk
// ([stream, 0, 0, 0, size as big-endian uint32]) with stream 1 = stdout, 2 = stderr.
import type { LogBatch } from '../services/index.js';

export const StreamType = { stdin: 0, stdout: 1, stderr: 2 } as const;

export function frame(stream: 'stdout' | 'stderr', payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = StreamType[stream];
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

export interface LogFraming {
  stdout: boolean;
  stderr: boolean;
  /** Each entry prefixed with its time (RFC3339Nano, nine digits) and a space. */
  timestamps: boolean;
  /** A TTY's output: the bytes alone, no frames. */
  raw: boolean;
  /** Each entry prefixed with its attributes (`logs --details`) and a space. */
  details?: boolean;
}

/**
 * One buffer for a whole batch of log entries, to be written at once. Consecutive entries of one stream share a
 * frame: the bytes each stream carries are the same, and the client has one frame to copy instead of thousands.
 */
export function frameLogBatch(batch: LogBatch, o: LogFraming): Buffer {
  const perEntry = (o.timestamps ? 31 : 0) + (o.raw ? 0 : 8);
  let bound = 0;
  for (let i = 0; i < batch.length; i++) bound += batch.textLength(i) + perEntry + (o.details ? Buffer.byteLength(batch.details(i)) + 1 : 0);
  const out = Buffer.allocUnsafe(bound);
  let pos = 0;
  let frame = -1;
  let frameStream: 'stdout' | 'stderr' | undefined;
  const closeFrame = () => {
    if (frame >= 0) out.writeUInt32BE(pos - frame - 8, frame + 4);
  };
  for (let i = 0; i < batch.length; i++) {
    const stream = batch.stream(i);
    if (stream === 'stdout' ? !o.stdout : !o.stderr) continue;
    if (!o.raw && stream !== frameStream) {
      closeFrame();
      frame = pos;
      frameStream = stream;
      out.writeUInt32BE(StreamType[stream] << 24, pos);
      out.writeUInt32BE(0, pos + 4);
      pos += 8;
    }
    if (o.timestamps) pos += out.write(`${batch.timestamp(i)} `, pos, 'latin1');
    if (o.details) pos += out.write(`${batch.details(i)} `, pos, 'utf8');
    pos += batch.copyText(i, out, pos);
  }
  closeFrame();
  return out.subarray(0, pos);
}
