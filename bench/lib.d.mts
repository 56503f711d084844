// Types for the parts of bench/lib.mjs that the TypeScript tests reuse (the reference dockerd launcher).
export interface EngineHandle {
  name: string;
  dir: string;
  socketPath: string;
  host: string;
  stop(): Promise<void>;
}
/** Starts Debian's containerd + dockerd on private roots, leaving the host's network alone; null if not installed. */
export function startDockerd(): Promise<EngineHandle | null>;
