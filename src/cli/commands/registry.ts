import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { familiarString, parseReference, repositoryName, type Reference } from '../../oci/reference.js';
import { type Cli, CliError } from '../context.js';

/** Docker Hub's key in config.json, as the docker CLI writes it. */
const hubKey = 'https://index.docker.io/v1/';

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  [k: string]: unknown;
}

/** The docker CLI's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['DOCKER_CONFIG'] || join(homedir(), '.docker'), 'config.json');
}

function readConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  if (!text.trim()) return {};
  try {
    const c = JSON.parse(text) as ConfigFile;
    return typeof c === 'object' && c !== null ? c : {};
  } catch (e) {
    throw new CliError(`loading config file: ${path}: ${(e as Error).message}`);
  }
}

/** Written as docker does: tab-indented, mode 0600, replaced atomically (a crash never leaves half a file). */
function writeConfig(path: string, c: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(c, null, '\t'), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** A registry name (`docker.io`, `host:port`) or login server as its config.json key. */
function configKey(server: string): string {
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (!host || ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host)) return hubKey;
  return host;
}

/** Stored credentials for a registry, matching keys written with a scheme or path too. */
function storedAuth(c: ConfigFile, registry: string): { username: string; password: string; identitytoken?: string } | undefined {
  const want = configKey(registry);
  const entry = Object.entries(c.auths ?? {}).find(([k]) => k === want || configKey(k) === want)?.[1];
  if (!entry?.auth) return undefined;
  const pair = Buffer.from(entry.auth, 'base64').toString('utf8');
  const i = pair.indexOf(':');
  if (i < 0) return undefined;
  return { username: pair.slice(0, i), password: pair.slice(i + 1), ...(entry.identitytoken && { identitytoken: entry.identitytoken }) };
}

