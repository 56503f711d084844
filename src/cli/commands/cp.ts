// `cp`: copies between a container and the local filesystem with the docker CLI's rules (see ../copy-archive.ts):
// the daemon only stats, archives and extracts directories; naming the result is decided here.
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Cli, CliError } from '../context.js';
import {
  type CopyInfo,
  type Rename,
  copyInfoDestinationPath,
  copyInfoSourcePath,
  goClean,
  prepareArchiveCopy,
  rebaseName,
  rebaser,
  resolveLocalPath,
  splitPathDirEntry,
  tarLocal,
  untarLocal,
} from '../copy-archive.js';
import { humanSize } from '../format/units.js';

export interface CpFlags {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

/** The container's path stat (`X-Docker-Container-Path-Stat`); `mode` is a Go os.FileMode. */
interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

// Go os.FileMode bits the copy rules look at.
const isBit = (mode: number, bit: number) => Math.floor(mode / 2 ** bit) % 2 === 1;
const isDir = (mode: number) => isBit(mode, 31);
const isSymlink = (mode: number) => isBit(mode, 27);
const isDeviceOrIrregular = (mode: number) => isBit(mode, 26) || isBit(mode, 19);

export function registerCpCommand(program: Command, container: Command, cli: Cli): void {
  const cp = (cmd: Command) =>
    cmd
      .usage('[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH')
      .argument('<SRC>')
      .argument('<DEST>')
      .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
      .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
      .option('-q, --quiet', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached')
      .action((src: string, dest: string, o: CpFlags) => copy(cli, src, dest, o));
  const about = 'Copy files/folders between a container and the local filesystem';
  cp(program.command('cp').description(about));
  cp(container.command('cp').description(about));
}

export async function copy(cli: Cli, source: string, destination: string, o: CpFlags): Promise<void> {
  if (!source) throw new CliError('source can not be empty');
  if (!destination) throw new CliError('destination can not be empty');
  const [srcContainer, srcPath] = splitCpArg(source);
  const [dstContainer, dstPath] = splitCpArg(destination);
  // Like docker: no summary line unless asked for it or talking to a terminal.
  const quiet = o.quiet ?? !process.stdout.isTTY;
  if (srcContainer && dstContainer) throw new CliError('copying between containers is not supported');
  if (srcContainer) return copyFromContainer(cli, srcContainer, srcPath, dstPath, o, quiet);
  if (dstContainer) return copyToContainer(cli, dstContainer, srcPath, dstPath, o, quiet);
  throw new CliError('must specify at least one container source');
}

/**
 * `CONTAINER:PATH` or a local path. A local path with a colon must be made explicit (`./a:b` or `/x/a:b`), as in
 * docker and scp.
 */
export function splitCpArg(arg: string): [container: string, path: string] {
  if (arg.startsWith('/')) return ['', arg];
  const colon = arg.indexOf(':');
  if (colon < 0 || arg.startsWith('.')) return ['', arg];
  return [arg.slice(0, colon), arg.slice(colon + 1)];
}

async function copyFromContainer(cli: Cli, container: string, srcPath: string, dstPath: string, o: CpFlags, quiet: boolean): Promise<void> {
  const dst = dstPath === '-' ? '-' : resolveLocalPath(dstPath);
  if (dst !== '-') await validateOutputPath(dst);
  let src = srcPath;
  let rebase: string | undefined;
  if (o.followLink) {
    // A symlink is copied as its target, under the symlink's name.
    const st = await statPath(cli, container, src).catch(() => undefined);
    if (st && isSymlink(st.mode)) {
      const target = st.linkTarget.startsWith('/') ? st.linkTarget : posix.join(splitPathDirEntry(src)[0], st.linkTarget);
      [src, rebase] = rebaseName(src, target);
    }
  }
  const res = await cli.client().call('GET', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: src } });
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  if (dst === '-') {
    await pipeline(res, process.stdout);
    return;
  }
  const srcInfo: CopyInfo = { path: src, exists: true, isDir: isDir(stat.mode), ...(rebase && { rebaseName: rebase }) };
  const { dstDir, rename } = prepareArchiveCopy(srcInfo, await copyInfoDestinationPath(dst));
  const first: Rename = rebase ? rebaser(splitPathDirEntry(src)[1], rebase) : (n) => n;
  const counted = counter();
  try {
    await Promise.all([pipeline(res, counted.stream), untarLocal(counted.stream, dstDir, (n) => rename(first(n)))]);
  } catch (e) {
    res.destroy(); // a failed extraction stops reading: let the connection go, or the process would wait on it
    counted.stream.destroy();
    throw e;
  }
  if (!quiet) cli.err(`Successfully copied ${humanSize(counted.bytes())} to ${dst}`);
}

