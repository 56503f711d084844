// Containers in the kernel: OCI bundle specs, the OCI runtime CLI and the per-container monitor.
// No lifecycle policy lives here: the container service decides, this layer carries out.
export { buildSpec, defaultCapabilities, type RuntimeSpec, type SpecOptions } from './spec.js';
export { CliRuntime, type ContainerState, type OciRuntime } from './oci-runtime.js';
export { ConmonMonitor, type MonitorHandle, type MonitorPaths } from './monitor.js';
export { readLog, logSize, parseLogLine, type LogEntry, type ReadLogOptions } from './logs.js';
