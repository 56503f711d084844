import type { HostFacts } from '../../kernel/host.js';
import type { Digest } from '../../oci/index.js';
import type { RegistryServiceConfig } from '../../registry/client/index.js';
import type { ContainerService } from '../containers/index.js';
import type { ContainerSummary } from '../containers/views.js';
import type { BuildCacheEntry, ImageService, ImageSummary } from '../images/index.js';
import type { VolumeService, VolumeView } from '../volumes/index.js';
import type { BuildService } from '../build/index.js';

export const berthVersion = '0.1.0';
export const apiVersion = '1.45';
export const minApiVersion = '1.24';

export interface SystemConfig {
  dataRoot: string;
  execRoot: string;
  daemonId: string;
  /** Runtimes by name; `status` says whether the start-up probe could run a container with it. */
  runtimes: Record<string, { path: string; status?: Record<string, string> }>;
  defaultRuntime: string;
  initBinary?: string;
  /** Security options in effect (info's `name=seccomp,profile=…` lines). */
  securityOptions: string[];
  /** What the daemon could not set up as asked (a runtime that fails here, a missing seccomp profile). */
  warnings: string[];
  logLevel: string;
  startedAt: Date;
  /** `info`'s RegistryConfig: insecure registries and mirrors. */
  registry: RegistryServiceConfig;
}

/** `version`, `info` and `system df`: read-only views across the other services. */
export class SystemService {
  constructor(
    private readonly host: HostFacts,
    private readonly config: SystemConfig,
    private readonly images: ImageService,
    private readonly containers: ContainerService,
    private readonly volumes: VolumeService,
    private readonly build: Pick<BuildService, 'contextUsage'>,
  ) {}

  version() {
    return {
      Platform: { Name: 'Berth' },
      Components: [{ Name: 'Engine', Version: berthVersion, Details: { ApiVersion: apiVersion, MinAPIVersion: minApiVersion, Os: 'linux', Arch: goArch() } }],
      Version: berthVersion,
      ApiVersion: apiVersion,
      MinAPIVersion: minApiVersion,
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: this.host.kernelVersion,
      BuildTime: '',
    };
  }

  info() {
    const images = this.images.list({ all: true });
    const all = this.containers.list(true);
    const running = all.filter((c) => c.state.status === 'running').length;
    const paused = all.filter((c) => c.state.status === 'paused').length;
    const h = this.host;
    const c = this.config;
    return {
      ID: c.daemonId,
      Containers: all.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: all.length - running - paused,
      Images: images.length,
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', 'extfs'],
        ['Supports d_type', 'true'],
        ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'],
      ],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
      MemoryLimit: true,
      SwapLimit: h.swapLimit,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      Debug: c.logLevel === 'debug',
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: h.cgroupVersion,
      NEventsListener: 0,
      KernelVersion: h.kernelVersion,
      OperatingSystem: h.operatingSystem,
      OSVersion: h.osVersion,
      OSType: 'linux',
      Architecture: h.architecture,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: c.registry,
      NCPU: h.ncpu,
      MemTotal: h.memTotal,
      DockerRootDir: c.dataRoot,
      Name: h.hostname,
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: berthVersion,
      Runtimes: c.runtimes,
      DefaultRuntime: c.defaultRuntime,
      Swarm: { LocalNodeState: 'inactive', NodeID: '', NodeAddr: '', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: c.initBinary ?? '',
      SecurityOptions: c.securityOptions,
      Warnings: c.warnings,
    };
  }

  /** `system df`: images with their shared sizes, containers with theirs (as `ps -a --size` lists them), volumes with size and users. */
  async diskUsage(): Promise<{ LayersSize: number; Images: ImageSummary[]; Containers: ContainerSummary[]; Volumes: VolumeView[]; BuildCache: BuildCacheEntry[] }> {
    const shared = this.images.sharedSizes();
    const containers = await this.containers.summaries(true, {}, undefined, true);
    return {
      LayersSize: this.images.layersSize(),
      Images: this.images.list({ all: true }).map((i) => ({ ...i, SharedSize: shared.get(i.Id as Digest) ?? 0 })),
      Containers: containers,
      Volumes: await Promise.all(this.volumes.list().map((v) => this.volumes.viewWithSize(v))),
      BuildCache: [...this.images.buildCache(), ...(await this.build.contextUsage())],
    };
  }
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}
