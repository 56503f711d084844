// Which files make the project: `-f` in order (`-` for stdin), else COMPOSE_FILE, else the first of the standard
// names found in the working directory or its parents, with its `.override` sibling.
import { access } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ComposeFileError } from './errors.js';

export const standardNames = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

export async function findFiles(files: string[] | undefined, cwd: string, composeFile: string | undefined, pathSeparator: string | undefined, warn: (msg: string) => void): Promise<string[]> {
  if (files?.length) return files.map((f) => (f === '-' ? '-' : resolve(cwd, f)));
  if (composeFile) return composeFile.split(pathSeparator || ':').filter(Boolean).map((f) => resolve(cwd, f));
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const found: string[] = [];
    for (const n of standardNames) if (await exists(join(dir, n))) found.push(join(dir, n));
    const first = found[0];
    if (first) {
      if (found.length > 1) warn(`Found multiple config files with supported names: ${found.join(', ')}\nUsing ${first}`);
      const ext = extname(first);
      const stem = basename(first, ext);
      const out = [first];
      for (const e of [ext, ext === '.yaml' ? '.yml' : '.yaml']) {
        const o = join(dir, `${stem}.override${e}`);
        if (await exists(o)) {
          out.push(o);
          break;
        }
      }
      return out;
    }
    if (dirname(dir) === dir) break;
  }
  throw new ComposeFileError('no configuration file provided: not found');
}