async function copyToContainer(cli: Cli, container: string, srcPath: string, dstPath: string, o: CpFlags, quiet: boolean): Promise<void> {
  const dstInfo = await destinationInfo(cli, container, dstPath);
  let body: Readable;
  let extractTo: string;
  if (srcPath === '-') {
    if (!dstInfo.isDir) throw new CliError(`destination "${container}:${dstPath}" must be a directory`);
    body = process.stdin;
    extractTo = dstInfo.path;
  } else {
    const srcInfo = await copyInfoSourcePath(resolveLocalPath(srcPath), !!o.followLink);
    const { dstDir, rename } = prepareArchiveCopy(srcInfo, dstInfo);
    body = tarLocal(srcInfo, rename);
    extractTo = dstDir;
  }
  const counted = counter();
  // A local read error ends the upload early: the daemon then rejects the truncated tar, and the local error is
  // the one reported.
  let failure: unknown;
  body.once('error', (e) => {
    failure = e;
    counted.stream.end();
  });
  try {
    await cli.client().do('PUT', `/containers/${encodeURIComponent(container)}/archive`, {
      query: { path: extractTo, noOverwriteDirNonDir: true, copyUIDGID: !!o.archive },
      body: body.pipe(counted.stream),
      headers: { 'Content-Type': 'application/x-tar' },
    });
  } catch (e) {
    throw failure ?? e;
  } finally {
    if (srcPath === '-') process.stdin.destroy(); // unread input must not hold the process
  }
  if (failure) throw failure;
  if (!quiet) cli.err(`Successfully copied ${humanSize(counted.bytes())} to ${container}:${dstInfo.path}`);
}

/**
 * What the destination in the container is: a symlink there is followed once. A failed stat is not an error:
 * the path may not exist yet, and the extraction into its parent then says what is wrong.
 */
async function destinationInfo(cli: Cli, container: string, dstPath: string): Promise<CopyInfo> {
  const info: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let st = await statPath(cli, container, dstPath).catch(() => undefined);
  if (st && isSymlink(st.mode)) {
    info.path = st.linkTarget.startsWith('/') ? st.linkTarget : posix.join(splitPathDirEntry(dstPath)[0], st.linkTarget);
    st = await statPath(cli, container, info.path).catch(() => undefined);
  }
  if (!st) return info;
  if (isDeviceOrIrregular(st.mode)) throw new CliError(`destination "${container}:${dstPath}" must be a directory or a regular file`);
  return { ...info, exists: true, isDir: isDir(st.mode) };
}

async function statPath(cli: Cli, container: string, path: string): Promise<PathStat> {
  const res = await cli.client().call('HEAD', `/containers/${encodeURIComponent(container)}/archive`, { query: { path } });
  res.resume();
  return decodeStat(res.headers['x-docker-container-path-stat']);
}

function decodeStat(header: string | string[] | undefined): PathStat {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) throw new CliError('unable to get resource stat from response: no X-Docker-Container-Path-Stat header');
  return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as PathStat;
}

/** The local destination's directory must exist, and the destination be a directory or a regular file if it does. */
async function validateOutputPath(path: string): Promise<void> {
  const dir = posix.dirname(goClean(path));
  if (dir !== '.' && !(await stat(dir).catch(() => undefined))) throw new CliError(`invalid output path: directory "${dir}" does not exist`);
  const st = await stat(path).catch(() => undefined);
  if (st && !st.isDirectory() && !st.isFile()) throw new CliError(`invalid output path: "${path}" must be a directory or a regular file`);
}

/** A pass-through that counts the bytes of the archive, for the summary line. */
function counter(): { stream: Transform; bytes: () => number } {
  let n = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, bytes: () => n };
}
