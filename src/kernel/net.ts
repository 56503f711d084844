// The host's network stack: links, addresses and routes through iproute2, packet filtering through nftables,
// network namespaces as files under /run/netns. Node has no netlink; iproute2's batch mode makes each change set
// one process, and `nft -f` applies a whole ruleset as one transaction.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { Internal } from '../errors/index.js';
import { runProgram } from './launcher.js';

/** Where iproute2 keeps named network namespaces (a bind mount of the namespace per file). */
export const netnsDir = '/run/netns';

/** Runs a program with `input` on its stdin; a non-zero exit becomes an Internal error carrying its stderr. */
export async function runWithInput(program: string, args: string[], input: string): Promise<string> {
  try {
    return (await runProgram(program, args, { input })).stdout;
  } catch (e) {
    const { stderr = '', code } = e as { stderr?: string; code?: number | string };
    throw new Internal(`${program} ${args.join(' ')}: ${stderr.trim() || (typeof code === 'number' ? `exit status ${code}` : (e as Error).message)}`, { cause: e });
  }
}

/**
 * `ip -batch -`: each line an `ip` command (`link add …`, `netns add …`), run in `netns` when given (a name under
 * /run/netns). With `force`, a failing line does not stop the rest (teardown of what may be half there).
 */
export async function ipBatch(lines: string[], o: { netns?: string; force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  await runWithInput('ip', [...(o.netns ? ['-n', o.netns] : []), ...(o.force ? ['-force'] : []), '-batch', '-'], lines.join('\n') + '\n');
}

/**
 * One long-lived `ip -force -batch -` in the host's namespace, fed requests over its stdin: starting `ip` costs
 * milliseconds on every container start and removal, and iproute2 has no other way in from Node. Each request's
 * lines are followed by a marker (`link show dev <mark><n>`, a device that never exists): the error naming the
 * marker on stderr says the request is done, and any other error line before it is the request's own.
 * iproute2 keeps the process in its namespace across `netns add`. If it dies, pending requests fail and the next
 * one starts another.
 */
export class IpSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private seq = 0;
  private readonly pending: Array<{ seq: number; errors: string[]; resolve: () => void; reject: (e: Error) => void }> = [];
  private partial = '';
  private skipNextFailure = false;

  run(lines: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = this.ensure();
      const seq = ++this.seq;
      this.pending.push({ seq, errors: [], resolve, reject });
      this.hold(child, true);
      child.stdin.write([...lines, `link show dev ${marker}${seq}`].join('\n') + '\n');
    });
  }

  /** An idle session keeps no process alive; one with requests in flight does (they are awaited). */
  private hold(child: ChildProcessWithoutNullStreams, busy: boolean): void {
    for (const h of [child, child.stdin, child.stdout, child.stderr] as Array<{ ref(): unknown; unref(): unknown }>) {
      if (busy) h.ref();
      else h.unref();
    }
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.resume(); // nothing asked prints there; drained so it never blocks
    child.stderr.on('data', (b: Buffer) => this.stderr(b.toString()));
    child.stdin.on('error', () => {}); // its exit, below, reports the failure
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.partial = '';
      for (const p of this.pending.splice(0)) p.reject(new Internal(`ip: ${why}`));
    };
    child.on('error', (e) => gone(e.message));
    child.on('exit', (code, signal) => gone(`exited (${signal ?? code})`));
    return child;
  }

  private stderr(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (this.skipNextFailure && line.startsWith('Command failed')) {
        this.skipNextFailure = false;
        continue;
      }
      const done = markerLine.exec(line);
      const head = this.pending[0];
      if (!head) continue;
      if (done && Number(done[1]) === head.seq) {
        this.pending.shift();
        if (!this.pending.length && this.child) this.hold(this.child, false);
        this.skipNextFailure = true;
        const messages = head.errors.filter((l) => !l.startsWith('Command failed'));
        if (head.errors.length) head.reject(new Internal(`ip: ${(messages.length ? messages : head.errors).join('; ')}`));
        else head.resolve();
      } else head.errors.push(line);
    }
  }
}

const marker = 'berthmark';
const markerLine = new RegExp(`^Device "${marker}(\\d+)" does not exist\\.$`);

/** Applies an nftables script as one transaction, in the host's namespace or in the one at `netnsPath`. */
export async function nft(script: string, o: { netnsPath?: string } = {}): Promise<void> {
  if (o.netnsPath) await runWithInput('nsenter', [`--net=${o.netnsPath}`, 'nft', '-f', '-'], script);
  else await runWithInput('nft', ['-f', '-'], script);
}

/** The interfaces of the host's namespace whose names start with `prefix`. */
export async function linksNamed(prefix: string): Promise<string[]> {
  return (await readdir('/sys/class/net').catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
}

export async function linkExists(name: string): Promise<boolean> {
  return readFile(`/sys/class/net/${name}/ifindex`).then(() => true, () => false);
}

/** The named network namespaces whose names start with `prefix`. */
export async function netnsNamed(prefix: string): Promise<string[]> {
  return (await readdir(netnsDir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
}

/** Sets an IPv4 sysctl of the host's namespace (`ip_forward`, `conf/<if>/route_localnet`). */
export async function setIpv4Sysctl(key: string, value: string): Promise<void> {
  const path = `/proc/sys/net/ipv4/${key}`;
  if ((await readFile(path, 'utf8').catch(() => '')).trim() === value) return;
  await writeFile(path, value);
}

/** The IPv4 routes of the host's main table, as destination prefixes (`default` is left out). */
export async function hostRoutes(): Promise<string[]> {
  const out = await runWithInput('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], '');
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map((f) => (['local', 'broadcast', 'unicast', 'unreachable'].includes(f[0] ?? '') ? f[1] : f[0]) ?? '')
    .filter((d) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(d));
}
