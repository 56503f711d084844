// Writes image archives in the `docker save` format, for `docker load` benchmarks.
//
// Layout (what dockerd 20.10's `docker save` writes, which its loader and newer loaders both read):
//   <v1-id>/VERSION          "1.0"
//   <v1-id>/json             legacy v1 layer JSON (id, parent, created, os)
//   <v1-id>/layer.tar        the uncompressed layer tar; sha256 of it = the diff_id
//   <config-hex>.json        the image config; sha256 of it = the image ID
//   manifest.json            [{ Config, RepoTags, Layers }]
//   repositories             legacy tag map (written only when every tag's image is told apart by its top layer)
// Loaders that read manifest.json (dockerd ≥ 1.10, containerd's importer) ignore VERSION/json/repositories.
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CACHE_DIR } from './lib.mjs';
import tar from 'tar-stream';

export const CREATED = '2024-01-01T00:00:00Z';
const MTIME = new Date(CREATED);

export function sha256hex(data) {
  return createHash('sha256').update(data).digest('hex');
}

/** The host's architecture in OCI/Docker terms (amd64 on the machines this was written on). */
export function ociArch() {
  return { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }[process.arch] ?? 'amd64';
}

/** Streams `pack` into `path`, hashing it on the way; resolves { digestHex, size } when the tar is complete. */
function packToFile(pack, path) {
  return new Promise((resolve, reject) => {
    const ws = createWriteStream(path);
    const hash = createHash('sha256');
    let size = 0;
    pack.on('data', (chunk) => {
      hash.update(chunk);
      size += chunk.length;
      if (!ws.write(chunk)) {
        pack.pause();
        ws.once('drain', () => pack.resume());
      }
    });
    pack.on('end', () => ws.end());
    pack.on('error', reject);
    ws.on('error', reject);
    ws.on('finish', () => resolve({ digestHex: hash.digest('hex'), size }));
  });
}

function addEntry(pack, header, body) {
  return new Promise((resolve, reject) => pack.entry({ mtime: MTIME, uid: 0, gid: 0, ...header }, body, (err) => (err ? reject(err) : resolve())));
}

/** Adds a file entry whose body comes from an (async) iterable of Buffers, honouring back-pressure. */
async function addStreamEntry(pack, header, chunks) {
  let entry;
  const done = new Promise((resolve, reject) => {
    entry = pack.entry({ mtime: MTIME, uid: 0, gid: 0, mode: 0o644, ...header }, (err) => (err ? reject(err) : resolve()));
  });
  for await (const c of chunks) {
    if (!entry.write(c)) await new Promise((r) => entry.once('drain', r));
  }
  entry.end();
  await done;
}

function* randomChunks(size, chunkSize = 1 << 20) {
  for (let left = size; left > 0; left -= chunkSize) yield randomFillSync(Buffer.allocUnsafe(Math.min(chunkSize, left)));
}

/**
 * Writes a layer tar at `path`: a directory `dir/` holding `files` files of `fileSize` random bytes each.
 * Resolves { path, diffIdHex, size }.
 */
export async function writeRandomLayer(path, { dir, files, fileSize }) {
  const pack = tar.pack();
  const out = packToFile(pack, path);
  await addEntry(pack, { name: `${dir}/`, type: 'directory', mode: 0o755 });
  for (let i = 0; i < files; i++) {
    await addStreamEntry(pack, { name: `${dir}/blob-${i}.bin`, size: fileSize }, randomChunks(fileSize));
  }
  pack.finalize();
  const { digestHex, size } = await out;
  return { path, diffIdHex: digestHex, size };
}

/** Writes a small layer tar holding the given { name: content } files; resolves { path, diffIdHex, size }. */
export async function writeSmallLayer(path, files) {
  const pack = tar.pack();
  const out = packToFile(pack, path);
  const dirs = new Set();
  for (const name of Object.keys(files)) {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) await addEntry(pack, { name: `${d}/`, type: 'directory', mode: 0o755 });
  for (const [name, content] of Object.entries(files)) await addEntry(pack, { name, mode: 0o644 }, Buffer.from(content));
  pack.finalize();
  const { digestHex, size } = await out;
  return { path, diffIdHex: digestHex, size };
}

/** A layer with the host's static busybox as bin/busybox and a few applet links (sh, true, sleep, echo). */
export async function writeBusyboxLayer(path) {
  const pack = tar.pack();
  const out = packToFile(pack, path);
  await addEntry(pack, { name: 'bin/', type: 'directory', mode: 0o755 });
  await addEntry(pack, { name: 'bin/busybox', mode: 0o755 }, readFileSync('/bin/busybox'));
  for (const applet of ['sh', 'true', 'sleep', 'echo']) {
    await addEntry(pack, { name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777 });
  }
  pack.finalize();
  const { digestHex, size } = await out;
  return { path, diffIdHex: digestHex, size };
}

