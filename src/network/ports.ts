// Host ports held for published container ports. Traffic to them is DNATed before any socket sees it; berthd binds
// each one anyway (TCP listen, UDP bind), as docker-proxy does, so the kernel itself refuses a port another
// program or container holds, before the container starts, and `-p 80` gets a free port from the kernel.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { type Server, createServer } from 'node:net';
import { Conflict } from '../errors/index.js';

export interface PortRequest {
  hostIp: string;
  /** One port, a range `8000-8010` (the first free one is taken), or '' / '0' for any free port. */
  hostPort: string;
  protocol: 'tcp' | 'udp';
}

export interface HeldPort {
  hostIp: string;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

type Handle = Server | UdpSocket;

export class PortReservations {
  private readonly held = new Map<string, Handle[]>();

  /** Binds every requested port for `owner`; all or none (a conflict releases what was taken). */
  async reserve(owner: string, requests: PortRequest[]): Promise<HeldPort[]> {
    const handles: Handle[] = [];
    const out: HeldPort[] = [];
    try {
      for (const r of requests) {
        const [from, to] = portRange(r.hostPort);
        let bound: { handle: Handle; port: number } | undefined;
        let lastError: unknown;
        for (let port = from; port <= to && !bound; port++) {
          bound = await bind(r.protocol, r.hostIp || '0.0.0.0', port).catch((e: unknown) => ((lastError = e), undefined));
        }
        if (!bound) {
          const shown = `${r.hostIp || '0.0.0.0'}:${r.hostPort || '0'}`;
          const why = (lastError as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE' ? 'port is already allocated' : (lastError as Error | undefined)?.message ?? 'no free port';
          throw new Conflict(`driver failed programming external connectivity: Bind for ${shown} failed: ${why}`);
        }
        handles.push(bound.handle);
        out.push({ hostIp: r.hostIp || '0.0.0.0', hostPort: bound.port, protocol: r.protocol });
      }
    } catch (e) {
      for (const h of handles) close(h);
      throw e;
    }
    this.held.set(owner, [...(this.held.get(owner) ?? []), ...handles]);
    return out;
  }

  release(owner: string): void {
    for (const h of this.held.get(owner) ?? []) close(h);
    this.held.delete(owner);
  }
}

function portRange(spec: string): [number, number] {
  if (!spec || spec === '0') return [0, 0];
  const [a, b = a] = spec.split('-').map(Number) as [number, number?];
  return [a, b ?? a];
}

function bind(protocol: 'tcp' | 'udp', host: string, port: number): Promise<{ handle: Handle; port: number }> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind({ address: host, port, exclusive: true }, () => {
        s.off('error', reject);
        s.on('error', () => {}); // nothing is ever sent to it: DNAT takes the traffic first
        resolve({ handle: s, port: s.address().port });
      });
    } else {
      const s = createServer((conn) => conn.destroy()); // only reached if the DNAT rule is missing
      s.once('error', reject);
      s.listen({ host, port, exclusive: true }, () => {
        s.off('error', reject);
        s.on('error', () => {});
        resolve({ handle: s, port: (s.address() as { port: number }).port });
      });
    }
  });
}

function close(h: Handle): void {
  try {
    h.close();
  } catch {
    // already closed
  }
}
