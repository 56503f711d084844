import { Internal } from '../errors/index.js';

/**
 * Named failpoints (containerd's internal/failpoint) so tests can make one step of an operation fail or hang.
 * Inert unless BERTH_FAILPOINTS is set, e.g. `BERTH_FAILPOINTS=load.layer=error,load.commit=exit`.
 *   error → throw; exit → kill the process on the spot (a crash at exactly that instant); sleep:MS → delay.
 */
let parsed: Map<string, string> | undefined;
function points(): Map<string, string> {
  if (!parsed) {
    parsed = new Map();
    for (const part of (process.env['BERTH_FAILPOINTS'] ?? '').split(',')) {
      const [name, action] = part.split('=');
      if (name && action) parsed.set(name.trim(), action.trim());
    }
  }
  return parsed;
}

export async function failpoint(name: string): Promise<void> {
  if (!process.env['BERTH_FAILPOINTS']) return;
  const action = points().get(name);
  if (!action) return;
  if (action === 'error') throw new Internal(`failpoint ${name}`);
  if (action === 'exit') process.kill(process.pid, 'SIGKILL');
  if (action.startsWith('sleep:')) await new Promise((r) => setTimeout(r, Number(action.slice(6))));
}
