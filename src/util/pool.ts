/**
 * Runs `fn` over `items`, `limit` at a time. The first failure aborts the rest (through `abort`), and every
 * started call has finished before this returns or throws: work still running could otherwise act (commit an
 * ingest, write a record) after the caller has cleaned up.
 */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, abort: AbortController): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failure ??= { e };
        abort.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.e;
}
