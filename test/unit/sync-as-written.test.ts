// kernel/fs.ts syncAsWritten: a file written through it is flushed as it grows, one datasync at a time, and
// `settle` waits for the one under way (so the file may be closed and fsynced after it).
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { syncAsWritten } from '../../src/kernel/fs.js';

describe('syncAsWritten', () => {
  it('flushes every so many bytes, one datasync at a time, and settle waits for the last', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-sync-'));
    try {
      const fh = await open(join(dir, 'f'), 'w');
      let calls = 0;
      let running = 0;
      let overlapped = false;
      let finished = 0;
      const real = fh.datasync.bind(fh);
      fh.datasync = async () => {
        calls++;
        running++;
        overlapped ||= running > 1;
        try {
          await new Promise((r) => setTimeout(r, 20)); // a slow disk: writes go on meanwhile
          return await real();
        } finally {
          running--;
          finished++;
        }
      };
      const flushing = syncAsWritten(fh, 1 << 20);
      const chunk = Buffer.alloc(256 << 10, 1);
      for (let i = 0; i < 24; i++) {
        await fh.write(chunk);
        flushing.wrote(chunk.length);
        if (i % 4 === 3) await new Promise((r) => setTimeout(r, 25)); // the network's pace
      }
      flushing.wrote(1); // under the threshold: no datasync for it
      await flushing.settle();
      assert.ok(calls >= 3 && calls <= 6, `6 MiB in 1 MiB steps, paced: ${calls} datasyncs`);
      assert.equal(overlapped, false, 'never two at once');
      assert.equal(finished, calls, 'settle waited for the one under way');
      await fh.close();
      assert.equal((await readFile(join(dir, 'f'))).length, 24 * chunk.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
