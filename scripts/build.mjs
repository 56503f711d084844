// Bundles each program into one ESM file under dist/ (fast CLI start-up: one file to load, no resolution).
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const programs = ['berth', 'berthd', 'berth-registry'];
await build({
  entryPoints: Object.fromEntries(programs.map((p) => [p, `src/cmd/${p}.ts`])),
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
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
