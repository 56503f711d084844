import { readFile } from 'node:fs/promises';
import { isAbsolute, dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type LogLevel, isLogLevel } from '../../util/logger.js';

/**
 * berth-registry's configuration file (YAML). Every key is optional; flags override the file. Unknown keys and
 * values of the wrong type are start-up errors naming the key, so a typo never silently disables auth.
 *
 *   addr: 127.0.0.1:5000
 *   root: /var/lib/berth-registry
 *   log: { level: info }
 *   tls: { certificate: cert.pem, key: key.pem }
 *   auth:
 *     anonymous_pull: false           # pull without credentials
 *     htpasswd: { realm: berth-registry, path: htpasswd }
 *     token:                          # present: bearer tokens from this server's /token; absent: HTTP basic
 *       realm: https://host:5000/token  # default: /token on the address the client used
 *       service: berth-registry
 *       issuer: berth-registry
 *       key: token-key.pem            # default: generated at first start under <root>/auth/
 *       expiration: 300               # seconds a token lives
 *     access:                         # absent: every user may pull, push and delete everywhere
 *       - { account: alice, repository: "alice/*", actions: [pull, push] }
 *   gc: { interval: 0, grace: 3600, delete_untagged: false }
 *
 * Relative paths are taken from the config file's directory.
 */
export interface AccessRule {
  /** A user name, or `*` for every authenticated user. */
  account: string;
  /** A glob over repository names: `*` matches within one path component, `**` across components. */
  repository: string;
  actions: Action[];
}

export type Action = 'pull' | 'push' | 'delete';
export const actions: readonly Action[] = ['pull', 'push', 'delete'];

export interface AuthConfig {
  anonymousPull: boolean;
  htpasswd?: { realm: string; path: string };
  token?: { realm?: string; service: string; issuer: string; key?: string; expirationSec: number };
  access?: AccessRule[];
}

