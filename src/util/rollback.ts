/**
 * A stack of undo steps for multi-step operations (Podman's `defer … if err != nil`): register an undo right
 * after each acquisition; on failure `rollback()` runs them newest first, on success `commit()` drops them.
 * Node 20 has Symbol.asyncDispose but not AsyncDisposableStack, hence this small class.
 */
export class Rollback {
  private undos: Array<() => unknown> = [];
  add(undo: () => unknown): void {
    this.undos.push(undo);
  }
  commit(): void {
    this.undos = [];
  }
  async rollback(): Promise<void> {
    const steps = this.undos.reverse();
    this.undos = [];
    for (const undo of steps) {
      try {
        await undo();
      } catch {
        // An undo that fails must not hide the original error; the startup GC reclaims what is left.
      }
    }
  }
  /** Runs `fn` with a fresh stack; rolls back if it throws. */
  static async run<T>(fn: (rb: Rollback) => Promise<T>): Promise<T> {
    const rb = new Rollback();
    try {
      const out = await fn(rb);
      rb.commit();
      return out;
    } catch (e) {
      await rb.rollback();
      throw e;
    }
  }
}
