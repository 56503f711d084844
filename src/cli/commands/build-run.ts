// What `build` (also `image build`, `builder build`) does once its flags are parsed: docker 28's classic builder
// client (DOCKER_BUILDKIT=0) — the context it sends, what it prints and its exit codes. Unlike docker, no
// deprecation notice: Berth's builder is this one. No commander here: a plain `build` runs on the fast path (fast.ts).
import { rm, writeFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseReference } from '../../oci/reference.js';
import { ApiError } from '../../client/index.js';
import { type Cli, CliError, ExitCode } from '../context.js';
import { ContextError, type PreparedContext, directoryContext, isLocalPath, isRemoteContext, stdinContext } from '../build-context.js';
import { humanSize4, parseBytes } from '../format/units.js';
import { quote } from '../format/gofmt.js';

export interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  pull?: boolean;
  label: string[];
  quiet?: boolean;
  iidfile?: string;
  network?: string;
  rm: boolean;
  forceRm?: boolean;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuShares?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  memory?: string;
  memorySwap?: string;
  shmSize?: string;
  cgroupParent?: string;
  cacheFrom: string[];
  platform?: string;
  addHost: string[];
  securityOpt: string[];
  ulimit: string[];
  isolation?: string;
  squash?: boolean;
  compress?: boolean;
}

export const USAGE = '[OPTIONS] PATH | URL | -';

/** A refused flag value: docker's pflag message, the usage line and the help hint, exit 125. */
function flagError(command: string, flag: string, value: string, message: string): CliError {
  return new CliError(
    `invalid argument ${quote(value)} for "${flag}" flag: ${message}\n\nUsage:  berth ${command} ${USAGE}\n\nRun 'berth ${command} --help' for more information`,
    ExitCode.Usage,
  );
}

/** Go's json.Marshal of a map[string]…: keys sorted. */
const sortedJSON = (m: Record<string, string | null>) => JSON.stringify(Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]])));

/** The query of `POST /build` for these flags, checked as docker's flag validators do. */
function buildQuery(command: string, o: BuildFlags, dockerfile: string | undefined) {
  for (const t of o.tag) {
    try {
      parseReference(t);
    } catch (e) {
      throw flagError(command, '-t, --tag', t, (e as Error).message);
    }
  }
  // opts.ValidateEnv: `K` alone takes K's value from the environment, or stays unset (JSON null) without one.
  const buildArgs: Record<string, string | null> = {};
  for (const a of o.buildArg) {
    const eq = a.indexOf('=');
    const key = eq < 0 ? a : a.slice(0, eq);
    if (key === '') throw flagError(command, '--build-arg', a, `invalid environment variable: ${a}`);
    buildArgs[key] = eq >= 0 ? a.slice(eq + 1) : (process.env[key] ?? null);
  }
  const labels: Record<string, string> = {};
  for (const l of o.label) {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    if (key.trim() === '') throw flagError(command, '--label', l, `invalid label '${l}': empty name`);
    labels[key] = eq < 0 ? '' : l.slice(eq + 1);
  }
  const bytes = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (v === '-1' && flag === '--memory-swap') return -1;
    try {
      return parseBytes(v);
    } catch (e) {
      throw flagError(command, flag, v, (e as Error).message);
    }
  };
  const int = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw flagError(command, flag, v, `strconv.ParseInt: parsing ${quote(v)}: invalid syntax`);
    return Number(v) || undefined;
  };
  const ulimits = o.ulimit.map((u) => {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
    if (!m) throw flagError(command, '--ulimit', u, `invalid ulimit argument: ${u}`);
    return { Name: m[1]!, Hard: Number(m[3] ?? m[2]), Soft: Number(m[2]) };
  });
  return {
    t: o.tag,
    dockerfile,
    buildargs: o.buildArg.length ? sortedJSON(buildArgs) : undefined,
    labels: o.label.length ? sortedJSON(labels) : undefined,
    target: o.target,
    nocache: !o.cache,
    pull: o.pull,
    q: o.quiet,
    networkmode: o.network && o.network !== 'default' ? o.network : undefined,
    rm: o.rm ? undefined : '0', // the daemon's default is to remove
    forcerm: o.forceRm,
    cpusetcpus: o.cpusetCpus,
    cpusetmems: o.cpusetMems,
    cpushares: int('-c, --cpu-shares', o.cpuShares),
    cpuperiod: int('--cpu-period', o.cpuPeriod),
    cpuquota: int('--cpu-quota', o.cpuQuota),
    memory: bytes('-m, --memory', o.memory),
    memswap: bytes('--memory-swap', o.memorySwap),
    shmsize: bytes('--shm-size', o.shmSize),
    cgroupparent: o.cgroupParent,
    cachefrom: o.cacheFrom.length ? JSON.stringify(o.cacheFrom) : undefined,
    platform: o.platform?.toLowerCase(),
    extrahosts: o.addHost,
    securityopt: o.securityOpt,
    ulimits: ulimits.length ? JSON.stringify(ulimits) : undefined,
    isolation: o.isolation,
    squash: o.squash,
    version: '1', // the classic builder
  };
}

