// Exec: create a session in a running container, start it (hijacked, or detached), resize its TTY, inspect it.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidArgument } from '../errors/index.js';
import type { Services } from '../services/index.js';
import type { ExecStartConfig } from '../types/docker-api.gen.js';
import { Status } from './errors.js';
import { type Session, parseDetachKeys, pumpInput, readHijackBody, responseSession, socketSession } from './hijack.js';
import { readJsonBody, sendEmpty, sendJson } from './http.js';
import type { Route } from './router.js';
import { frame } from './stream.js';
import { validateBody } from './validate.js';

type StartBody = ExecStartConfig;

const execConfigFields = ['AttachStdin', 'AttachStdout', 'AttachStderr', 'DetachKeys', 'Tty', 'Env', 'Cmd', 'Privileged', 'User', 'WorkingDir', 'ConsoleSize'];

/**
 * Field names as dockerd reads them: Go's JSON decoding matches them case-insensitively, and clients rely on it
 * (docker-py sends the exec's `detachKeys`).
 */
function goFieldNames(body: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) out[fields.find((f) => f.toLowerCase() === k.toLowerCase()) ?? k] = v;
  return out;
}

export function execRoutes(s: Services): Route[] {
  const id = (params: string[]) => params[0] ?? '';
  return [
    ['POST', /^\/containers\/([^/]+)\/exec$/, async (req, res) => {
      const body = await validateBody('ExecConfig', goFieldNames((await readJsonBody<Record<string, unknown>>(req.raw)) ?? {}, execConfigFields));
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
      await streamExec(s, id(req.params), responseSession(res), body);
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
  await streamExec(s, execId, socketSession(socket, rest), start);
}

/** What dockerd writes down the stream when the client detaches from an exec (its attach ends in an error). */
const detachedMessage = 'exec attach failed: error on attach stdin: read escape sequence\r\n';

/**
 * Starts the session and copies its output out and the client's input in. The output is framed unless the
 * *start* request asks for a TTY (moby: execStartCheck.Tty), whatever the exec was created with; the detach keys
 * are looked for when the exec has a TTY.
 */
async function streamExec(s: Services, execId: string, session: Session, body: StartBody): Promise<void> {
  const exec = s.exec.startable(execId);
  const raw = !!body.Tty;
  const encode = (stream: 'stdout' | 'stderr', data: Buffer) => (raw ? data : frame(stream, data));
  const { out, input } = session;
  session.begin(raw);
  // Output goes to the client until it goes away or detaches.
  let open = true;
  out.once('close', () => {
    open = false;
  });
  let started;
  try {
    started = await s.exec.start(execId, { detach: false, consoleSize: body.ConsoleSize ?? null });
  } catch (e) {
    // Like dockerd: the stream is open already, so the reason goes down it; the exit code (126) is in inspect.
    session.close(encode('stdout', Buffer.from(`${(e as Error).message}\r\n`)));
    return;
  }
  const attach = started.attach;
  if (attach) {
    const closed = new Promise<void>((resolve) => attach.onClose(resolve));
    attach.onOutput((stream, data) => {
      if (open && !out.destroyed) out.write(encode(stream, data));
    });
    if (input && exec.config.AttachStdin) {
      const tty = !!exec.config.Tty;
      pumpInput(input, session.first, tty ? parseDetachKeys(exec.config.DetachKeys) : Buffer.alloc(0), {
        data: (b) => attach.write(b),
        // As dockerd: the end of the client's input closes the process's stdin, unless it is a terminal's.
        end: () => {
          if (!tty) attach.closeStdin();
        },
        // The process goes on; the client's stream ends with dockerd's words for it.
        detach: () => {
          if (!open) return;
          open = false;
          session.close(encode('stdout', Buffer.from(detachedMessage)));
        },
      });
    }
    await closed;
  }
  // The client asks for the exit code as soon as the stream ends: have it recorded first.
  await started.exited;
  if (open) session.close();
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
