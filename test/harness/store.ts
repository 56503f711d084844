// Reads a stopped or running daemon's data root to check the store's invariants after faults.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface StoreSnapshot {
  blobs: Set<string>;
  layers: Set<string>;
  ingests: string[];
  layerTemporaries: string[];
  records: Array<{ id: string; chain: string[]; layerBlobs: string[] }>;
}

export async function snapshot(dataRoot: string): Promise<StoreSnapshot> {
  const ls = (p: string) => readdir(p).catch(() => [] as string[]);
  const overlay = await ls(join(dataRoot, 'overlay2'));
  const recordsDir = join(dataRoot, 'metadata', 'images');
  const records = [];
  for (const f of await ls(recordsDir)) if (f.endsWith('.json')) records.push(JSON.parse(await readFile(join(recordsDir, f), 'utf8')));
  return {
    blobs: new Set((await ls(join(dataRoot, 'content', 'blobs', 'sha256'))).map((h) => `sha256:${h}`)),
    layers: new Set(overlay.filter((n) => !n.startsWith('.')).map((h) => `sha256:${h}`)),
    ingests: await ls(join(dataRoot, 'content', 'ingest')),
    layerTemporaries: overlay.filter((n) => n.startsWith('.')),
    records,
  };
}

/** Every blob and layer is referenced by a record, every record's data is present, nothing half-written remains. */
export async function assertConsistent(dataRoot: string): Promise<StoreSnapshot> {
  const s = await snapshot(dataRoot);
  const problems: string[] = [];
  if (s.ingests.length) problems.push(`ingest files left: ${s.ingests.join(', ')}`);
  if (s.layerTemporaries.length) problems.push(`layer temporaries left: ${s.layerTemporaries.join(', ')}`);
  const liveBlobs = new Set<string>();
  const liveLayers = new Set<string>();
  for (const r of s.records) {
    liveBlobs.add(r.id);
    for (const b of r.layerBlobs) liveBlobs.add(b);
    for (const c of r.chain) liveLayers.add(c);
    for (const b of [r.id, ...r.layerBlobs]) if (!s.blobs.has(b)) problems.push(`record ${r.id} misses blob ${b}`);
    for (const c of r.chain) if (!s.layers.has(c)) problems.push(`record ${r.id} misses layer ${c}`);
  }
  for (const b of s.blobs) if (!liveBlobs.has(b)) problems.push(`orphan blob ${b}`);
  for (const l of s.layers) if (!liveLayers.has(l)) problems.push(`orphan layer ${l}`);
  if (problems.length) throw new Error(`store inconsistent:\n  ${problems.join('\n  ')}`);
  return s;
}
