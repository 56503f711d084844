// `build` (also `image build`, `builder build`) and `builder prune`: docker 28's classic builder client
// (DOCKER_BUILDKIT=0) — its flags, the context it sends, what it prints and its exit codes. Unlike docker, no
// deprecation notice: Berth's builder is this one.
import { rm, writeFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { type Command, Option } from 'commander';
import { parseReference } from '../../oci/reference.js';
import { type Cli, CliError, ExitCode } from '../context.js';
import { ContextError, type PreparedContext, directoryContext, isLocalPath, isRemoteContext, stdinContext } from '../build-context.js';
import { humanSize4, parseBytes } from '../format/units.js';
import { quote } from '../format/gofmt.js';
import { askYesNo, collect, filtersQuery } from './common.js';

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

const USAGE = '[OPTIONS] PATH | URL | -';

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
    if (await isLocalPath(context)) return await directoryContext(context, file ?? '', dockerfileInput);
    if (isRemoteContext(context)) throw new ContextError(`unable to prepare context: remote build contexts (${context}) are not supported by berth ${command}; clone or download it and build the directory`);
    throw new ContextError(`unable to prepare context: path ${quote(context)} not found`);
  } catch (e) {
    if (e instanceof ContextError) throw new CliError(e.message);
    throw e;
  }
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
  const body = contextBody(ctx, !!o.compress, progressCounter(sink, !o.quiet && !!process.stdout.isTTY));

  let res;
  try {
    res = await cli.client().call('POST', '/build', {
      query,
      body,
      headers: { 'Content-Type': 'application/x-tar', 'X-Registry-Config': Buffer.from('{}').toString('base64') },
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


export function registerBuildCommands(program: Command, image: Command, builder: Command, cli: Cli): void {
  const build = (cmd: Command, command: string) =>
    cmd
      .argument('[PATH | URL | -...]')
      .option('--add-host <list>', 'Add a custom host-to-IP mapping ("host:ip")', collect, [])
      .option('--build-arg <list>', 'Set build-time variables', collect, [])
      .option('--cache-from <strings>', 'Images to consider as cache sources', collect, [])
      .option('--cgroup-parent <string>', 'Set the parent cgroup for the "RUN" instructions during build')
      .option('--compress', 'Compress the build context using gzip')
      .option('--cpu-period <int>', 'Limit the CPU CFS (Completely Fair Scheduler) period')
      .option('--cpu-quota <int>', 'Limit the CPU CFS (Completely Fair Scheduler) quota')
      .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
      .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
      .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
      .addOption(new Option('--disable-content-trust', 'Skip image verification (default true)').hideHelp())
      .option('-f, --file <string>', 'Name of the Dockerfile (Default is "PATH/Dockerfile")')
      .option('--force-rm', 'Always remove intermediate containers')
      .option('--iidfile <string>', 'Write the image ID to the file')
      .option('--isolation <string>', 'Container isolation technology')
      .option('--label <list>', 'Set metadata for an image', collect, [])
      .option('-m, --memory <bytes>', 'Memory limit')
      .option('--memory-swap <bytes>', 'Swap limit equal to memory plus swap: -1 to enable unlimited swap')
      .option('--network <string>', 'Set the networking mode for the RUN instructions during build (default "default")')
      .option('--no-cache', 'Do not use cache when building the image')
      .option('--platform <string>', 'Set platform if server is multi-platform capable')
      .option('--pull', 'Always attempt to pull a newer version of the image')
      .option('-q, --quiet', 'Suppress the build output and print image ID on success')
      .option('--rm', 'Remove intermediate containers after a successful build (default true)', true)
      .addOption(new Option('--no-rm').hideHelp()) // what `--rm=false` becomes
      .option('--security-opt <strings>', 'Security options', collect, [])
      .option('--shm-size <bytes>', 'Size of "/dev/shm"')
      .option('--squash', 'Squash newly built layers into a single new layer')
      .option('-t, --tag <list>', 'Name and optionally a tag in the "name:tag" format', collect, [])
      .option('--target <string>', 'Set the target build stage to build.')
      .option('--ulimit <ulimit>', 'Ulimit options (default [])', collect, [])
      .action(async (args: string[], o: BuildFlags) => {
        if (args.length !== 1) {
          throw new CliError(`berth: 'berth ${command}' requires 1 argument\n\nUsage:  berth ${command} ${USAGE}\n\nRun 'berth ${command} --help' for more information`);
        }
        await runBuild(cli, command, args[0]!, o);
      });
  const about = 'Build an image from a Dockerfile';
  build(program.command('build').description(about), 'build');
  build(image.command('build').description(about), 'image build');
  build(builder.command('build').description(about), 'builder build');

  builder
    .command('prune')
    .description('Remove build cache')
    .option('-a, --all', 'Remove all unused build cache, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=24h")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--keep-storage <bytes>', 'Amount of disk space to keep for cache')
    .action(async (o: { all?: boolean; filter: string[]; force?: boolean; keepStorage?: string }) => {
      let keep: number | undefined;
      if (o.keepStorage !== undefined) {
        try {
          keep = parseBytes(o.keepStorage);
        } catch (e) {
          throw new CliError(
            `invalid argument ${quote(o.keepStorage)} for "--keep-storage" flag: ${(e as Error).message}\n\nUsage:  berth builder prune\n\nRun 'berth builder prune --help' for more information`,
            ExitCode.Usage,
          );
        }
      }
      const warning = o.all
        ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
        : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
      if (!o.force && !(await askYesNo(`${warning} [y/N] `))) return;
      const r = await cli.client().json<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/build/prune', {
        query: { all: o.all, filters: filtersQuery(o.filter), 'keep-storage': keep || undefined },
      });
      if (r.CachesDeleted?.length) cli.out(`Deleted build cache objects:\n${r.CachesDeleted.join('\n')}\n\n`);
      cli.out(`Total reclaimed space: ${humanSize4(r.SpaceReclaimed ?? 0)}`);
    });
}
