// `extends`: a service starts from another one (same file, or `file:`), its own keys merged over it. Relative
// paths in a service from another file are made absolute against that file's directory first.
import { dirname, isAbsolute, resolve } from 'node:path';
import { ComposeFileError } from './errors.js';
import { mergeValue } from './merge.js';
import { isUrlContext } from './normalize.js';
import { isHostPath, parseVolumeShort } from './syntax.js';
import { type Dict, isDict } from './yaml.js';

const abs = (p: unknown, dir: string): string => (typeof p === 'string' && !isAbsolute(p) && !p.startsWith('~') ? resolve(dir, p) : String(p));

/** Makes the relative paths of one raw service absolute against `dir`. */
export function rebaseService(svc: Dict, dir: string): Dict {
  const s: Dict = { ...svc };
  if (typeof s.build === 'string') s.build = isUrlContext(s.build) ? s.build : abs(s.build, dir);
  else if (isDict(s.build)) {
    const ctx = s.build.context === undefined ? '.' : String(s.build.context);
    s.build = { ...s.build, context: isUrlContext(ctx) ? ctx : abs(ctx, dir) };
  }
  if (s.env_file !== undefined) s.env_file = (Array.isArray(s.env_file) ? s.env_file : [s.env_file]).map((e) => (isDict(e) ? { ...e, path: abs(e.path, dir) } : abs(e, dir)));
  if (Array.isArray(s.volumes))
    s.volumes = s.volumes.map((v) => {
      if (typeof v === 'string') {
        const p = parseVolumeShort(v);
        return p.type === 'bind' && p.source?.startsWith('.') ? `${abs(p.source, dir)}:${v.slice(p.source.length + 1)}` : v;
      }
      return isDict(v) && v.type === 'bind' && typeof v.source === 'string' && isHostPath(v.source) ? { ...v, source: abs(v.source, dir) } : v;
    });
  if (isDict(s.extends) && typeof s.extends.file === 'string') s.extends = { ...s.extends, file: abs(s.extends.file, dir) };
  return s;
}

/** Every relative path of a whole (raw) model made absolute against `dir`: for included projects. */
export function rebaseModel(model: Dict, dir: string): Dict {
  const out: Dict = { ...model };
  if (isDict(model.services)) out.services = Object.fromEntries(Object.entries(model.services).map(([k, v]) => [k, isDict(v) ? rebaseService(v, dir) : v]));
  for (const section of ['secrets', 'configs'])
    if (isDict(model[section])) out[section] = Object.fromEntries(Object.entries(model[section]).map(([k, v]) => [k, isDict(v) && typeof v.file === 'string' ? { ...v, file: abs(v.file, dir) } : v]));
  return out;
}

/** Loads another file's services (interpolated and validated), for `extends.file`. */
export type FileLoader = (path: string) => Promise<Dict>;

export async function resolveExtends(services: Dict, file: string, load: FileLoader, chain: string[] = []): Promise<Dict> {
  const done: Dict = {};
  const resolveOne = async (name: string, seen: string[]): Promise<Dict> => {
    const key = `${file}#${name}`;
    if (seen.includes(key)) throw new ComposeFileError(`circular reference with extends: ${[...seen, key].map((k) => k.split('#')[1]).join(' -> ')}`);
    const svc = services[name];
    if (!isDict(svc)) throw new ComposeFileError(`cannot extend service "${name}" in ${file}: service not found`);
    if (done[name]) return done[name] as Dict;
    if (svc.extends === undefined) return svc;
    const ext = typeof svc.extends === 'string' ? { service: svc.extends } : (svc.extends as Dict);
    const baseName = String(ext.service);
    let base: Dict;
    if (ext.file !== undefined && resolve(String(ext.file)) !== file) {
      const other = String(ext.file);
      const otherServices = await load(other);
      if (!isDict(otherServices[baseName])) throw new ComposeFileError(`cannot extend service "${baseName}" in ${other}: service not found`);
      const resolved = await resolveExtends({ [baseName]: otherServices[baseName], ...otherServices }, other, load, [...seen, key]);
      base = rebaseService(resolved[baseName] as Dict, dirname(other));
    } else base = await resolveOne(baseName, [...seen, key]);
    const own: Dict = { ...svc };
    delete own.extends;
    const merged = mergeValue({ ...base, extends: undefined }, own) as Dict;
    delete merged.extends;
    done[name] = merged;
    return merged;
  };
  const out: Dict = {};
  for (const name of Object.keys(services)) out[name] = await resolveOne(name, chain);
  return out;
}
