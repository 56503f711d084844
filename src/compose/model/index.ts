// The Compose project loader: files found and read, each interpolated and validated, `extends` resolved, merged
// in order, `include` pulled in, then normalised into the Project of ../types.ts.
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { LoadOptions, Project } from '../types.js';
import { readEnvFile } from './env.js';
import { ComposeFileError } from './errors.js';
import { rebaseModel, resolveExtends } from './extends.js';
import { findFiles } from './files.js';
import { type Env, interpolateTree } from './interpolate.js';
import { clean, mergeFiles } from './merge.js';
import { normalize } from './normalize.js';
import { validateFile } from './schema.js';
import { VerdictCache } from './verdicts.js';
import { type Dict, isDict, parseYaml } from './yaml.js';

export { ComposeFileError } from './errors.js';
export { projectToJson, projectToYaml } from './output.js';
export type { LoadOptions, Project } from '../types.js';

interface Ctx {
  cwd: string;
  stdin?: () => Promise<string>;
  warn: (msg: string) => void;
  /** Files being included, to refuse an include cycle. */
  including: string[];
  verdicts?: VerdictCache;
}

export async function loadProject(opts: LoadOptions = {}): Promise<Project> {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const environment = opts.environment ?? process.env;
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`WARN[0000] ${m}\n`));
  const files = await findFiles(opts.files, cwd, environment.COMPOSE_FILE, environment.COMPOSE_PATH_SEPARATOR, warn);
  const first = files[0]!;
  const workingDir = opts.projectDirectory ? resolve(cwd, opts.projectDirectory) : first === '-' ? cwd : dirname(first);

  // The process environment wins over `.env` (or the `--env-file` files, later ones over earlier ones).
  const fromEnv = (n: string): string | undefined => environment[n];
  const dotenv: Record<string, string> = {};
  if (opts.envFiles?.length) {
    for (const f of opts.envFiles) {
      const p = resolve(cwd, f);
      const vars = await readEnvFile(p, (n) => fromEnv(n) ?? dotenv[n], false);
      if (!vars) throw new ComposeFileError(`couldn't find env file: ${p}`);
      Object.assign(dotenv, vars);
    }
  } else Object.assign(dotenv, await readEnvFile(join(workingDir, '.env'), fromEnv, false));
  const lookup = (n: string): string | undefined => fromEnv(n) ?? dotenv[n];
  const env: Env = { lookup, warn, warned: new Set() };

  const raw = await loadFiles(files, env, { cwd, stdin: opts.stdin, warn, including: [], ...(opts.validatedCache && { verdicts: new VerdictCache(opts.validatedCache) }) });

  const name = projectName(opts.projectName, lookup('COMPOSE_PROJECT_NAME'), raw.name, workingDir);
  const profiles = [...(opts.profiles ?? []), ...(lookup('COMPOSE_PROFILES') ?? '').split(',')].map((p) => p.trim()).filter(Boolean);
  return normalize(raw, { name, workingDir, configFiles: files, lookup, profiles });
}

const validName = /^[a-z0-9][a-z0-9_-]*$/;

function projectName(flag: string | undefined, fromEnv: string | undefined, top: unknown, dir: string): string {
  for (const explicit of [flag, fromEnv, typeof top === 'string' ? top : undefined]) {
    if (explicit === undefined || explicit === '') continue;
    if (!validName.test(explicit)) throw new ComposeFileError(`invalid project name ${JSON.stringify(explicit)}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`);
    return explicit;
  }
  // The directory's name is made valid rather than refused.
  const n = basename(dir).toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
  if (!n) throw new ComposeFileError('project name must not be empty');
  return n;
}

