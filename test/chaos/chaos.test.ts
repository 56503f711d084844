// Chaos: many clients drive random lifecycle, exec, attach, log, stats, copy and commit requests at a few
// containers that have restart policies and health checks, and hang up at random moments (before the answer,
// mid-upload, mid-stream, right after a 101, with unread data). berthd must keep answering, answer every request
// it is left to answer (no 500 a race does not explain, no hang), keep every container's record true to the
// kernel (processes, mounts, runtime states, monitors, cgroups), and leave nothing behind once all is removed.
//
// The seed is printed and named in every failure: BERTH_CHAOS_SEED=<seed> replays the same operation sequence of
// each client (their interleaving still depends on timing). BERTH_CHAOS_MS sets how long the chaos lasts,
// BERTH_CHAOS_WORKERS how many clients. The whole trace is written to a file named in the failure.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Daemon, cgroupParentOf, containerDirs, leftovers, startDaemon } from '../harness/daemon.js';
import { tarOf } from '../harness/images.js';

const seed = process.env['BERTH_CHAOS_SEED'] ? Number(process.env['BERTH_CHAOS_SEED']) >>> 0 : randomInt(2 ** 32 - 1);
const chaosMs = Number(process.env['BERTH_CHAOS_MS'] ?? 60_000);
const workerCount = Number(process.env['BERTH_CHAOS_WORKERS'] ?? 8);
/** A request left to finish that has not within this is a hang (stop and restart take t ≤ 1 s here). */
const hangMs = 30_000;
const v = '/v1.45';

/**
 * 500s that a concurrent operation explains and dockerd answers the same way. Empty on purpose: every 500 seen so
 * far was a bug; add one here only with the race that explains it.
 */
const legitimate500: RegExp[] = [];

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(s: number) {
  let a = s >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T,
  };
}
type Rng = ReturnType<typeof prng>;

// ---- The containers: a few slots, each with its own settings; workers remove and re-create them. ----

interface Slot {
  name: string;
  body: Record<string, unknown>;
}

const second = 1_000_000_000;
const slotSpecs: Array<Record<string, unknown>> = [
  { Cmd: ['sleep', '3'], HostConfig: { RestartPolicy: { Name: 'always' } } },
  { Cmd: ['sh', '-c', 'sleep 0.$RANDOM; exit 3'], HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } } },
  {
    Cmd: ['sh', '-c', 'while :; do echo tick $RANDOM; sleep 0.2; done'],
    Healthcheck: { Test: ['CMD', 'true'], Interval: second, Timeout: 2 * second, Retries: 2 },
    HostConfig: { RestartPolicy: { Name: 'unless-stopped' } },
  },
  { Cmd: ['sh'], Tty: true, OpenStdin: true, AttachStdin: true, AttachStdout: true, HostConfig: { RestartPolicy: { Name: 'no' } } },
  {
    Cmd: ['sh', '-c', 'sleep 0.$RANDOM; exit 3'],
    Healthcheck: { Test: ['CMD-SHELL', 'exit $((RANDOM % 2))'], Interval: second, Retries: 1 },
    HostConfig: { RestartPolicy: { Name: 'always' } },
  },
  { Cmd: ['sh', '-c', 'while :; do echo out $RANDOM; echo err >&2; sleep 0.1; done'], StopSignal: 'SIGUSR1', HostConfig: { RestartPolicy: { Name: 'no' } } },
];
const slots: Slot[] = slotSpecs.map((spec, i) => ({
  name: `chaos${i}`,
  body: { Image: 'busybox', Labels: { chaos: String(seed) }, ...spec, HostConfig: { NetworkMode: 'none', ...(spec['HostConfig'] as object) } },
}));

// ---- Raw HTTP on the daemon's socket, with every way a client can hang up. ----

type HangUp = 'destroy' | 'half-close' | 'stall';

interface Call {
  method: string;
  path: string;
  body?: Buffer | string | object;
  contentType?: string;
  /** The client hangs up this long after sending, whatever has happened by then: a dropped connection. */
  dropAfterMs?: number;
  /** Only half the body is sent before the drop: a client gone mid-upload. */
  dropMidBody?: boolean;
  /** A stream: read it this long after the answer (or the 101), then hang up, as `logs -f` ended by ^C. */
  readForMs?: number;
  /** How the client hangs up: a close, a half-close first, or a close after not reading (unread data: ECONNRESET). */
  hangUp?: HangUp;
  /** `Connection: Upgrade`; after a 101 this drives the raw socket. */
  hijack?: (s: Socket) => void;
}

