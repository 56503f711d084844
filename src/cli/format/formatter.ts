/**
 * The docker CLI's `--format` conventions for list commands (`docker images`, `ps`, `volume ls`, …) and for
 * single-object commands (`inspect`, `version`, `info`):
 *
 * - no `--format` or `--format table`: the command's default table; `-q` turns that into `{{.ID}}`.
 * - `--format 'table …'`: a table with a header row; `\t` (typed as backslash-t) separates columns.
 * - `--format json`: `{{json .}}`, one compact JSON object per row, keys sorted, `<>&` escaped (docker marshals rows
 *   as maps with json.Marshal).
 * - any other `--format`: a raw template per row, no header.
 *
 * Tables are aligned like Go's text/tabwriter with docker's settings (minwidth 10, padding 3, spaces). The header
 * row is made by running the same template over a map from field name to header text, with the string functions
 * (`json`, `lower`, `truncate`, …) replaced by ones that leave the header as it is.
 */
import { goJSON, goType, marshalJSON } from './gofmt.js';
import { TabWriter } from './tabwriter.js';
import { type FuncMap, TemplateError, headerFuncs, parseTemplate } from './template.js';

export const TABLE = 'table';
export const RAW = 'raw';
export const JSON_FORMAT = 'json';
export const DEFAULT_QUIET_FORMAT = '{{.ID}}';

export function isTableFormat(format: string): boolean {
  return format.startsWith(TABLE);
}

