// Wire shapes of containers (Engine API 1.45 ContainerSummary and ContainerInspectResponse, the fields this
// slice fills). Pure functions.
import { humanDuration } from '../../util/duration.js';
import type { ContainerRecord } from './index.js';

export function containerStatus(c: ContainerRecord, now = Date.now()): string {
  const s = c.state;
  if (s.status === 'running') return `Up ${humanDuration(now - Date.parse(s.startedAt))}`;
  if (s.status === 'paused') return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
  if (s.status === 'exited') return `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
  if (s.status === 'restarting') return `Restarting (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
  if (s.status === 'removing') return 'Removal In Progress';
  if (s.status === 'dead') return 'Dead';
  return 'Created';
}

export function containerSummary(c: ContainerRecord) {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.imageName,
    ImageID: c.image,
    Command: [c.path, ...c.args].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: [],
    Labels: c.config.Labels,
    State: c.state.status,
    Status: containerStatus(c),
    HostConfig: { NetworkMode: c.hostConfig.NetworkMode },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

export function containerInspect(c: ContainerRecord, dirs: { upper: string; work: string; merged: string; lower: string[] }, logPath: string) {
  const s = c.state;
  return {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: s.status,
      Running: s.status === 'running' || s.status === 'paused' || s.status === 'restarting',
      Paused: s.status === 'paused',
      Restarting: s.status === 'restarting',
      OOMKilled: !!s.oomKilled,
      Dead: s.status === 'dead',
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
    },
    Image: c.image,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: logPath,
    Name: `/${c.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: { ...c.hostConfig, LogConfig: c.hostConfig.LogConfig ?? { Type: 'json-file', Config: {} } },
    GraphDriver: {
      Name: 'overlay2',
      Data: { LowerDir: dirs.lower.join(':'), MergedDir: dirs.merged, UpperDir: dirs.upper, WorkDir: dirs.work },
    },
    Mounts: [],
    Config: {
      Hostname: c.config.Hostname,
      Domainname: '',
      User: c.config.User,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: c.config.Tty,
      OpenStdin: c.config.OpenStdin,
      StdinOnce: c.config.StdinOnce,
      Env: c.config.Env,
      Cmd: c.config.Cmd,
      Image: c.config.Image,
      Volumes: null,
      WorkingDir: c.config.WorkingDir,
      Entrypoint: c.config.Entrypoint,
      OnBuild: null,
      Labels: c.config.Labels,
      ...(c.config.StopSignal && { StopSignal: c.config.StopSignal }),
      ...(c.config.StopTimeout !== undefined && { StopTimeout: c.config.StopTimeout }),
    },
    NetworkSettings: { Networks: {} },
  };
}