interface Outcome {
  status?: number;
  message?: string;
  /** The connection failed without an answer (code), or the answer was cut short ("cut: …"). */
  error?: string;
  /** The client hung up (chaos or end of stream): what happened after is no one's fault. */
  hungUp: boolean;
  hang: boolean;
  bytes: number;
  ms: number;
  json?: unknown;
}

function send(socketPath: string, c: Call, stop: AbortSignal): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const out: Outcome = { hungUp: false, hang: false, bytes: 0, ms: 0 };
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    let sock: Socket | undefined;
    let ended = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      stop.removeEventListener('abort', onStop);
      out.ms = Date.now() - started;
      resolve(out);
    };
    const body = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? c.body : Buffer.from(typeof c.body === 'string' ? c.body : JSON.stringify(c.body));
    const headers: Record<string, string | number> = { Host: 'berth' };
    if (body) {
      headers['Content-Type'] = c.contentType ?? 'application/json';
      headers['Content-Length'] = body.length;
    }
    if (c.hijack) {
      headers['Connection'] = 'Upgrade';
      headers['Upgrade'] = 'tcp';
    }
    const req = httpRequest({ socketPath, method: c.method, path: c.path, headers, agent: false });
    req.on('socket', (s) => (sock = s));
    const destroyAll = () => {
      req.destroy();
      sock?.destroy();
    };
    const hangUp = () => {
      if (settled) return;
      out.hungUp = true;
      const how = c.hangUp ?? 'destroy';
      if (how === 'half-close' && sock && !sock.destroyed) {
        sock.end();
        timers.push(setTimeout(destroyAll, 100));
      } else destroyAll();
      finish();
    };
    const onStop = () => hangUp();
    stop.addEventListener('abort', onStop);
    const stall = () => {
      // Stop reading: what the daemon sends piles up unread, so the close below resets its side.
      if (c.hangUp === 'stall') sock?.pause();
    };
    req.on('response', (res) => {
      out.status = res.statusCode;
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (d: Buffer) => {
        out.bytes += d.length;
        if (kept < 65536) {
          chunks.push(d);
          kept += d.length;
        }
      });
      res.on('end', () => {
        ended = true;
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          if (/json/.test(String(res.headers['content-type'])) && text) out.json = JSON.parse(text);
        } catch {
          // a stream of JSON objects, or cut short
        }
        if ((res.statusCode ?? 0) >= 400) out.message = (out.json as { message?: string } | undefined)?.message ?? text.slice(0, 300);
        finish();
      });
      res.on('error', (e) => {
        out.error ??= `cut: ${e.message}`;
        finish();
      });
      res.on('close', () => {
        if (!ended && !settled) {
          out.error ??= 'cut: closed mid-answer';
          finish();
        }
      });
      if (c.readForMs !== undefined) {
        stall();
        timers.push(setTimeout(hangUp, c.readForMs));
      }
    });
    req.on('upgrade', (res, s, head) => {
      out.status = res.statusCode;
      sock = s;
      out.bytes += head.length;
      s.on('error', () => {});
      s.on('data', (d: Buffer) => (out.bytes += d.length));
      s.on('close', finish);
      if (c.readForMs === 0) return hangUp(); // right after the 101
      c.hijack?.(s);
      if (c.readForMs !== undefined) {
        stall();
        timers.push(setTimeout(hangUp, c.readForMs));
      }
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      out.error ??= e.code ?? e.message;
      finish();
    });
    timers.push(
      setTimeout(() => {
        out.hang = true;
        destroyAll();
        finish();
      }, hangMs),
    );
    if (c.dropAfterMs !== undefined) timers.push(setTimeout(hangUp, c.dropAfterMs));
    if (body && c.dropMidBody) {
      req.write(body.subarray(0, Math.floor(body.length / 2)));
      timers.push(setTimeout(hangUp, c.dropAfterMs ?? 50));
    } else req.end(body);
  });
}

// ---- What the run saw. ----

interface TraceEntry {
  t: number;
  worker: number;
  op: string;
  method: string;
  path: string;
  status?: number;
  message?: string;
  error?: string;
  hungUp?: boolean;
  ms: number;
}

interface Finding {
  kind: 'daemon gone' | 'hang' | '500' | 'no answer' | 'daemon error' | 'kernel mismatch' | 'leftover' | 'after stop';
  detail: string;
}

class Run {
  readonly trace: TraceEntry[] = [];
  readonly findings: Finding[] = [];
  /** Set when the daemon is gone: every worker stops at once. */
  readonly fatal = new AbortController();
  readonly start = Date.now();
  constructor(readonly d: Daemon) {}

