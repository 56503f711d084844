// What `compose config` prints: `name` first, then services sorted by name (without their `name` key, which is
// their key), networks, volumes, secrets, configs; empty sections left out.
import { stringify } from 'yaml';
import type { Project } from '../types.js';

function sorted<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k]!]));
}

export function projectModel(project: Project): Record<string, unknown> {
  const out: Record<string, unknown> = { name: project.name };
  const services = Object.fromEntries(
    Object.keys(project.services)
      .sort()
      .map((k) => {
        const { name: _name, ...rest } = project.services[k]!;
        return [k, sorted(rest as Record<string, unknown>)];
      }),
  );
  if (Object.keys(services).length) out.services = services;
  for (const section of ['networks', 'volumes', 'secrets', 'configs'] as const) if (Object.keys(project[section]).length) out[section] = sorted(project[section]);
  return out;
}

export function projectToYaml(project: Project): string {
  return stringify(projectModel(project), { aliasDuplicateObjects: false, lineWidth: 0 });
}

export function projectToJson(project: Project): string {
  return JSON.stringify(projectModel(project), null, 2);
}
