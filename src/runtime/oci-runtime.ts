import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Internal, NotFound } from '../errors/index.js';

const run = promisify(execFile);

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
  kill(id: string, signal: string, all?: boolean): Promise<void>;
  delete(id: string, force?: boolean): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
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

  private async exec(args: string[]): Promise<string> {
    try {
      return (await run(this.path, [...this.globalArgs, ...args])).stdout;
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
}
