import { AsyncLocalStorage } from 'node:async_hooks';

/** The API request some work belongs to, so an error that escapes everything can still be logged with it. */
export interface RequestContext {
  method: string;
  url: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and everything it starts: callbacks, streams, timers) as part of this request. */
export function inRequest<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The request the current code runs for, if any. */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}