  record(worker: number, op: string, c: Call, o: Outcome): void {
    const e: TraceEntry = { t: Date.now() - this.start, worker, op, method: c.method, path: c.path, ms: o.ms };
    if (o.status !== undefined) e.status = o.status;
    if (o.message) e.message = o.message;
    if (o.error) e.error = o.error;
    if (o.hungUp) e.hungUp = true;
    this.trace.push(e);
    const where = `${c.method} ${c.path} (worker ${worker}, ${op}, t=${e.t}ms)`;
    if (o.hang) this.findings.push({ kind: 'hang', detail: `${where}: no end within ${hangMs} ms (status ${o.status ?? 'none'})` });
    else if (o.status === undefined && !o.hungUp && o.error) {
      if (/ECONNREFUSED|ENOENT/.test(o.error)) this.gone(`${where}: ${o.error}`);
      else this.findings.push({ kind: 'no answer', detail: `${where}: ${o.error}` });
    }
    if (o.status === 500 && !legitimate500.some((r) => r.test(o.message ?? ''))) this.findings.push({ kind: '500', detail: `${where}: ${o.message}` });
  }

  gone(detail: string): void {
    if (this.fatal.signal.aborted) return;
    this.findings.push({ kind: 'daemon gone', detail });
    this.fatal.abort();
  }

  /** The daemon's own errors: every error-level line is a bug by its own account, and anything not JSON is a crash. */
  daemonErrors(): string[] {
    const out: string[] = [];
    let plain = false; // the last line kept was not JSON: an indented line after it is its stack
    for (const l of this.d.logs().split('\n')) {
      if (!l.trim()) continue;
      if (plain && /^\s/.test(l)) {
        out[out.length - 1] += `\n${l}`;
        continue;
      }
      try {
        const level = (JSON.parse(l) as { level?: string }).level;
        plain = false;
        if (level === 'error' || level === 'fatal') out.push(l);
      } catch {
        plain = true;
        out.push(l);
      }
    }
    return out;
  }

  async report(): Promise<string> {
    const file = join(tmpdir(), `chaos-trace-${seed}.jsonl`);
    await writeFile(file, this.trace.map((e) => JSON.stringify(e)).join('\n') + '\n');
    await writeFile(join(tmpdir(), `chaos-daemon-${seed}.log`), this.d.logs());
    const errors = this.daemonErrors();
    // One line per distinct finding (IDs, times and numbers aside), with how often it was seen.
    const distinct = new Map<string, { kind: string; detail: string; n: number }>();
    for (const f of this.findings) {
      const key = `${f.kind} ${f.detail.replace(/"time":"[^"]*"|\b[0-9a-f]{12,64}\b|\d+/g, '#')}`;
      const seen = distinct.get(key);
      if (seen) seen.n++;
      else distinct.set(key, { kind: f.kind, detail: f.detail, n: 1 });
    }
    const lines = [`chaos seed=${seed} (replay: BERTH_CHAOS_SEED=${seed}); trace: ${file}; daemon log: ${join(tmpdir(), `chaos-daemon-${seed}.log`)}`];
    for (const { kind, detail, n } of distinct.values()) lines.push(`[${kind}] ×${n} ${detail.slice(0, 2000)}`);
    if (errors.length) lines.push(`daemon log, errors only (${errors.length}, last 10):`, ...errors.slice(-10).map((l) => `  ${l.slice(0, 3000)}`));
    lines.push('last requests of the clients:', ...this.trace.filter((e) => e.worker >= 0).slice(-20).map((e) => `  ${JSON.stringify(e)}`));
    return lines.join('\n');
  }
}

// ---- The operations. Each draws all its random choices first, so a seed gives the same sequence whatever the answers. ----

interface Ctx {
  run: Run;
  sock: string;
  worker: number;
  rng: Rng;
  stop: AbortSignal;
  /** The chaos is over: streams still open are hung up. */
  over: AbortSignal;
}

/** Chaos drops for a request that is not a stream: about one in five, at a random moment. */
function maybeDrop(rng: Rng, withBody = false): Pick<Call, 'dropAfterMs' | 'dropMidBody' | 'hangUp'> {
  const drop = rng.chance(0.2);
  const ms = rng.int(0, 300);
  const mid = rng.chance(0.5);
  const how = rng.pick<HangUp>(['destroy', 'half-close', 'stall']);
  if (!drop) return {};
  return { dropAfterMs: ms, hangUp: how, ...(withBody && mid && { dropMidBody: true }) };
}

/** A stream's end: read for a while (sometimes not at all), sometimes without reading (unread data). */
function streamEnd(rng: Rng): Pick<Call, 'readForMs' | 'hangUp'> {
  const ms = rng.chance(0.15) ? 0 : rng.int(1, 2500);
  const how = rng.pick<HangUp>(['destroy', 'destroy', 'half-close', 'stall']);
  return { readForMs: ms, hangUp: how };
}