/** An image config (the JSON whose sha256 is the image ID) for the given layers. */
export function imageConfig({ diffIds, labels = {}, cmd = ['/bin/sh'], history }) {
  return {
    architecture: ociArch(),
    os: 'linux',
    created: CREATED,
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: cmd,
      Labels: labels,
    },
    history: history ?? diffIds.map((d, i) => ({ created: CREATED, created_by: `/bin/sh -c #(nop) ADD layer ${i}` })),
    rootfs: { type: 'layers', diff_ids: diffIds.map((d) => `sha256:${d}`) },
  };
}

/** Legacy v1 layer IDs, chained as `docker save` chains them (each depends on its parent and its content). */
function v1Ids(diffIdHexes) {
  const ids = [];
  let parent = '';
  for (const d of diffIdHexes) {
    parent = sha256hex(`${parent}\n${d}`);
    ids.push(parent);
  }
  return ids;
}

/**
 * Writes a save-format archive at `outPath`.
 *   layers: [{ path, diffIdHex, size }]   every layer used by any image, each stored once
 *   images: [{ config (object), repoTags: [...] , layers: [diffIdHex…] }]
 * Resolves { path, size, images: [{ idHex, repoTags }] }.
 */
export async function writeSaveArchive(outPath, { layers, images }) {
  const pack = tar.pack();
  const out = packToFile(pack, outPath);
  const byDiff = new Map(layers.map((l) => [l.diffIdHex, l]));

  // Each distinct layer once, under the v1 ID it gets in the first image that uses it (as docker save does for
  // shared base layers).
  const layerDir = new Map();
  for (const img of images) {
    const ids = v1Ids(img.layers);
    img.layers.forEach((d, i) => {
      if (!layerDir.has(d)) layerDir.set(d, { id: ids[i], parent: i ? ids[i - 1] : undefined });
    });
  }
  for (const [diffIdHex, { id, parent }] of layerDir) {
    const l = byDiff.get(diffIdHex);
    if (!l) throw new Error(`layer ${diffIdHex} is used by an image but not given`);
    await addEntry(pack, { name: `${id}/`, type: 'directory', mode: 0o755 });
    await addEntry(pack, { name: `${id}/VERSION`, mode: 0o644 }, Buffer.from('1.0'));
    const v1 = { id, ...(parent && { parent }), created: CREATED, container_config: { Cmd: null }, os: 'linux' };
    await addEntry(pack, { name: `${id}/json`, mode: 0o644 }, Buffer.from(JSON.stringify(v1)));
    await addStreamEntry(pack, { name: `${id}/layer.tar`, size: l.size }, createReadStream(l.path, { highWaterMark: 1 << 20 }));
  }

  const manifest = [];
  const result = [];
  const repositories = {};
  const tops = new Set();
  let distinctTops = true;
  for (const img of images) {
    const cfg = Buffer.from(JSON.stringify(img.config));
    const idHex = sha256hex(cfg);
    await addEntry(pack, { name: `${idHex}.json`, mode: 0o644 }, cfg);
    const layerPaths = img.layers.map((d) => `${layerDir.get(d).id}/layer.tar`);
    manifest.push({ Config: `${idHex}.json`, RepoTags: img.repoTags, Layers: layerPaths });
    result.push({ idHex, repoTags: img.repoTags });
    const top = v1Ids(img.layers).at(-1);
    if (tops.has(top)) distinctTops = false;
    tops.add(top);
    for (const t of img.repoTags) {
      const i = t.lastIndexOf(':');
      (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = top;
    }
  }
  await addEntry(pack, { name: 'manifest.json', mode: 0o644 }, Buffer.from(JSON.stringify(manifest)));
  if (distinctTops) await addEntry(pack, { name: 'repositories', mode: 0o644 }, Buffer.from(JSON.stringify(repositories)));
  pack.finalize();
  const { size } = await out;
  return { path: outPath, size, images: result };
}

/**
 * Returns the cached artefact `path` (with its metadata from `path.meta.json`), or makes it with
 * `make(tmpPath) → meta` first. The artefact appears atomically (rename), so an interrupted run leaves no half
 * file that a later run would trust.
 */
export async function cached(path, make) {
  const metaPath = `${path}.meta.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
      if (meta.size === statSync(path).size) return { path, ...meta, cached: true };
    } catch {
      /* remake */
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.partial-${process.pid}`;
  try {
    const meta = await make(tmp);
    meta.size = statSync(tmp).size;
    renameSync(tmp, path);
    writeFileSync(metaPath, JSON.stringify(meta, null, 2));
    return { path, ...meta, cached: false };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The benchmarks' base image: `bench/busybox:latest` from the host's static busybox, as a docker-save archive (cached). */
export const BUSYBOX_IMAGE = 'bench/busybox:latest';
export function busyboxArchive() {
  return cached(join(CACHE_DIR, 'busybox-v1.tar'), async (tmpPath) => {
    const layer = await writeBusyboxLayer(join(CACHE_DIR, 'busybox-layer.tar'));
    const config = imageConfig({ diffIds: [layer.diffIdHex], cmd: ['/bin/sh'] });
    await writeSaveArchive(tmpPath, { layers: [layer], images: [{ config, repoTags: [BUSYBOX_IMAGE], layers: [layer.diffIdHex] }] });
    return {};
  });
}
