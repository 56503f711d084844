import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import { type Daemon, startDaemon } from '../harness/daemon.js';
import { imageConfig, ociLayoutTar, saveTar, sha, tarOf } from '../harness/images.js';

type Summary = { Id: string; RepoTags: string[]; Size: number; SharedSize: number; Labels: Record<string, string> | null };

const base = () => tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/base', content: 'base\n' }, { name: 'etc/gone', content: 'x' }]);
const top = () => tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/.wh.gone' }, { name: 'app', content: 'top layer\n', mode: 0o755 }]);

async function tarNames(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.set(e.header.name, Buffer.concat(chunks));
    }
  })();
  Readable.from([buf]).pipe(ex);
  await done;
  return out;
}

describe('images', () => {
  let d: Daemon;
  before(async () => {
    d = await startDaemon();
  });
  after(() => d?.destroy());

  it('the bundled busybox image exists on first start, with real overlay2 directories', async () => {
    const img = await d.client.json<{ Id: string; RepoTags: string[]; Config: { Cmd: string[] }; GraphDriver: { Name: string; Data: Record<string, string> }; RootFS: { Layers: string[] } }>('GET', '/images/busybox/json');
    assert.deepEqual(img.RepoTags, ['busybox:latest']);
    assert.deepEqual(img.Config.Cmd, ['sh']);
    assert.equal(img.GraphDriver.Name, 'overlay2');
    for (const k of ['UpperDir', 'MergedDir', 'WorkDir']) assert.ok((await stat(img.GraphDriver.Data[k] as string)).isDirectory(), k);
    const upper = img.GraphDriver.Data['UpperDir'] as string;
    assert.ok((await stat(join(upper, 'bin/busybox'))).isFile());
    assert.ok((await stat(join(upper, 'etc/passwd'))).isFile());
    assert.equal(img.RootFS.Layers.length, 1);
  });

  it('loads a docker save archive: IDs are the config digests, whiteouts become overlay whiteouts', async () => {
    const layers = [await base(), await top()];
    const tar = await saveTar([{ tags: ['test/app:1'], layers, config: { Labels: { tier: 'web' } } }]);
    const r = await d.berth(['load'], { input: tar });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'Loaded image: test/app:1');
    const id = sha(imageConfig({ tags: [], layers, config: { Labels: { tier: 'web' } } }));
    const img = await d.client.json<{ Id: string; GraphDriver: { Data: Record<string, string> }; RootFS: { Layers: string[] } }>('GET', '/images/test/app:1/json');
    assert.equal(img.Id, id);
    assert.deepEqual(img.RootFS.Layers, layers.map((l) => sha(l)));
    const upper = img.GraphDriver.Data['UpperDir'] as string;
    const wh = await stat(join(upper, 'etc/gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'OCI whiteout became a 0/0 char device');
    const lower = (img.GraphDriver.Data['LowerDir'] as string).split(':');
    assert.equal(lower.length, 1);
    assert.equal((await stat(join(lower[0] as string, 'etc/base'))).size, 5);
  });

  it('lists, tags, filters and formats like docker', async () => {
    assert.equal((await d.berth(['tag', 'test/app:1', 'test/app:2'])).code, 0);
    const list = await d.client.json<Summary[]>('GET', '/images/json');
    const app = list.find((i) => i.RepoTags.includes('test/app:1'));
    assert.deepEqual(app?.RepoTags, ['test/app:1', 'test/app:2']);
    const table = await d.berth(['images']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] as string, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.ok(lines.some((l) => /^test\/app\s+2\s+[0-9a-f]{12}\s+\S.* ago\s+\S+B$/.test(l)), table.stdout);
    const q = await d.berth(['images', '-q', '--filter', 'reference=test/*']);
    assert.deepEqual(q.stdout.trim().split('\n'), [app?.Id.slice(7, 19), app?.Id.slice(7, 19)], 'one line per tag, as docker');
    const labelled = await d.berth(['images', '--filter', 'label=tier=web', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.deepEqual(labelled.stdout.trim().split('\n'), ['test/app:1', 'test/app:2']);
    const before = await d.berth(['images', '--filter', 'before=busybox', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.deepEqual(before.stdout.trim().split('\n').sort(), ['test/app:1', 'test/app:2'], 'test/app (2024) is older than busybox');
    const since = await d.berth(['images', '--filter', 'since=test/app:1', '--format', '{{.Repository}}']);
    assert.deepEqual(since.stdout.trim().split('\n'), ['busybox']);
    const json = await d.berth(['images', 'busybox', '--format', 'json']);
    assert.equal(JSON.parse(json.stdout.trim()).Repository, 'busybox');
    const full = await d.berth(['images', '--no-trunc', '--format', '{{.ID}}', 'test/app:1']);
    assert.equal(full.stdout.trim(), app?.Id);
    const dockerList = await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}}', 'test/app']);
    assert.equal(dockerList.code, 0, dockerList.stderr);
    assert.deepEqual(dockerList.stdout.trim().split('\n').sort(), ['test/app:1', 'test/app:2']);
  });

  it('history and inspect work through both CLIs', async () => {
    const h = await d.berth(['history', 'test/app:1']);
    assert.equal(h.code, 0, h.stderr);
    const rows = h.stdout.trimEnd().split('\n');
    assert.match(rows[0] as string, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.equal(rows.length, 3);
    assert.match(rows[2] as string, /^<missing>/);
    const dh = await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'test/app:1']);
    assert.equal(dh.code, 0, dh.stderr);
    assert.deepEqual(dh.stdout.trim().split('\n'), ['/bin/sh -c #(nop) layer 1', '/bin/sh -c #(nop) layer 0']);
    const di = await d.docker(['image', 'inspect', '--format', '{{.Os}}/{{.Architecture}} {{index .Config.Labels "tier"}}', 'test/app:2']);
    assert.equal(di.stdout.trim(), 'linux/amd64 web');
    const bi = await d.berth(['inspect', '--format', '{{json .RepoTags}}', 'test/app:2']);
    assert.equal(bi.stdout.trim(), '["test/app:1","test/app:2"]');
  });

  it('rmi untags while other tags remain, refuses an ID with several repos, then deletes', async () => {
    const id = (await d.client.json<{ Id: string }>('GET', '/images/test/app:1/json')).Id;
    const byId = await d.berth(['rmi', id.slice(7, 19)]);
    assert.equal(byId.code, 1);
    assert.match(byId.stderr, /Error response from daemon: conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/);
    const untag = await d.docker(['rmi', 'test/app:2']);
    assert.equal(untag.code, 0, untag.stderr);
    assert.equal(untag.stdout.trim(), 'Untagged: test/app:2');
    const del = await d.berth(['rmi', 'test/app:1']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, new RegExp(`Untagged: test/app:1\nDeleted: ${id}\nDeleted: sha256:`));
    const gone = await d.client.raw('GET', '/images/test/app:1/json');
    gone.resume();
    assert.equal(gone.statusCode, 404);
    const missing = await d.berth(['rmi', 'nope:1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Error response from daemon: No such image: nope:1/);
    const untagged = await d.docker(['rmi', 'nope']);
    assert.match(untagged.stderr, /Error response from daemon: No such image: nope:latest/);
  });

  it('ten images on one base store the base once; system df shows the sharing', async () => {
    const shared = await tarOf([{ name: 'shared.bin', content: Buffer.alloc(100_000, 1) }]);
    const imgs = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => ({ tags: [`fleet/img${i}:latest`], layers: [shared, await tarOf([{ name: `own${i}`, content: `image ${i}` }])] })),
    );
    const r = await d.berth(['load', '-q'], { input: await saveTar(imgs) });
    assert.equal(r.code, 0, r.stderr);
    const layerDirs = (await readdir(join(d.dataRoot, 'overlay2'))).filter((n) => !n.startsWith('.'));
    assert.ok(layerDirs.includes(sha(shared).slice(7)), 'base layer keyed by its chain ID');
    const df = await d.client.json<{ LayersSize: number; Images: Summary[] }>('GET', '/system/df');
    const fleet = df.Images.filter((i) => i.RepoTags.some((t) => t.startsWith('fleet/')));
    assert.equal(fleet.length, 10);
    for (const i of fleet) assert.equal(i.SharedSize, 100_000);
    const sizes = df.Images.reduce((n, i) => n + i.Size, 0);
    assert.equal(sizes - df.LayersSize, 9 * 100_000, 'the shared base is on disk once, not ten times');
    const out = await d.docker(['system', 'df']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+\d+\s+0\s+/);
    const mine = await d.berth(['system', 'df']);
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+\d+\s+0\s+/);
  });

  it('save and load round-trip byte for byte (docker and berth), OCI layout included', async () => {
    const before = await d.client.json<{ Id: string }>('GET', '/images/fleet/img3/json');
    const saved = await d.client.call('GET', '/images/get', { query: { names: ['fleet/img3'] } });
    const chunks: Buffer[] = [];
    for await (const c of saved) chunks.push(c as Buffer);
    const tar = Buffer.concat(chunks);
    const names = await tarNames(tar);
    for (const n of ['manifest.json', 'index.json', 'oci-layout']) assert.ok(names.has(n), n);
    const manifest = JSON.parse(names.get('manifest.json')!.toString()) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    assert.deepEqual(manifest[0]?.RepoTags, ['fleet/img3:latest']);
    assert.equal(sha(names.get(manifest[0]!.Config)!), before.Id);
    for (const l of manifest[0]!.Layers) assert.equal(sha(names.get(l)!), `sha256:${l.split('/').pop()}`);
    // Docker's CLI saves to a file and loads back into berthd after removal.
    const file = join(d.dir, 'img3.tar');
    const ds = await d.docker(['save', '-o', file, 'fleet/img3']);
    assert.equal(ds.code, 0, ds.stderr);
    assert.equal((await d.docker(['rmi', 'fleet/img3'])).code, 0);
    const dl = await d.docker(['load', '-i', file]);
    assert.equal(dl.code, 0, dl.stderr);
    assert.match(dl.stdout, /Loaded image: fleet\/img3:latest/);
    const after = await d.client.json<{ Id: string }>('GET', '/images/fleet/img3/json');
    assert.equal(after.Id, before.Id);
  });

  it('loads an OCI image layout with gzip layers', async () => {
    const layers = [await tarOf([{ name: 'oci-file', content: 'from an OCI layout' }])];
    const r = await d.berth(['load'], { input: await ociLayoutTar({ tags: [], layers }, 'localhost:5000/oci/app:v1') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Loaded image: localhost:5000\/oci\/app:v1/);
    const img = await d.client.json<{ RootFS: { Layers: string[] } }>('GET', '/images/localhost:5000/oci/app:v1/json');
    assert.deepEqual(img.RootFS.Layers, [sha(layers[0]!)], 'diff IDs are of the uncompressed layers');
  });

  it('imports from stdin with --change and -m, and from a URL', async () => {
    const rootfs = await tarOf([{ name: 'hello.txt', content: 'hi' }]);
    const r = await d.berth(['import', '-c', 'CMD ["/hello"]', '-c', 'ENV A=1 B=two', '-c', 'EXPOSE 80', '-m', 'first import', '-', 'imported:1'], { input: rootfs });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    const img = await d.client.json<{ Config: { Cmd: string[]; Env: string[]; ExposedPorts: object }; Comment: string }>('GET', '/images/imported:1/json');
    assert.deepEqual(img.Config.Cmd, ['/hello']);
    assert.deepEqual(img.Config.Env, ['A=1', 'B=two']);
    assert.deepEqual(img.Config.ExposedPorts, { '80/tcp': {} });
    const h = await d.berth(['history', '--format', '{{.Comment}}', 'imported:1']);
    assert.equal(h.stdout.trim(), 'first import');
    const server = createServer((_req, res) => res.end(rootfs));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    try {
      const port = (server.address() as { port: number }).port;
      const u = await d.docker(['import', `http://127.0.0.1:${port}/rootfs.tar`, 'from-url:latest']);
      assert.equal(u.code, 0, u.stderr);
      const same = await d.client.json<{ RootFS: { Layers: string[] } }>('GET', '/images/from-url/json');
      assert.deepEqual(same.RootFS.Layers, [sha(rootfs)]);
    } finally {
      server.close();
    }
    const file = join(d.dir, 'rootfs.tar');
    await writeFile(file, rootfs);
    const f = await d.docker(['import', file, 'from-file:1']);
    assert.equal(f.code, 0, f.stderr);
  });

  it('image prune removes dangling images only, -a removes unused ones', async () => {
    const layers = [await tarOf([{ name: 'dangling', content: 'nobody tags me' }])];
    const r = await d.berth(['load'], { input: await saveTar([{ tags: [], layers }]) });
    assert.match(r.stdout, /Loaded image ID: sha256:/);
    const dangling = await d.berth(['images', '-q', '--filter', 'dangling=true']);
    assert.equal(dangling.stdout.trim().split('\n').length, 1);
    const p = await d.berth(['image', 'prune', '-f']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n[\s\S]*Total reclaimed space: /);
    assert.equal((await d.berth(['images', '-q', '--filter', 'dangling=true'])).stdout.trim(), '');
    const all = await d.docker(['image', 'prune', '-a', '-f', '--filter', 'label=none-has-this']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /Total reclaimed space: 0B/);
  });

  it('docker events reports image events', async () => {
    const since = Math.floor(Date.now() / 1000) - 60;
    const until = Math.ceil(Date.now() / 1000) + 1;
    const ev = await d.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'type=image', '--format', '{{.Action}}']);
    assert.equal(ev.code, 0, ev.stderr);
    for (const a of ['load', 'tag', 'untag', 'delete', 'import', 'save']) assert.ok(ev.stdout.split('\n').includes(a), `${a} in ${ev.stdout}`);
  });
});
