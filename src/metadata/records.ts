import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotExist } from '../errors/index.js';
import { atomicWriteFile, ensureDir, fsyncDir, readJsonFile } from '../kernel/fs.js';

/**
 * A store of records, one file per record (`<dir>/<key>.json`), each written atomically, all read once at open
 * and served from memory. The record types belong to their services; this store only persists them.
 */
export interface RecordStore<T extends { id: string }> {
  get(id: string): T | undefined;
  list(): T[];
  put(record: T): Promise<void>;
  /** Replaces the record in memory only (state not worth a disk write, as dockerd keeps probe results); the next put persists it. */
  keep(record: T): void;
  delete(id: string): Promise<void>;
}

/** `key` maps a record ID to its file name stem (`sha256:ab…` → `ab…`); files that do not match are ignored. */
export async function openRecordStore<T extends { id: string }>(dir: string, key: (id: string) => string = (id) => id): Promise<RecordStore<T>> {
  await ensureDir(dir);
  const records = new Map<string, T>();
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.json')) continue; // temp files from an interrupted write
    const rec = await readJsonFile<T>(join(dir, name));
    if (rec && typeof rec.id === 'string' && `${key(rec.id)}.json` === name) records.set(rec.id, rec);
  }
  const path = (id: string) => join(dir, `${key(id)}.json`);
  return {
    get: (id) => records.get(id),
    list: () => [...records.values()],
    async put(record) {
      await atomicWriteFile(path(record.id), JSON.stringify(record));
      records.set(record.id, record);
    },
    keep(record) {
      if (records.has(record.id)) records.set(record.id, record);
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
