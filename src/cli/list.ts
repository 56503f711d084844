// List output without the Go-template engine for what most runs print: the command's default table and `-q`.
// Loading and running the engine cost `ps`/`images` about 10 ms of a ~60 ms start; a `--format` still goes
// through it (output.ts), as does any row this printer cannot show exactly as the template would.
import type { Cli } from './context.js';
import { TabWriter } from './format/tabwriter.js';
import type { ListOptions } from './output.js';

/** A default table's fields, when it is only `{{.Field}}` columns separated by tabs (all of docker's are). */
function plainColumns(table: string): string[] | undefined {
  if (!table.startsWith('table')) return undefined;
  const fields: string[] = [];
  for (const cell of table.slice('table'.length).replace(/^ +| +$/g, '').split('\t')) {
    const m = /^\{\{\.([A-Za-z_][A-Za-z0-9_]*)\}\}$/.exec(cell);
    if (!m) return undefined;
    fields.push(m[1]!);
  }
  return fields;
}

/**
 * A row's field as `{{.Field}}` prints it, or undefined when that is not plainly its text: only strings (and
 * methods without arguments returning one) are printed here; anything else is left to the engine.
 */
function text(row: Record<string, unknown>, field: string): string | undefined {
  if (!Object.hasOwn(row, field)) return undefined;
  let v = row[field];
  if (typeof v === 'function') v = v.length === 0 ? (v as () => unknown).call(row) : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** The output of the default table or `-q`, byte for byte what the template would give; undefined otherwise. */
export function plainList(rows: ReadonlyArray<Record<string, unknown>>, o: ListOptions): string | undefined {
  if (o.format !== undefined && o.format !== '' && o.format !== 'table') return undefined;
  if (o.quiet) {
    let out = '';
    for (const row of rows) {
      const v = text(row, o.quietField);
      if (v === undefined) return undefined;
      out += `${v}\n`;
    }
    return out;
  }
  const fields = plainColumns(o.defaultTable);
  if (!fields) return undefined;
  let body = '';
  for (const row of rows) {
    const cells: string[] = [];
    for (const f of fields) {
      const v = text(row, f);
      if (v === undefined) return undefined;
      cells.push(v);
    }
    body += `${cells.join('\t')}\n`;
  }
  const header = fields.map((f) => (Object.hasOwn(o.headers, f) ? o.headers[f]! : f.toUpperCase())).join('\t');
  // docker's table settings, as formatter.ts writes its tables
  return new TabWriter(10, 1, 3, ' ', 0).write(`${header}\n`).write(body).flush();
}

/**
 * Prints list output like printList (output.ts), loading the template engine only when the output needs it.
 * `fallback` replaces printList for commands that report template errors their own way.
 */
export async function printRows(cli: Cli, rows: Array<Record<string, unknown>>, o: ListOptions, fallback?: () => Promise<void>): Promise<void> {
  const out = plainList(rows, o);
  if (out !== undefined) {
    if (out) process.stdout.write(out);
    return;
  }
  if (fallback) return fallback();
  (await import('./output.js')).printList(cli, rows, o);
}
