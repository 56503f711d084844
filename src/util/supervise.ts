import type { Logger } from './logger.js';

/**
 * Runs background work nobody awaits (a restart timer, a health probe, log shipping, an event handler) so that its
 * failure can never escape as an unhandled rejection: it is logged with what was being done and its context, and
 * the daemon goes on. Every fire-and-forget promise in berthd goes through here (the linter refuses bare ones).
 */
export function supervise(log: Logger, what: string, work: Promise<unknown> | (() => unknown), fields: Record<string, unknown> = {}): void {
  let running: Promise<unknown>;
  try {
    running = typeof work === 'function' ? Promise.resolve(work()) : work;
  } catch (e) {
    running = Promise.reject(e);
  }
  running.catch((error: unknown) => log.warn(`${what} failed`, { ...fields, error }));
}
