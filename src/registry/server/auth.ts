import { type KeyObject, createHash, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { SignJWT, errors as joseErrors, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import { isNotExist } from '../../errors/index.js';
import { atomicWriteFile, ensureDir } from '../../kernel/fs.js';
import type { Logger } from '../../util/logger.js';
import { type AccessRule, type Action, type AuthConfig, ConfigError, actions as allActions } from './config.js';
import { RegistryError } from './errors.js';

/**
 * Who may do what. Two schemes, as distribution has them:
 *  - basic: every request carries htpasswd credentials (HTTP Basic); a missing or wrong one is a 401 with a
 *    `Basic` challenge, a user the access rules do not allow is a 403 DENIED.
 *  - token: the registry only trusts bearer tokens (JWTs it signed itself, handed out by `GET /token` against the
 *    same htpasswd users and rules); a missing, bad or insufficient token is a 401 with a `Bearer` challenge
 *    naming the realm, the service and the scope the request needs (the token spec's flow).
 * Anonymous pull, when configured, needs neither.
 */
export interface Need {
  type: 'repository' | 'registry';
  name: string;
  /** Repository actions, or `*` for the registry's catalog. */
  actions: (Action | '*')[];
  /** What the challenge's scope asks for, when more than `actions` (distribution asks pull,push for a push). */
  ask?: string[];
}

/** What the caller may do, as decided for one request. */
export interface Grants {
  account: string | undefined;
  can(repository: string, action: Action): boolean;
}

export const allowAll: Grants = { account: undefined, can: () => true };

interface Htpasswd {
  users: Map<string, string>;
}

/** Reads an htpasswd file: `user:hash` lines, bcrypt hashes only (`htpasswd -B`); anything else is refused. */
export async function loadHtpasswd(path: string): Promise<Htpasswd> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read htpasswd file ${path}: ${(e as Error).message}`);
  }
  const users = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0 || hash === '') throw new ConfigError(`htpasswd file ${path}, line ${i + 1}: not a user:hash entry`);
    if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
      throw new ConfigError(`htpasswd file ${path}, line ${i + 1} (${user}): only bcrypt entries are supported (htpasswd -B)`);
    }
    users.set(user, hash);
  });
  if (users.size === 0) throw new ConfigError(`htpasswd file ${path}: no users`);
  return { users };
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

interface TokenKey {
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The signing key: the configured PEM, else one generated at first start and kept under the root. */
async function loadTokenKey(configured: string | undefined, root: string, log: Logger): Promise<TokenKey> {
  const path = configured ?? join(root, 'auth', 'token-key.pem');
  let pem: string | undefined;
  try {
    pem = await readFile(path, 'utf8');
  } catch (e) {
    if (configured || !isNotExist(e)) throw new ConfigError(`cannot read token key ${path}: ${(e as Error).message}`);
  }
  if (pem === undefined) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    pem = await exportPKCS8(privateKey);
    await ensureDir(join(root, 'auth'), 0o700);
    await atomicWriteFile(path, pem, 0o600);
    log.info('generated a token signing key', { path });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new ConfigError(`token key ${path} is not a PEM private key: ${(e as Error).message}`);
  }
  const type = privateKey.asymmetricKeyType;
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  const alg = type === 'rsa' ? 'RS256' : type === 'ed25519' ? 'EdDSA' : type === 'ec' && curve === 'prime256v1' ? 'ES256' : type === 'ec' && curve === 'secp384r1' ? 'ES384' : undefined;
  if (!alg) throw new ConfigError(`token key ${path}: unsupported key type ${type ?? '?'}${curve ? ` (${curve})` : ''}; use RSA, EC P-256/P-384 or Ed25519`);
  return { alg, privateKey, publicKey: createPublicKey(privateKey) };
}

type TokenAccess = { type: string; name: string; actions: string[] }[];

export class Authenticator {
  private readonly rules: { account: string; repo: RegExp; actions: Action[] }[] | undefined;
  /** Verified passwords (by hash of user, password and entry): bcrypt is slow by design, clients send it every request. */
  private readonly verified = new Set<string>();
  private decoy: string | undefined;

  private constructor(
    private readonly cfg: AuthConfig,
    private readonly htpasswd: Htpasswd | undefined,
    private readonly key: TokenKey | undefined,
    private readonly tls: boolean,
  ) {
    this.rules = cfg.access?.map((r: AccessRule) => ({ account: r.account, repo: globToRegExp(r.repository), actions: r.actions }));
  }

  static async create(cfg: AuthConfig, root: string, tls: boolean, log: Logger): Promise<Authenticator> {
    const htpasswd = cfg.htpasswd ? await loadHtpasswd(cfg.htpasswd.path) : undefined;
    const key = cfg.token ? await loadTokenKey(cfg.token.key, root, log) : undefined;
    return new Authenticator(cfg, htpasswd, key, tls);
  }

  get tokenEnabled(): boolean {
    return this.cfg.token !== undefined;
  }

  /** What `account` (undefined: anonymous) may do on `repository` by the configured rules. */
  allowed(account: string | undefined, repository: string, action: Action): boolean {
    if (account === undefined) return action === 'pull' && this.cfg.anonymousPull;
    if (!this.rules) return true;
    return this.rules.some((r) => (r.account === '*' || r.account === account) && r.actions.includes(action) && r.repo.test(repository));
  }

  /** Basic credentials from the request: undefined when none (an empty user and password counts as none). */
  private async basicUser(req: IncomingMessage, challenge: () => RegistryError): Promise<string | undefined> {
    const header = req.headers.authorization ?? '';
    const m = /^basic\s+(\S+)$/i.exec(header);
    if (!m) return undefined;
    const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    // skopeo sends `Basic Og==` (":") when it has no credentials for a Basic challenge.
    if (user === '' && password === '') return undefined;
    if (!(await this.checkPassword(user, password))) throw challenge();
    return user;
  }

  private async checkPassword(user: string, password: string): Promise<boolean> {
    const hash = this.htpasswd?.users.get(user);
    if (!hash) {
      // Same cost for unknown users, so response times do not tell which names exist.
      this.decoy ??= bcrypt.hashSync('decoy', 5);
      await bcrypt.compare(password, this.decoy);
      return false;
    }
    const memo = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    if (this.verified.has(memo)) return true;
    if (!(await bcrypt.compare(password, hash))) return false;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.add(memo);
    return true;
  }

  private basicChallenge(): RegistryError {
    const e = new RegistryError('UNAUTHORIZED', 'authentication required');
    e.headers['WWW-Authenticate'] = `Basic realm=${quote(this.cfg.htpasswd?.realm ?? 'berth-registry')}`;
    return e;
  }

  private realm(req: IncomingMessage): string {
    return this.cfg.token?.realm ?? `${this.tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/token`;
  }

  private bearerChallenge(req: IncomingMessage, needs: Need[], error?: 'invalid_token' | 'insufficient_scope'): RegistryError {
    const e = new RegistryError('UNAUTHORIZED', error === 'insufficient_scope' ? 'access to the requested resource is not authorized' : 'authentication required', needs.length ? needs.flatMap((n) => n.actions.map((a) => ({ Type: n.type, Name: n.name, Action: a }))) : undefined);
    const parts = [`realm=${quote(this.realm(req))}`, `service=${quote(this.cfg.token?.service ?? '')}`];
    if (needs.length) parts.push(`scope=${quote(needs.map((n) => `${n.type}:${n.name}:${(n.ask ?? n.actions).join(',')}`).join(' '))}`);
    if (error) parts.push(`error=${quote(error)}`);
    e.headers['WWW-Authenticate'] = `Bearer ${parts.join(',')}`;
    return e;
  }

  /**
   * Decides one registry request. `needs` is empty for the `/v2/` check, which answers 401 to every caller
   * without credentials (docker login relies on that) and 200 to any authenticated one.
   */
  async authorize(req: IncomingMessage, needs: Need[]): Promise<Grants> {
    const anonymousOk = needs.length > 0 && needs.every((n) => n.type === 'repository' && n.actions.every((a) => a === 'pull' && this.allowed(undefined, n.name, 'pull')));
    if (this.cfg.token) {
      const m = /^bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!m) {
        if (anonymousOk) return this.grantsFor(undefined);
        throw this.bearerChallenge(req, needs);
      }
      const claims = await this.verifyToken(m[1] ?? '').catch((e: unknown) => {
        if (e instanceof joseErrors.JOSEError) throw this.bearerChallenge(req, needs, 'invalid_token');
        throw e;
      });
      const held = (type: string, name: string, action: string) =>
        claims.access.some((a) => a.type === type && a.name === name && (a.actions.includes(action) || a.actions.includes('*')));
      for (const n of needs) {
        if (!n.actions.every((a) => held(n.type, n.name, a))) throw this.bearerChallenge(req, needs, 'insufficient_scope');
      }
      return { account: claims.sub || undefined, can: (repo, action) => held('repository', repo, action) };
    }
    const account = await this.basicUser(req, () => this.basicChallenge());
    if (account === undefined) {
      if (anonymousOk) return this.grantsFor(undefined);
      throw this.basicChallenge();
    }
    for (const n of needs) {
      // The catalog is for every authenticated user (it lists names only).
      if (n.type !== 'repository') continue;
      for (const a of n.actions) {
        if (a !== '*' && !this.allowed(account, n.name, a)) throw new RegistryError('DENIED', 'requested access to the resource is denied', { Type: n.type, Name: n.name, Action: a });
      }
    }
    return this.grantsFor(account);
  }

  private grantsFor(account: string | undefined): Grants {
    return { account, can: (repo, action) => this.allowed(account, repo, action) };
  }

  private async verifyToken(token: string): Promise<{ sub: string; access: TokenAccess }> {
    const key = this.key;
    const t = this.cfg.token;
    if (!key || !t) throw new joseErrors.JWTInvalid('token auth is not configured');
    const { payload } = await jwtVerify(token, key.publicKey, { issuer: t.issuer, audience: t.service, algorithms: [key.alg], requiredClaims: ['exp'] });
    const access = Array.isArray(payload['access']) ? (payload['access'] as TokenAccess).filter((a) => a && typeof a.name === 'string' && typeof a.type === 'string' && Array.isArray(a.actions)) : [];
    return { sub: payload.sub ?? '', access };
  }

  /**
   * `GET /token?service=…&scope=…`: the token spec's endpoint. Credentials are htpasswd basic auth (a wrong one is
   * a 401); without any, the caller is anonymous. The token holds the intersection of what was asked and what
   * the rules allow; asking for more than allowed is not an error (the spec says so), the registry refuses later.
   */
  async serveToken(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const t = this.cfg.token;
    const key = this.key;
    if (!t || !key) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    req.resume();
    const service = url.searchParams.get('service');
    if (service !== null && service !== t.service) {
      throw new RegistryError('DENIED', `this token service issues tokens for ${JSON.stringify(t.service)}, not ${JSON.stringify(service)}`, undefined, 400);
    }
    const account = await this.basicUser(req, () => this.basicChallenge());
    const access: TokenAccess = [];
    for (const scope of url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '')) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first < 0 || last === first) throw new RegistryError('DENIED', `invalid scope ${JSON.stringify(scope)}`, undefined, 400);
      // `repository(plugin):name:…` is a resource class; the grant is the same.
      const type = scope.slice(0, first).replace(/\(.*\)$/, '');
      const name = scope.slice(first + 1, last);
      const asked = scope.slice(last + 1).split(',').filter((a) => a !== '');
      if (type === 'registry' && name === 'catalog') {
        if (account !== undefined && asked.includes('*')) access.push({ type, name, actions: ['*'] });
        continue;
      }
      if (type !== 'repository') continue;
      const wanted = new Set<string>(asked.flatMap((a): readonly string[] => (a === '*' ? allActions : [a])));
      const granted = allActions.filter((a) => wanted.has(a) && this.allowed(account, name, a));
      const existing = access.find((a) => a.type === type && a.name === name);
      if (existing) existing.actions = [...new Set([...existing.actions, ...granted])];
      else access.push({ type, name, actions: granted });
    }
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: key.alg, typ: 'JWT' })
      .setIssuer(t.issuer)
      .setSubject(account ?? '')
      .setAudience(t.service)
      .setIssuedAt(now)
      .setNotBefore(now - 10) // a little slack for clocks of other hosts that reuse the key
      .setExpirationTime(now + t.expirationSec)
      .setJti(randomUUID())
      .sign(key.privateKey);
    const body = JSON.stringify({ token, access_token: token, expires_in: t.expirationSec, issued_at: new Date(now * 1000).toISOString() });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' }).end(body);
  }
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}