async function call(ctx: Ctx, op: string, c: Call): Promise<Outcome> {
  const o = await send(ctx.sock, c, AbortSignal.any([ctx.run.fatal.signal, ...(c.readForMs !== undefined ? [ctx.over] : [])]));
  ctx.run.record(ctx.worker, op, c, o);
  return o;
}

/** What a hijacked session types: some input, maybe the detach keys, maybe a half-close (end of input). */
function typist(rng: Rng): (s: Socket) => void {
  const input = rng.pick(['echo hi\n', 'ls /\n', 'x'.repeat(rng.int(1, 40000)), '']);
  const detach = rng.chance(0.3);
  const halfClose = rng.chance(0.3);
  const delay = rng.int(0, 500);
  return (s) => {
    const t = setTimeout(() => {
      if (s.destroyed) return;
      if (input) s.write(input);
      if (detach) s.write('\x10\x11'); // ctrl-p ctrl-q
      if (halfClose) s.end();
    }, delay);
    s.once('close', () => clearTimeout(t));
  };
}

type Op = (ctx: Ctx, slot: Slot) => Promise<void>;
const tail = (rng: Rng) => rng.pick(['all', '0', '5']);

const ops: Array<[name: string, weight: number, run: Op]> = [
  ['create', 6, async (ctx, s) => {
    const drop = maybeDrop(ctx.rng, true);
    await call(ctx, 'create', { method: 'POST', path: `${v}/containers/create?name=${s.name}`, body: s.body, ...drop });
  }],
  ['start', 8, async (ctx, s) => {
    await call(ctx, 'start', { method: 'POST', path: `${v}/containers/${s.name}/start`, ...maybeDrop(ctx.rng) });
  }],
  ['stop', 5, async (ctx, s) => {
    const t = ctx.rng.int(0, 1);
    await call(ctx, 'stop', { method: 'POST', path: `${v}/containers/${s.name}/stop?t=${t}`, ...maybeDrop(ctx.rng) });
  }],
  ['kill', 4, async (ctx, s) => {
    const sig = ctx.rng.pick(['KILL', 'TERM', 'HUP', 'USR1', 'WINCH']);
    await call(ctx, 'kill', { method: 'POST', path: `${v}/containers/${s.name}/kill?signal=${sig}`, ...maybeDrop(ctx.rng) });
  }],
  ['restart', 4, async (ctx, s) => {
    const t = ctx.rng.int(0, 1);
    await call(ctx, 'restart', { method: 'POST', path: `${v}/containers/${s.name}/restart?t=${t}`, ...maybeDrop(ctx.rng) });
  }],
  ['pause', 3, async (ctx, s) => {
    await call(ctx, 'pause', { method: 'POST', path: `${v}/containers/${s.name}/pause`, ...maybeDrop(ctx.rng) });
  }],
  ['unpause', 3, async (ctx, s) => {
    await call(ctx, 'unpause', { method: 'POST', path: `${v}/containers/${s.name}/unpause`, ...maybeDrop(ctx.rng) });
  }],
  ['rm', 3, async (ctx, s) => {
    const force = ctx.rng.chance(0.6);
    await call(ctx, 'rm', { method: 'DELETE', path: `${v}/containers/${s.name}?force=${force ? 1 : 0}`, ...maybeDrop(ctx.rng) });
  }],
  ['exec', 8, async (ctx, s) => {
    const r = ctx.rng;
    const tty = r.chance(0.4);
    const stdin = r.chance(0.4);
    const mode = r.pick(['detached', 'stream', 'hijack', 'hijack']);
    const cmd = r.pick([['sh', '-c', 'echo out; echo err >&2; sleep 0.$RANDOM'], ['cat'], ['true'], ['sh', '-c', 'exit 7'], ['nosuchcommand']]);
    const detachKeys = r.chance(0.3) ? 'ctrl-p' : undefined;
    const createDrop = maybeDrop(r, true);
    const startDrop = maybeDrop(r);
    const end = streamEnd(r);
    const letItEnd = r.chance(0.4) && cmd[0] !== 'cat';
    const startTty = r.chance(0.5) ? tty : !tty;
    const inspectAfter = r.chance(0.3);
    const hijack = typist(r);
    const created = await call(ctx, 'exec', {
      method: 'POST',
      path: `${v}/containers/${s.name}/exec`,
      body: { Cmd: cmd, AttachStdout: mode !== 'detached', AttachStderr: mode !== 'detached', AttachStdin: stdin, Tty: tty, ...(detachKeys && { DetachKeys: detachKeys }) },
      ...createDrop,
    });
    const id = (created.json as { Id?: string } | undefined)?.Id;
    if (created.status !== 201 || !id) return;
    const path = `${v}/exec/${id}/start`;
    if (mode === 'detached') await call(ctx, 'exec start -d', { method: 'POST', path, body: { Detach: true, Tty: startTty }, ...startDrop });
    else if (mode === 'stream') await call(ctx, 'exec start', { method: 'POST', path, body: { Detach: false, Tty: startTty }, ...(letItEnd ? startDrop : end) });
    else await call(ctx, 'exec start (hijack)', { method: 'POST', path, body: { Detach: false, Tty: startTty }, hijack, ...(letItEnd ? startDrop : end) });
    if (inspectAfter) await call(ctx, 'exec inspect', { method: 'GET', path: `${v}/exec/${id}/json` });
  }],
  ['attach', 5, async (ctx, s) => {
    const r = ctx.rng;
    const stdin = r.chance(0.6);
    const logs = r.chance(0.3);
    const stream = r.chance(0.9);
    const end = streamEnd(r);
    const hijack = typist(r);
    await call(ctx, 'attach', {
      method: 'POST',
      path: `${v}/containers/${s.name}/attach?stream=${stream ? 1 : 0}&stdin=${stdin ? 1 : 0}&stdout=1&stderr=1&logs=${logs ? 1 : 0}`,
      hijack,
      ...end,
    });
  }],
  ['logs -f', 4, async (ctx, s) => {
    const t = tail(ctx.rng);
    const ts = ctx.rng.chance(0.3);
    await call(ctx, 'logs -f', { method: 'GET', path: `${v}/containers/${s.name}/logs?follow=1&stdout=1&stderr=1&tail=${t}&timestamps=${ts ? 1 : 0}`, ...streamEnd(ctx.rng) });
  }],
  ['logs', 2, async (ctx, s) => {
    await call(ctx, 'logs', { method: 'GET', path: `${v}/containers/${s.name}/logs?stdout=1&stderr=1&tail=${tail(ctx.rng)}`, ...maybeDrop(ctx.rng) });
  }],
  ['stats', 3, async (ctx, s) => {
    const stream = ctx.rng.chance(0.6);
    const end = streamEnd(ctx.rng);
    const drop = maybeDrop(ctx.rng);
    await call(ctx, 'stats', { method: 'GET', path: `${v}/containers/${s.name}/stats?stream=${stream ? 1 : 0}`, ...(stream ? end : drop) });
  }],
  ['cp from', 3, async (ctx, s) => {
    const p = ctx.rng.pick(['/etc', '/etc/hostname', '/bin/busybox', '/nonexistent', '/proc/self/status']);
    await call(ctx, 'cp from', { method: 'GET', path: `${v}/containers/${s.name}/archive?path=${encodeURIComponent(p)}`, ...maybeDrop(ctx.rng) });
  }],
  ['cp to', 2, async (ctx, s) => {
    const size = ctx.rng.int(1, 300_000);
    const drop = maybeDrop(ctx.rng, true);
    const tar = await tarOf([{ name: `w${ctx.worker}`, content: Buffer.alloc(size, 0x61) }]);
    await call(ctx, 'cp to', { method: 'PUT', path: `${v}/containers/${s.name}/archive?path=%2Ftmp`, body: tar, contentType: 'application/x-tar', ...drop });
  }],
  ['commit', 2, async (ctx, s) => {
    const pause = ctx.rng.chance(0.5);
    await call(ctx, 'commit', { method: 'POST', path: `${v}/commit?container=${s.name}&repo=chaos-commit&tag=w${ctx.worker}&pause=${pause ? 1 : 0}`, body: {}, ...maybeDrop(ctx.rng) });
  }],
  ['wait', 3, async (ctx, s) => {
    const cond = ctx.rng.pick(['not-running', 'next-exit', 'removed']);
    await call(ctx, 'wait', { method: 'POST', path: `${v}/containers/${s.name}/wait?condition=${cond}`, ...streamEnd(ctx.rng) });
  }],
  ['inspect', 4, async (ctx, s) => {
    await call(ctx, 'inspect', { method: 'GET', path: `${v}/containers/${s.name}/json`, ...maybeDrop(ctx.rng) });
  }],
  ['ps', 2, async (ctx) => {
    await call(ctx, 'ps', { method: 'GET', path: `${v}/containers/json?all=1`, ...maybeDrop(ctx.rng) });
  }],
  ['top', 1, async (ctx, s) => {
    await call(ctx, 'top', { method: 'GET', path: `${v}/containers/${s.name}/top`, ...maybeDrop(ctx.rng) });
  }],
  ['resize', 1, async (ctx, s) => {
    const h = ctx.rng.int(1, 80);
    await call(ctx, 'resize', { method: 'POST', path: `${v}/containers/${s.name}/resize?h=${h}&w=${h * 3}`, ...maybeDrop(ctx.rng) });
  }],
];
const totalWeight = ops.reduce((n, [, w]) => n + w, 0);

