// Enforces the layering in docs/architecture.md: each folder under src/ may import only the folders listed for it
// (src/cmd, the composition roots, may import anything), and some folders may not touch some Node built-ins.
// Exits 1 on violations.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const allowed = {
  cmd: ['*'],
  api: ['services', 'types', 'oci', 'errors', 'util'],
  services: ['content', 'layers', 'metadata', 'runtime', 'network', 'volumes', 'builder', 'registry/client', 'kernel', 'oci', 'errors', 'util'],
  content: ['oci', 'kernel', 'errors', 'util'],
  layers: ['oci', 'kernel', 'errors', 'util'],
  metadata: ['oci', 'content', 'layers', 'kernel', 'errors', 'util'],
  runtime: ['oci', 'kernel', 'errors', 'util'],
  network: ['kernel', 'errors', 'util'],
  volumes: ['kernel', 'errors', 'util'],
  builder: ['oci', 'layers', 'kernel', 'errors', 'util'],
  'registry/client': ['oci', 'content', 'errors', 'util'],
  'registry/server': ['content', 'oci', 'kernel', 'errors', 'util'],
  client: ['types', 'util'],
  cli: ['client', 'compose', 'types', 'oci', 'util'],
  compose: ['client', 'types', 'oci', 'util'],
  oci: ['errors', 'util'],
  kernel: ['errors', 'util'],
  types: [],
  errors: [],
  util: ['errors'],
};
/** Node built-ins a folder must not touch (the API layer reaches the host only through services). */
const forbiddenBuiltins = { api: ['node:fs', 'node:fs/promises', 'node:child_process'], cli: ['node:child_process'] };
/** Files allowed one of those anyway, and why. */
const builtinExceptions = {
  // `stty -opost` for raw terminals: Node has no termios call, and docker's raw mode clears OPOST.
  'src/cli/commands/interactive.ts': ['node:child_process'],
};

const src = resolve('src');
const folderOf = (file) => {
  const rel = relative(src, file).split('/');
  return rel[0] === 'registry' ? `registry/${rel[1]}` : rel[0];
};
const files = (function walk(d) {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
})(src);

const problems = [];
for (const file of files) {
  const from = folderOf(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[1];
    if (spec.startsWith('node:')) {
      if ((forbiddenBuiltins[from] ?? []).includes(spec) && !(builtinExceptions[relative('.', file)] ?? []).includes(spec)) problems.push(`${relative('.', file)}: ${from} must not import ${spec}`);
      continue;
    }
    if (!spec.startsWith('.')) continue; // npm packages
    const target = resolve(dirname(file), spec);
    const to = folderOf(target);
    if (to === from) continue;
    const rules = allowed[from];
    if (!rules) problems.push(`${relative('.', file)}: folder ${from} has no import rule`);
    else if (!rules.includes('*') && !rules.includes(to)) problems.push(`${relative('.', file)}: ${from} must not import ${to} (${spec})`);
  }
}
if (problems.length) {
  console.error(`import rules broken:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`import rules: ${files.length} files checked, no violations`);