/** Reads all of stdin (a Dockerfile given as `-f -`). */
async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Where a build's output goes: the terminal, or (with -q) buffers docker prints only if the build fails. */
interface Sink {
  progress(s: string): void;
  build(s: string): void;
}

/**
 * Counts the context's bytes on their way to the daemon, printing docker's "Sending build context to Docker daemon"
 * line: every 512 KiB on a terminal, and once at the end (all docker prints when stdout is not a terminal).
 */
function progressCounter(sink: Sink, tty: boolean): { sent(n: number): void; done(): void } {
  let sent = 0;
  let shown = 0;
  const line = () => `Sending build context to Docker daemon ${humanSize4(sent).padStart(8)}\r`;
  return {
    sent(n) {
      sent += n;
      if (tty && sent - shown > 512 * 1024) {
        shown = sent;
        sink.progress(line());
      }
    },
    done: () => sink.progress(`${line()}\r\n`),
  };
}

/**
 * The request body: the context written into the request, through gzip with --compress. docker counts what goes
 * on the wire, so the compressed bytes then.
 */
function contextBody(ctx: PreparedContext, compress: boolean, progress: ReturnType<typeof progressCounter>): (req: Writable) => Promise<void> {
  if (!compress) {
    return async (req) => {
      await ctx.writeTo(req, (n) => progress.sent(n));
      progress.done();
    };
  }
  return async (req) => {
    const { createGzip } = await import('node:zlib'); // ~3 ms to load, for --compress only
    const gzip = createGzip();
    gzip.on('data', (c: Buffer) => progress.sent(c.length));
    const sent = pipeline(gzip, req, { end: false });
    sent.catch(() => {}); // awaited below, or the write's own failure is the one told
    await ctx.writeTo(gzip, () => {}).then(
      () => gzip.end(),
      (e: Error) => {
        gzip.destroy(e);
        throw e;
      },
    );
    await sent;
    progress.done();
  };
}

async function prepareContext(command: string, context: string, file: string | undefined, dockerfileInput: () => Promise<Buffer>): Promise<PreparedContext> {
  if (file === '-' && context === '-') throw new CliError("invalid argument: can't use stdin for both build context and dockerfile");
  try {
    if (context === '-') return await stdinContext(process.stdin, file ?? '');
    if (isLocalPath(context)) return await directoryContext(context, file ?? '', dockerfileInput);
    if (isRemoteContext(context)) throw new ContextError(`unable to prepare context: remote build contexts (${context}) are not supported by berth ${command}; clone or download it and build the directory`);
    throw new ContextError(`unable to prepare context: path ${quote(context)} not found`);
  } catch (e) {
    if (e instanceof ContextError) throw new CliError(e.message);
    throw e;
  }
}

/**
 * A directory context against berthd: the daemon keeps a copy of it from the last build and names what it lacks,
 * so only that is sent (builder/context-cache.ts). Another daemon (dockerd: a 404) gets the whole context.
 */
