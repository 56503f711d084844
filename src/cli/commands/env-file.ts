import { readFileSync } from 'node:fs';

/** `--env-file`: KEY=VALUE lines, `#` comments and blank lines skipped; a bare KEY takes the CLI's own value. */
export function envFile(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .flatMap((l) => (l.includes('=') ? [l] : process.env[l] !== undefined ? [`${l}=${process.env[l]}`] : []));
}
