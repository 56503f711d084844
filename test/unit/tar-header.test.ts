import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { tarEnd, tarHeader, tarPadding } from '../../src/util/tar.js';

const longDir = 'd'.repeat(120);
const entries = [
  { name: 'plain.txt', type: 'file' as const, body: 'hello\n', mode: 0o640, uid: 0, gid: 0 },
  { name: `${longDir}/split-by-prefix.txt`, type: 'file' as const, body: 'prefix\n', mode: 0o644, uid: 1000, gid: 1000 },
  { name: `${'x'.repeat(180)}.txt`, type: 'file' as const, body: 'pax path\n', mode: 0o600, uid: 3000000, gid: 7 },
  { name: 'ünïcødé/ファイル.txt', type: 'file' as const, body: 'utf-8\n', mode: 0o644, uid: 0, gid: 0 },
  { name: 'dir/', type: 'directory' as const, body: '', mode: 0o755, uid: 0, gid: 0 },
  { name: 'long-link', type: 'symlink' as const, body: '', linkname: `/${'t'.repeat(150)}`, mode: 0o777, uid: 0, gid: 0 },
  { name: 'hard', type: 'link' as const, body: '', linkname: 'plain.txt', mode: 0o640, uid: 0, gid: 0 },
];

function archive(): Buffer {
  const mtime = new Date('2024-05-06T07:08:09Z');
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body);
    parts.push(tarHeader({ name: e.name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: body.length, mtime, linkname: e.linkname ?? '', uname: '', gname: '', devmajor: 0, devminor: 0 }), body, tarPadding(body.length));
  }
  parts.push(tarEnd());
  return Buffer.concat(parts);
}

describe('tarHeader', () => {
  it('GNU tar lists and extracts what it writes: ustar prefixes, PAX paths, link targets and owners, UTF-8 names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-tarheader-'));
    try {
      const file = join(dir, 'a.tar');
      await writeFile(file, archive());
      const list = spawnSync('tar', ['--numeric-owner', '-tvf', file], { encoding: 'utf8' });
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /3000000\/7 .* x{180}\.txt/);
      const out = join(dir, 'out');
      spawnSync('mkdir', [out]);
      const x = spawnSync('tar', ['--same-owner', '-xpf', file, '-C', out], { encoding: 'utf8' });
      assert.equal(x.status, 0, x.stderr);
      for (const e of entries.filter((e) => e.type === 'file')) {
        assert.equal(await readFile(join(out, e.name), 'utf8'), e.body, e.name);
        const st = await stat(join(out, e.name));
        assert.equal(st.mode & 0o777, e.mode, e.name);
        assert.equal(st.uid, e.uid, e.name);
        assert.equal(st.mtimeMs, Date.parse('2024-05-06T07:08:09Z'));
      }
      assert.equal(await readlink(join(out, 'long-link')), `/${'t'.repeat(150)}`);
      assert.equal((await stat(join(out, 'hard'))).ino, (await stat(join(out, 'plain.txt'))).ino);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('tar-stream (the daemon side) reads the same names, types and bodies', async () => {
    const seen: Array<[string, string, string]> = [];
    const ex = extract();
    const done = (async () => {
      for await (const e of ex) {
        const chunks: Buffer[] = [];
        for await (const c of e) chunks.push(c as Buffer);
        seen.push([e.header.name, e.header.type ?? '', Buffer.concat(chunks).toString()]);
      }
    })();
    ex.end(archive());
    await done;
    assert.deepEqual(seen, entries.map((e) => [e.name, e.type, e.body]));
  });
});