/** Docker's pre-processing of a list `--format`: strip `table`, map `json`, trim spaces, turn `\t` `\n` into tab/newline. */
export function templateText(format: string): string {
  let out = format;
  if (isTableFormat(out)) out = out.slice(TABLE.length);
  else if (out === JSON_FORMAT) out = '{{json .}}';
  out = out.replace(/^ +| +$/g, '');
  return out.replace(/\\t|\\n/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

/** A map from template field name to column header, e.g. `{ Repository: 'REPOSITORY', ID: 'IMAGE ID' }`. */
export type Headers = Record<string, string>;

export interface ListFormatOptions {
  /** The user's `--format` value; undefined or '' means the default table. */
  format?: string | undefined;
  /** The command's default, e.g. `table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`. */
  defaultTable: string;
  /** Column headers by field name. */
  headers: Headers;
  /** `-q`: print only `quietFormat` per row when the format is the default table (or `raw`). */
  quiet?: boolean | undefined;
  /** The quiet template (default `{{.ID}}`). */
  quietFormat?: string | undefined;
  /** Let `-q` override a custom `--format` as well (docker ps does this, with a warning; docker images does not). */
  quietOverridesFormat?: boolean | undefined;
  /** The command's `--format raw` template (and `rawQuiet` for `raw` with `-q`), if it has one. */
  raw?: string | undefined;
  rawQuiet?: string | undefined;
  /** Extra template functions. */
  funcs?: FuncMap | undefined;
  /** Go type of a row in error messages, e.g. `*formatter.imageContext` (default `*formatter.rowContext`). */
  typeName?: string | undefined;
}

/** Resolves the effective format string from the user's `--format`, `-q` and the command's defaults. */
export function resolveListFormat(opts: ListFormatOptions): string {
  const format = opts.format ?? '';
  const quietFormat = opts.quietFormat ?? DEFAULT_QUIET_FORMAT;
  if (format === '' || format === TABLE) return opts.quiet ? quietFormat : opts.defaultTable;
  if (format === RAW && opts.raw !== undefined) return opts.quiet ? (opts.rawQuiet ?? quietFormat) : opts.raw;
  if (opts.quiet && opts.quietOverridesFormat) return quietFormat;
  return format;
}

/** A row as docker's `{{json .}}` shows it: its fields (zero-argument functions called) sorted, `<>&` escaped. */
function rowJSON(row: object): string {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(row)) {
    const v = (row as Record<string, unknown>)[key];
    if (typeof v === 'function') {
      if (v.length === 0) fields[key] = (v as () => unknown).call(row);
    } else fields[key] = v;
  }
  return goJSON(fields, { sortKeys: true, escapeHTML: true });
}

/** Prototype of plain rows: makes them structs rather than maps, so an unknown field is an error, as in docker. */
const rowPrototype: object = Object.freeze(Object.create(null) as object);

/** A shallow copy of a row that behaves like docker's row contexts (a Go struct; JSON as docker marshals rows). */
function rowContext(row: object, typeName: string): object {
  const proto = Object.getPrototypeOf(row) as object | null;
  const isPlain = proto === Object.prototype || proto === null;
  const ctx = Object.assign(Object.create(isPlain ? rowPrototype : proto) as object, row);
  Object.defineProperty(ctx, marshalJSON, { value: () => rowJSON(row), enumerable: false });
  Object.defineProperty(ctx, goType, { value: typeName, enumerable: false });
  return ctx;
}

/** The Go type name in "can't evaluate field X in type …" errors when rows do not name their own. */
export const DEFAULT_ROW_TYPE = '*formatter.rowContext';

/** docker's SubHeaderContext.Label: the header for `{{.Label "com.example.name"}}` is its last dotted part. */
function headerLabel(name: string): string {
  const parts = String(name).split('.');
  return parts[parts.length - 1]!.replace(/[-_]/g, ' ');
}

/**
 * Renders rows with an already-resolved docker format (`table …`, `json`, or a raw template).
 * Returns the whole output, each row ending in a newline. Throws TemplateError on a bad template.
 */
export function formatRows(rows: readonly object[], format: string, headers: Headers, funcs?: FuncMap, typeName = DEFAULT_ROW_TYPE): string {
  const tmpl = parseTemplate(templateText(format), funcs ? { funcs } : {});
  let body = '';
  for (const row of rows) body += `${tmpl.execute(rowContext(row, typeName))}\n`;
  if (!isTableFormat(format)) return body;
  // the header: the same template run over the header names; docker ignores errors here and keeps what was written
  let header: string;
  try {
    header = tmpl.execute({ ...headers, Label: headerLabel }, { funcs: headerFuncs }); // a method wins over a key, as in Go
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    header = e.partial;
  }
  return new TabWriter(10, 1, 3, ' ', 0).write(`${header}\n`).write(body).flush();
}

/**
 * What a list command prints: resolves `--format`/`-q` against the command's defaults, then renders.
 * Rows are plain objects whose keys are the template field names docker uses (e.g. `.Repository .Tag .ID
 * .CreatedSince .Size`); a function-valued key acts as a Go method (`{{.Label "x"}}`).
 */
export function renderList(rows: readonly object[], opts: ListFormatOptions): string {
  return formatRows(rows, resolveListFormat(opts), opts.headers, opts.funcs, opts.typeName);
}

/**
 * Runs a `--format` as written (no `table`/`\t` processing) once over one row and returns the output, as docker ps
 * does to check its format and learn which fields it reads before listing. Throws TemplateError.
 */
export function executeOnRow(format: string, row: object, typeName = DEFAULT_ROW_TYPE, funcs?: FuncMap): string {
  return parseTemplate(format, funcs ? { funcs } : {}).execute(rowContext(row, typeName));
}

/** The field names a list format reads, so a command can skip costly fields nobody asked for (docker ps and `.Size`). */
export function fieldsUsed(format: string, funcs?: FuncMap): Set<string> {
  return parseTemplate(templateText(format), funcs ? { funcs } : {}).fields();
}

export interface ObjectFormatOptions {
  /** Template name in error messages: `docker version` uses "version"; inspect uses "". */
  name?: string;
  funcs?: FuncMap;
}

/**
 * A `--format` for single objects (`inspect`, `version`, `info`): each item rendered with the template as written
 * (no `table`/`\t` processing), followed by a newline. `json` is not special here, as in docker inspect.
 */
export function renderObjects(items: readonly unknown[], format: string, opts: ObjectFormatOptions = {}): string {
  const tmpl = parseTemplate(format, opts);
  return items.map((item) => `${tmpl.execute(item)}\n`).join('');
}
