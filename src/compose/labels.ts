// Docker Compose's names and labels: what `docker compose` writes on the objects it makes and reads back to know a
// project's state, so that tools reading them (dashboards, `docker compose ls`) see Berth's stacks too.
import { createHash } from 'node:crypto';
import type { ServiceConfig } from './types.js';

export const Label = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  configHash: 'com.docker.compose.config-hash',
  image: 'com.docker.compose.image',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  environmentFile: 'com.docker.compose.project.environment_file',
  dependsOn: 'com.docker.compose.depends_on',
  replace: 'com.docker.compose.replace',
  version: 'com.docker.compose.version',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;

/** The Compose version Berth's compose answers to (the labels' `version`, `compose version`). */
export const composeVersion = '2.29.0';

/** `<project>-<service>-<n>`, Compose v2's separator. */
export function containerName(project: string, service: ServiceConfig, number: number): string {
  return service.container_name ?? `${project}-${service.name}-${number}`;
}

/** One-off `run` containers: `<project>-<service>-run-<12 hex>`. */
export function oneoffName(project: string, service: string, random: string): string {
  return `${project}-${service}-run-${random}`;
}

/** The default image name of a service that builds: `<project>-<service>`. */
export function builtImageName(project: string, service: ServiceConfig): string {
  return service.image ?? `${project}-${service.name}`;
}

/** The label filter selecting a project's objects. */
export function projectFilter(project: string, more: Record<string, string> = {}): string {
  return JSON.stringify({ label: [`${Label.project}=${project}`, ...Object.entries(more).map(([k, v]) => `${k}=${v}`)] });
}

/**
 * The hash that tells whether a container still matches its service: the service's normalised config, without
 * what does not need a new container (as Compose leaves out): scale and replicas, how the image is built or pulled
 * (a changed image is seen by its ID), the dependencies and the profiles. `up` recreates a container whose label
 * differs.
 */
export function serviceHash(service: ServiceConfig): string {
  const { scale: _scale, build: _build, pull_policy: _pull, depends_on: _deps, profiles: _profiles, deploy, ...rest } = service;
  const { replicas: _replicas, ...deployRest } = deploy ?? {};
  return createHash('sha256')
    .update(canonicalJson({ ...rest, ...(deploy && { deploy: deployRest }) }))
    .digest('hex');
}

/** JSON with object keys sorted, so equal configs hash equally whatever order their files listed keys in. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