function pickOp(rng: Rng): [string, number, Op] {
  let x = rng.next() * totalWeight;
  for (const op of ops) {
    x -= op[1];
    if (x < 0) return op;
  }
  return ops[ops.length - 1] as [string, number, Op];
}

async function worker(ctx: Ctx, until: number): Promise<void> {
  while (Date.now() < until && !ctx.run.fatal.signal.aborted) {
    const [, , op] = pickOp(ctx.rng);
    const slot = ctx.rng.pick(slots);
    const pause = ctx.rng.int(0, 40);
    await op(ctx, slot);
    await new Promise((r) => setTimeout(r, pause));
  }
}

// ---- The kernel's view of a container, against its record. ----

interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Paused: boolean; Restarting: boolean; Pid: number; StartedAt: string; FinishedAt: string };
  GraphDriver?: { Data?: { MergedDir?: string } };
  HostConfig: { Runtime?: string };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** conmon processes monitoring this container (not its exec sessions). */
async function monitorsOf(id: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if ((cmd.startsWith('conmon\0') || cmd.includes('/conmon\0')) && cmd.includes(`\0-u\0${id}\0`) && !cmd.includes('\0--exec\0')) pids.push(Number(p));
  }
  return pids;
}

/** The container's cgroup directories (one per v1 controller, or the v2 one). */
async function cgroupDirs(d: Daemon, id: string): Promise<string[]> {
  const parent = cgroupParentOf(d.dir);
  if (await exists('/sys/fs/cgroup/cgroup.controllers')) return [join('/sys/fs/cgroup', parent, id)];
  const controllers = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  return controllers.map((c) => join('/sys/fs/cgroup', c, parent, id));
}

