// `network ls` and its rows: apart from network.ts so that the CLI's fast path carries only this.
import type { Cli } from '../context.js';
import { naturalLess } from '../format/natural.js';
import { printRows } from '../list.js';
import { filtersQuery } from './common.js';

/** An entry of GET /networks (the Network shape of the API). */
interface NetworkSummary {
  Name: string;
  Id: string;
  Created?: string;
  Scope?: string;
  Driver?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
const HEADERS = { ID: 'NETWORK ID', IPv4: 'IPV4', IPv6: 'IPV6', CreatedAt: 'CREATED AT' };

/** Go's time.Time.String() of an RFC 3339 time as the API gives it, nanoseconds and all. */
export function goTimeString(rfc3339: string | undefined): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339 ?? '');
  if (!m) return '0001-01-01 00:00:00 +0000 UTC';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const zone = m[4] === 'Z' || m[4] === '+00:00' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac ? `.${frac}` : ''} ${zone}`;
}

/** docker's networkContext: the fields (methods in Go) a `--format` can use. */
function networkRow(n: NetworkSummary, trunc: boolean): Record<string, unknown> {
  const labels = n.Labels ?? {};
  return {
    ID: trunc ? n.Id.slice(0, 12) : n.Id,
    Name: n.Name,
    Driver: n.Driver ?? '',
    Scope: n.Scope ?? '',
    IPv4: String(!!n.EnableIPv4),
    IPv6: String(!!n.EnableIPv6),
    Internal: String(!!n.Internal),
    // a Go map's order, which docker leaves random; sorted here
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    Label: (name: string) => labels[name] ?? '',
    CreatedAt: goTimeString(n.Created),
  };
}

export interface NetworkListOptions {
  filter: string[];
  format?: string;
  trunc: boolean;
  quiet?: boolean;
}

/** `network ls`: the networks by name, as docker's table, `-q` or `--format`. */
export async function listNetworks(cli: Cli, o: NetworkListOptions): Promise<void> {
  const list = await cli.client().json<NetworkSummary[]>('GET', '/networks', { query: { filters: filtersQuery(o.filter) } });
  list.sort((a, b) => (naturalLess(a.Name, b.Name) ? -1 : naturalLess(b.Name, a.Name) ? 1 : 0));
  const rows = list.map((n) => networkRow(n, o.trunc));
  const opts = {
    format: o.format,
    quiet: o.quiet,
    quietField: 'ID',
    defaultTable: DEFAULT_TABLE,
    raw: 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n',
    rawQuiet: 'network_id: {{.ID}}',
    headers: HEADERS,
    typeName: '*network.networkContext',
  };
  await printRows(cli, rows, opts, async () => (await import('./templates.js')).printListing(cli, rows, opts));
}
