// berth: the CLI entry point. Kept tiny so start-up loads nothing the command does not need.
import { main } from '../cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`berth: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
