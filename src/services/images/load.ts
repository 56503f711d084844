import { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { FailedPrecondition, InvalidArgument, isBerthError, isSystemError } from '../../errors/index.js';
import {
  type Descriptor,
  type Digest,
  type Index,
  type Manifest,
  formatReference,
  isDigest,
  isIndexMediaType,
  parseReference,
  sha256,
  withDefaultTag,
  familiarString,
} from '../../oci/index.js';
import { failpoint } from '../../util/failpoint.js';
import type { ImageService, Ingestion } from './index.js';

/** Files up to this size are kept in memory while the archive streams (manifests, configs, tiny layers). */
const inMemoryLimit = 1 << 20;

type Entry = { data: Buffer } | { blob: Digest };

/** The image archive's files: small ones in memory, large ones already streamed into the content store. */
class ArchiveFiles {
  constructor(
    private readonly entries: Map<string, Entry>,
    private readonly ing: Ingestion,
  ) {}
  has(name: string) {
    return this.entries.has(normalize(name));
  }
  async bytes(name: string): Promise<Buffer> {
    const e = this.entries.get(normalize(name));
    if (!e) throw new InvalidArgument(`invalid archive: ${name} is missing`);
    return 'data' in e ? e.data : this.ing.read(e.blob);
  }
  async json<T>(name: string): Promise<T> {
    try {
      return JSON.parse((await this.bytes(name)).toString('utf8')) as T;
    } catch (e) {
      if (e instanceof SyntaxError) throw new InvalidArgument(`invalid archive: ${name} is not valid JSON`);
      throw e;
    }
  }
  /** A layer file as an uncompressed blob in the content store; returns its diff ID. */
  async layer(name: string): Promise<Digest> {
    const e = this.entries.get(normalize(name));
    if (!e) throw new InvalidArgument(`invalid archive: layer ${name} is missing`);
    return 'data' in e ? this.ing.ingestLayer(Readable.from([e.data])) : this.ing.layerFromBlob(e.blob);
  }
  /** An OCI-layout blob, checked against the digest its path and descriptor claim. */
  async verifiedBlob(desc: Descriptor): Promise<string> {
    if (!isDigest(desc.digest)) throw new InvalidArgument(`invalid descriptor digest ${String(desc.digest)}`);
    const name = `blobs/sha256/${desc.digest.slice(7)}`;
    const e = this.entries.get(name);
    if (!e) throw new InvalidArgument(`invalid archive: blob ${desc.digest} is missing`);
    const actual = 'data' in e ? sha256(e.data) : e.blob;
    if (actual !== desc.digest) throw new FailedPrecondition(`digest mismatch for ${name}: content is ${actual}`);
    return name;
  }
}

function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
}

