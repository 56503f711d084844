// Exec: create a session in a running container, start it (hijacked, or detached), resize its TTY, inspect it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { InvalidArgument } from '../errors/index.js';
import type { Services } from '../services/index.js';
import type { ExecStartConfig } from '../types/docker-api.gen.js';
import { Status } from './errors.js';
import { parseDetachKeys, pumpInput, readHijackBody, upgrade } from './hijack.js';
import { readJsonBody, sendEmpty, sendJson } from './http.js';
import type { Route } from './router.js';
import { frame } from './stream.js';
import { validateBody } from './validate.js';

type StartBody = ExecStartConfig;

export function execRoutes(s: Services): Route[] {
  const id = (params: string[]) => params[0] ?? '';
  return [
    ['POST', /^\/containers\/([^/]+)\/exec$/, async (req, res) => {
      const body = await validateBody('ExecConfig', await readJsonBody(req.raw));
      parseDetachKeys(body.DetachKeys); // reject bad keys at create, as dockerd does
      sendJson(res, Status.Created, { Id: s.exec.create(id(req.params), body).id });
    }],
    ['GET', /^\/exec\/([^/]+)\/json$/, (req, res) => sendJson(res, Status.OK, s.exec.inspect(id(req.params)))],
    ['POST', /^\/exec\/([^/]+)\/resize$/, async (req, res) => {
      await s.exec.resize(id(req.params), Number(req.query.get('h') ?? 0), Number(req.query.get('w') ?? 0));
      sendEmpty(res, Status.OK);
    }],
    // Without an upgrade: detached, or output streamed in the response body (no input).
    ['POST', /^\/exec\/([^/]+)\/start$/, async (req, res) => {
      const body = await parseStartBody(await readBodyText(req.raw));
      if (body.Detach) {
        await s.exec.start(id(req.params), { detach: true });
        sendEmpty(res, Status.OK);
        return;
      }
      await streamExec(s, id(req.params), res, undefined, body, Buffer.alloc(0), res);
    }],
  ];
}

/** `POST /exec/{id}/start` with `Connection: Upgrade`, as the docker CLI sends it. */
export async function execStartHijacked(s: Services, execId: string, raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const { body, rest } = await readHijackBody(raw, socket, head);
  const start = await parseStartBody(body);
  if (start.Detach) {
    await s.exec.start(execId, { detach: true });
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  await streamExec(s, execId, socket, socket, start, rest);
}

/** Starts the session and copies its output out (framed unless a TTY) and the client's input in. */
async function streamExec(s: Services, execId: string, out: Writable, input: Duplex | undefined, body: StartBody, first: Buffer, res?: ServerResponse): Promise<void> {
  const session = s.exec.startable(execId);
  const keys = parseDetachKeys(session.config.DetachKeys);
  const tty = !!session.config.Tty || !!body.Tty;
  if (res) res.writeHead(Status.OK, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  else upgrade(out as Duplex, tty);
  let started;
  try {
    started = await s.exec.start(execId, { detach: false, consoleSize: body.ConsoleSize ?? null });
  } catch (e) {
    // Like dockerd: the stream is open already, so the reason goes down it; the exit code (126) is in inspect.
    const message = Buffer.from(`${(e as Error).message}\r\n`);
    out.end(tty ? message : frame('stdout', message));
    return;
  }
  const attach = started.attach;
  let detached = false;
  const closed = new Promise<void>((resolve) => {
    if (!attach) return resolve();
    attach.onOutput((stream, data) => {
      if (!detached) out.write(tty ? data : frame(stream, data));
    });
    attach.onClose(resolve);
  });
  if (attach && input && session.config.AttachStdin) {
    pumpInput(input, first, tty ? keys : Buffer.alloc(0), {
      data: (b) => attach.write(b),
      end: async () => attach.closeStdin(),
      // As dockerd: the detached client's connection is closed; the process goes on.
      detach: () => {
        detached = true;
        out.end(() => input.destroy());
      },
    });
  }
  input?.on('close', () => {
    detached = true;
  });
  await closed;
  // The client asks for the exit code as soon as the stream ends: have it recorded first.
  await started.exited;
  if (!detached) out.end();
}

async function readBodyText(raw: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of raw) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function parseStartBody(text: string): Promise<StartBody> {
  if (!text.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidArgument('invalid JSON in request body');
  }
  return validateBody('ExecStartConfig', body);
}