async function syncContext(cli: Cli, ctx: PreparedContext): Promise<{ id: string; context: PreparedContext } | undefined> {
  const sync = ctx.sync;
  if (!sync) return undefined;
  let plan: { ID: string; Need: string[] };
  try {
    plan = await cli.client().json('POST', '/berth/build/context', { body: { Key: sync.key, Entries: sync.entries } });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
  const need = new Set(plan.Need);
  return { id: plan.ID, context: { dockerfile: ctx.dockerfile, writeTo: (sink, onBytes) => sync.writeOnly(need, sink, onBytes) } };
}

/**
 * Sends a build and prints its output. `inlineDockerfile` is a Dockerfile given as text (compose's
 * `dockerfile_inline`): it goes into the context as `-f -` from stdin would.
 */
export async function runBuild(cli: Cli, command: string, context: string, o: BuildFlags, inlineDockerfile?: string): Promise<void> {
  if (o.iidfile) {
    // no stale ID left behind should this build fail
    await rm(o.iidfile, { force: true }).catch((e: Error) => {
      throw new CliError(`Removing image ID file: ${e.message}`);
    });
  }
  // the flags first: a bad one must not consume stdin
  buildQuery(command, o, undefined);
  const ctx = inlineDockerfile === undefined ? await prepareContext(command, context, o.file, readStdin) : await prepareContext(command, context, '-', async () => Buffer.from(inlineDockerfile));
  const query = buildQuery(command, o, ctx.dockerfile || undefined);

  let progBuf = '';
  let buildBuf = '';
  const sink: Sink = o.quiet
    ? { progress: (s) => (progBuf += s), build: (s) => (buildBuf += s) }
    : { progress: (s) => process.stdout.write(s), build: (s) => process.stdout.write(s) };
  const session = await syncContext(cli, ctx);
  const body = contextBody(session?.context ?? ctx, !!o.compress, progressCounter(sink, !o.quiet && !!process.stdout.isTTY));

  let res;
  try {
    res = await cli.client().stream('POST', '/build', {
      query,
      body,
      headers: {
        'Content-Type': 'application/x-tar',
        'X-Registry-Config': Buffer.from('{}').toString('base64'),
        ...(session && { 'X-Berth-Context': session.id }),
      },
    });
  } catch (e) {
    if (o.quiet) process.stderr.write(progBuf);
    throw e;
  }

  let imageId = '';
  let failure: { message: string; code: number } | undefined;
  try {
    await cli.client().messages(res, (m) => {
      if (failure) return;
      const detail = m['errorDetail'] as { message?: string; code?: number } | undefined;
      if (detail || typeof m['error'] === 'string') {
        failure = { message: detail?.message ?? String(m['error']), code: detail?.code || 1 };
        res.destroy(); // docker stops reading at the first error
        return;
      }
      const aux = m['aux'] as { ID?: string } | undefined;
      if (aux) {
        if (typeof aux.ID === 'string') imageId = aux.ID;
        return;
      }
      if (typeof m['stream'] === 'string') sink.build(m['stream']);
      else if (typeof m['status'] === 'string') sink.build(`${typeof m['id'] === 'string' && m['id'] ? `${m['id']}: ` : ''}${m['status']}\n`);
    });
  } catch (e) {
    if (!failure) throw e; // a destroyed response after the error is expected
  }
  if (failure) {
    // with -q, what was held back explains the failure; docker prints it first, without a separator
    if (o.quiet) process.stderr.write(progBuf + buildBuf);
    throw new CliError(failure.message, failure.code);
  }
  if (o.quiet) {
    // the daemon answers a quiet build with the ID alone as its output (a line)
    imageId = buildBuf;
    process.stdout.write(imageId);
  }
  if (o.iidfile) {
    if (!imageId) throw new CliError(`Server did not provide an image ID. Cannot write ${o.iidfile}`);
    await writeFile(o.iidfile, imageId, { mode: 0o666 });
  }
}
