import { type ErrorCode, isBerthError } from '../errors/index.js';

/** The one place that knows HTTP statuses: domain error code → Docker's status. */
const statusOf: Record<ErrorCode, number> = {
  InvalidArgument: 400,
  FailedPrecondition: 400,
  Forbidden: 403,
  Unauthenticated: 401,
  NotFound: 404,
  Conflict: 409,
  AlreadyExists: 409,
  NotModified: 304,
  Unavailable: 503,
  Internal: 500,
};

export const Status = { OK: 200, Created: 201, NoContent: 204, NotModified: 304, NotFound: 404, BadRequest: 400 } as const;

/** Maps any thrown value to `{status, message}`; unknown errors are 500 and flagged for logging. */
export function toHttpError(e: unknown): { status: number; message: string; unexpected: boolean } {
  if (isBerthError(e)) return { status: statusOf[e.code], message: e.message, unexpected: e.code === 'Internal' };
  const message = e instanceof Error ? e.message : String(e);
  return { status: 500, message, unexpected: true };
}