/** Where the record and the kernel disagree, in words; empty when they agree. */
async function mismatches(d: Daemon, c: Inspect): Promise<string[]> {
  const out: string[] = [];
  const { Id: id, State: st } = c;
  const up = st.Status === 'running' || st.Status === 'paused';
  const merged = c.GraphDriver?.Data?.MergedDir;
  const mountPoints = new Set((await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4]));
  const mounted = !!merged && mountPoints.has(merged);
  const runtimeStates = [];
  for (const r of ['runc', 'crun']) if (await exists(join(d.dir, 'run', 'runtime', r, id))) runtimeStates.push(r);
  const monitors = await monitorsOf(id);
  const procs: string[] = [];
  for (const dir of await cgroupDirs(d, id)) {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    procs.push(...text.split('\n').filter(Boolean));
  }
  const what = `${c.Name} ${id.slice(0, 12)} (${st.Status}, pid ${st.Pid})`;
  if (up) {
    if (!merged) out.push(`${what}: no GraphDriver.Data.MergedDir`);
    else if (!mounted) out.push(`${what}: rootfs ${merged} not mounted`);
    if (!runtimeStates.length) out.push(`${what}: no runtime state`);
    if (monitors.length !== 1) out.push(`${what}: ${monitors.length} monitors (conmon) instead of 1`);
    if (!(st.Pid > 0) || !(await exists(`/proc/${st.Pid}`))) out.push(`${what}: State.Pid is not a live process`);
    else {
      const cg = await readFile(`/proc/${st.Pid}/cgroup`, 'utf8').catch(() => '');
      if (!cg.includes(`/${cgroupParentOf(d.dir)}/${id}\n`)) out.push(`${what}: State.Pid is not in the container's cgroup: ${cg.replace(/\n/g, ' ')}`);
    }
    if (st.Running !== true) out.push(`${what}: State.Running is ${st.Running}`);
    const freezer = await readFile(join('/sys/fs/cgroup/freezer', cgroupParentOf(d.dir), id, 'freezer.state'), 'utf8').catch(() => undefined);
    if (freezer !== undefined && (freezer.trim() === 'FROZEN') !== (st.Status === 'paused')) out.push(`${what}: freezer says ${freezer.trim()}`);
  } else {
    if (st.Pid !== 0) out.push(`${what}: State.Pid is not 0`);
    // dockerd shows a container waiting for its restart policy as Running (moby sets Running with Restarting).
    if (st.Running !== (st.Status === 'restarting')) out.push(`${what}: State.Running is ${st.Running}`);
    if (mounted) out.push(`${what}: rootfs ${merged} still mounted`);
    if (runtimeStates.length) out.push(`${what}: runtime state left (${runtimeStates.join(', ')})`);
    if (monitors.length) out.push(`${what}: monitor (conmon) still alive: ${monitors.join(', ')}`);
    if (procs.length) out.push(`${what}: processes in its cgroup: ${[...new Set(procs)].join(', ')}`);
  }
  return out;
}

