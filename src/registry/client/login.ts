import { Unauthenticated, Unavailable } from '../../errors/index.js';
import { type Credentials, authorize, basicAuthorization, parseChallenge } from './auth.js';
import type { Endpoint } from './endpoint.js';
import { type Response, request } from './http.js';

/**
 * `docker login`'s check (dockerd's loginV2): `GET /v2/` with the credentials, as Basic or as a bearer token got
 * from the challenge's realm with them. A registry that asks for nothing accepts any login, as with dockerd.
 */
export async function checkLogin(endpoint: Endpoint, creds: Credentials, signal?: AbortSignal): Promise<void> {
  const { host, insecure } = endpoint;
  const get = (base: string, unverifiedTls: boolean, authorization?: string) =>
    request(new URL('/v2/', base), { unverifiedTls, ...(authorization && { authorization }), ...(signal && { signal }) });
  let base = `https://${host}`;
  let unverified = insecure;
  let res: Response;
  try {
    res = await get(base, unverified);
  } catch (e) {
    // dockerd's order for insecure registries: TLS without verification, then plain HTTP.
    if (!insecure || (e as Error).name === 'AbortError') throw e;
    base = `http://${host}`;
    unverified = false;
    res = await get(base, unverified);
  }
  res.body.resume();
  const url = new URL('/v2/', base).href;
  if (res.status === 200) return;
  if (res.status !== 401) throw new Unavailable(`login attempt to ${url} failed with status: ${res.status} ${statusText(res)}`);
  const ch = parseChallenge(res.headers['www-authenticate']);
  if (!ch) throw new Unauthenticated(`login attempt to ${url} failed with status: 401 Unauthorized`);
  if (ch.scheme === 'basic' && !basicAuthorization(creds)) throw new Unauthenticated(`Get "${url}": no basic auth credentials`);
  let authorization: string | undefined;
  try {
    // No repository scope: a login only proves the credentials.
    authorization = await authorize(ch, '', creds, signal);
  } catch (e) {
    if ((e as { code?: string }).code === 'Forbidden') throw new Unauthenticated((e as Error).message);
    throw e;
  }
  const again = await get(base, unverified, authorization);
  again.body.resume();
  if (again.status === 200) return;
  const message = `login attempt to ${url} failed with status: ${again.status} ${statusText(again)}`;
  if (again.status === 401 || again.status === 403) throw new Unauthenticated(message);
  throw new Unavailable(message);
}

function statusText(res: Response): string {
  return res.body.statusMessage || '';
}
