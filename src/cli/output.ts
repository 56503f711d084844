import type { Cli } from './context.js';
import { fieldsUsed, renderList } from './format/formatter.js';

export interface ListOptions {
  format?: string;
  quiet?: boolean;
  /** Field printed alone, one line per row as docker does, by `-q`. */
  quietField: string;
  /** Docker's default `table …` template for the command. */
  defaultTable: string;
  /** Column titles that are not simply the field name upper-cased. */
  headers: Record<string, string>;
  /** The command's `--format raw` template, and the one `-q` turns it into. */
  raw?: string;
  rawQuiet?: string;
  /** `-q` also overrides a custom `--format` (docker ps). */
  quietOverridesFormat?: boolean;
  /** Go type of a row, for template errors. */
  typeName?: string;
}

/** Prints list output like docker: `-q`, the default table, or `--format` (table, json, or a template). */
export function printList(cli: Cli, rows: Array<Record<string, unknown>>, o: ListOptions): void {
  const text = renderList(rows, {
    format: o.format,
    defaultTable: o.defaultTable,
    headers: headersFor(o),
    quiet: o.quiet,
    quietFormat: `{{.${o.quietField}}}`,
    raw: o.raw,
    rawQuiet: o.rawQuiet,
    quietOverridesFormat: o.quietOverridesFormat,
    typeName: o.typeName,
  });
  if (text) process.stdout.write(text);
}

/** Docker's column titles are the field names upper-cased unless the command names them otherwise. */
function headersFor(o: ListOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const format = o.format && o.format !== 'table' && o.format.startsWith('table') ? o.format : o.defaultTable;
  try {
    for (const f of fieldsUsed(format)) headers[f] = f.toUpperCase();
  } catch {
    // a broken template reports its own error when rendered
  }
  return { ...headers, ...o.headers };
}

/** Go's time.Time.String(): `2024-01-02 15:04:05 +0000 UTC`. */
export function goTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}
