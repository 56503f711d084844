// Extended attributes, and how tar entries carry them: PAX `SCHILY.xattr.<name>` records (GNU tar's and Docker's
// convention; tar-stream carries the raw bytes as latin1 strings). Shared by the daemon's archives and the CLI's
// `cp`, hence here. Node has no xattr calls; @napi-rs/xattr wraps the kernel's l*xattr calls (prebuilt binaries,
// no compiler needed). The last component of a path is never followed: pass a `/proc/self/fd/N/name` path
// (kernel/scoped.ts) to pin the directory too, so a container cannot redirect a call with a symlink swap.
import type { Header as Headers } from 'tar-stream';
import { InvalidArgument } from '../errors/index.js';

const paxPrefix = 'SCHILY.xattr.';

// Loaded at first use: most CLI commands never touch an xattr, and the addon costs milliseconds to load.
let addon: Promise<typeof import('@napi-rs/xattr')> | undefined;
const xattr = () => (addon ??= import('@napi-rs/xattr'));

/** One attribute of `path`, or undefined when it has none by that name (or cannot have any). */
export async function getXattr(path: string, name: string): Promise<Buffer | undefined> {
  return (await (await xattr()).getAttribute(path, name)) ?? undefined;
}

/** Every attribute of `path` that `wanted` accepts, by name. */
export async function readXattrs(path: string, wanted: (name: string) => boolean = () => true): Promise<Map<string, Buffer>> {
  const { getAttribute, listAttributes } = await xattr();
  const out = new Map<string, Buffer>();
  for (const name of (await listAttributes(path)).filter(wanted)) {
    const value = await getAttribute(path, name);
    if (value) out.set(name, value);
  }
  return out;
}

export async function setXattr(path: string, name: string, value: Buffer): Promise<void> {
  await (await xattr()).setAttribute(path, name, value);
}

export async function removeXattr(path: string, name: string): Promise<void> {
  await (await xattr()).removeAttribute(path, name);
}

/** PAX records for `xattrs`, or undefined when there are none. */
export function paxOf(xattrs: Map<string, Buffer>): Record<string, string> | undefined {
  if (xattrs.size === 0) return undefined;
  return Object.fromEntries([...xattrs].map(([name, value]) => [`${paxPrefix}${name}`, value.toString('latin1')]));
}

/**
 * Sets the xattrs a tar entry carries on `path`. Like moby's archive code, an attribute the filesystem does not
 * support (ENOTSUP) or does not allow here (EPERM: `user.*` on a symlink, say) is skipped.
 */
export async function applyPaxXattrs(path: string, h: Headers): Promise<void> {
  for (const [k, v] of Object.entries((h.pax ?? {}) as Record<string, string>)) {
    if (!k.startsWith(paxPrefix)) continue;
    const name = k.slice(paxPrefix.length);
    try {
      await setXattr(path, name, Buffer.from(v, 'latin1'));
    } catch (e) {
      // The addon reports errno only in its message ("Operation not supported (os error 95)").
      const errno = Number(/os error (\d+)/.exec((e as Error).message)?.[1]);
      if (errno !== 95 && errno !== 1) throw new InvalidArgument(`cannot set xattr ${name} on ${h.name}: ${(e as Error).message}`);
    }
  }
}

/**
 * The one xattr `docker cp` carries (moby pkg/archive, ReadSecurityXattrToTarHeader): a file's capabilities. A v3
 * value, which names the root uid of a user namespace, becomes v2, as that root means nothing where the archive goes.
 */
export async function capabilityPax(path: string): Promise<Record<string, string> | undefined> {
  const cap = await getXattr(path, 'security.capability');
  if (!cap) return undefined;
  const revision3 = cap.length > 20 && cap[3] === 3;
  const value = revision3 ? Buffer.concat([cap.subarray(0, 3), Buffer.from([2]), cap.subarray(4, 20)]) : cap;
  return paxOf(new Map([['security.capability', value]]));
}
