import { execFile } from 'node:child_process';
import { copyFile, lutimes, mkdir, mkdtemp, readdir, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Unavailable } from '../../errors/index.js';
import { removeAll } from '../../kernel/fs.js';
import { packLayer } from '../../layers/index.js';
import type { ImageService } from './index.js';
import { importImage } from './import.js';

const run = promisify(execFile);
export const busyboxRef = 'busybox:latest';
/** Debian's busybox-static: one static binary, so the image needs no libc. */
export const busyboxBinary = '/bin/busybox';

/**
 * Berth's bundled base image, made offline: `busybox:latest` from the host's static busybox, with every applet
 * linked, a minimal /etc, and `CMD ["sh"]`. All timestamps are the binary's, so the same busybox package always
 * yields the same image ID. No-op if the tag already exists.
 */
export async function ensureBusyboxImage(images: ImageService, tmpRoot: string): Promise<string | undefined> {
  if (images.find(busyboxRef)) return undefined;
  let st;
  try {
    st = await stat(busyboxBinary);
  } catch {
    throw new Unavailable(`${busyboxBinary} not found: install Debian's busybox-static to make the base image`);
  }
  const rootfs = await mkdtemp(join(tmpRoot, 'busybox-'));
  try {
    await buildRootfs(rootfs, st.mtime);
    return await importImage(images, packLayer(rootfs), {
      repo: busyboxRef,
      changes: ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["sh"]'],
      created: st.mtime.toISOString(),
      message: 'berth: busybox from the host (busybox-static)',
    });
  } finally {
    await removeAll(rootfs);
  }
}

async function buildRootfs(root: string, mtime: Date): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'home', 'var/spool/mail', 'var/www', 'proc', 'sys', 'dev', 'tmp']) {
    await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  }
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'root'), 0o700);
  await copyFile(busyboxBinary, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const { stdout } = await run(busyboxBinary, ['--list-full']);
  for (const applet of stdout.split('\n').filter(Boolean)) {
    if (applet === 'bin/busybox') continue;
    const target = join(root, applet);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    const depth = applet.split('/').length - 1;
    await symlink('../'.repeat(depth) + 'bin/busybox', target).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  const files: Record<string, string> = {
    'etc/passwd':
      'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
    'etc/group':
      'root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nwheel:x:10:root\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n',
    'etc/hostname': 'busybox\n',
    'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    'etc/resolv.conf': '',
  };
  for (const [p, content] of Object.entries(files)) await writeFile(join(root, p), content, { mode: 0o644 });
  await stampTree(root, mtime);
}

/** Gives every entry the same mtime, children before parents, so the layer tar is reproducible. */
async function stampTree(dir: string, mtime: Date): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await stampTree(p, mtime);
    await lutimes(p, mtime, mtime);
  }
  await lutimes(dir, mtime, mtime);
}
