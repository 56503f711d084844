/**
 * Berth's closed set of domain errors. Lower layers throw these (or wrap them with `cause`);
 * only `src/api/errors.ts` turns them into HTTP statuses, and only the CLI turns them into exit codes.
 */
export type ErrorCode =
  | 'NotFound'
  | 'InvalidArgument'
  | 'Conflict'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'Forbidden'
  | 'Unauthenticated'
  | 'NotModified'
  | 'Unavailable'
  | 'Internal';

export abstract class BerthError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The object asked for does not exist (no such image, container, layer, blob). */
export class NotFound extends BerthError {
  readonly code = 'NotFound';
}
/** The request is malformed: bad reference, bad flag value, corrupt or unsafe archive. */
export class InvalidArgument extends BerthError {
  readonly code = 'InvalidArgument';
}
/** The object is in a state that forbids the operation (image in use, container running). */
export class Conflict extends BerthError {
  readonly code = 'Conflict';
}
/** Creating something that already exists (a name in use, a committed blob). */
export class AlreadyExists extends BerthError {
  readonly code = 'AlreadyExists';
}
/** A precondition of the data failed: digest or size mismatch. */
export class FailedPrecondition extends BerthError {
  readonly code = 'FailedPrecondition';
}
/** The operation is never allowed on this object (removing a predefined network, one still in use). */
export class Forbidden extends BerthError {
  readonly code = 'Forbidden';
}
/** Credentials were refused (a registry login). */
export class Unauthenticated extends BerthError {
  readonly code = 'Unauthenticated';
}
/** Nothing to do: the object is already in the requested state (start of a started container). */
export class NotModified extends BerthError {
  readonly code = 'NotModified';
}
/** A dependency is not reachable now (runtime missing, registry down). */
export class Unavailable extends BerthError {
  readonly code = 'Unavailable';
}
/** A bug or an unexpected host failure. */
export class Internal extends BerthError {
  readonly code = 'Internal';
}

export function isBerthError(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

/** A failure of the host (ENOSPC, EIO, EMFILE, …) rather than of the data being processed. */
export function isSystemError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && (e as { syscall?: unknown }).syscall !== undefined;
}

/** Node's ENOENT check, used wherever "missing" is a normal answer. */
export function isNotExist(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT';
}
