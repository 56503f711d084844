// The files that passed the schema before. Loading and first running the generated validator is ~40 ms of every
// compose command's start on a small machine, for a check whose answer only changes when the file or the schema
// does: a file's (interpolated) content that validated once under a validator's digest is taken as valid again.
// The cache holds keys only, never content; anything wrong with it (missing, unreadable, unwritable) just means
// the validator runs.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { validatorDigest } from './compose-validator-digest.gen.js';

/** How many valid contents are remembered (the most recent ones). */
const keep = 256;

export class VerdictCache {
  private keys: Promise<string[]> | undefined;

  /** `file`: where the keys live, e.g. `~/.cache/berth/compose-validated`. */
  constructor(private readonly file: string) {}

  /** The key of a file's content under this validator. */
  key(content: unknown): string {
    return createHash('sha256').update(validatorDigest).update('\0').update(JSON.stringify(content)).digest('hex');
  }

  async isValid(key: string): Promise<boolean> {
    return (await this.load()).includes(key);
  }

  /** Remembers a content the validator accepted (best effort: a failed write is a miss next time). */
  async remember(key: string): Promise<void> {
    const keys = await this.load();
    if (keys.includes(key)) return;
    keys.push(key);
    const kept = keys.slice(-keep);
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFile(tmp, `${kept.join('\n')}\n`);
      await rename(tmp, this.file); // concurrent writers: the last rename wins whole, never a torn file
    } catch {
      // not cached: the validator runs next time
    }
  }

  private load(): Promise<string[]> {
    this.keys ??= readFile(this.file, 'utf8').then(
      (text) => text.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l)),
      () => [],
    );
    return this.keys;
  }
}
