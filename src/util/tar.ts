// Tar headers from file stats, shared by the layer archive code and the CLI's local side of `cp`.
import type { Stats } from 'node:fs';
import type { Header as Headers } from 'tar-stream';

/** A tar header for `st` (numeric owners, no user or group names, whole-second mtime). */
export function header(name: string, st: Stats): Headers {
  return {
    name,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    uname: '',
    gname: '',
    mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
    size: 0,
    type: 'file',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  };
}

// Linux's dev_t encoding (glibc's gnu_dev_major/minor).
export const major = (rdev: number) => ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
export const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & ~0xff);

const typeFlags: Record<string, string> = { file: '0', link: '1', symlink: '2', 'character-device': '3', 'block-device': '4', directory: '5', fifo: '6' };

/**
 * The bytes that start a tar entry for `h`: a ustar header, after a PAX header when a value does not fit (a long
 * name or link target, an owner, size or time too large for its octal field). The entry's body and its padding
 * (`tarPadding`) follow; `tarEnd` closes the archive.
 *
 * Why not tar-stream's pack: it holds each body chunk until the reader takes it, so the buffers a file is read into
 * cannot be reused, and fresh ones cost more (their pages faulted in) than the copying (see util/send-file.ts).
 */
export function tarHeader(h: Headers): Buffer {
  const name = Buffer.from(h.name, 'utf8');
  const linkname = Buffer.from(h.linkname ?? '', 'utf8');
  const size = h.size ?? 0;
  const mtime = Math.floor((h.mtime ?? new Date(0)).getTime() / 1000);
  const pax: Array<[string, string]> = [];
  let [prefix, base] = [Buffer.alloc(0), name];
  if (name.length > 100) {
    // ustar's prefix/name split at a slash, else a PAX path
    const cut = name.subarray(0, 156).lastIndexOf(0x2f);
    if (cut > 0 && name.length - cut - 1 <= 100 && name.length - cut - 1 > 0) [prefix, base] = [name.subarray(0, cut), name.subarray(cut + 1)];
    else pax.push(['path', h.name]);
  }
  if (linkname.length > 100) pax.push(['linkpath', h.linkname ?? '']);
  const fits = (v: number, digits: number) => Number.isInteger(v) && v >= 0 && v < 8 ** digits;
  if (!fits(h.uid ?? 0, 7)) pax.push(['uid', String(h.uid)]);
  if (!fits(h.gid ?? 0, 7)) pax.push(['gid', String(h.gid)]);
  if (!fits(size, 11)) pax.push(['size', String(size)]);
  if (!fits(mtime, 11)) pax.push(['mtime', String(mtime)]);
  for (const [k, v] of Object.entries(h.pax ?? {})) pax.push([k, v]); // xattrs (SCHILY.xattr.*)
  const ustar = ustarBlock({
    name: pax.some(([k]) => k === 'path') ? name.subarray(0, 100) : base,
    prefix,
    mode: h.mode ?? 0o644,
    uid: fits(h.uid ?? 0, 7) ? (h.uid ?? 0) : 0,
    gid: fits(h.gid ?? 0, 7) ? (h.gid ?? 0) : 0,
    size: fits(size, 11) ? size : 0,
    mtime: fits(mtime, 11) ? mtime : 0,
    type: typeFlags[h.type ?? 'file'] ?? '0',
    linkname: linkname.subarray(0, 100),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (!pax.length) return ustar;
  const records = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  const paxName = Buffer.from(`PaxHeader/${h.name.split('/').filter(Boolean).pop() ?? ''}`, 'utf8').subarray(0, 100);
  const paxHead = ustarBlock({ name: paxName, prefix: Buffer.alloc(0), mode: 0o644, uid: 0, gid: 0, size: records.length, mtime: fits(mtime, 11) ? mtime : 0, type: 'x', linkname: Buffer.alloc(0), devmajor: 0, devminor: 0 });
  return Buffer.concat([paxHead, records, tarPadding(records.length), ustar]);
}

/** Shared, never written: the padding and end marker of every tar made here. */
const zeros = Buffer.alloc(1024);

/** The zeros that fill an entry's body of `size` bytes up to a whole 512-byte block (a shared buffer: read only). */
export function tarPadding(size: number): Buffer {
  return zeros.subarray(0, (512 - (size % 512)) % 512);
}

/** The two zero blocks that end an archive (a shared buffer: read only). */
export const tarEnd = (): Buffer => zeros;

/** A PAX record, `"<length> <key>=<value>\n"`, its length counting its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = Buffer.byteLength(` ${key}=${value}\n`);
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return `${len} ${key}=${value}\n`;
}

function ustarBlock(f: { name: Buffer; prefix: Buffer; mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname: Buffer; devmajor: number; devminor: number }): Buffer {
  const b = Buffer.alloc(512);
  const octal = (v: number, at: number, width: number) => b.write(`${v.toString(8).padStart(width - 1, '0')}\0`, at, width, 'latin1');
  f.name.copy(b, 0);
  octal(f.mode & 0o7777, 100, 8);
  octal(f.uid, 108, 8);
  octal(f.gid, 116, 8);
  octal(f.size, 124, 12);
  octal(f.mtime, 136, 12);
  b.write(f.type, 156, 1, 'latin1');
  f.linkname.copy(b, 157);
  b.write('ustar\x0000', 257, 8, 'latin1');
  octal(f.devmajor, 329, 8);
  octal(f.devminor, 337, 8);
  f.prefix.copy(b, 345);
  b.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}
