// berth: the CLI entry point. Kept tiny so start-up loads nothing the command does not need: `--version` loads
// nothing at all, the hottest commands with a plain command line neither commander (cli/fast.ts), other commands
// the parser and their own module (see cli/main.ts).
const argv = process.argv;
/** The words cli/fast.ts answers (its fastWords); a command line without one does not load it. */
const fastWords = ['ps', 'images', 'version', 'inspect', 'logs', 'stop', 'rm'];

function main(): Promise<number> {
  return import('../cli/main.js').then((m) => m.main(argv));
}

if (argv[2] === '-v' || argv[2] === '--version') {
  process.stdout.write('Berth version 0.1.0\n');
} else {
  (argv.some((a) => fastWords.includes(a)) ? import('../cli/fast.js').then(async (f) => (await f.runFast(argv)) ?? main()) : main()).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`berth: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
