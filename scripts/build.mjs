// Bundles each program into an ESM entry under dist/, with shared and on-demand code in dist/chunks/ (fast CLI
// start-up: a command loads the parser and its own module, nothing else; no module resolution at run time).
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';

const programs = ['berth', 'berthd', 'berth-registry', 'docker-compose'];
await rm('dist/chunks', { recursive: true, force: true }); // chunk names carry hashes: old ones would pile up
await build({
  entryPoints: Object.fromEntries(programs.map((p) => [p, `src/cmd/${p}.ts`])),
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Modules loaded on demand (the CLI's commands) become chunks of their own: a command parses only its code.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
  },
  // Native addons, loaded from node_modules at run time: SOCK_SEQPACKET for conmon's attach socket, and xattrs
  // (and ws's optional accelerators, which it does without when they are absent).
  external: ['node-unix-socket-linux-x64-gnu', '@napi-rs/xattr', 'bufferutil', 'utf-8-validate'],
  logLevel: 'warning',
});
for (const p of programs) await chmod(`dist/${p}.js`, 0o755);
