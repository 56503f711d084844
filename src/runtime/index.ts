// Containers in the kernel: OCI bundle specs, the OCI runtime CLI and the per-container monitor.
// No lifecycle policy lives here: the container service decides, this layer carries out.
export { buildSpec, defaultCapabilities, defaultMaskedPaths, defaultReadonlyPaths, type DeviceRule, type LinuxDevice, type LinuxResources, type NamespaceType, type RuntimeSpec, type SpecMount, type SpecOptions } from './spec.js';
export { allCapabilities, containerCapabilities, validateCapabilities } from './capabilities.js';
export { CliRuntime, type ContainerState, type OciRuntime } from './oci-runtime.js';
export { ConmonMonitor, type ExecHandle, type MonitorHandle, type MonitorPaths, type StdioOptions } from './monitor.js';
export { AttachSocket, resizeTerminal, type OutputStream } from './attach.js';
export {
  defaultSeccompProfilePath,
  loadSeccompProfile,
  parseSeccompProfile,
  seccompForContainer,
  type LinuxSeccomp,
  type LinuxSyscall,
  type SeccompAction,
  type SeccompArg,
  type SeccompFilter,
  type SeccompOperator,
  type SeccompProfile,
  type SeccompRule,
} from './seccomp.js';
export { JournalConverter, LogBatch, escapeText, fixedTime, timeKey, utcTime, type LogStream } from './logformat.js';
export { logEnd, readJsonLog, type LogFiles, type LogFollow, type LogPosition, type ReadLogOptions } from './logread.js';
export { LogShipper, journalPath, type ShipTarget } from './logship.js';
export { probeRuntimes, type ProbeResult } from './probe.js';
