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
