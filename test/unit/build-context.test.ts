import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openContext } from '../../src/builder/context.js';
import { tarHeader, tarPadding } from '../../src/util/tar.js';
import { copyIntoRoot, fetchUrl, hashSources, resolveChown, resolveSources } from '../../src/builder/copy.js';

/** A tar of `dir`'s contents made by GNU tar (what a docker CLI would send, more or less), compressed with `z`. */
function tarOf(dir: string, z: '' | 'z' | 'j' | 'J' = '', names = ['.']): Buffer {
  return execFileSync('tar', [`-c${z}f`, '-', '-C', dir, ...names], { maxBuffer: 1 << 30 });
}

describe('build context and COPY/ADD', () => {
  let tmp: string;
  let n = 0;
  const fresh = async () => {
    const d = join(tmp, `d${++n}`);
    await mkdir(d);
    return d;
  };
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-buildctx-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  for (const z of ['', 'z', 'j', 'J'] as const) {
    it(`unpacks a ${z || 'plain'} tar context and reads the Dockerfile from a subdirectory`, async () => {
      const src = await fresh();
      await mkdir(join(src, 'sub'));
      await writeFile(join(src, 'sub/Dockerfile.dev'), 'FROM scratch\n');
      await writeFile(join(src, 'a'), 'A');
      const ctx = await openContext(Readable.from([tarOf(src, z)]), join(await fresh(), 'ctx'), { dockerfile: 'sub/Dockerfile.dev' });
      try {
        assert.equal(await ctx.readDockerfile('sub/Dockerfile.dev'), 'FROM scratch\n');
        await ctx.ready;
        assert.equal(await readFile(join(ctx.root, 'a'), 'utf8'), 'A');
        await assert.rejects(ctx.readDockerfile('Dockerfile'), { message: 'Cannot locate specified Dockerfile: Dockerfile' });
      } finally {
        await ctx.close();
      }
      await assert.rejects(stat(ctx.root), { code: 'ENOENT' }, 'close removes the directory');
    });
  }

  it('takes a body that is not a tar as the Dockerfile, and falls back to "dockerfile" as dockerd does', async () => {
    const text = `FROM scratch\n${'LABEL a=b\n'.repeat(100)}`;
    const bare = await openContext(Readable.from([Buffer.from(text)]), join(await fresh(), 'c'), { dockerfile: 'Dockerfile' });
    try {
      assert.equal(await bare.readDockerfile('Dockerfile'), text);
    } finally {
      await bare.close();
    }
    const src = await fresh();
    await writeFile(join(src, 'dockerfile'), 'FROM lower\n');
    const lower = await openContext(Readable.from([tarOf(src)]), join(await fresh(), 'c'), { dockerfile: 'Dockerfile' });
    try {
      assert.equal(await lower.readDockerfile('Dockerfile'), 'FROM lower\n');
    } finally {
      await lower.close();
    }
    const empty = await openContext(Readable.from([]), join(await fresh(), 'c'), { dockerfile: 'Dockerfile' });
    try {
      await assert.rejects(empty.readDockerfile('Dockerfile'), { message: 'Cannot locate specified Dockerfile: Dockerfile' });
    } finally {
      await empty.close();
    }
  });

  it('applies .dockerignore (exceptions, **, leading /) and still lets the builder read an ignored Dockerfile', async () => {
    const src = await fresh();
    for (const d of ['logs', 'deep/a/b', 'keep/x']) await mkdir(join(src, d), { recursive: true });
    for (const f of ['logs/1.log', 'logs/important.log', 'deep/a/b/t.tmp', 'deep/a/ok', 'keep/x/y', 'top.md', 'README.md', 'Dockerfile']) await writeFile(join(src, f), f);
    await writeFile(join(src, '.dockerignore'), '# comment\nlogs\n!logs/important.log\n**/*.tmp\n/*.md\n!README.md\nDockerfile\n.dockerignore\n');
    // .dockerignore last in the tar: the rules apply all the same
    const names = ['logs', 'deep', 'keep', 'top.md', 'README.md', 'Dockerfile', '.dockerignore'];
    const ctx = await openContext(Readable.from([tarOf(src, 'z', names)]), join(await fresh(), 'c'), { dockerfile: 'Dockerfile' });
    try {
      await ctx.ready;
      const present = execFileSync('find', ['.', '-mindepth', '1'], { cwd: ctx.root }).toString().trim().split('\n').sort();
      assert.deepEqual(present, ['./README.md', './deep', './deep/a', './deep/a/b', './deep/a/ok', './keep', './keep/x', './keep/x/y', './logs', './logs/important.log']);
      assert.equal(await ctx.readDockerfile('Dockerfile'), 'Dockerfile', 'read before it was removed');
    } finally {
      await ctx.close();
    }
  });

  it('hands the Dockerfile over as soon as it came, while the rest arrives; the rest failing fails `ready`', async () => {
    const entry = (name: string, body: string) =>
      Buffer.concat([tarHeader({ name, mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', size: body.length, mtime: new Date(1700000000000), type: 'file', linkname: '', devmajor: 0, devminor: 0 }), Buffer.from(body), tarPadding(body.length)]);
    const open = async (rest: Buffer[]) => {
      const body = new PassThrough();
      body.write(entry('Dockerfile', 'FROM scratch\nCOPY late /\n'));
      const ctx = await openContext(body, join(await fresh(), 'c'), { dockerfile: 'Dockerfile' });
      // the Dockerfile is read while the body is still open
      assert.equal(await ctx.readDockerfile('Dockerfile'), 'FROM scratch\nCOPY late /\n');
      let ready = false;
      void ctx.ready.then(() => (ready = true), () => {});
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(ready, false, 'not ready before the rest came');
      for (const b of rest) body.write(b);
      body.end();
      return ctx;
    };
    const whole = await open([entry('late', 'late file\n'), Buffer.alloc(1024)]);
    await whole.ready;
    assert.equal(await readFile(join(whole.root, 'late'), 'utf8'), 'late file\n');
    assert.equal(whole.digests.size, 2);
    await whole.close();
    // a later entry with another Dockerfile: what was read is not what the context holds
    const twice = await open([entry('Dockerfile', 'FROM other\n'), Buffer.alloc(1024)]);
    await assert.rejects(twice.ready, /lists the Dockerfile Dockerfile twice/);
    await twice.close();
    await assert.rejects(stat(twice.root), { code: 'ENOENT' });
    // the rest cut short in a header
    const cut = await open([entry('late', 'x').subarray(0, 100)]);
    await assert.rejects(cut.ready);
    await cut.close();
    await assert.rejects(stat(cut.root), { code: 'ENOENT' }, 'close waits for the unpacking, then removes it');
  });

  it('never writes outside the context: ../ names and symlinked directories in the tar', async () => {
    const outside = await fresh();
    // A tar whose symlink points out of the context, then a file written "through" it.
    const src = await fresh();
    await symlink(outside, join(src, 'esc'));
    const t1 = tarOf(src);
    const inner = await fresh();
    await mkdir(join(inner, 'esc'));
    await writeFile(join(inner, 'esc/pwned'), 'x');
    const t2 = tarOf(inner, '', ['esc/pwned']);
    const combined = Buffer.concat([t1.subarray(0, t1.length - 1024 * 9).subarray(0, 512 * 2), t2]); // ./ and esc, then esc/pwned
    const ctx = await openContext(Readable.from([combined]), join(await fresh(), 'c'), { dockerfile: 'Dockerfile' }).catch((e: Error) => e);
    if (!(ctx instanceof Error)) await ctx.close();
    await assert.rejects(stat(join(outside, 'pwned')), { code: 'ENOENT' });
    const dotdot = execFileSync('tar', ['-cf', '-', '-C', inner, '--transform', 's,^esc,../../evil,', 'esc/pwned']);
    const dir = join(await fresh(), 'c');
    await assert.rejects(openContext(Readable.from([dotdot]), dir, { dockerfile: 'Dockerfile' }));
    await assert.rejects(stat(dir), { code: 'ENOENT' }, 'a failed open removes what it unpacked');
  });

  it('resolves sources as Docker does: wildcards, leading /, symlinks followed, errors', async () => {
    const root = await fresh();
    await mkdir(join(root, 'dir/sub'), { recursive: true });
    for (const f of ['a.txt', 'b.txt', 'c.md', 'dir/sub/s']) await writeFile(join(root, f), f);
    await symlink('a.txt', join(root, 'link'));
    await symlink('/../../elsewhere/usr', join(root, 'usr'));
    const r = await resolveSources(root, ['*.txt', '/dir', 'link', '[a-b].*', 'd?r/su*'], { allowWildcards: true });
    assert.deepEqual(r, [
      { path: 'a.txt', name: 'a.txt', dir: false },
      { path: 'b.txt', name: 'b.txt', dir: false },
      { path: 'dir', name: 'dir', dir: true },
      { path: 'a.txt', name: 'link', dir: false },
      { path: 'a.txt', name: 'a.txt', dir: false },
      { path: 'b.txt', name: 'b.txt', dir: false },
      { path: 'dir/sub', name: 'sub', dir: true },
    ]);
    await assert.rejects(resolveSources(root, ['nope'], { allowWildcards: true }), { message: 'COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist' });
    await assert.rejects(resolveSources(root, ['/x/y'], { allowWildcards: true, instruction: 'ADD' }), { message: 'ADD failed: file not found in build context or excluded by .dockerignore: stat x/y: file does not exist' });
    await assert.rejects(resolveSources(root, ['nop*'], { allowWildcards: true }), { message: 'COPY failed: no source files were specified' });
    await assert.rejects(resolveSources(root, ['../f'], { allowWildcards: true }), { message: 'COPY failed: forbidden path outside the build context: ../f ()' });
    assert.deepEqual(await resolveSources(root, ['usr/bin'], { allowWildcards: true }).catch((e: Error) => e.message), 'COPY failed: file not found in build context or excluded by .dockerignore: stat usr/bin: file does not exist', 'a symlink out of the root stays inside it');
    await assert.rejects(resolveSources(root, ['*.txt'], { allowWildcards: false }));
  });

  it('hashes content, names and mode but not times or owners', async () => {
    const root = await fresh();
    await mkdir(join(root, 'd/e'), { recursive: true });
    await writeFile(join(root, 'd/e/f'), 'one');
    await writeFile(join(root, 'd/g'), Buffer.alloc(3 << 20, 7));
    await symlink('e/f', join(root, 'd/l'));
    const src = await resolveSources(root, ['d'], { allowWildcards: false });
    const h0 = await hashSources(root, src);
    await utimes(join(root, 'd/e/f'), new Date(1), new Date(1));
    execFileSync('chown', ['1234:1234', join(root, 'd/g')]);
    assert.equal(await hashSources(root, src), h0, 'touch and chown change nothing');
    await chmod(join(root, 'd/e/f'), 0o600);
    const h1 = await hashSources(root, src);
    assert.notEqual(h1, h0, 'a chmod changes it');
    await writeFile(join(root, 'd/e/f'), 'two');
    const h2 = await hashSources(root, src);
    assert.notEqual(h2, h1, 'content changes it');
    await rm(join(root, 'd/l'));
    await symlink('e/g', join(root, 'd/l'));
    assert.notEqual(await hashSources(root, src), h2, 'a symlink target changes it');
  });

  it('copies into a rootfs with Docker semantics: dirs, trailing /, owners, modes, symlinks, merging', async () => {
    const ctx = await fresh();
    const rootfs = await fresh();
    await mkdir(join(ctx, 'dir/sub'), { recursive: true });
    await writeFile(join(ctx, 'f'), 'F');
    await chmod(join(ctx, 'f'), 0o741);
    await writeFile(join(ctx, 'dir/sub/s'), 'S');
    await chmod(join(ctx, 'dir/sub'), 0o700);
    await symlink('../f', join(ctx, 'dir/inner'));
    await writeFile(join(ctx, 'dir/h1'), 'H');
    execFileSync('ln', [join(ctx, 'dir/h1'), join(ctx, 'dir/h2')]);
    execFileSync('chown', ['-R', '4321:4321', ctx]);
    // The image has /x -> ../../.. : copies through it land in the root, never on the host.
    await symlink('../../..', join(rootfs, 'x'));
    await mkdir(join(rootfs, 'existing'));
    await writeFile(join(rootfs, 'existing/old'), 'old');

    const copy = async (patterns: string[], dest: string, extra = {}) =>
      copyIntoRoot({ fromRoot: ctx, sources: await resolveSources(ctx, patterns, { allowWildcards: true }), rootfs, dest, extractArchives: false, ...extra });
    await copy(['dir'], '/newdir');
    await copy(['f'], '/a/b/c/', { chown: { uid: 1000, gid: 50 } });
    await copy(['f'], '/file');
    await copy(['f'], '/existing');
    await copy(['dir'], '/existing/');
    await copy(['f'], '/x/escaped');
    await copy(['f'], '/m', { chmod: 0o600 });

    const st = async (p: string) => {
      const s = await lstat(join(rootfs, p));
      return `${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid}`;
    };
    assert.equal(await st('newdir'), '755 0:0');
    assert.equal(await st('newdir/sub'), '700 0:0');
    assert.equal(await readFile(join(rootfs, 'newdir/sub/s'), 'utf8'), 'S');
    assert.equal(await readlink(join(rootfs, 'newdir/inner')), '../f');
    assert.equal(await st('newdir/inner'), '777 0:0');
    assert.equal((await stat(join(rootfs, 'newdir/h1'))).ino, (await stat(join(rootfs, 'newdir/h2'))).ino, 'hard links kept');
    for (const d of ['a', 'a/b', 'a/b/c']) assert.equal(await st(d), '755 1000:50', `${d}: made for a --chown copy, owned like it`);
    assert.equal(await st('a/b/c/f'), '741 1000:50');
    assert.equal(await st('file'), '741 0:0');
    assert.equal(await readFile(join(rootfs, 'existing/f'), 'utf8'), 'F', 'an existing directory is a directory dest');
    assert.equal(await readFile(join(rootfs, 'existing/old'), 'utf8'), 'old', 'merged, not replaced');
    assert.equal(await readFile(join(rootfs, 'existing/sub/s'), 'utf8'), 'S');
    assert.equal(await readFile(join(rootfs, 'escaped'), 'utf8'), 'F', '/x/escaped resolved inside the root');
    assert.equal(await st('m'), '600 0:0');
    assert.equal(Math.floor((await stat(join(rootfs, 'file'))).mtimeMs), Math.floor((await stat(join(ctx, 'f'))).mtimeMs), 'mtime kept');
    await assert.rejects(copy(['f', 'dir'], '/two'), { message: 'When using COPY with more than one source file, the destination must be a directory and end with a /' });
  });

  it('ADD unpacks local tar, gzip, bzip2 and xz archives (keeping their owners), never escaping the root', async () => {
    const ctx = await fresh();
    const content = await fresh();
    await mkdir(join(content, 'o'));
    await writeFile(join(content, 'o/x'), 'hi');
    execFileSync('chown', ['-R', '1234:4321', content]);
    for (const [z, ext] of [['', 'tar'], ['z', 'tgz'], ['j', 'tbz'], ['J', 'txz']] as const) await writeFile(join(ctx, `a.${ext}`), tarOf(content, z));
    await writeFile(join(ctx, 'plain.gz'), execFileSync('gzip', ['-c'], { input: 'not a tar' }));
    const rootfs = await fresh();
    const sources = await resolveSources(ctx, ['a.*', 'plain.gz'], { allowWildcards: true, instruction: 'ADD' });
    await copyIntoRoot({ fromRoot: ctx, sources, rootfs, dest: '/ex/', chown: { uid: 5, gid: 6 }, extractArchives: true, instruction: 'ADD' });
    assert.equal(await readFile(join(rootfs, 'ex/o/x'), 'utf8'), 'hi');
    assert.equal((await stat(join(rootfs, 'ex/o/x'))).uid, 1234);
    assert.ok((await stat(join(rootfs, 'ex/plain.gz'))).isFile(), 'a compressed non-tar is copied as it is');
    assert.equal((await stat(join(rootfs, 'ex/plain.gz'))).uid, 5);
    await assert.rejects(stat(join(rootfs, 'ex/a.tgz')), { code: 'ENOENT' });
  });

  it('resolves --chown from the rootfs /etc/passwd and /etc/group with Docker errors', async () => {
    const rootfs = await fresh();
    await mkdir(join(rootfs, 'etc'));
    await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n');
    await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nstaff:x:50:\nbob:x:1001:\n');
    assert.deepEqual(await resolveChown(rootfs, 'bob:staff'), { uid: 1000, gid: 50 });
    assert.deepEqual(await resolveChown(rootfs, 'bob'), { uid: 1000, gid: 1001 });
    assert.deepEqual(await resolveChown(rootfs, '7:8'), { uid: 7, gid: 8 });
    assert.deepEqual(await resolveChown(rootfs, '7'), { uid: 7, gid: 7 });
    const pre = 'unable to convert uid/gid chown string to host mapping: ';
    await assert.rejects(resolveChown(rootfs, 'zed'), { message: `${pre}can't find uid for user zed: no such user: zed` });
    await assert.rejects(resolveChown(rootfs, 'bob:nogrp'), { message: `${pre}can't find gid for group nogrp: no such group: nogrp` });
    await assert.rejects(resolveChown(rootfs, 'a:b:c'), { message: `${pre}invalid chown string format: a:b:c` });
    const bare = await fresh();
    await assert.rejects(resolveChown(bare, 'zed'), { message: `${pre}can't find uid for user zed: open /etc/passwd: no such file or directory` });
  });

  it('fetches ADD URLs to a 0600 file named after the URL, with Docker\'s error on a non-2xx answer', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/files/data.bin') res.end('payload');
      else {
        res.statusCode = 404;
        res.statusMessage = 'File not found';
        res.end('<p>nope</p>\n');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const dir = join(await fresh(), 'dl');
      const got = await fetchUrl(`http://127.0.0.1:${port}/files/data.bin`, dir);
      assert.equal(got.name, 'data.bin');
      assert.equal(await readFile(join(got.root, got.path), 'utf8'), 'payload');
      assert.equal((await stat(join(got.root, got.path))).mode & 0o777, 0o600);
      const rootfs = await fresh();
      await copyIntoRoot({ fromRoot: got.root, sources: [got], rootfs, dest: '/u/', extractArchives: true, instruction: 'ADD' });
      assert.equal((await stat(join(rootfs, 'u/data.bin'))).mode & 0o777, 0o600);
      await assert.rejects(fetchUrl(`http://127.0.0.1:${port}/nope`, join(await fresh(), 'dl')), {
        message: `ADD failed: failed to GET http://127.0.0.1:${port}/nope with status 404 File not found: <p>nope</p>`,
      });
    } finally {
      server.close();
    }
  });
});
