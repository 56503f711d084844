import type { LinuxResources } from './spec.js';
import { Internal, NotFound } from '../errors/index.js';
import { runProgram } from '../kernel/launcher.js';

/** `runtime state` output (runtime-spec runtime.md "State"). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  pid: number;
  bundle: string;
}

/**
 * An OCI runtime CLI (runc, crun) and the runtime-spec lifecycle operations, with no policy of its own
 * (Podman's OCIRuntime). `create` is done by the monitor, which must be the runtime's parent to reap the
 * container; this class does everything after.
 */
export interface OciRuntime {
  readonly name: string;
  readonly path: string;
  /** Global arguments placing the runtime's state under Berth's exec root (`--root`). */
  readonly globalArgs: string[];
  start(id: string): Promise<void>;
  state(id: string): Promise<ContainerState>;
  /** The IDs of the containers the runtime holds state for. */
  list(): Promise<string[]>;
  kill(id: string, signal: string, all?: boolean): Promise<void>;
  delete(id: string, force?: boolean): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Changes a running container's cgroup limits. */
  update(id: string, resources: Omit<LinuxResources, 'devices'>): Promise<void>;
}

export class CliRuntime implements OciRuntime {
  readonly globalArgs: string[];
  constructor(
    readonly name: string,
    readonly path: string,
    stateRoot: string,
  ) {
    this.globalArgs = [`--root=${stateRoot}`];
  }

  private async exec(args: string[], input?: string): Promise<string> {
    try {
      return (await runProgram(this.path, [...this.globalArgs, ...args], { ...(input !== undefined && { input }) })).stdout;
    } catch (e) {
      const stderr = ((e as { stderr?: string }).stderr ?? '').trim();
      // runc and crun both say "does not exist" for an unknown container.
      if (/does not exist|not found/.test(stderr)) throw new NotFound(`${this.name}: container ${args.at(-1)} does not exist`, { cause: e });
      throw new Internal(`${this.name} ${args[0]} failed: ${stderr || (e as Error).message}`, { cause: e });
    }
  }

  async start(id: string) {
    await this.exec(['start', id]);
  }
  async state(id: string) {
    return JSON.parse(await this.exec(['state', id])) as ContainerState;
  }
  async list() {
    return (await this.exec(['list', '--quiet'])).split('\n').filter(Boolean);
  }
  async kill(id: string, signal: string, all = false) {
    await this.exec(['kill', ...(all ? ['--all'] : []), id, signal]);
  }
  async delete(id: string, force = false) {
    await this.exec(['delete', ...(force ? ['--force'] : []), id]);
  }
  async pause(id: string) {
    await this.exec(['pause', id]);
  }
  async resume(id: string) {
    await this.exec(['resume', id]);
  }
  async update(id: string, resources: Omit<LinuxResources, 'devices'>) {
    await this.exec(['update', '--resources', '-', id], JSON.stringify(resources));
  }
}