/** The X-Registry-Auth header for the registry of `ref`: the stored credentials, or an empty AuthConfig. */
function registryAuthHeader(ref: Reference): string {
  const a = storedAuth(readConfig(configPath()), ref.domain);
  const body = a ? { ...a, serveraddress: configKey(ref.domain) === hubKey ? hubKey : ref.domain } : {};
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

function parse(name: string): Reference {
  try {
    return parseReference(name);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/**
 * Prints a JSON progress stream as the docker CLI does without a terminal: every status line (`id: status`),
 * progress bars left out; with a terminal, each id's line is redrawn in place. Ends with the stream's error.
 */
async function render(cli: Cli, res: IncomingMessage, quiet: boolean): Promise<void> {
  const tty = !quiet && process.stdout.isTTY === true;
  const lines: string[] = [];
  let error: string | undefined;
  const write = (s: string) => process.stdout.write(s);
  await cli.client().messages(res, (m) => {
    const detail = m['errorDetail'] as { message?: string } | undefined;
    if (typeof m['error'] === 'string' || detail?.message) {
      error ??= detail?.message ?? String(m['error']);
      return;
    }
    if (quiet || m['aux'] !== undefined || typeof m['status'] !== 'string') return;
    const id = typeof m['id'] === 'string' && m['id'] ? m['id'] : '';
    const bar = typeof m['progress'] === 'string' ? m['progress'] : '';
    if (!tty) {
      if (!bar) write(`${id ? `${id}: ` : ''}${m['status']}\n`);
      return;
    }
    const text = `${id ? `${id}: ` : ''}${m['status']}${bar ? ` ${bar}` : ''}`;
    const at = id ? lines.indexOf(id) : -1;
    if (at < 0) {
      if (id) lines.push(id);
      else lines.length = 0;
      write(`\x1b[2K\r${text}\n`);
      return;
    }
    const up = lines.length - at;
    write(`\x1b[${up}A\x1b[2K\r${text}\x1b[${up}B\r`);
  });
  if (error !== undefined) throw new CliError(error);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Pulls `ref` with the stored credentials for its registry, printing the progress as `docker pull` does. */
export async function pullImage(cli: Cli, ref: Reference, o: { platform?: string; quiet?: boolean } = {}): Promise<void> {
  const res = await cli.client().call('POST', '/images/create', {
    query: { fromImage: repositoryName(ref), tag: ref.digest ?? ref.tag, platform: o.platform },
    headers: { 'X-Registry-Auth': registryAuthHeader(ref) },
  });
  await render(cli, res, !!o.quiet);
}

/** Pushes `ref` with the stored credentials for its registry, printing the progress as `docker push` does. */
export async function pushImage(cli: Cli, ref: Reference, o: { quiet?: boolean } = {}): Promise<void> {
  const res = await cli.client().call('POST', `/images/${repositoryName(ref)}/push`, {
    query: { tag: ref.tag },
    headers: { 'X-Registry-Auth': registryAuthHeader(ref) },
  });
  await render(cli, res, !!o.quiet);
}

export function registerRegistryCommands(program: Command, image: Command, cli: Cli): void {
  const pull = (cmd: Command) =>
    cmd
      .argument('<name>', 'NAME[:TAG|@DIGEST]')
      .option('-a, --all-tags', 'Download all tagged images in the repository')
      .option('--disable-content-trust', 'Skip image verification (default true)')
      .option('--platform <string>', 'Set platform if server is multi-platform capable')
      .option('-q, --quiet', 'Suppress verbose output')
      .action(async (name: string, o: { allTags?: boolean; platform?: string; quiet?: boolean }) => {
        let ref = parse(name);
        if (o.allTags && (ref.tag || ref.digest)) throw new CliError('tag can\'t be used with --all-tags/-a');
        if (!o.allTags && !ref.tag && !ref.digest) {
          ref = { ...ref, tag: 'latest' };
          if (!o.quiet) cli.out('Using default tag: latest');
        }
        await pullImage(cli, ref, o);
        cli.out(familiarString(ref));
      });
  pull(program.command('pull').description('Download an image from a registry'));
  pull(image.command('pull').description('Download an image from a registry'));

  const push = (cmd: Command) =>
    cmd
      .argument('<name>', 'NAME[:TAG]')
      .option('-a, --all-tags', 'Push all tags of an image to the repository')
      .option('--disable-content-trust', 'Skip image signing (default true)')
      .option('--platform <string>', 'Push a platform-specific manifest as a single-platform image to the registry')
      .option('-q, --quiet', 'Suppress verbose output')
      .action(async (name: string, o: { allTags?: boolean; platform?: string; quiet?: boolean }) => {
        let ref = parse(name);
        if (o.allTags && (ref.tag || ref.digest)) throw new CliError('tag can\'t be used with --all-tags/-a');
        if (o.platform) throw new CliError('--platform is not supported by this daemon (it stores single-platform images only)');
        if (!o.allTags && !ref.tag && !ref.digest) {
          ref = { ...ref, tag: 'latest' };
          if (!o.quiet) cli.out('Using default tag: latest');
        }
        await pushImage(cli, ref, o);
        if (o.quiet) cli.out(`${repositoryName(ref)}${ref.tag ? `:${ref.tag}` : ''}`);
      });
  push(program.command('push').description('Upload an image to a registry'));
  push(image.command('push').description('Upload an image to a registry'));

  program
    .command('login')
    .description('Authenticate to a registry')
    .argument('[server]', 'SERVER')
    .option('-p, --password <string>', 'Password or Personal Access Token (PAT)')
    .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin')
    .option('-u, --username <string>', 'Username')
    .action(async (server: string | undefined, o: { password?: string; passwordStdin?: boolean; username?: string }) => {
      if (o.password !== undefined && o.passwordStdin) throw new CliError('conflicting options: cannot specify both --password and --password-stdin');
      if (o.password !== undefined) cli.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
      let password = o.password;
      if (o.passwordStdin) {
        if (!o.username) throw new CliError('Must provide --username with --password-stdin');
        password = (await readStdin()).replace(/\n$/, '').replace(/\r$/, '');
      }
      const key = server ? configKey(server) : hubKey;
      const path = configPath();
      const config = readConfig(path);
      let username = o.username;
      if (!username && !password) {
        const stored = storedAuth(config, key);
        if (!stored) throw new CliError('Error: Cannot perform an interactive login from a non TTY device');
        process.stderr.write(`Authenticating with existing credentials... [Username: ${stored.username}]\n\n Info -> To login with a different account, run 'docker logout' followed by 'docker login'\n\n\n`);
        ({ username, password } = stored);
      }
      if (!username || password === undefined) throw new CliError('Error: Cannot perform an interactive login from a non TTY device');
      const r = await cli.client().json<{ Status?: string; IdentityToken?: string }>('POST', '/auth', {
        body: { username, password, serveraddress: key },
      });
      const auth = Buffer.from(`${username}:${password}`).toString('base64');
      const before = config.auths?.[key];
      if (before?.auth !== auth || (r.IdentityToken ?? '') !== (before.identitytoken ?? '')) {
        config.auths = { ...config.auths, [key]: { auth, ...(r.IdentityToken && { identitytoken: r.IdentityToken }) } };
        writeConfig(path, config);
        process.stderr.write(`\nWARNING! Your credentials are stored unencrypted in '${path}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`);
      }
      cli.out(r.Status || 'Login Succeeded');
    });

  program
    .command('logout')
    .description('Log out from a registry')
    .argument('[server]', 'SERVER')
    .action((server: string | undefined) => {
      const key = server ? configKey(server) : hubKey;
      const path = configPath();
      const config = readConfig(path);
      cli.out(`Removing login credentials for ${key}`);
      const auths = config.auths ?? {};
      const found = Object.keys(auths).filter((k) => k === key || configKey(k) === key);
      if (found.length === 0) return;
      for (const k of found) delete auths[k];
      config.auths = auths;
      writeConfig(path, config);
    });
}