const stateKey = (c: Inspect) => JSON.stringify([c.State.Status, c.State.Pid, c.State.StartedAt, c.State.FinishedAt]);

/**
 * Compares each container's record with the kernel. A container can change between the inspect and the reads of
 * /proc (restart policies keep some cycling, and an exit is answered before it is cleaned up), so a comparison
 * counts only when the record was the same before and after it, and a disagreement only if it lasts.
 */
async function checkKernel(d: Daemon, run: Run, phase: string, settleMs: number): Promise<void> {
  const list = await d.client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: true } });
  await Promise.all(
    list.map(async ({ Id }) => {
      const deadline = Date.now() + settleMs;
      let last: string[] = [];
      for (;;) {
        const before = await d.client.json<Inspect>('GET', `/containers/${Id}/json`).catch(() => undefined);
        if (!before) return; // removed meanwhile (an auto-removal)
        const seen = await mismatches(d, before);
        const afterwards = await d.client.json<Inspect>('GET', `/containers/${Id}/json`).catch(() => undefined);
        if (afterwards && stateKey(afterwards) === stateKey(before)) {
          if (!seen.length) return;
          last = seen;
        }
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      for (const m of last.length ? last : [`${Id.slice(0, 12)}: its state never held still for a comparison`]) run.findings.push({ kind: 'kernel mismatch', detail: `${phase}: ${m}` });
    }),
  );
}

