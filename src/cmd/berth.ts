// berth: the CLI entry point (dist/berth.cjs). Kept tiny so start-up loads nothing the command does not need:
// `--version` loads nothing at all; the hottest commands with a plain command line load one CommonJS bundle
// (dist/cli-fast.cjs: cli/fast.ts and its commands, no commander); any other command the ES module chunks of
// the parser and its own module (dist/cli-main.js, see cli/main.ts). CommonJS where it can be: Node's ES module
// loader costs ~10 ms to start here, a fifth of a `berth ps` over Node's own start.
const argv = process.argv;
/** The words cli/fast.ts answers (its fastWords); a command line whose command is another does not load it. */
const fastWords = ['ps', 'images', 'version', 'inspect', 'logs', 'stop', 'exec', 'network', 'volume', 'build', 'image', 'builder', 'rm', 'container'];

// Names kept out of the bundler's reach: these are the other outputs of the build, loaded at run time.
const fastBundle = './cli-fast.cjs';
const mainModule = './cli-main.js';

function main(): Promise<number> {
  return (import(mainModule) as Promise<typeof import('../cli/main.js')>).then((m) => m.main(argv));
}

async function fast(): Promise<number> {
  const { runFast } = requireWithCodeCache(fastBundle) as typeof import('../cli/fast.js');
  return (await runFast(argv)) ?? main();
}

/**
 * `require` of one of the build's CommonJS bundles, with V8's code cache for it kept in ~/.cache/berth: compiling
 * the fast path's bundle was ~7 ms of every `berth ps`, reading back its compiled code ~2 ms. (Node 20 has no
 * module compile cache of its own.) The cache is named after the bundle's inode, size and mtime, so a rebuild
 * never meets the code of another build (V8 itself only checks the source's length); a cache V8 rejects (another
 * Node) is made again. Anything wrong with the cache directory just means no cache.
 */
const loadedBundles = new Map<string, unknown>();
function requireWithCodeCache(file: string): unknown {
  if (loadedBundles.has(file)) return loadedBundles.get(file);
  const { readFileSync, statSync, writeFileSync, mkdirSync, renameSync, readdirSync, rmSync } = require('node:fs') as typeof import('node:fs');
  const { Script } = require('node:vm') as typeof import('node:vm');
  const { wrap } = require('node:module') as { wrap(source: string): string };
  const name = file.replace(/^\.\//, '');
  const path = `${__dirname}/${name}`;
  const st = statSync(path);
  const home = process.env['XDG_CACHE_HOME'] || `${process.env['HOME'] || '/root'}/.cache`;
  const cacheDir = `${home}/berth`;
  const cacheFile = `${cacheDir}/${name}-${st.ino}-${st.size}-${Math.trunc(st.mtimeMs)}.v8`;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // first run of this build: compiled from source, cached at exit
  }
  const script = new Script(wrap(readFileSync(path, 'utf8')), { filename: path, ...(cachedData && { cachedData }) });
  if (!cachedData || script.cachedDataRejected) {
    // At exit: the functions the command ran are compiled by then, and go into the cache too.
    process.once('exit', () => {
      try {
        mkdirSync(cacheDir, { recursive: true });
        writeFileSync(`${cacheFile}.${process.pid}`, script.createCachedData());
        renameSync(`${cacheFile}.${process.pid}`, cacheFile);
        // Earlier builds' caches go.
        for (const f of readdirSync(cacheDir)) if (f.startsWith(`${name}-`) && `${cacheDir}/${f}` !== cacheFile) rmSync(`${cacheDir}/${f}`, { force: true });
      } catch {
        // no cache
      }
    });
  }
  const module = { exports: {} };
  loadedBundles.set(file, module.exports);
  // the bundle's own requires of the build's other bundles (dist/cli-format.cjs) go through the cache too
  const bundleRequire = (id: string): unknown => (/^\.\/cli-[a-z]+\.cjs$/.test(id) ? requireWithCodeCache(id) : require(id));
  (script.runInThisContext() as (...a: unknown[]) => void).call(module.exports, module.exports, bundleRequire, module, path, __dirname);
  loadedBundles.set(file, module.exports); // a bundle may have replaced its exports object
  return module.exports;
}

/** The command's word: the first after the global flags (of which only `-H`/`--host` takes the next word). */
function commandWord(): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-H' || a === '--host') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

// A reader gone (`berth ps | head -1`) ends the run quietly, with the status of the SIGPIPE that ends the docker CLI
// then (Node ignores the signal, and an unhandled EPIPE would print a stack trace).
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(128 + 13);
  });
}

if (argv[2] === '-v' || argv[2] === '--version') {
  process.stdout.write('Berth version 0.1.0\n');
} else {
  (fastWords.includes(commandWord() ?? '') ? fast() : main()).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`berth: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
