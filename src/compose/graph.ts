// Services in dependency order, concurrently: each one's work starts as soon as the work of the services it depends
// on (or, reversed, that depend on it) is done, as Compose's graph traversal does.
import type { ServiceConfig } from './types.js';

/**
 * Runs `fn` for every service once its dependencies among `services` are done (`reverse`: once its dependents are,
 * for stopping and removing). The first failure is thrown after the work already started has settled.
 */
export async function inDependencyOrder(services: ServiceConfig[], fn: (s: ServiceConfig) => Promise<void>, reverse = false): Promise<void> {
  const names = new Set(services.map((s) => s.name));
  const before = new Map<string, string[]>();
  for (const s of services) before.set(s.name, []);
  for (const s of services) {
    for (const dep of Object.keys(s.depends_on ?? {})) {
      if (!names.has(dep)) continue;
      if (reverse) before.get(dep)!.push(s.name);
      else before.get(s.name)!.push(dep);
    }
  }
  const done = new Map<string, Promise<void>>();
  const byName = new Map(services.map((s) => [s.name, s]));
  const visit = (name: string, path: string[]): Promise<void> => {
    const known = done.get(name);
    if (known) return known;
    if (path.includes(name)) throw new Error(`dependency cycle detected: ${[...path, name].join(' -> ')}`);
    const p = Promise.all(before.get(name)!.map((d) => visit(d, [...path, name]))).then(() => fn(byName.get(name)!));
    done.set(name, p);
    return p;
  };
  const results = await Promise.allSettled(services.map((s) => visit(s.name, [])));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The named services and, unless `noDeps`, everything they depend on (required dependencies that exist). */
export function withDependencies(all: Record<string, ServiceConfig>, names: string[], noDeps = false): ServiceConfig[] {
  const picked = new Map<string, ServiceConfig>();
  const add = (name: string) => {
    const s = all[name];
    if (!s || picked.has(name)) return;
    picked.set(name, s);
    if (!noDeps) for (const dep of Object.keys(s.depends_on ?? {})) add(dep);
  };
  for (const n of names) add(n);
  return [...picked.values()];
}
