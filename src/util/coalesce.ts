/**
 * Wraps a task that brings something in line with the current state (a ruleset, a set of files): calls that
 * arrive while it runs are folded into one more run after it, and each caller returns once a run that started
 * after its call has finished, so a burst of changes costs two runs rather than one each.
 */
export function coalesced(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const run = (): Promise<void> => {
    if (!running) {
      running = task().finally(() => (running = undefined));
      return running;
    }
    next ??= running.catch(() => {}).then(() => {
      next = undefined;
      return run();
    });
    return next;
  };
  return run;
}
