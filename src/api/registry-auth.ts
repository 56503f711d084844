import type { Credentials } from '../services/index.js';

/**
 * The `X-Registry-Auth` header: base64url JSON of an AuthConfig (`username`/`password`, `auth` as
 * base64 `user:pass`, `identitytoken`, `registrytoken`). Like dockerd, an unreadable header means no credentials.
 */
export function registryAuth(header: string | string[] | undefined): Credentials | undefined {
  const a = decodeHeader(header);
  return a && typeof a === 'object' ? credentialsOf(a as Record<string, unknown>) : undefined;
}

/**
 * The `X-Registry-Config` header of a build: base64 JSON of AuthConfigs by registry (`127.0.0.1:5000`, or
 * `https://index.docker.io/v1/` for Docker Hub), for the pulls of its base images.
 */
export function registryConfig(header: string | string[] | undefined): Map<string, Credentials> {
  const out = new Map<string, Credentials>();
  const all = decodeHeader(header);
  if (!all || typeof all !== 'object') return out;
  for (const [server, a] of Object.entries(all as Record<string, unknown>)) {
    const c = a && typeof a === 'object' ? credentialsOf(a as Record<string, unknown>) : undefined;
    if (c) out.set(server.replace(/^https?:\/\//, '').replace(/\/.*$/, '').replace(/^index\.docker\.io$/, 'docker.io'), c);
  }
  return out;
}

function decodeHeader(header: string | string[] | undefined): unknown {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  try {
    return JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function credentialsOf(a: Record<string, unknown>): Credentials | undefined {
  const str = (k: string) => (typeof a[k] === 'string' && a[k] ? (a[k] as string) : undefined);
  let username = str('username');
  let password = str('password');
  const auth = str('auth');
  if (auth && !username && !password) {
    const pair = Buffer.from(auth, 'base64').toString('utf8');
    const i = pair.indexOf(':');
    if (i > 0) [username, password] = [pair.slice(0, i), pair.slice(i + 1)];
  }
  const c: Credentials = {
    ...(username && { username }),
    ...(password && { password }),
    ...(str('identitytoken') && { identityToken: str('identitytoken') }),
    ...(str('registrytoken') && { registryToken: str('registrytoken') }),
  };
  return Object.keys(c).length ? c : undefined;
}
