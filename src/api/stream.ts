// Docker's stream framing for attach and logs of non-TTY containers: an 8-byte header per chunk
// ([stream, 0, 0, 0, size as big-endian uint32]) with stream 1 = stdout, 2 = stderr.
export const StreamType = { stdin: 0, stdout: 1, stderr: 2 } as const;

export function frame(stream: 'stdout' | 'stderr', payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = StreamType[stream];
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
