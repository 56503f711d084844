// berth: the CLI entry point. Kept tiny so start-up loads nothing the command does not need: `--version` loads
// nothing at all, other commands the parser and their own module (see cli/main.ts).
if (process.argv[2] === '-v' || process.argv[2] === '--version') {
  process.stdout.write('Berth version 0.1.0\n');
} else {
  import('../cli/main.js')
    .then((m) => m.main(process.argv))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        process.stderr.write(`berth: ${(e as Error).message}\n`);
        process.exitCode = 1;
      },
    );
}