async function readArchive(input: Readable, ing: Ingestion): Promise<ArchiveFiles> {
  const entries = new Map<string, Entry>();
  const ex = tarExtract();
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const name = normalize(h.name);
      if ((h.size ?? 0) <= inMemoryLimit) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        entries.set(name, { data: Buffer.concat(chunks) });
      } else {
        entries.set(name, { blob: (await ing.ingest(entry as AsyncIterable<Uint8Array>)).digest });
        await failpoint('load.blob');
      }
    }
  })();
  input.on('error', (e) => ex.destroy(e));
  input.pipe(ex);
  try {
    await done;
  } catch (e) {
    input.unpipe(ex);
    input.resume();
    // tar-stream's parse errors carry no errno; host failures (ENOSPC, EIO) do and stay what they are.
    if (e instanceof Error && !isBerthError(e) && !isSystemError(e)) {
      throw new InvalidArgument(`invalid tar archive: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (entries.size === 0) throw new InvalidArgument('invalid tar archive: empty or not a tar file');
  return new ArchiveFiles(entries, ing);
}

interface LegacyManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

interface FoundImage {
  config: Buffer;
  layerBlobs: Digest[];
  refs: string[];
}

/** Images described by Docker's `manifest.json` (written by every `docker save` since 1.10). */
async function fromDockerManifest(files: ArchiveFiles): Promise<FoundImage[]> {
  const items = await files.json<LegacyManifestItem[]>('manifest.json');
  if (!Array.isArray(items)) throw new InvalidArgument('invalid archive: manifest.json is not a list');
  const out: FoundImage[] = [];
  for (const item of items) {
    if (typeof item?.Config !== 'string' || !Array.isArray(item.Layers)) {
      throw new InvalidArgument('invalid archive: bad manifest.json entry');
    }
    const layerBlobs: Digest[] = [];
    for (const l of item.Layers) layerBlobs.push(await files.layer(l));
    out.push({ config: await files.bytes(item.Config), layerBlobs, refs: (item.RepoTags ?? []).map(fullRef) });
  }
  return out;
}

const hostArch = process.arch === 'x64' ? 'amd64' : process.arch;

/** Images of an OCI image layout (index.json → manifests, descending into nested indexes for this platform). */
async function fromOciLayout(files: ArchiveFiles): Promise<FoundImage[]> {
  const out: FoundImage[] = [];
  const visit = async (desc: Descriptor, name: string | undefined): Promise<void> => {
    const path = await files.verifiedBlob(desc);
    if (isIndexMediaType(desc.mediaType)) {
      const idx = await files.json<Index>(path);
      const forHost = idx.manifests.filter((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === hostArch));
      const first = forHost[0];
      if (!first) throw new InvalidArgument(`no image for linux/${hostArch} in ${desc.digest}`);
      return visit(first, name);
    }
    const manifest = await files.json<Manifest>(path);
    if (!manifest?.config || !Array.isArray(manifest.layers)) throw new InvalidArgument(`invalid manifest ${desc.digest}`);
    const config = await files.bytes(await files.verifiedBlob(manifest.config));
    const layerBlobs: Digest[] = [];
    for (const l of manifest.layers) layerBlobs.push(await files.layer(await files.verifiedBlob(l)));
    out.push({ config, layerBlobs, refs: name ? [name] : [] });
  };
  const index = await files.json<Index>('index.json');
  if (!Array.isArray(index?.manifests)) throw new InvalidArgument('invalid archive: index.json has no manifests');
  for (const m of index.manifests) {
    const name = m.annotations?.['io.containerd.image.name'] ?? refName(m.annotations?.['org.opencontainers.image.ref.name']);
    await visit(m, name ? fullRef(name) : undefined);
  }
  return out;
}

/** `org.opencontainers.image.ref.name` is often just a tag; only a full name names an image. */
function refName(v: string | undefined): string | undefined {
  return v && (v.includes('/') || v.includes(':')) ? v : undefined;
}

function fullRef(name: string): string {
  return formatReference(withDefaultTag(parseReference(name)));
}

/**
 * `docker load`: reads a `docker save` archive (manifest.json) or an OCI image layout (index.json), verifies every
 * digest, stores and unpacks what is new, then tags. Returns docker's messages. All or nothing per archive:
 * records are written only after every layer is in place, and a failure removes the blobs it brought in.
 */
export async function loadImages(images: ImageService, input: Readable): Promise<string[]> {
  return images.withIngestion(async (ing) => {
    const files = await readArchive(input, ing);
    let found: FoundImage[];
    if (files.has('manifest.json')) found = await fromDockerManifest(files);
    else if (files.has('index.json')) found = await fromOciLayout(files);
    else throw new InvalidArgument('invalid archive: it has neither manifest.json nor index.json');
    const loaded: string[] = [];
    const tags = new Map<string, Digest>();
    for (const img of found) {
      const rec = await images.createImage({ config: img.config, layerBlobs: img.layerBlobs, tagged: img.refs.length > 0 }, ing);
      if (img.refs.length === 0) loaded.push(`Loaded image ID: ${rec.id}`);
      for (const r of img.refs) {
        tags.set(r, rec.id);
        loaded.push(`Loaded image: ${familiarString(parseReference(r))}`);
      }
      images.publish('load', rec.id, img.refs[0] ? familiarString(parseReference(img.refs[0])) : undefined);
    }
    await failpoint('load.tag');
    return [...(await images.retag(tags)), ...loaded];
  });
}