describe(`chaos (seed ${seed})`, () => {
  let d: Daemon | undefined;
  /** A request hung: the daemon may hold a container's lock for ever, so it is killed, not asked to clean up. */
  let wedged = false;
  after(async () => {
    if (wedged) await d?.kill9();
    await d?.destroy();
  });

  it('berthd keeps answering, its records match the kernel, and nothing leaks', { timeout: chaosMs + 100_000 }, async () => {
    console.log(`chaos seed=${seed} (replay: BERTH_CHAOS_SEED=${seed}), ${workerCount} workers for ${chaosMs} ms`);
    // Warnings (an fd closed by the garbage collector, say) come with the stack that caused them.
    d = await startDaemon({ NODE_OPTIONS: '--trace-warnings' });
    const daemon = d;
    const run = new Run(daemon);
    const sock = daemon.host.replace(/^unix:\/\//, '');
    const imagesBefore = new Set((await daemon.client.json<Array<{ Id: string }>>('GET', '/images/json', { query: { all: true } })).map((i) => i.Id));
    const fail = async (why: string) => assert.fail(`${why}\n${await run.report()}`);

    for (const s of slots) {
      await daemon.client.json('POST', '/containers/create', { query: { name: s.name }, body: s.body });
      await daemon.client.do('POST', `/containers/${s.name}/start`);
    }

    // Liveness: /_ping answers throughout, and the process is there.
    const over = new AbortController();
    const pinger = (async () => {
      while (!over.signal.aborted && !run.fatal.signal.aborted) {
        const o = await send(sock, { method: 'GET', path: '/_ping' }, run.fatal.signal);
        const pid = daemon.pid();
        let alive = pid !== undefined;
        try {
          if (pid) process.kill(pid, 0);
        } catch {
          alive = false;
        }
        if (!alive) run.gone('berthd exited');
        else if (o.status !== 200) run.gone(`/_ping: ${o.hang ? 'no answer within 30 s' : (o.error ?? `status ${o.status}`)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    const until = Date.now() + chaosMs;
    const workers = Array.from({ length: workerCount }, (_, w) =>
      worker({ run, sock, worker: w, rng: prng((seed + Math.imul(w + 1, 0x9e3779b9)) >>> 0), stop: run.fatal.signal, over: over.signal }, until),
    );
    // Streams still open when the time is up are hung up; requests that must finish are left to finish (or hang).
    const timer = setTimeout(() => over.abort(), chaosMs);
    await Promise.all(workers);
    clearTimeout(timer);
    over.abort();
    await pinger;
    if (run.fatal.signal.aborted) await fail('berthd went away');
    // A hung request is a wedged container or daemon: the checks below would only hang on it too.
    if (run.findings.some((f) => f.kind === 'hang')) {
      wedged = true;
      await fail('requests hung');
    }

    // Settle, then the records against the kernel: first as the restart policies left them, then all stopped.
    const counts = new Map<string, number>();
    for (const e of run.trace) counts.set(`${e.op} ${e.status ?? (e.hungUp ? 'hung-up' : e.error)}`, (counts.get(`${e.op} ${e.status ?? (e.hungUp ? 'hung-up' : e.error)}`) ?? 0) + 1);
    console.log(`chaos: ${run.trace.length} requests; ${[...counts].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    await checkKernel(daemon, run, 'after the chaos', 15_000);
    const names = (await daemon.client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: true } })).map((c) => c.Id);
    await Promise.all(
      names.map(async (id) => {
        const r = await send(sock, { method: 'POST', path: `${v}/containers/${id}/unpause` }, run.fatal.signal);
        const o = await send(sock, { method: 'POST', path: `${v}/containers/${id}/stop?t=1` }, run.fatal.signal);
        run.record(-1, 'final stop', { method: 'POST', path: `${v}/containers/${id}/stop?t=1` }, o);
        if (r.status === 500) run.record(-1, 'final unpause', { method: 'POST', path: `${v}/containers/${id}/unpause` }, r);
        if (o.status !== 204 && o.status !== 304 && o.status !== 404) run.findings.push({ kind: 'after stop', detail: `stop ${id.slice(0, 12)}: ${o.status} ${o.message ?? o.error ?? ''}` });
      }),
    );
    await new Promise((r) => setTimeout(r, 1500)); // a restart policy that ignored the stop would show by now
    for (const c of await daemon.client.json<Array<{ Id: string; Names: string[]; State: string }>>('GET', '/containers/json', { query: { all: true } })) {
      if (['running', 'restarting', 'paused'].includes(c.State)) run.findings.push({ kind: 'after stop', detail: `${c.Names[0]} ${c.Id.slice(0, 12)} is ${c.State} after a stop` });
    }
    await checkKernel(daemon, run, 'after stopping all', 10_000);

    // Remove everything; nothing of it may remain.
    await Promise.all(
      names.map(async (id) => {
        const o = await send(sock, { method: 'DELETE', path: `${v}/containers/${id}?force=1` }, run.fatal.signal);
        run.record(-1, 'final rm', { method: 'DELETE', path: `${v}/containers/${id}?force=1` }, o);
        if (o.status !== 204 && o.status !== 404) run.findings.push({ kind: 'leftover', detail: `rm -f ${id.slice(0, 12)}: ${o.status} ${o.message ?? o.error ?? ''}` });
      }),
    );
    if (run.findings.some((f) => f.kind === 'hang')) {
      wedged = true;
      await fail('requests hung');
    }
    for (const img of await daemon.client.json<Array<{ Id: string }>>('GET', '/images/json', { query: { all: true } })) {
      if (imagesBefore.has(img.Id)) continue;
      const o = await send(sock, { method: 'DELETE', path: `${v}/images/${img.Id}?force=1` }, run.fatal.signal);
      run.record(-1, 'final rmi', { method: 'DELETE', path: `${v}/images/${img.Id}?force=1` }, o);
    }
    const remaining = await daemon.client.json<Array<{ Id: string }>>('GET', '/containers/json', { query: { all: true } });
    if (remaining.length) run.findings.push({ kind: 'leftover', detail: `containers still listed: ${remaining.map((c) => c.Id.slice(0, 12)).join(', ')}` });
    const imagesAfter = (await daemon.client.json<Array<{ Id: string }>>('GET', '/images/json', { query: { all: true } })).map((i) => i.Id);
    if (imagesAfter.length !== imagesBefore.size || imagesAfter.some((i) => !imagesBefore.has(i))) run.findings.push({ kind: 'leftover', detail: `images: ${imagesAfter.join(', ')}` });
    // conmon lingers a moment after its container goes.
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      left = [...(await leftovers(daemon)), ...(await containerDirs(daemon)).map((p) => `dir ${p}`)];
      if (!left.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const l of left) run.findings.push({ kind: 'leftover', detail: l });

    const pong = await send(sock, { method: 'GET', path: '/_ping' }, run.fatal.signal);
    if (pong.status !== 200) run.gone(`/_ping at the end: ${pong.error ?? pong.status}`);
    const errors = run.daemonErrors();
    for (const e of errors) run.findings.push({ kind: 'daemon error', detail: e.slice(0, 700) });
    if (run.findings.length) await fail(`${run.findings.length} findings`);
    await rm(join(tmpdir(), `chaos-trace-${seed}.jsonl`), { force: true });
    console.log(`chaos seed=${seed}: clean (${basename(daemon.dir)})`);
  });
});
