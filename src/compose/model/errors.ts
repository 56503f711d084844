/** A mistake in the user's compose files or options: the CLI prints the message as it is and exits 1. */
export class ComposeFileError extends Error {
  override name = 'ComposeFileError';
}

/** Compose v2 suffixes model consistency errors with this. */
export const invalidProject = (msg: string): ComposeFileError => new ComposeFileError(`${msg}: invalid compose project`);
