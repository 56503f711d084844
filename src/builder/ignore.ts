import { lstat, readdir, rmdir } from 'node:fs/promises';
import dockerignore, { type Ignore } from '@balena/dockerignore';
import { isNotExist } from '../errors/index.js';
import { type ScopedRoot, fdPath, openDirAt, removeAt } from '../kernel/scoped.js';
import type { FileHandle } from 'node:fs/promises';

// The package's types declare an ES default export, but it is CommonJS whose module.exports is the factory itself:
// take whichever the loader handed over.
const ignore = ((dockerignore as unknown as { default?: unknown }).default ?? dockerignore) as typeof dockerignore.default;

/** Docker's .dockerignore rules: Go's filepath.Match per component, `**`, `!` exceptions (the last match wins). */
export class DockerIgnore {
  private readonly matcher: Ignore;
  /** With an exception rule, an ignored directory may still hold kept entries, so it must be walked. */
  readonly hasExceptions: boolean;

  constructor(text: string) {
    const lines = text.split(/\r?\n/);
    // Docker matches case-sensitively on Linux; the library defaults to ignoring case.
    this.matcher = ignore({ ignorecase: false }).add(lines);
    this.hasExceptions = lines.some((l) => l.trim().startsWith('!'));
  }

  /** Whether `path` (relative to the context, `/`-separated) is left out of the context. */
  ignores(path: string): boolean {
    return this.matcher.ignores(path);
  }
}

/**
 * Removes from the unpacked context what `rules` leave out, except `keep` (the Dockerfile and .dockerignore, which
 * the builder reads first). Done after unpacking because a tar may list .dockerignore after the files it excludes;
 * the docker CLI and the SDKs already left those out, so this usually finds nothing to remove.
 */
export async function pruneIgnored(root: ScopedRoot, rules: DockerIgnore, keep: ReadonlySet<string>): Promise<void> {
  const top = await root.openParts([]);
  try {
    await pruneDir(top, '', rules, keep);
  } finally {
    await top.close();
  }
}

/** Whether anything in `dir` was kept (so an ignored directory holding kept entries stays). */
async function pruneDir(dir: FileHandle, prefix: string, rules: DockerIgnore, keep: ReadonlySet<string>): Promise<boolean> {
  let kept = false;
  for (const ent of await readdir(fdPath(dir), { withFileTypes: true })) {
    const rel = prefix + ent.name;
    const ignored = rules.ignores(rel) && !keep.has(rel);
    const isDir = ent.isDirectory();
    const keepsInside = isDir && [...keep].some((k) => k.startsWith(`${rel}/`));
    if (ignored && !(isDir && (rules.hasExceptions || keepsInside))) {
      await removeAt(dir, ent.name);
      continue;
    }
    if (isDir) {
      const sub = await openDirAt(dir, ent.name);
      let inner: boolean;
      try {
        inner = await pruneDir(sub, `${rel}/`, rules, keep);
      } finally {
        await sub.close();
      }
      if (ignored && !inner) {
        await rmdir(fdPath(dir, ent.name)).catch((e: unknown) => {
          if (!isNotExist(e)) throw e;
        });
        continue;
      }
    }
    kept = true;
  }
  return kept;
}

/** lstat that answers undefined for a missing entry. */
export function lstatOrUndefined(path: string) {
  return lstat(path).catch((e: unknown) => {
    if (isNotExist(e)) return undefined;
    throw e;
  });
}
