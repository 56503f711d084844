import type { Readable } from 'node:stream';
import { InvalidArgument } from '../../errors/index.js';
import { type ContainerConfig, type ImageConfig, formatReference, familiarString, parseReference, withDefaultTag } from '../../oci/index.js';
import type { ImageService } from './index.js';

export interface ImportOptions {
  /** `repo` or `repo:tag` to tag the result with. */
  repo?: string;
  tag?: string;
  /** Dockerfile instructions applied to the config (`--change`): CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, … */
  changes?: string[];
  message?: string;
  /** What the history says it was imported from: `-` for stdin, else the URL or file. */
  source?: string;
  /** Fixed creation time (for reproducible base images); default now. */
  created?: string;
}

export const hostArchitecture = process.arch === 'x64' ? 'amd64' : process.arch;

/**
 * `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image. The tag is validated
 * before any byte is read, so a bad name fails fast and stores nothing.
 */
export async function importImage(images: ImageService, input: Readable, opts: ImportOptions): Promise<string> {
  const ref = opts.repo ? withDefaultTag(parseReference(opts.tag ? `${opts.repo}:${opts.tag}` : opts.repo)) : undefined;
  if (ref?.digest) throw new InvalidArgument('cannot import with a digest reference');
  const container = applyChanges({}, opts.changes ?? []);
  return images.withIngestion(async (ing) => {
    const diffId = await ing.ingestLayer(input);
    const created = opts.created ?? new Date().toISOString();
    const config: ImageConfig = {
      architecture: hostArchitecture,
      os: 'linux',
      created,
      config: container,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, comment: opts.message || `Imported from ${opts.source ?? '-'}` }],
    };
    const rec = await images.createImage({ config: Buffer.from(JSON.stringify(config)), layerBlobs: [diffId], tagged: !!ref }, ing);
    if (ref) await images.retag(new Map([[formatReference(ref), rec.id]]));
    images.publish('import', rec.id, ref ? familiarString(ref) : undefined);
    return rec.id;
  });
}

/** JSON exec form or shell form, as in a Dockerfile. */
function commandForm(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      // falls through to shell form, as Docker does for invalid JSON
    }
  }
  return ['/bin/sh', '-c', t];
}

/** `KEY=value KEY2="v 2"` pairs or the legacy `KEY value` form. */
function keyValues(rest: string, instruction: string): Array<[string, string]> {
  const t = rest.trim();
  const firstSpace = t.search(/\s/);
  const firstEq = t.indexOf('=');
  if (firstEq < 0 || (firstSpace >= 0 && firstSpace < firstEq)) {
    if (firstSpace < 0) throw new InvalidArgument(`${instruction} requires two arguments`);
    return [[t.slice(0, firstSpace), t.slice(firstSpace).trim()]];
  }
  const out: Array<[string, string]> = [];
  for (const m of t.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    let v = m[2] ?? '';
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1] as string, v]);
  }
  return out;
}

/** Applies `--change` instructions (the subset docker import/commit accept) to a container config. */
export function applyChanges(base: ContainerConfig, changes: string[]): ContainerConfig {
  const c: ContainerConfig = { ...base };
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
    if (!m) throw new InvalidArgument(`dockerfile parse error: invalid change: ${change}`);
    const instruction = (m[1] as string).toUpperCase();
    const rest = m[2] as string;
    switch (instruction) {
      case 'CMD':
        c.Cmd = commandForm(rest);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = commandForm(rest);
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(rest, 'ENV')) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(keyValues(rest, 'LABEL')) };
        break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/)) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        c.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        const list = rest.trim().startsWith('[') ? commandForm(rest) : rest.trim().split(/\s+/);
        for (const v of list) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      case 'WORKDIR':
        c.WorkingDir = rest.trim();
        break;
      case 'USER':
        c.User = rest.trim();
        break;
      case 'STOPSIGNAL':
        c.StopSignal = rest.trim();
        break;
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), rest.trim()];
        break;
      default:
        throw new InvalidArgument(`${instruction} is not a valid change command`);
    }
  }
  return c;
}
