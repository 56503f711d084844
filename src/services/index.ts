// The daemon's use-cases, as the API layer sees them.
import type { ContainerService } from './containers/index.js';
import type { ExecService } from './containers/exec.js';
import type { BuildService } from './build/index.js';
import type { ImageService } from './images/index.js';
import type { ImagePuller } from './images/pull.js';
import type { ImagePusher } from './images/push.js';
import type { NetworkService } from './networks/index.js';
import type { VolumeService } from './volumes/index.js';
import type { EventBus } from './system/events.js';
import type { SystemService } from './system/index.js';

export interface Services {
  images: ImageService;
  pull: ImagePuller;
  push: ImagePusher;
  build: BuildService;
  containers: ContainerService;
  networks: NetworkService;
  volumes: VolumeService;
  exec: ExecService;
  system: SystemService;
  events: EventBus;
}

export { ImageService } from './images/index.js';
export { BuildService, BuildFailure, type BuildOptions } from './build/index.js';
export { NetworkService, type NetworkRecord, defaultScope } from './networks/index.js';
export { VolumeService, type VolumeRecord } from './volumes/index.js';
export { ContainerService, type ContainerRecord, type CreateOptions, containerReferences, volumeReferences } from './containers/index.js';
export type { LogBatch } from '../runtime/index.js';
export { ExecService, type ExecConfig } from './containers/exec.js';
export { HealthMonitor } from './containers/health.js';
export { EventBus } from './system/events.js';
export { SystemService, apiVersion, minApiVersion, berthVersion } from './system/index.js';
export { loadImages } from './images/load.js';
export { saveImages } from './images/save.js';
export { importImage } from './images/import.js';
export { DistributionMetadata } from './images/distribution.js';
export { ImagePuller, type Credentials, type ProgressMessage, type PullOptions } from './images/pull.js';
export { ImagePusher } from './images/push.js';
export { ensureBusyboxImage } from './images/baseimage.js';
