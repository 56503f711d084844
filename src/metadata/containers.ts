import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotExist } from '../errors/index.js';
import { atomicWriteFile, ensureDir, fsyncDir, readJsonFile } from '../kernel/fs.js';

/**
 * Container records: one file per container (`containers/<id>.json`), written atomically, read once at open and
 * served from memory. The record type belongs to the container service; this store only persists it.
 */
export interface ContainerRecords<T extends { id: string }> {
  get(id: string): T | undefined;
  list(): T[];
  put(record: T): Promise<void>;
  delete(id: string): Promise<void>;
}

export async function openContainerRecords<T extends { id: string }>(root: string): Promise<ContainerRecords<T>> {
  const dir = join(root, 'containers');
  await ensureDir(dir);
  const records = new Map<string, T>();
  for (const name of await readdir(dir)) {
    if (!/^[a-f0-9]{64}\.json$/.test(name)) continue;
    const rec = await readJsonFile<T>(join(dir, name));
    if (rec) records.set(rec.id, rec);
  }
  const path = (id: string) => join(dir, `${id}.json`);
  return {
    get: (id) => records.get(id),
    list: () => [...records.values()],
    async put(record) {
      await atomicWriteFile(path(record.id), JSON.stringify(record));
      records.set(record.id, record);
    },
    async delete(id) {
      records.delete(id);
      try {
        await unlink(path(id));
        await fsyncDir(dir);
      } catch (e) {
        if (!isNotExist(e)) throw e;
      }
    },
  };
}
