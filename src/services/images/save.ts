import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack } from 'tar-stream';
import { NotFound } from '../../errors/index.js';
import type { ImageRecord } from '../../metadata/index.js';
import {
  type Descriptor,
  type Digest,
  MediaType,
  familiarString,
  formatReference,
  parseReference,
  repositoryName,
  sha256,
  withDefaultTag,
} from '../../oci/index.js';
import type { BlobSource, ImageService } from './index.js';

interface SaveItem {
  rec: ImageRecord;
  refs: string[]; // fully qualified
}

/**
 * Which images and tags `docker save NAME…` writes: a `repo:tag` saves that tag, a bare repository saves all of
 * its tags, an ID saves the image untagged.
 */
function selectImages(images: ImageService, names: string[], tags: ReadonlyMap<string, Digest>): SaveItem[] {
  const items = new Map<Digest, Set<string>>();
  for (const name of names) {
    const rec = images.resolve(name);
    const refs = items.get(rec.id) ?? new Set<string>();
    items.set(rec.id, refs);
    let ref;
    try {
      ref = parseReference(name);
    } catch {
      continue; // an ID
    }
    if (rec.id.slice(7).startsWith(name.replace(/^sha256:/, ''))) continue;
    if (ref.tag || ref.digest) {
      if (ref.tag) refs.add(formatReference(ref));
    } else {
      const repo = repositoryName(ref);
      let any = false;
      for (const [r, id] of tags) {
        if (id === rec.id && r.startsWith(repo + ':')) {
          refs.add(r);
          any = true;
        }
      }
      if (!any) refs.add(formatReference(withDefaultTag(ref)));
    }
  }
  return [...items].map(([id, refs]) => ({ rec: images.resolve(id), refs: [...refs].sort() }));
}

/**
 * `docker save`: one tar holding both Docker's `manifest.json` (read by every docker load, 1.10 to today) and an
 * OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`), like Docker 25+ writes. Layers are the
 * uncompressed tars kept in the content store, byte for byte, so image IDs survive the round trip.
 */
export async function saveImages(images: ImageService, names: string[]): Promise<Readable> {
  const items = selectImages(images, names, images.tagMap());
  const out = tarPack();
  const written = new Set<string>();

  const addFile = async (name: string, data: Buffer | BlobSource) => {
    if (written.has(name)) return;
    written.add(name);
    const mtime = new Date(0);
    if (Buffer.isBuffer(data)) {
      await new Promise<void>((res, rej) => out.entry({ name, size: data.length, mode: 0o644, mtime }, data, (e) => (e ? rej(e) : res())));
      return;
    }
    const sink = out.entry({ name, size: data.size, mode: 0o644, mtime });
    await pipeline(data.open(), sink as unknown as NodeJS.WritableStream);
  };
  const addDir = (name: string) => {
    if (written.has(name)) return;
    written.add(name);
    out.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) });
  };
  const addBlob = async (digest: Digest, data?: Buffer) => {
    const source = data ?? (await images.blob(digest));
    if (!source) throw new NotFound(`blob ${digest} not found`);
    await addFile(`blobs/sha256/${digest.slice(7)}`, source);
    return Buffer.isBuffer(source) ? source.length : source.size;
  };

  (async () => {
    addDir('blobs/');
    addDir('blobs/sha256/');
    const legacy: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
    const indexEntries: Descriptor[] = [];
    for (const { rec, refs } of items) {
      const configSize = await addBlob(rec.id);
      const layers: Descriptor[] = [];
      for (const blob of rec.layerBlobs) {
        layers.push({ mediaType: MediaType.OciLayer, digest: blob, size: await addBlob(blob) });
      }
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, digest: rec.id, size: configSize },
          layers,
        }),
      );
      const manifestDigest = sha256(manifest);
      await addBlob(manifestDigest, manifest);
      const desc = (annotations?: Record<string, string>): Descriptor => ({
        mediaType: MediaType.OciManifest,
        digest: manifestDigest,
        size: manifest.length,
        ...(annotations && { annotations }),
      });
      if (refs.length === 0) indexEntries.push(desc());
      for (const r of refs) {
        const ref = parseReference(r);
        indexEntries.push(desc({ 'io.containerd.image.name': r, 'org.opencontainers.image.ref.name': ref.tag ?? '' }));
      }
      legacy.push({
        Config: `blobs/sha256/${rec.id.slice(7)}`,
        RepoTags: refs.length ? refs.map((r) => familiarString(parseReference(r))) : null,
        Layers: rec.layerBlobs.map((b) => `blobs/sha256/${b.slice(7)}`),
      });
    }
    await addFile('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: indexEntries })));
    await addFile('manifest.json', Buffer.from(JSON.stringify(legacy)));
    await addFile('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    out.finalize();
  })().catch((e: unknown) => out.destroy(e as Error));

  for (const { rec, refs } of items) images.publish('save', rec.id, refs[0] ? familiarString(parseReference(refs[0])) : undefined);
  // tar-stream's pack is a streamx stream; hand callers a plain Node stream.
  const pass = new PassThrough();
  out.on('error', (e: Error) => pass.destroy(e));
  out.pipe(pass);
  return pass;
}
