import { createServer, type Server } from 'node:net';
import { createHash } from 'node:crypto';
import { Conflict } from '../errors/index.js';

/**
 * One daemon per data root. The lock is an abstract unix socket named after the data root: the kernel frees it
 * the instant the holder dies (even on kill -9), so there is no stale lock file to judge, and bind() is atomic.
 */
export async function lockDataRoot(dataRoot: string): Promise<{ release(): Promise<void> }> {
  const name = '\0berth-dataroot-' + createHash('sha256').update(dataRoot).digest('hex').slice(0, 32);
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Conflict(`another berthd is using data root ${dataRoot}`) : e),
    );
    server.listen(name, () => resolve());
  });
  server.unref();
  return { release: () => new Promise<void>((r) => server.close(() => r())) };
}
