// The host's network stack: links, addresses and routes through iproute2, packet filtering through nftables,
// network namespaces as files under /run/netns. Node has no netlink; iproute2's batch mode makes each change set
// one process, and `nft -f` applies a whole ruleset as one transaction.
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { Internal } from '../errors/index.js';

/** Where iproute2 keeps named network namespaces (a bind mount of the namespace per file). */
export const netnsDir = '/run/netns';

/** Runs a program with `input` on its stdin; a non-zero exit becomes an Internal error carrying its stderr. */
export function runWithInput(program: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // a program that exits early closes its stdin: its exit status tells
    child.on('error', (e) => reject(new Internal(`${program}: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Internal(`${program} ${args.join(' ')}: ${Buffer.concat(err).toString().trim() || `exit status ${code}`}`));
    });
    child.stdin.end(input);
  });
}

/**
 * `ip -batch -`: each line an `ip` command (`link add …`, `netns add …`), run in `netns` when given (a name under
 * /run/netns). With `force`, a failing line does not stop the rest (teardown of what may be half there).
 */
export async function ipBatch(lines: string[], o: { netns?: string; force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  await runWithInput('ip', [...(o.netns ? ['-n', o.netns] : []), ...(o.force ? ['-force'] : []), '-batch', '-'], lines.join('\n') + '\n');
}

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
