// A project's state, read back from the engine by label: Compose keeps no state of its own, so two clients (or a
// `docker compose` beside `berth compose`) always agree on what a project has.
import type { EngineClient } from '../client/index.js';
import type { ContainerSummary } from '../client/types.js';
import { Label, projectFilter } from './labels.js';

export type { ContainerSummary };

/** A project container with what Compose reads from its labels. */
export interface ProjectContainer {
  id: string;
  name: string;
  service: string;
  number: number;
  oneoff: boolean;
  state: string;
  summary: ContainerSummary;
}

export function asProjectContainer(c: ContainerSummary): ProjectContainer {
  const labels = c.Labels ?? {};
  return {
    id: c.Id,
    name: (c.Names[0] ?? '').replace(/^\//, ''),
    service: labels[Label.service] ?? '',
    number: Number(labels[Label.number] ?? 0),
    oneoff: labels[Label.oneoff] === 'True',
    state: c.State,
    summary: c,
  };
}

export interface ContainerQuery {
  /** Stopped ones too (default: running only, as the engine's list). */
  all?: boolean;
  services?: string[];
  oneoff?: 'exclude' | 'include' | 'only';
}

/** The project's containers, ordered by service then number. */
export async function projectContainers(client: EngineClient, project: string, q: ContainerQuery = {}): Promise<ProjectContainer[]> {
  const oneoff = q.oneoff ?? 'exclude';
  const more: Record<string, string> = oneoff === 'include' ? {} : { [Label.oneoff]: oneoff === 'only' ? 'True' : 'False' };
  const list = await client.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: q.all, filters: projectFilter(project, more) } });
  return list
    .map(asProjectContainer)
    .filter((c) => !q.services?.length || q.services.includes(c.service))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.number - b.number || (a.name < b.name ? -1 : 1)));
}

/** Projects with containers on this engine: name, status summary and config files (`compose ls`). */
export async function listProjects(client: EngineClient, all: boolean): Promise<Array<{ name: string; status: string; configFiles: string }>> {
  const list = await client.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: true, filters: JSON.stringify({ label: [Label.project] }) } });
  const byProject = new Map<string, { states: Map<string, number>; files: string }>();
  for (const c of list) {
    const name = c.Labels?.[Label.project] ?? '';
    const p = byProject.get(name) ?? { states: new Map(), files: c.Labels?.[Label.configFiles] ?? '' };
    p.states.set(c.State, (p.states.get(c.State) ?? 0) + 1);
    byProject.set(name, p);
  }
  return [...byProject.entries()]
    .filter(([, p]) => all || p.states.has('running'))
    .map(([name, p]) => ({
      name,
      status: [...p.states.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([s, n]) => `${s}(${n})`)
        .join(', '),
      configFiles: p.files,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
