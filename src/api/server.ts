import { type IncomingMessage, STATUS_CODES, type Server, type ServerResponse, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Services } from '../services/index.js';
import { apiVersion, berthVersion, minApiVersion } from '../services/index.js';
import type { Logger } from '../util/logger.js';
import { inRequest } from '../util/request-context.js';
import { supervise } from '../util/supervise.js';
import { warmValidators } from './validate.js';
import { toHttpError } from './errors.js';
import { archiveRoutes } from './archive.js';
import { attach, attachWebSocket, containerRoutes } from './containers.js';
import { networkRoutes } from './networks.js';
import { volumeRoutes } from './volumes.js';
import { execRoutes, execStartHijacked } from './exec.js';
import { isUpgraded, socketSession } from './hijack.js';
import { imageRoutes } from './images.js';
import { type Req, sendJson } from './http.js';
import { type Route, matchRoute } from './router.js';
import { buildRoutes } from './build.js';
import { statsRoutes } from './stats.js';
import { systemRoutes } from './system.js';

type HijackHandler = (id: string, raw: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void>;

/** The Docker Engine API over HTTP/1.1: every response carries Docker's identification headers. */
export function createApiServer(services: Services, log: Logger): Server {
  const routes: Route[] = [...systemRoutes(services), ...imageRoutes(services), ...containerRoutes(services), ...networkRoutes(services), ...volumeRoutes(services), ...archiveRoutes(services), ...execRoutes(services), ...statsRoutes(services), ...buildRoutes(services)];
  const hijackRoutes: Array<[string, RegExp, HijackHandler]> = [
    ['POST', /^\/containers\/([^/]+)\/attach$/, (id, raw, socket, head) => attach(services, id, new URL(raw.url ?? '/', 'http://berth').searchParams, socketSession(socket, head))],
    ['POST', /^\/exec\/([^/]+)\/start$/, (id, raw, socket, head) => execStartHijacked(services, id, raw, socket, head)],
    [
      'GET',
      /^\/containers\/([^/]+)\/attach\/ws$/,
      async (id, raw, socket, head) => {
        services.containers.resolve(id); // a missing container is a plain 404, before any upgrade
        const query = new URL(raw.url ?? '/', 'http://berth').searchParams;
        websockets.handleUpgrade(raw, socket, head, (ws) => {
          ws.on('error', (e) => log.debug('websocket attach connection failed', { container: id, error: e }));
          attachWebSocket(services, id, query, ws).catch((e: unknown) => {
            log.warn('websocket attach failed', { container: id, error: e });
            ws.close(1011);
          });
        });
      },
    ],
  ];
  const websockets = new WebSocketServer({ noServer: true });
  const versions = { min: Number(minApiVersion), max: Number(apiVersion) };
  const serve = async (raw: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Api-Version', apiVersion);
    res.setHeader('Docker-Experimental', 'false');
    res.setHeader('Ostype', 'linux');
    res.setHeader('Server', `Berth/${berthVersion} (linux)`);
    const started = Date.now();
    try {
      const m = matchRoute(routes, raw, versions);
      const url = new URL(raw.url ?? '/', 'http://berth');
      const req: Req = { method: raw.method ?? 'GET', path: m.path, params: m.params, query: url.searchParams, version: m.version, raw };
      await m.handler(req, res);
    } catch (e) {
      // The client hung up (mid-upload, mid-download): its request simply ends; there is no one to answer.
      if (res.destroyed || raw.socket.destroyed) {
        log.debug('client went away', { method: raw.method, url: raw.url, error: e });
        res.destroy();
        return;
      }
      const { status, message, unexpected } = toHttpError(e);
      if (unexpected) log.error('request failed', { method: raw.method, url: raw.url, error: e });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Read the rest of a rejected upload first: closing on a client still sending makes it see EPIPE instead
      // of our message.
      if (!raw.complete && !raw.destroyed) {
        await new Promise<void>((resolve) => {
          raw.once('end', resolve).once('close', resolve).once('error', () => resolve());
          raw.resume();
        });
      }
      sendJson(res, status, { message });
    } finally {
      log.debug('request', { method: raw.method, url: raw.url, status: res.statusCode, ms: Date.now() - started });
    }
  };
  const server = createServer((raw, res) => {
    // A client that goes away mid-request or mid-stream is normal: what fails then (a write after the end, a reset
    // upload) is logged, never thrown at the process.
    const gone = (what: string) => (e: Error) => log.debug(`${what} failed`, { method: raw.method, url: raw.url, error: e });
    raw.on('error', gone('request'));
    res.on('error', gone('response'));
    const ctx = { method: raw.method ?? '', url: raw.url ?? '' };
    supervise(log, 'request', () => inRequest(ctx, () => serve(raw, res)), ctx);
  });
  server.requestTimeout = 0;
  // The first create would otherwise pay for compiling its validator (≈100 ms, once per process).
  setImmediate(() => supervise(log, 'compiling the request validators', warmValidators));
  // Hijacked connections (`Connection: Upgrade`, as the docker CLI sends for attach): the socket becomes a raw stream.
  const serveHijacked = async (raw: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      const m = matchRoute(hijackRoutes, raw, versions);
      await m.handler(m.params[0] ?? '', raw, socket, head);
    } catch (e) {
      const { status, message, unexpected } = toHttpError(e);
      if (unexpected) log.error('hijacked request failed', { url: raw.url, error: e });
      if (socket.destroyed) return;
      if (isUpgraded(socket)) {
        socket.destroy(); // mid-stream: nothing can be said any more but that it ended
        return;
      }
      const body = JSON.stringify({ message });
      socket.resume(); // the rest of the request is read and dropped: left unread, it would reset the client
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
  };
  server.on('upgrade', (raw: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node takes its own error handler off a socket it hands over: without this one, a client that resets the
    // connection (at any point, even before it is answered) ends the process.
    socket.on('error', (e) => log.debug('hijacked connection failed', { url: raw.url, error: e }));
    const ctx = { method: raw.method ?? '', url: raw.url ?? '' };
    supervise(log, 'hijacked request', () => inRequest(ctx, () => serveHijacked(raw, socket, head)), ctx);
  });
  return server;
}