/** Reads, interpolates and validates one file; relative `include` and `extends.file` paths made absolute. */
async function readOne(path: string, env: Env, ctx: Ctx): Promise<Dict> {
  let text: string;
  if (path === '-') {
    if (!ctx.stdin) throw new ComposeFileError('no stdin to read the compose file from');
    text = await ctx.stdin();
  } else {
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ComposeFileError(code === 'ENOENT' ? `open ${path}: no such file or directory` : `failed to read ${path}: ${(e as Error).message}`);
    }
  }
  const parsed = parseYaml(text, path);
  const data = interpolateTree(parsed.data, env, '') as Dict;
  await validateFile(parsed, data, ctx.verdicts);
  if (data.version !== undefined) {
    ctx.warn(`${path}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`);
    delete data.version;
  }
  const dir = path === '-' ? ctx.cwd : dirname(path);
  const abs = (p: unknown): string => (isAbsolute(String(p)) ? String(p) : resolve(dir, String(p)));
  if (Array.isArray(data.include))
    data.include = data.include.map((inc) => {
      if (!isDict(inc)) return { path: [abs(inc)] };
      const out: Dict = { ...inc, path: (Array.isArray(inc.path) ? inc.path : [inc.path]).map(abs) };
      if (inc.project_directory !== undefined) out.project_directory = abs(inc.project_directory);
      if (inc.env_file !== undefined) out.env_file = (Array.isArray(inc.env_file) ? inc.env_file : [inc.env_file]).map(abs);
      return out;
    });
  if (isDict(data.services))
    for (const [k, s] of Object.entries(data.services))
      if (isDict(s) && isDict(s.extends) && s.extends.file !== undefined) data.services[k] = { ...s, extends: { ...s.extends, file: abs(s.extends.file) } };
  return data;
}

async function loadFiles(files: string[], env: Env, ctx: Ctx): Promise<Dict> {
  const cache = new Map<string, Promise<Dict>>();
  const read = (p: string): Promise<Dict> => {
    let r = cache.get(p);
    if (!r) cache.set(p, (r = readOne(p, env, ctx)));
    return r;
  };
  const otherServices = async (p: string): Promise<Dict> => {
    const d = await read(p);
    return isDict(d.services) ? d.services : {};
  };
  let model: Dict | undefined;
  for (const f of files) {
    const data = { ...(await read(f)) };
    if (isDict(data.services)) data.services = await resolveExtends(data.services, f, otherServices);
    model = model ? mergeFiles(model, data) : (clean(data) as Dict);
  }
  model ??= {};
  if (Array.isArray(model.include)) {
    const includes = model.include as Dict[];
    delete model.include;
    for (const inc of includes) await include(model, inc, env, ctx);
  }
  return model;
}

const singular: Record<string, string> = { services: 'service', networks: 'network', volumes: 'volume', secrets: 'secret', configs: 'config' };

/** Loads an included project on its own (own directory and env file) and copies its resources in. */
async function include(model: Dict, inc: Dict, env: Env, ctx: Ctx): Promise<void> {
  const paths = inc.path as string[];
  const key = paths.join(',');
  if (ctx.including.includes(key)) throw new ComposeFileError(`include cycle detected: ${[...ctx.including, key].join(' -> ')}`);
  const dir = typeof inc.project_directory === 'string' ? inc.project_directory : dirname(paths[0]!);
  const vars: Record<string, string> = {};
  const envFiles = (inc.env_file as string[] | undefined) ?? [join(dir, '.env')];
  for (const f of envFiles) {
    const v = await readEnvFile(f, env.lookup, inc.env_file !== undefined);
    Object.assign(vars, v);
  }
  // The including project's environment wins over the included one's env file.
  const subEnv: Env = { lookup: (n) => env.lookup(n) ?? vars[n], warn: env.warn, warned: env.warned };
  const sub = rebaseModel(await loadFiles(paths, subEnv, { ...ctx, including: [...ctx.including, key] }), dir);
  for (const section of Object.keys(singular)) {
    if (!isDict(sub[section])) continue;
    const target: Dict = isDict(model[section]) ? (model[section] as Dict) : (model[section] = {});
    for (const [k, v] of Object.entries(sub[section])) {
      if (target[k] !== undefined && !isDeepStrictEqual(target[k], v)) throw new ComposeFileError(`imported compose file ${paths[0]} defines conflicting ${singular[section]} ${k}`);
      target[k] = v;
    }
  }
}
