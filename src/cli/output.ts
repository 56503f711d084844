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

export { goTime } from './format/units.js';
