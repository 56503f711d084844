import { Forbidden, Unavailable } from '../../errors/index.js';
import { type Response, readBody, registryError, request } from './http.js';

/** What a client may authenticate with (the Engine API's AuthConfig, already decoded). */
export interface Credentials {
  username?: string;
  password?: string;
  /** A refresh token from an earlier login (OAuth2 `refresh_token` grant at the token realm). */
  identityToken?: string;
  /** A bearer token to use as it is. */
  registryToken?: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params, quoted or not). */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(h);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m?.[2] ?? '';
  re.lastIndex = 0;
  for (let p = re.exec(rest); p; p = re.exec(rest)) {
    params[(p[1] ?? '').toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
    if (re.lastIndex >= rest.length) break;
  }
  return { scheme, params };
}

export function basicAuthorization(c: Credentials): string | undefined {
  if (c.username === undefined || c.password === undefined || (c.username === '' && c.password === '')) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/**
 * The Authorization header answering a challenge for `scope`: Basic from the credentials, or a bearer token from
 * the challenge's realm (the token spec: GET with service and scope, Basic credentials if any; an identity token
 * is exchanged by the OAuth2 refresh-token POST). Anonymous tokens are asked for when there are no credentials.
 */
export async function authorize(ch: Challenge, scope: string, creds: Credentials, signal?: AbortSignal): Promise<string | undefined> {
  if (ch.scheme === 'basic') return basicAuthorization(creds);
  if (creds.registryToken) return `Bearer ${creds.registryToken}`;
  const realm = ch.params['realm'];
  let url: URL;
  try {
    url = new URL(realm ?? '');
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http');
  } catch {
    throw new Unavailable(`registry sent an unusable token realm: ${JSON.stringify(realm ?? '')}`);
  }
  const service = ch.params['service'];
  const scopes = [scope, ...(ch.params['scope'] ? [ch.params['scope']] : [])].filter((s, i, a) => s && a.indexOf(s) === i);
  let res: Response;
  if (creds.identityToken) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'berth', scope: scopes.join(' ') });
    if (service) form.set('service', service);
    res = await request(url, { method: 'POST', body: form.toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, ...(signal && { signal }) });
  } else {
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const basic = basicAuthorization(creds);
    res = await request(url, { ...(basic && { authorization: basic }), ...(signal && { signal }) });
  }
  if (res.status === 401 || res.status === 403) throw new Forbidden(await registryError(res));
  if (res.status !== 200) throw new Unavailable(`token request to ${url.origin}${url.pathname}: ${await registryError(res)}`);
  let body: { token?: unknown; access_token?: unknown };
  try {
    body = JSON.parse((await readBody(res, 1 << 20)).toString('utf8')) as typeof body;
  } catch {
    throw new Unavailable(`token request to ${url.origin}${url.pathname}: the answer is not JSON`);
  }
  const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
  if (typeof token !== 'string' || !token) throw new Unavailable(`token request to ${url.origin}${url.pathname}: no token in the answer`);
  return `Bearer ${token}`;
}
