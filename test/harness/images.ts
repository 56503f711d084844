// Builds image archives in memory for tests: layer tars and `docker save` / OCI-layout tars.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export interface FileSpec {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  mode?: number;
}

export const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

export async function tarOf(files: FileSpec[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const f of files) {
    const type = f.type ?? 'file';
    const body = f.content === undefined ? undefined : Buffer.from(f.content);
    const header = { name: f.name, type, mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(1700000000000), ...(f.linkname && { linkname: f.linkname }), ...(body && { size: body.length }) };
    if (type === 'file') p.entry(header, body ?? Buffer.alloc(0));
    else p.entry(header, () => {});
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface TestImage {
  tags: string[];
  layers: Buffer[];
  /** Extra image config (Cmd, Labels, …) to put under "config". */
  config?: Record<string, unknown>;
  created?: string;
}

export function imageConfig(img: TestImage): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: img.created ?? '2024-01-01T00:00:00Z',
      config: { Env: ['PATH=/bin'], Cmd: ['sh'], ...img.config },
      rootfs: { type: 'layers', diff_ids: img.layers.map((l) => sha(l)) },
      history: img.layers.map((_, i) => ({ created: img.created ?? '2024-01-01T00:00:00Z', created_by: `/bin/sh -c #(nop) layer ${i}` })),
    }),
  );
}

/** A `docker save` archive (manifest.json + config + layer.tar files), as Docker 20.10 writes it. */
export async function saveTar(images: TestImage[], opts: { configOverride?: Buffer } = {}): Promise<Buffer> {
  const files: FileSpec[] = [];
  const manifest = [];
  for (const img of images) {
    const config = opts.configOverride ?? imageConfig(img);
    const configName = `${sha(config).slice(7)}.json`;
    files.push({ name: configName, content: config });
    const layerNames = img.layers.map((l) => `${sha(l).slice(7)}/layer.tar`);
    img.layers.forEach((l, i) => files.push({ name: layerNames[i] as string, content: l }));
    manifest.push({ Config: configName, RepoTags: img.tags, Layers: layerNames });
  }
  files.push({ name: 'manifest.json', content: JSON.stringify(manifest) });
  return tarOf(dedupe(files));
}

/** An OCI image layout with gzip-compressed layers and no manifest.json. */
export async function ociLayoutTar(img: TestImage, name: string): Promise<Buffer> {
  const config = imageConfig(img);
  const blobs: Buffer[] = [config];
  const layers = img.layers.map((l) => {
    const gz = gzipSync(l);
    blobs.push(gz);
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length };
  });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers,
    }),
  );
  blobs.push(manifest);
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': name } }],
  };
  return tarOf([
    { name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: JSON.stringify(index) },
    ...dedupe(blobs.map((b) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, content: b }))),
  ]);
}

function dedupe(files: FileSpec[]): FileSpec[] {
  const seen = new Set<string>();
  return files.filter((f) => !seen.has(f.name) && seen.add(f.name));
}