export interface RegistryConfig {
  addr?: string;
  root?: string;
  logLevel?: LogLevel;
  tls?: { certificate: string; key: string };
  auth?: AuthConfig;
  gc: { intervalSec: number; graceSec: number; deleteUntagged: boolean };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks a config file; every problem is a ConfigError naming the file and the key. */
export async function loadConfig(file: string): Promise<RegistryConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(e as Error).message}`);
  }
  try {
    return parseConfig(doc ?? {}, dirname(resolve(file)));
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`config file ${file}: ${e.message}`);
    throw e;
  }
}

/** Checks a parsed document; `base` resolves relative paths. */
export function parseConfig(doc: unknown, base: string): RegistryConfig {
  const r = new Reader(base);
  const top = r.object(doc, '', ['addr', 'root', 'log', 'tls', 'auth', 'gc']);
  const cfg: RegistryConfig = { gc: { intervalSec: 0, graceSec: 3600, deleteUntagged: false } };
  if (top['addr'] !== undefined) cfg.addr = r.string(top['addr'], 'addr');
  if (top['root'] !== undefined) cfg.root = r.path(top['root'], 'root');
  if (top['log'] !== undefined) {
    const log = r.object(top['log'], 'log', ['level']);
    if (log['level'] !== undefined) {
      const level = r.string(log['level'], 'log.level');
      if (!isLogLevel(level)) throw new ConfigError(`log.level: ${JSON.stringify(level)} is not one of debug, info, warn, error, fatal`);
      cfg.logLevel = level;
    }
  }
  if (top['tls'] !== undefined) {
    const tls = r.object(top['tls'], 'tls', ['certificate', 'key']);
    cfg.tls = { certificate: r.path(r.required(tls, 'certificate', 'tls'), 'tls.certificate'), key: r.path(r.required(tls, 'key', 'tls'), 'tls.key') };
  }
  if (top['auth'] !== undefined) cfg.auth = parseAuth(r, top['auth']);
  if (top['gc'] !== undefined) {
    const gc = r.object(top['gc'], 'gc', ['interval', 'grace', 'delete_untagged']);
    if (gc['interval'] !== undefined) cfg.gc.intervalSec = r.number(gc['interval'], 'gc.interval');
    if (gc['grace'] !== undefined) cfg.gc.graceSec = r.number(gc['grace'], 'gc.grace');
    if (gc['delete_untagged'] !== undefined) cfg.gc.deleteUntagged = r.boolean(gc['delete_untagged'], 'gc.delete_untagged');
  }
  return cfg;
}

function parseAuth(r: Reader, value: unknown): AuthConfig {
  const auth = r.object(value, 'auth', ['anonymous_pull', 'htpasswd', 'token', 'access']);
  const out: AuthConfig = { anonymousPull: auth['anonymous_pull'] === undefined ? false : r.boolean(auth['anonymous_pull'], 'auth.anonymous_pull') };
  if (auth['htpasswd'] !== undefined) {
    const h = r.object(auth['htpasswd'], 'auth.htpasswd', ['realm', 'path']);
    out.htpasswd = {
      realm: h['realm'] === undefined ? 'berth-registry' : r.string(h['realm'], 'auth.htpasswd.realm'),
      path: r.path(r.required(h, 'path', 'auth.htpasswd'), 'auth.htpasswd.path'),
    };
  }
  if (auth['token'] !== undefined) {
    const t = r.object(auth['token'] ?? {}, 'auth.token', ['realm', 'service', 'issuer', 'key', 'expiration']);
    out.token = {
      service: t['service'] === undefined ? 'berth-registry' : r.string(t['service'], 'auth.token.service'),
      issuer: t['issuer'] === undefined ? 'berth-registry' : r.string(t['issuer'], 'auth.token.issuer'),
      // Clients must get at least 60 s (the token spec); 5 minutes as distribution's examples.
      expirationSec: t['expiration'] === undefined ? 300 : r.number(t['expiration'], 'auth.token.expiration', 60),
    };
    if (t['realm'] !== undefined) out.token.realm = r.string(t['realm'], 'auth.token.realm');
    if (t['key'] !== undefined) out.token.key = r.path(t['key'], 'auth.token.key');
  }
  if (auth['access'] !== undefined) {
    if (!Array.isArray(auth['access'])) throw new ConfigError('auth.access: must be a list of {account, repository, actions}');
    out.access = auth['access'].map((rule, i) => {
      const key = `auth.access[${i}]`;
      const o = r.object(rule, key, ['account', 'repository', 'actions']);
      const acts = r.required(o, 'actions', key);
      if (!Array.isArray(acts)) throw new ConfigError(`${key}.actions: must be a list of pull, push, delete`);
      return {
        account: r.string(r.required(o, 'account', key), `${key}.account`),
        repository: r.string(r.required(o, 'repository', key), `${key}.repository`),
        actions: acts.map((a, j) => {
          const s = r.string(a, `${key}.actions[${j}]`);
          if (s === '*') return [...actions];
          if (!(actions as readonly string[]).includes(s)) throw new ConfigError(`${key}.actions[${j}]: ${JSON.stringify(s)} is not one of pull, push, delete, *`);
          return [s as Action];
        }).flat(),
      };
    });
  }
  if (!out.htpasswd && (out.token || out.access)) throw new ConfigError('auth: htpasswd is required (the users that tokens and access rules name)');
  return out;
}

class Reader {
  constructor(private readonly base: string) {}
  object(v: unknown, key: string, known: string[]): Obj {
    if (!isObj(v)) throw new ConfigError(`${key || 'the document'}: must be a mapping, got ${typeName(v)}`);
    for (const k of Object.keys(v)) {
      if (!known.includes(k)) throw new ConfigError(`unknown key ${JSON.stringify(key ? `${key}.${k}` : k)} (known: ${known.join(', ')})`);
    }
    return v;
  }
  required(o: Obj, k: string, parent: string): unknown {
    if (o[k] === undefined || o[k] === null) throw new ConfigError(`${parent}.${k}: required`);
    return o[k];
  }
  string(v: unknown, key: string): string {
    if (typeof v !== 'string' || v === '') throw new ConfigError(`${key}: must be a non-empty string, got ${typeName(v)}`);
    return v;
  }
  path(v: unknown, key: string): string {
    const s = this.string(v, key);
    return isAbsolute(s) ? s : resolve(this.base, s);
  }
  number(v: unknown, key: string, min = 0): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new ConfigError(`${key}: must be a number ≥ ${min}, got ${typeName(v)}`);
    return v;
  }
  boolean(v: unknown, key: string): boolean {
    if (typeof v !== 'boolean') throw new ConfigError(`${key}: must be true or false, got ${typeName(v)}`);
    return v;
  }
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
