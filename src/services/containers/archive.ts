import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgument, NotFound } from '../../errors/index.js';
import { type Location, ScopedRoot } from '../../kernel/scoped.js';
import { extractInRoot, packInRoot } from '../../layers/index.js';
import type { ContainerService } from './index.js';
import { lookupUser } from './spec.js';

/** What `X-Docker-Container-Path-Stat` carries (Engine API ContainerPathStat); `mode` is a Go os.FileMode. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface ExtractRequest {
  noOverwriteDirNonDir?: boolean;
  /** Own the files as the container's user (`cp -a`), when it has one. */
  copyUIDGID?: boolean;
}

/**
 * `docker cp`: stat, archive and extract paths in a container's filesystem, running or stopped (the rootfs of a
 * stopped one is mounted for the duration). Paths resolve as inside the container: symlinks are followed within
 * its root (kernel/scoped.ts), so neither a path nor an archive entry can reach the host.
 */
export class ContainerArchive {
  constructor(private readonly containers: ContainerService) {}

  /**
   * The root and path a `cp` path is served from: the container's root, or the volume or bind source mounted at the
   * deepest mount point the path is under (a lexical match: the container's own mounts live in its namespace).
   */
  private target(idOrName: string, root: string, path: string): { root: string; path: string } {
    const cleaned = posix.join('/', path);
    const source = this.containers.mountSourceFor(this.containers.resolve(idOrName), cleaned);
    if (!source) return { root, path };
    const rest = posix.relative(source.destination, cleaned);
    const suffix = path.endsWith('/.') ? '/.' : path.endsWith('/') ? '/' : '';
    return { root: source.source, path: `/${rest}${rest ? suffix : suffix.slice(1)}` };
  }

  /** `HEAD /containers/{id}/archive`. */
  stat(idOrName: string, path: string): Promise<PathStat> {
    return this.containers.withRootfs(
      idOrName,
      (merged) =>
        ScopedRoot.with(this.target(idOrName, merged, path).root, async (r) => {
          const found = await find(r, idOrName, this.target(idOrName, merged, path).path, path);
          await found.loc.close();
          return found.stat;
        }),
      { readonly: true },
    );
  }

  /** `GET /containers/{id}/archive`: the stat and a tar of the path; the rootfs stays mounted until the tar closes. */
  async archive(idOrName: string, path: string): Promise<{ stat: PathStat; tar: Readable }> {
    const c = this.containers.resolve(idOrName);
    return new Promise((resolve, reject) => {
      this.containers
        .withRootfs(
          c.id,
          (merged) =>
            ScopedRoot.with(this.target(c.id, merged, path).root, async (r) => {
              const { loc, stat, st } = await find(r, idOrName, this.target(c.id, merged, path).path, path);
              const tar = packInRoot(loc, st, stat.name);
              resolve({ stat, tar });
              this.containers.publish(c, 'archive-path');
              await new Promise<void>((done) => tar.once('close', done));
            }),
          { readonly: true },
        )
        .catch(reject);
    });
  }

  /** `PUT /containers/{id}/archive`: extracts a tar into `path`, which must be a directory (symlinks followed). */
  async extract(idOrName: string, path: string, input: Readable, req: ExtractRequest = {}): Promise<void> {
    const c = this.containers.resolve(idOrName);
    return this.containers.withRootfs(c.id, (merged) =>
      ScopedRoot.with(this.target(c.id, merged, path).root, async (r) => {
        const inVolume = this.target(c.id, merged, path).root !== merged;
        const loc = await r.locate(posix.join('/', this.target(c.id, merged, path).path), { followLast: true }).catch((e: unknown) => rethrow(e, idOrName, path));
        let st;
        try {
          st = await loc.lstat().catch((e: unknown) => rethrow(e, idOrName, path));
        } finally {
          await loc.close();
        }
        if (!st.isDirectory()) throw new InvalidArgument('extraction point is not a directory');
        if (c.hostConfig.ReadonlyRootfs && !inVolume) throw new InvalidArgument('container rootfs is marked read-only');
        const owner = req.copyUIDGID && c.config.User ? await lookupUser(r, c.config.User) : undefined;
        await extractInRoot(r, loc.parts, input, { noOverwriteDirNonDir: !!req.noOverwriteDirNonDir, ...(owner && { owner }) });
        this.containers.publish(c, 'extract-to-dir');
      }),
    );
  }
}

/**
 * The entry at `path` as Docker's daemon finds it: the path is cleaned lexically first, then resolved inside the
 * root without following a symlink in last position, unless it ends in `/` or `/.`.
 */
async function find(r: ScopedRoot, idOrName: string, path: string, asked = path): Promise<{ loc: Location; st: Stats; stat: PathStat }> {
  const followLast = path.endsWith('/') || path === '.' || path.endsWith('/.');
  const cleaned = posix.join('/', path);
  const loc = await r.locate(cleaned, { followLast }).catch((e: unknown) => rethrow(e, idOrName, asked));
  try {
    const big = await loc.lstat({ bigint: true });
    const st = await loc.lstat();
    const linkTarget = st.isSymbolicLink() ? await r.realPath(cleaned) : '';
    const stat = { name: goBase(posix.join('/', asked), asked), size: st.size, mode: goFileMode(st.mode), mtime: rfc3339Nano(big.mtimeNs), linkTarget };
    return { loc, st, stat };
  } catch (e) {
    await loc.close();
    return rethrow(e, idOrName, asked);
  }
}

function rethrow(e: unknown, idOrName: string, path: string): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFound(`Could not find the file ${path} in container ${idOrName}`);
  if (code === 'ELOOP') throw new InvalidArgument(`too many levels of symbolic links in ${path}`);
  throw e;
}

/** Go's filepath.Base of the cleaned path with a trailing `/.` kept, as Docker names the entry (`.` for `dir/.`). */
function goBase(cleaned: string, original: string): string {
  if (original === '.' || original.endsWith('/.')) return '.';
  return cleaned === '/' ? '/' : posix.basename(cleaned);
}

// Go os.FileMode type bits.
const goMode = { dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, namedPipe: 2 ** 25, socket: 2 ** 24, setuid: 2 ** 23, setgid: 2 ** 22, charDevice: 2 ** 21, sticky: 2 ** 20 };

/** A unix st_mode as Go's os.FileMode (what Docker's path stat reports). Plain arithmetic: bit 31 overflows `|`. */
export function goFileMode(mode: number): number {
  const types: Record<number, number> = {
    0o040000: goMode.dir,
    0o120000: goMode.symlink,
    0o060000: goMode.device,
    0o020000: goMode.device + goMode.charDevice,
    0o010000: goMode.namedPipe,
    0o140000: goMode.socket,
  };
  let m = (mode & 0o777) + (types[mode & 0o170000] ?? 0);
  if (mode & 0o4000) m += goMode.setuid;
  if (mode & 0o2000) m += goMode.setgid;
  if (mode & 0o1000) m += goMode.sticky;
  return m;
}

/** Go's RFC3339Nano in UTC: fraction without trailing zeros, none when whole. */
export function rfc3339Nano(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = ns % 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}${fraction ? '.' + fraction.toString().padStart(9, '0').replace(/0+$/, '') : ''}Z`;
}
