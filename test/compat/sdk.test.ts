// The Docker SDK for Python (a real API client other than the docker CLI, installed by scripts/test.sh) against
// berthd: container lifecycle, exec, archives and commit, stats/top/update, log and attach streams, errors, and
// networks (create with IPAM, published ports, connect with an alias and an address, DNS, disconnect, remove).
// Each scenario is a run of sdk_client.py, which asserts what the SDK gives back (checked against dockerd too).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { type Daemon, run, startDaemon } from '../harness/daemon.js';

const client = fileURLToPath(new URL('./sdk_client.py', import.meta.url));

describe('Docker SDK for Python', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.destroy();
  });

  for (const scenario of ['lifecycle', 'exec', 'archive', 'observe', 'streams', 'errors', 'networks']) {
    it(scenario, async () => {
      const r = await run('python3', [client, d.host, scenario]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.equal(r.stdout.trim(), 'ok');
    });
  }
});
