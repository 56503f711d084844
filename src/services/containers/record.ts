// A container as it is persisted: its configuration (fixed at create, but for rename and update) and its state.
// Records are immutable values: every change saves a new one (see store.ts).
import type { Digest } from '../../oci/index.js';
import type { InitLayerKind } from './etc.js';
import type { Attachment, EndpointConfig } from '../networks/index.js';
import type { Health, Healthcheck } from './health.js';
import type { MountPoint } from './mounts.js';
import type { HostConfig } from './hostconfig.js';
import type { ContainerStatus } from './state.js';

/** What `POST /containers/create` may set (the subset Berth supports). */
export interface CreateOptions {
  name?: string;
  image: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  labels?: Record<string, string>;
  stopSignal?: string;
  stopTimeout?: number;
  tty?: boolean;
  openStdin?: boolean;
  stdinOnce?: boolean;
  attach?: { stdin: boolean; stdout: boolean; stderr: boolean };
  healthcheck?: Healthcheck | null;
  exposedPorts?: Record<string, object> | null;
  hostConfig?: Partial<HostConfig & { Runtime: string }> | null;
  /** Config.Volumes: `-v /path` (anonymous volumes). */
  volumes?: Record<string, object> | null;
  /** NetworkingConfig.EndpointsConfig: per network, aliases, a static address, links. */
  endpointsConfig?: Record<string, Partial<EndpointConfig>> | null;
  /** A scratch container (a build's RUN): its root filesystem is mounted volatile (see rootfs.ts). Not in the API. */
  scratch?: boolean;
}

/** The container's own settings (Engine API ContainerConfig, the fields Berth keeps). */
export interface ContainerConfig {
  Env: string[];
  WorkingDir: string;
  User: string;
  Hostname: string;
  Domainname?: string;
  Labels: Record<string, string>;
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  Image: string;
  /** Which streams the creating client meant to attach (shown by inspect; older records lack them). */
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  StopSignal?: string;
  StopTimeout?: number;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  /** The container's own merged with its image's (see health.ts). */
  Healthcheck?: Healthcheck;
  ExposedPorts?: Record<string, object>;
  /** The image's VOLUMEs (shown by inspect; see create). */
  Volumes?: Record<string, object>;
}

export interface ContainerStateRecord {
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  error: string;
  oomKilled?: boolean;
  restartCount?: number;
  /** Stopped by a user (stop/kill/rm): restart policies other than `always` leave it down, as in dockerd. */
  stoppedByUser?: boolean;
  /** With a healthcheck: reset to `starting` at each start, kept after an exit. */
  health?: Health;
  /** While it runs on bridge networks: its namespace, endpoints and published ports. */
  network?: Attachment;
}

/** A container: its configuration plus its state, persisted as one record. */
export interface ContainerRecord {
  readonly id: string;
  name: string;
  readonly created: string;
  readonly image: Digest;
  readonly imageName: string;
  /** Top layer of the image the container stands on (a GC root while the container exists). */
  readonly topLayer?: Digest;
  /** Which shared init layer lies between the image and the container's own layer (none in older records). */
  readonly initLayer?: InitLayerKind;
  readonly path: string;
  readonly args: string[];
  readonly config: ContainerConfig;
  hostConfig: HostConfig & { Runtime: string };
  /** Its volumes and bind mounts (see mounts.ts). */
  mounts?: MountPoint[];
  /** The networks it joins at start, by name (older records: none, their mode's network). */
  networks?: Record<string, EndpointConfig>;
  /** A build step's container (see CreateOptions.scratch). */
  readonly scratch?: boolean;
  state: ContainerStateRecord;
}
