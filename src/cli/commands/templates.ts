// What list and inspect commands need of the Go-template engine, apart from common.ts so that a command run
// without --format does not load the engine.
import { CliError } from '../context.js';
import { GoNil, marshalJSON } from '../format/gofmt.js';
import { type Template, TemplateError, lenientMap, parseTemplate } from '../format/template.js';
import { printList } from '../output.js';
import type { InspectKind } from './common.js';

export { TemplateError };

/** docker's exit code for an `inspect --format` that does not parse. */
const TEMPLATE_PARSE_EXIT = 64;

/** An inspect `--format` (none for '' and `json`); one that does not parse exits 64, as docker's. */
export function inspectTemplate(format: string): Template | undefined {
  if (format === '' || format === 'json') return undefined;
  try {
    return parseTemplate(format);
  } catch (e) {
    throw e instanceof TemplateError ? new CliError(e.message, TEMPLATE_PARSE_EXIT) : e;
  }
}

/** A list command's table or template, a template's error printed as it is (docker's `ls` commands). */
export function printListing(...args: Parameters<typeof printList>): void {
  try {
    printList(...args);
  } catch (e) {
    throw e instanceof TemplateError ? new CliError(e.message) : e;
  }
}

/**
 * The template with `missingkey=error`, so a misspelt field is an error as in docker. Docker runs the template on
 * its Go types first, where a field the JSON leaves out (omitempty) is still a zero value and a missing key of a
 * real map (Labels…) prints "<no value>"; Berth keeps to the JSON and marks those cases for the kinds' common
 * paths (see inspectShapes).
 */
export function executeInspect(tmpl: Template, kind: InspectKind, object: unknown): string {
  // As docker's tryRawInspectFallback: when the typed run fails, the template runs again on the plain JSON, and
  // that run's result (or error) is the answer.
  const raw: unknown = JSON.parse(JSON.stringify(object));
  const shape = inspectShapes[kind];
  if (shape && typeof object === 'object' && object !== null) {
    for (const path of shape.maps) {
      const map = at(object, path);
      if (typeof map === 'object' && map !== null) Object.defineProperty(map, lenientMap, { value: true });
      // a nil map (JSON null): its keys have no value, and it still marshals as null
      const dot = path.lastIndexOf('.');
      const parent = dot < 0 ? object : at(object, path.slice(0, dot));
      if (map === null && typeof parent === 'object' && parent !== null) {
        const nil = Object.defineProperties({}, { [lenientMap]: { value: true }, [marshalJSON]: { value: () => 'null' } });
        Object.defineProperty(parent, path.slice(dot + 1), { value: nil, enumerable: true });
      }
    }
    for (const [path, zero] of Object.entries(shape.optional)) {
      const dot = path.lastIndexOf('.');
      const parent = dot < 0 ? object : at(object, path.slice(0, dot));
      const key = path.slice(dot + 1);
      // Not enumerable: readable by the template, left out of {{json}} and printing as omitempty leaves it out.
      const value = zero === nilMap ? Object.defineProperty({}, lenientMap, { value: true }) : zero;
      if (typeof parent === 'object' && parent !== null && !Object.hasOwn(parent, key)) Object.defineProperty(parent, key, { value });
    }
  }
  try {
    return tmpl.execute(object, { missingKey: 'error' });
  } catch {
    return tmpl.execute(raw, { missingKey: 'error' });
  }
}

const at = (object: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), object);

/** Stands for a nil map in inspectShapes: missing keys give "no value". */
const nilMap = Symbol('nil map');

/** Map-valued fields, and omitempty fields with their zero values, of docker's container and image inspect types. */
const inspectShapes: Partial<Record<InspectKind, { maps: string[]; optional: Record<string, unknown> }>> = {
  container: {
    maps: ['Config.Labels', 'Config.ExposedPorts', 'Config.Volumes', 'NetworkSettings.Networks', 'NetworkSettings.Ports', 'HostConfig.LogConfig.Config', 'HostConfig.PortBindings', 'HostConfig.Sysctls', 'HostConfig.Tmpfs', 'HostConfig.StorageOpt', 'GraphDriver.Data'],
    optional: {
      SizeRw: new GoNil('*int64'),
      SizeRootFs: new GoNil('*int64'),
      'State.Health': new GoNil('*container.Health'),
      'Config.Healthcheck': new GoNil('*v1.HealthcheckConfig'),
      'Config.StopSignal': '',
      'Config.StopTimeout': new GoNil('*int'),
      'Config.Shell': [],
      'HostConfig.Init': new GoNil('*bool'),
      'HostConfig.Runtime': '',
      'HostConfig.Mounts': [],
      'Config.Labels': nilMap,
    },
  },
  network: { maps: ['Labels', 'Options', 'Containers', 'IPAM.Options'], optional: { Labels: nilMap, Options: nilMap, 'IPAM.Options': nilMap } },
  image: {
    maps: ['Config.Labels', 'Config.ExposedPorts', 'Config.Volumes', 'GraphDriver.Data'],
    optional: { Parent: '', Comment: '', DockerVersion: '', Author: '', Variant: '', 'Config.Healthcheck': new GoNil('*v1.HealthcheckConfig'), 'Config.StopSignal': '', 'Config.Shell': [], 'Config.Labels': nilMap },
  },
};
