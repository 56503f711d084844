import { ApiError, ConnectError, EngineClient, defaultHost } from '../client/index.js';
import { hasBrand } from '../util/brand.js';

/** Exit codes docker uses: 1 for a failed command, 125 for bad flags or a daemon error under `run`. */
export const ExitCode = { Failure: 1, Usage: 125 } as const;

/** An error that ends the command with a given exit code after printing its message. */
const cliErrorBrand = Symbol.for('berth.cli.CliError');

export class CliError extends Error {
  /** By brand: the --format bundle's copy of this module throws it to the fast path's (see util/brand.ts). */
  static override [Symbol.hasInstance](v: unknown): v is CliError {
    return hasBrand(this, CliError, v, cliErrorBrand);
  }
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Failure,
  ) {
    super(message);
  }
  get [cliErrorBrand](): true {
    return true;
  }
}

/** What every command gets: the client for the selected daemon and the output streams. */
export interface Cli {
  client(): EngineClient;
  out(s: string): void;
  err(s: string): void;
}

export function createCli(host?: string): Cli {
  let client: EngineClient | undefined;
  return {
    client: () => (client ??= new EngineClient(host ?? defaultHost())),
    out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
    err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
  };
}

/** Docker's wording for daemon errors. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  if (e instanceof ConnectError) return e.message;
  if (e instanceof CliError) return e.message;
  return `Error: ${e instanceof Error ? e.message : String(e)}`;
}

/** Prints a command's failure as docker does and returns the exit code (flag errors are commander's, in main.ts). */
export function reportFailure(e: unknown): number {
  if (!(e instanceof CliError && e.message === '')) process.stderr.write(describeError(e) + '\n');
  return e instanceof CliError ? e.exitCode : ExitCode.Failure;
}

/** Runs `fn` for each name, printing each failure like docker and failing at the end if any did. */
export async function forEachName(cli: Cli, names: string[], fn: (name: string) => Promise<void>): Promise<void> {
  let failed = false;
  for (const name of names) {
    try {
      await fn(name);
    } catch (e) {
      if (e instanceof ConnectError) throw e;
      cli.err(describeError(e));
      failed = true;
    }
  }
  if (failed) throw new CliError('', ExitCode.Failure);
}
