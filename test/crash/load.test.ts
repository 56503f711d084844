import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { type Daemon, startDaemon } from '../harness/daemon.js';
import { saveTar, tarOf } from '../harness/images.js';
import { assertConsistent } from '../harness/store.js';

/** Five 4 MiB random layers: big enough that a kill lands mid-write. */
async function bigImage(tag: string): Promise<Buffer> {
  const layers = await Promise.all(Array.from({ length: 5 }, (_, i) => tarOf([{ name: `blob${i}`, content: randomBytes(4 << 20) }])));
  return saveTar([{ tags: [tag], layers }]);
}

describe('crash safety of load', () => {
  const daemons: Daemon[] = [];
  after(async () => {
    for (const d of daemons) await d.destroy();
  });

  for (const point of ['content.commit', 'layers.commit', 'load.tag']) {
    it(`killed at failpoint ${point}: restart finds a consistent store and the load can be redone`, async () => {
      const d = await startDaemon();
      daemons.push(d);
      const tar = await bigImage('crash:1');
      await d.stop();
      await d.start({ BERTH_FAILPOINTS: `${point}=exit` });
      await d.client.call('POST', '/images/load', { body: tar }).then(
        (r) => r.resume(),
        () => {},
      );
      // The failpoint SIGKILLs berthd; wait for it to be gone, then restart without failpoints.
      await d.kill9();
      await d.start();
      await assertConsistent(d.dataRoot);
      const again = await d.berth(['load'], { input: tar });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /Loaded image: crash:1/);
      await assertConsistent(d.dataRoot);
    });
  }

  it('kill -9 at arbitrary moments during a load', async () => {
    const d = await startDaemon();
    daemons.push(d);
    const tar = await bigImage('crash:2');
    for (const delayMs of [30, 120, 400]) {
      const pending = d.client.call('POST', '/images/load', { body: tar }).then((r) => r.resume(), () => {});
      await new Promise((r) => setTimeout(r, delayMs));
      await d.kill9();
      await pending;
      await d.start();
      await assertConsistent(d.dataRoot);
    }
    const ok = await d.berth(['load'], { input: tar });
    assert.equal(ok.code, 0, ok.stderr);
    await assertConsistent(d.dataRoot);
  });
});
