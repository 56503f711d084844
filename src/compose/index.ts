// Compose: the project model (`model/`) and the engine that converges Berth's objects to it.
export * from './engine.js';
export { Label, composeVersion, containerName, serviceHash } from './labels.js';
export { type ContainerSummary, type ProjectContainer, listProjects } from './state.js';
export { serviceNetworks } from './spec.js';
export type * from './types.js';
export * from './model/index.js';
