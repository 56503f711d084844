// `berth compose`: Compose v2's commands, flags and output, as a client of the Engine API. The project model and
// the convergence are src/compose's; this file reads the flags, prints, and holds the interactive sessions.
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import {
  ComposeEngine,
  ComposeError,
  ComposeFileError,
  type ContainerSummary,
  type ContainerWatch,
  type EngineHooks,
  Label,
  type LoadOptions,
  type Project,
  type ProjectContainer,
  composeVersion,
  listProjects,
  loadProject,
  projectToJson,
  projectToYaml,
  serviceHash,
} from '../../compose/index.js';
import { parseReference } from '../../oci/reference.js';
import { type Cli, CliError, ExitCode } from '../context.js';
import { timeAgo } from '../format/units.js';
import type { BuildFlags } from '../commands/build-run.js';
import { collect } from '../commands/common.js';
import { LogPrinter, ProgressPrinter, pipeContainerStream } from './output.js';

// The docker commands' code compose reuses (builds, pulls, sessions, tables) is loaded by the commands that use
// it: `compose up` or `ps` should not parse the builder's client or the template engine.
const registry = () => import('../commands/registry.js');
const tables = () => Promise.all([import('../output.js'), import('../commands/ps.js'), import('../format/units.js')]);

interface GlobalFlags {
  file: string[];
  projectName?: string;
  projectDirectory?: string;
  profile: string[];
  envFile: string[];
  progress: string;
  ansi: string;
}

/** Everything a compose command needs: the loaded project, its engine and the printers. */
interface Session {
  project: Project;
  engine: ComposeEngine;
  progress: ProgressPrinter;
  color: boolean;
}

const warn = (message: string) => process.stderr.write(`WARN[0000] ${message}\n`);

export function registerComposeCommands(program: Command, cli: Cli): void {
  const compose = program
    .command('compose')
    .description('Define and run multi-container applications with Docker')
    .option('-f, --file <file>', 'Compose configuration files', collect, [])
    .option('-p, --project-name <string>', 'Project name')
    .option('--project-directory <string>', 'Specify an alternate working directory (default: the path of the, first specified, Compose file)')
    .option('--profile <profile>', 'Specify a profile to enable', collect, [])
    .option('--env-file <file>', 'Specify an alternate environment file', collect, [])
    .addOption(new Option('--progress <string>', 'Set type of progress output').choices(['auto', 'tty', 'plain', 'json', 'quiet']).default('auto'))
    .addOption(new Option('--ansi <string>', 'Control when to print ANSI control characters').choices(['never', 'always', 'auto']).default('auto'))
    .option('--parallel <int>', 'Control max parallelism, -1 for unlimited', '-1')
    .option('--compatibility', 'Run compose in backward compatibility mode')
    .option('--dry-run', 'Execute command in dry run mode')
    .enablePositionalOptions()
    .passThroughOptions();
  const global = () => compose.opts<GlobalFlags>();

  const loadOptions = (): LoadOptions => {
    const g = global();
    return {
      files: g.file,
      projectName: g.projectName,
      projectDirectory: g.projectDirectory,
      profiles: g.profile,
      envFiles: g.envFile.length ? g.envFile : undefined,
      validatedCache: join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'berth', 'compose-validated'),
      stdin: async () => {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
      warn,
    };
  };

  /** Loads the project; commands that only act on what exists (down, ps, logs…) also work from `-p` alone. */
  const session = async (o: { needsFiles?: boolean; title?: string } = {}): Promise<Session> => {
    let project: Project;
    try {
      project = await loadProject(loadOptions());
    } catch (e) {
      const name = global().projectName ?? process.env['COMPOSE_PROJECT_NAME'];
      if (o.needsFiles || !name || !(e instanceof ComposeFileError) || !/no configuration file provided/.test(e.message)) throw e;
      project = { name, workingDir: process.cwd(), configFiles: [], services: {}, disabledServices: {}, networks: {}, volumes: {}, secrets: {}, configs: {} };
    }
    const g = global();
    const progress = new ProgressPrinter(g.progress, o.title);
    const color = g.ansi === 'always' || (g.ansi === 'auto' && process.stdout.isTTY === true && !process.env['NO_COLOR']);
    const hooks: EngineHooks = {
      progress: progress.report,
      warn,
      build: (service, tag, b) => buildService(cli, progress, service, tag, b),
      pull: async (service, image, p) => {
        progress.report('Image', image, 'Pulling');
        progress.flush();
        await (await registry()).pullImage(cli, parseReference(image), { quiet: p.quiet || g.progress === 'quiet' || g.progress === 'json', platform: service.platform });
        progress.report('Image', image, 'Pulled');
      },
    };
    return { project, engine: new ComposeEngine(cli.client(), project, hooks), progress, color };
  };

  /** Runs a command body, turning Compose's own errors into the CLI's (printed as they are, exit 1). */
  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await fn(...args);
      } catch (e) {
        if (e instanceof ComposeError) throw new CliError(e.message, e.exitCode);
        if (e instanceof ComposeFileError) throw new CliError(e.message, ExitCode.Failure);
        throw e;
      }
    };

  /**
   * `--no-attach SERVICE`: commander reads a `--no-` flag as the negation of `--attach`; this one is a list of
   * its own (`noAttach`), as in Compose v2.
   */
  const noAttachOption = () => {
    const option = new Option('--no-attach <service>', 'Do not attach (stream logs) to the specified services').argParser(collect).default([]);
    option.negate = false;
    return option;
  };

  // ---- up, create, start ------------------------------------------------------------------------------------

  interface UpFlags {
    detach?: boolean;
    build?: boolean;
    noBuild?: boolean;
    forceRecreate?: boolean;
    noRecreate?: boolean;
    alwaysRecreateDeps?: boolean;
    removeOrphans?: boolean;
    wait?: boolean;
    waitTimeout?: string;
    scale: string[];
    abortOnContainerExit?: boolean;
    exitCodeFrom?: string;
    deps: boolean;
    pull?: 'always' | 'missing' | 'never';
    quietPull?: boolean;
    start: boolean;
    color: boolean;
    logPrefix: boolean;
    timeout?: string;
    timestamps?: boolean;
    attach: string[];
    noAttach: string[];
    renewAnonVolumes?: boolean;
    attachDependencies?: boolean;
  }

  const createFlags = (cmd: Command) =>
    cmd
      .option('--build', 'Build images before starting containers')
      .option('--no-build', "Don't build an image, even if it's policy")
      .option('--force-recreate', "Recreate containers even if their configuration and image haven't changed")
      .option('--no-recreate', "If containers already exist, don't recreate them. Incompatible with --force-recreate.")
      .option('--remove-orphans', 'Remove containers for services not defined in the Compose file')
      .option('--scale <SERVICE=NUM>', 'Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.', collect, [])
      .addOption(new Option('--pull <policy>', 'Pull image before running').choices(['always', 'missing', 'never']))
      .option('--quiet-pull', 'Pull without printing progress information');

  const scales = (list: string[]) =>
    Object.fromEntries(
      list.map((s) => {
        const [name = '', n = ''] = s.split('=');
        if (!/^\d+$/.test(n)) throw new CliError(`invalid --scale value: ${s}`, ExitCode.Failure);
        return [name, Number(n)];
      }),
    );

  const createOptions = (services: string[], o: UpFlags) => {
    if (o.forceRecreate && o.noRecreate) throw new CliError('--force-recreate and --no-recreate are incompatible');
    return {
      services,
      noDeps: o.deps === false,
      build: o.build ? true : o.noBuild || (o as { build?: boolean | undefined }).build === false ? ('never' as const) : undefined,
      pull: o.pull,
      quietPull: o.quietPull,
      recreate: o.forceRecreate ? ('force' as const) : o.noRecreate ? ('never' as const) : ('diverged' as const),
      recreateDeps: o.alwaysRecreateDeps ? ('force' as const) : ('diverged' as const),
      removeOrphans: o.removeOrphans,
      scale: scales(o.scale),
      renewAnonVolumes: o.renewAnonVolumes,
    };
  };

  createFlags(compose.command('up').description('Create and start containers').argument('[SERVICE...]'))
    .option('-d, --detach', 'Detached mode: Run containers in the background')
    .option('--always-recreate-deps', 'Recreate dependent containers. Incompatible with --no-recreate.')
    .option('--wait', 'Wait for services to be running|healthy. Implies detached mode.')
    .option('--wait-timeout <int>', 'Maximum duration in seconds to wait for the project to be running|healthy')
    .option('--abort-on-container-exit', 'Stops all containers if any container was stopped. Incompatible with -d')
    .option('--exit-code-from <string>', 'Return the exit code of the selected service container. Implies --abort-on-container-exit')
    .option('--no-deps', "Don't start linked services")
    .option('--no-start', "Don't start the services after creating them")
    .option('--no-color', 'Produce monochrome output')
    .option('--no-log-prefix', "Don't print prefix in logs")
    .option('-t, --timeout <int>', 'Use this timeout in seconds for container shutdown when attached or when containers are already running')
    .option('--timestamps', 'Show timestamps')
    .option('--attach <service>', 'Restrict attaching to the specified services. Incompatible with --attach-dependencies.', collect, [])
    .option('--attach-dependencies', 'Automatically attach to log output of dependent services')
    .addOption(noAttachOption())
    .option('-V, --renew-anon-volumes', 'Recreate anonymous volumes instead of retrieving data from the previous containers')
    .action(
      action(async (services: string[], o: UpFlags) => {
        if (o.exitCodeFrom) o.abortOnContainerExit = true;
        if (o.detach && o.abortOnContainerExit) throw new CliError('--abort-on-container-exit and --detach are incompatible');
        const detach = o.detach || o.wait;
        const s = await session();
        const selected = await s.engine.create(createOptions(services, o));
        if (o.start === false) return s.progress.flush();
        if (detach) {
          await s.engine.start({ services });
          if (o.wait) await s.engine.waitRunning(selected, o.waitTimeout ? Number(o.waitTimeout) : undefined);
          return s.progress.flush();
        }
        await upAttached(s, services, selected.map((x) => x.name), o);
      }),
    );

  /** Attached `up`: every container's output prefixed, until they all exit (or one does, with --abort-on-container-exit), ^C stops them. */
  const upAttached = async (s: Session, services: string[], selected: string[], o: UpFlags): Promise<void> => {
    const attachable = (names: string[]) => names.filter((n) => s.project.services[n]?.attach !== false);
    const attachTo = new Set(o.attach.length ? o.attach : attachable(services.length && !o.attachDependencies ? services : selected));
    for (const n of o.noAttach) attachTo.delete(n);
    const logs = new LogPrinter({ color: s.color && o.color !== false, prefix: o.logPrefix !== false });
    const ended: Array<Promise<void>> = [];
    let firstExit: { name: string; service: string; code: number } | undefined;
    let onExit: (() => void) | undefined;
    const anyExit = new Promise<void>((resolve) => (onExit = resolve));
    const labelOf = (c: ProjectContainer) => (c.name.startsWith(`${s.project.name}-`) ? c.name.slice(s.project.name.length + 1) : c.name);
    const attach = async (c: ProjectContainer) => {
      if (!attachTo.has(c.service) || c.oneoff) return;
      const info = await s.engine.client.json<{ Config: { Tty: boolean } }>('GET', `/containers/${c.id}/json`);
      ended.push(follow(c, info.Config.Tty, await s.engine.attach(c)));
    };
    /** Prints a container's output until it ends for good: each restart by its policy is followed from its start. */
    const follow = async (c: ProjectContainer, tty: boolean, attached: AsyncIterable<Buffer>) => {
      const label = labelOf(c);
      let stream = attached;
      let code = 0;
      for (;;) {
        await pipeContainerStream(stream, tty, logs.writer(label)).catch(() => {});
        // where this run's output ends, looked up before the state: a restart seen after it has not yet begun
        const outputEnd = await s.engine.lastOutputTime(c).catch(() => undefined);
        const now = await s.engine.client.json<{ RestartCount: number; State: { ExitCode: number; Running: boolean; Restarting: boolean } }>('GET', `/containers/${c.id}/json`).catch(() => undefined);
        const st = now?.State;
        if (!now || !st || (st.Running && !st.Restarting)) break; // gone, or only our connection ended
        code = st.ExitCode;
        logs.event(label, `exited with code ${code}`);
        if (!st.Restarting || interrupted || !watch) break;
        if (!(await watch.restarted(c.id, now.RestartCount + 1))) break;
        const next = await s.engine.follow(c, outputEnd).catch(() => undefined); // no log to read (driver none)
        if (!next) break;
        stream = next;
      }
      if (!firstExit && (!o.exitCodeFrom || o.exitCodeFrom === c.service)) firstExit = { name: c.name, service: c.service, code };
      if (!o.exitCodeFrom || o.exitCodeFrom === c.service) onExit?.();
    };
    let watch: ContainerWatch | undefined;
    let interrupted = 0;
    const onSigint = () => {
      interrupted++;
      if (interrupted > 1) process.exit(130);
      s.progress.flush();
      process.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
      stopping = s.engine.stop({ services: selected, timeout: o.timeout ? Number(o.timeout) : undefined }).catch((e: unknown) => {
        warn((e as Error).message);
      });
    };
    // awaited before returning: a container that ends by itself meanwhile must not cut the stop of the others short
    let stopping: Promise<void> | undefined;
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    try {
      const names = (await s.engine.containers({ all: true, services: [...attachTo] })).map(labelOf);
      for (const n of names) logs.register(n);
      s.progress.flush();
      process.stdout.write(`Attaching to ${names.join(', ')}\n`);
      watch = await s.engine.watchContainers();
      await s.engine.start({ services, attach });
      s.progress.flush();
      if (o.abortOnContainerExit) {
        await Promise.race([anyExit, Promise.all(ended)]);
        if (!interrupted) {
          process.stdout.write('Aborting on container exit...\n');
          await s.engine.stop({ services: selected, timeout: o.timeout ? Number(o.timeout) : undefined });
        }
      }
      await Promise.all(ended);
      await stopping;
      s.progress.flush();
    } finally {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      await watch?.close();
    }
    if (interrupted) throw new CliError('', 130);
    if (o.abortOnContainerExit && firstExit?.code) throw new CliError('', firstExit.code);
  };

  createFlags(compose.command('create').description('Creates containers for a service').argument('[SERVICE...]')).action(
    action(async (services: string[], o: UpFlags) => {
      const s = await session({ title: 'Running' });
      await s.engine.create(createOptions(services, { ...o, deps: true }));
      s.progress.flush();
    }),
  );

  compose
    .command('start')
    .description('Start services')
    .argument('[SERVICE...]')
    .option('--wait', 'Wait for services to be running|healthy. Implies detached mode.')
    .action(
      action(async (services: string[], o: { wait?: boolean }) => {
        const s = await session();
        await s.engine.start({ services });
        if (o.wait) await s.engine.waitRunning(s.engine.services(services));
        s.progress.flush();
      }),
    );

  // ---- stop, restart, kill, pause, rm, down ---------------------------------------------------------------

  const timeoutOf = (o: { timeout?: string }) => (o.timeout === undefined ? undefined : Number(o.timeout));
  compose
    .command('stop')
    .description('Stop services')
    .argument('[SERVICE...]')
    .option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds')
    .action(
      action(async (services: string[], o: { timeout?: string }) => {
        const s = await session({ title: 'Stopping' });
        await s.engine.stop({ services, timeout: timeoutOf(o) });
        s.progress.flush();
      }),
    );
  compose
    .command('restart')
    .description('Restart service containers')
    .argument('[SERVICE...]')
    .option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds')
    .option('--no-deps', "Don't restart dependent services")
    .action(
      action(async (services: string[], o: { timeout?: string }) => {
        const s = await session({ title: 'Restarting' });
        await s.engine.restart({ services, timeout: timeoutOf(o) });
        s.progress.flush();
      }),
    );
  compose
    .command('kill')
    .description('Force stop service containers')
    .argument('[SERVICE...]')
    .option('-s, --signal <string>', 'SIGNAL to send to the container', 'SIGKILL')
    .option('--remove-orphans', 'Remove containers for services not defined in the Compose file')
    .action(
      action(async (services: string[], o: { signal: string }) => {
        const s = await session({ title: 'Killing' });
        await s.engine.kill({ services, signal: o.signal });
        s.progress.flush();
      }),
    );
  for (const [verb, about] of [
    ['pause', 'Pause services'],
    ['unpause', 'Unpause services'],
  ] as const) {
    compose
      .command(verb)
      .description(about)
      .argument('[SERVICE...]')
      .action(
        action(async (services: string[]) => {
          const s = await session();
          await s.engine.pause({ services, unpause: verb === 'unpause' });
          s.progress.flush();
        }),
      );
  }
  compose
    .command('rm')
    .description('Removes stopped service containers')
    .argument('[SERVICE...]')
    .option('-f, --force', "Don't ask to confirm removal")
    .option('-s, --stop', 'Stop the containers, if required, before removing')
    .option('-v, --volumes', 'Remove any anonymous volumes attached to containers')
    .action(
      action(async (services: string[], o: { force?: boolean; stop?: boolean; volumes?: boolean }) => {
        const s = await session({ title: 'Removing' });
        const confirm = o.force
          ? undefined
          : async (names: string[]) => {
              process.stdout.write(`Going to remove ${names.join(', ')}\n`);
              const { askYesNo } = await import('../commands/common.js');
              return askYesNo('Are you sure? [yN] ');
            };
        await s.engine.remove({ services, stop: o.stop, volumes: o.volumes }, confirm);
        s.progress.flush();
      }),
    );
  compose
    .command('down')
    .description('Stop and remove containers, networks')
    .argument('[SERVICES...]')
    .option('--remove-orphans', 'Remove containers for services not defined in the Compose file')
    .addOption(new Option('--rmi <type>', 'Remove images used by services. "local" remove only images that don\'t have a custom tag').choices(['local', 'all']))
    .option('-t, --timeout <int>', 'Specify a shutdown timeout in seconds')
    .option('-v, --volumes', 'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers')
    .action(
      action(async (_services: string[], o: { removeOrphans?: boolean; rmi?: 'local' | 'all'; timeout?: string; volumes?: boolean }) => {
        const s = await session({ title: 'Running' });
        await s.engine.down({ removeOrphans: o.removeOrphans, rmi: o.rmi, volumes: o.volumes, timeout: timeoutOf(o) });
        s.progress.flush();
      }),
    );

  // ---- ps, ls, images, top, port, logs, events ---------------------------------------------------------------

  compose
    .command('ps')
    .description('List containers')
    .argument('[SERVICE...]')
    .option('-a, --all', 'Show all stopped containers (including those created by the run command)')
    .option('-q, --quiet', 'Only display IDs')
    .option('--services', 'Display services')
    .option('--status <status>', 'Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]', collect, [])
    .option('--filter <string>', 'Filter services by a property (supported filters: status)')
    .option('--format <string>', 'Format output using a custom template', 'table')
    .option('--no-trunc', "Don't truncate output")
    .action(
      action(async (services: string[], o: { all?: boolean; quiet?: boolean; services?: boolean; status: string[]; filter?: string; format: string; trunc: boolean }) => {
        const s = await session();
        const status = [...o.status, ...(o.filter?.startsWith('status=') ? [o.filter.slice(7)] : [])];
        const list = (await s.engine.containers({ all: o.all || status.length > 0, services, oneoff: o.all ? 'include' : 'exclude' })).filter(
          (c) => !status.length || status.includes(c.state),
        );
        if (o.services) {
          for (const name of [...new Set(list.map((c) => c.service))]) process.stdout.write(`${name}\n`);
          return;
        }
        if (o.format === 'json') {
          for (const c of list) process.stdout.write(`${JSON.stringify(psJson(s.project.name, c))}\n`);
          return;
        }
        const [{ printList }, { containerRow }] = await tables();
        printList(
          cli,
          list.map((c) => ({ ...containerRow(c.summary, o.trunc), Name: c.name, Service: c.service, Project: s.project.name })),
          {
            format: o.format === 'table' ? undefined : o.format,
            quiet: o.quiet,
            quietField: 'ID',
            defaultTable: 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}',
            headers: { Name: 'NAME', RunningFor: 'CREATED' },
          },
        );
      }),
    );

  compose
    .command('ls')
    .description('List running compose projects')
    .option('-a, --all', 'Show all stopped Compose projects')
    .option('-q, --quiet', 'Only display project names')
    .option('--format <string>', 'Format the output. Values: [table | json]', 'table')
    .option('--filter <filter>', 'Filter output based on conditions provided')
    .action(
      action(async (o: { all?: boolean; quiet?: boolean; format: string; filter?: string }) => {
        let projects = await listProjects(cli.client(), !!o.all);
        if (o.filter?.startsWith('name=')) projects = projects.filter((p) => p.name.includes(o.filter!.slice(5)));
        if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(projects.map((p) => ({ Name: p.name, Status: p.status, ConfigFiles: p.configFiles })))}\n`);
        const [{ printList }] = await tables();
        printList(
          cli,
          projects.map((p) => ({ Name: p.name, Status: p.status, ConfigFiles: p.configFiles })),
          { quiet: o.quiet, quietField: 'Name', defaultTable: 'table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}', headers: { ConfigFiles: 'CONFIG FILES' } },
        );
      }),
    );

  compose
    .command('images')
    .description('List images used by the created containers')
    .argument('[SERVICE...]')
    .option('-q, --quiet', 'Only display IDs')
    .option('--format <string>', 'Format the output. Values: [table | json]', 'table')
    .action(
      action(async (services: string[], o: { quiet?: boolean; format: string }) => {
        const s = await session();
        const list = await s.engine.containers({ all: true, services });
        const [{ printList }, , { humanSize }] = await tables();
        const rows = await Promise.all(
          list.map(async (c) => {
            const image = await cli.client().json<{ Id: string; RepoTags?: string[]; Size: number }>('GET', `/images/${c.summary.ImageID ?? c.summary.Image}/json`);
            const tag = image.RepoTags?.[0] ?? '<none>:<none>';
            const i = tag.lastIndexOf(':');
            return { Container: c.name, Repository: tag.slice(0, i), Tag: tag.slice(i + 1), ID: image.Id.replace(/^sha256:/, '').slice(0, 12), Size: humanSize(image.Size) };
          }),
        );
        if (o.format === 'json') return void process.stdout.write(`${JSON.stringify(rows)}\n`);
        if (o.quiet) return void process.stdout.write([...new Set(rows.map((r) => r.ID))].map((id) => `${id}\n`).join(''));
        printList(cli, rows, {
          quietField: 'ID',
          defaultTable: 'table {{.Container}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}',
          headers: { ID: 'IMAGE ID' },
        });
      }),
    );

  compose
    .command('top')
    .description('Display the running processes')
    .argument('[SERVICES...]')
    .action(
      action(async (services: string[]) => {
        const s = await session();
        for (const c of await s.engine.containers({ services })) {
          const top = await cli.client().json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${c.id}/top`);
          const table = [top.Titles, ...top.Processes];
          const widths = top.Titles.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
          process.stdout.write(`${c.name}\n${table.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('   ')).join('\n')}\n\n`);
        }
      }),
    );

  compose
    .command('port')
    .description('Print the public port for a port binding')
    .argument('<SERVICE>')
    .argument('<PRIVATE_PORT>')
    .option('--index <int>', 'Index of the container if service has multiple replicas', '1')
    .option('--protocol <string>', 'tcp or udp', 'tcp')
    .action(
      action(async (service: string, port: string, o: { index: string; protocol: string }) => {
        const s = await session();
        const c = await serviceContainer(s, service, Number(o.index));
        const info = await cli.client().json<{ NetworkSettings: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> } }>('GET', `/containers/${c.id}/json`);
        const binding = info.NetworkSettings.Ports?.[`${port}/${o.protocol}`]?.[0];
        if (!binding) throw new ComposeError(`no port ${port}/${o.protocol} for container ${c.name}: port is not published`);
        process.stdout.write(`${binding.HostIp || '0.0.0.0'}:${binding.HostPort}\n`);
      }),
    );

  compose
    .command('logs')
    .description('View output from containers')
    .argument('[SERVICE...]')
    .option('-f, --follow', 'Follow log output')
    .option('-n, --tail <string>', 'Number of lines to show from the end of the logs for each container', 'all')
    .option('-t, --timestamps', 'Show timestamps')
    .option('--since <string>', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)')
    .option('--until <string>', 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)')
    .option('--no-color', 'Produce monochrome output')
    .option('--no-log-prefix', "Don't print prefix in logs")
    .option('--index <int>', 'index of the container if service has multiple replicas')
    .action(
      action(async (services: string[], o: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string; color: boolean; logPrefix: boolean; index?: string }) => {
        const s = await session();
        const list = (await s.engine.containers({ all: true, services, oneoff: 'include' })).filter((c) => !o.index || c.number === Number(o.index));
        const label = (c: ProjectContainer) => (c.name.startsWith(`${s.project.name}-`) ? c.name.slice(s.project.name.length + 1) : c.name);
        const logs = new LogPrinter({ color: s.color && o.color !== false, prefix: o.logPrefix !== false }, list.map(label));
        await Promise.all(
          list.map(async (c) => {
            const info = await cli.client().json<{ Config: { Tty: boolean } }>('GET', `/containers/${c.id}/json`);
            const res = await cli.client().call('GET', `/containers/${c.id}/logs`, {
              query: { stdout: true, stderr: true, follow: o.follow, tail: o.tail, timestamps: o.timestamps, since: o.since, until: o.until },
            });
            await pipeContainerStream(res, info.Config.Tty, logs.writer(label(c)), logs.writer(label(c), process.stderr));
          }),
        );
      }),
    );

  compose
    .command('events')
    .description('Receive real time events from containers')
    .argument('[SERVICE...]')
    .option('--json', 'Output events as a stream of json objects')
    .option('--since <string>', 'Show all events created since timestamp')
    .option('--until <string>', 'Stream events until this timestamp')
    .action(
      action(async (services: string[], o: { json?: boolean; since?: string; until?: string }) => {
        const s = await session();
        const res = await cli.client().call('GET', '/events', {
          query: { since: o.since, until: o.until, filters: JSON.stringify({ type: ['container'], label: [`${Label.project}=${s.project.name}`] }) },
        });
        await cli.client().messages(res, (m) => {
          const attrs = ((m['Actor'] as { Attributes?: Record<string, string> } | undefined)?.Attributes ?? {}) as Record<string, string>;
          const service = attrs[Label.service] ?? '';
          if (services.length && !services.includes(service)) return;
          const nanos = Number(m['timeNano'] ?? 0);
          const time = new Date(nanos / 1e6);
          const id = String((m['Actor'] as { ID?: string } | undefined)?.ID ?? m['id'] ?? '');
          const event = { time: time.toISOString(), type: 'container', action: String(m['Action'] ?? m['status'] ?? ''), id, service, attributes: attrs };
          if (o.json) process.stdout.write(`${JSON.stringify(event)}\n`);
          else {
            const shown = Object.entries({ image: attrs['image'] ?? '', name: attrs['name'] ?? '' }).map(([k, v]) => `${k}=${v}`);
            process.stdout.write(`${time.toISOString().replace('T', ' ').replace('Z', '')} container ${event.action} ${id} (${shown.join(', ')})\n`);
          }
        });
      }),
    );

  // ---- exec, run, cp -------------------------------------------------------------------------------------

  const serviceContainer = async (s: Session, service: string, index = 1): Promise<ProjectContainer> => {
    s.engine.services([service]);
    const list = await s.engine.containers({ services: [service] });
    const c = list.find((x) => x.number === index) ?? (index === 1 ? list[0] : undefined);
    if (!c) throw new ComposeError(`service "${service}" is not running`);
    return c;
  };

  compose
    .command('exec')
    .description('Execute a command in a running container')
    .argument('<SERVICE>')
    .argument('<COMMAND...>')
    .option('-d, --detach', 'Detached mode: Run command in the background')
    .option('-e, --env <stringArray>', 'Set environment variables', collect, [])
    .option('--index <int>', 'Index of the container if service has multiple replicas', '1')
    .option('-T, --no-TTY', 'Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY.')
    .option('--privileged', 'Give extended privileges to the process')
    .option('-u, --user <string>', 'Run the command as this user')
    .option('-w, --workdir <string>', 'Path to workdir directory for this command')
    .option('-i, --interactive', 'Keep STDIN open even if not attached (default true)')
    .passThroughOptions()
    .action(
      action(async (service: string, command: string[], o: { detach?: boolean; env: string[]; index: string; TTY: boolean; privileged?: boolean; user?: string; workdir?: string }) => {
        const s = await session();
        const c = await serviceContainer(s, service, Number(o.index));
        const tty = o.TTY !== false && process.stdin.isTTY === true;
        const client = cli.client();
        const { Id: id } = await client.json<{ Id: string }>('POST', `/containers/${c.id}/exec`, {
          body: {
            Cmd: command,
            Env: o.env,
            Tty: tty,
            AttachStdin: !o.detach,
            AttachStdout: !o.detach,
            AttachStderr: !o.detach,
            Privileged: !!o.privileged,
            ...(o.user && { User: o.user }),
            ...(o.workdir && { WorkingDir: o.workdir }),
          },
        });
        if (o.detach) return client.do('POST', `/exec/${id}/start`, { body: { Detach: true, Tty: tty } });
        const socket = await client.hijack('POST', `/exec/${id}/start`, { body: { Detach: false, Tty: tty, ...(tty && { ConsoleSize: [process.stdout.rows, process.stdout.columns] }) } });
        const resize = (h: number, w: number) => client.do('POST', `/exec/${id}/resize`, { query: { h: String(h), w: String(w) } });
        const { holdSession, sendTerminalSize } = await import('../commands/interactive.js');
        const done = holdSession(socket, { tty, stdin: true, resize });
        if (tty) await sendTerminalSize(resize);
        await done;
        const r = await client.json<{ ExitCode: number | null }>('GET', `/exec/${id}/json`);
        if (r.ExitCode) throw new CliError('', r.ExitCode);
      }),
    );

  interface RunFlags {
    detach?: boolean;
    rm?: boolean;
    name?: string;
    entrypoint?: string;
    env: string[];
    label: string[];
    user?: string;
    workdir?: string;
    publish: string[];
    servicePorts?: boolean;
    deps: boolean;
    TTY: boolean;
    volume: string[];
    interactive: boolean;
    build?: boolean;
    pull?: 'always' | 'missing' | 'never';
    removeOrphans?: boolean;
    useAliases?: boolean;
    quietPull?: boolean;
  }
  compose
    .command('run')
    .description('Run a one-off command on a service')
    .argument('<SERVICE>')
    .argument('[COMMAND...]')
    .option('-d, --detach', 'Run container in background and print container ID')
    .option('--rm', 'Automatically remove the container when it exits')
    .option('--name <string>', 'Assign a name to the container')
    .option('--entrypoint <string>', 'Override the entrypoint of the image')
    .option('-e, --env <stringArray>', 'Set environment variables', collect, [])
    .option('-l, --label <stringArray>', 'Add or override a label', collect, [])
    .option('-u, --user <string>', 'Run as specified username or uid')
    .option('-w, --workdir <string>', 'Working directory inside the container')
    .option('-p, --publish <stringArray>', "Publish a container's port(s) to the host", collect, [])
    .option('-P, --service-ports', "Run command with all service's ports enabled and mapped to the host")
    .option('--no-deps', "Don't start linked services")
    .option('-T, --no-TTY', 'Disable pseudo-TTY allocation (default: auto-detected)')
    .option('-v, --volume <stringArray>', 'Bind mount a volume', collect, [])
    .option('-i, --interactive', 'Keep STDIN open even if not attached', true)
    .option('--build', 'Build image before starting container')
    .addOption(new Option('--pull <policy>', 'Pull image before running').choices(['always', 'missing', 'never']))
    .option('--remove-orphans', 'Remove containers for services not defined in the Compose file')
    .option('--use-aliases', "Use the service's network useAliases in the network(s) the container connects to")
    .option('--quiet-pull', 'Pull without printing progress information')
    .passThroughOptions()
    .action(
      action(async (service: string, command: string[], o: RunFlags) => {
        const s = await session();
        const tty = o.TTY !== false && process.stdin.isTTY === true && !o.detach;
        const stdin = !o.detach && o.interactive !== false;
        const env = Object.fromEntries(
          o.env.map((e) => {
            const i = e.indexOf('=');
            return i < 0 ? [e, process.env[e] ?? ''] : [e.slice(0, i), e.slice(i + 1)];
          }),
        );
        const labels = Object.fromEntries(o.label.map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')]));
        const c = await s.engine.createOneoff(service, {
          command: command.length ? command : undefined,
          entrypoint: o.entrypoint === undefined ? undefined : o.entrypoint ? [o.entrypoint] : [],
          environment: env,
          labels,
          user: o.user,
          workdir: o.workdir,
          tty,
          stdin,
          ports: !!o.servicePorts,
          extraPorts: o.publish,
          volumes: o.volume,
          name: o.name,
          noDeps: o.deps === false,
          build: o.build,
          pull: o.pull,
          removeOrphans: o.removeOrphans,
          autoRemove: !!o.rm,
        });
        s.progress.flush();
        if (o.detach) {
          await cli.client().do('POST', `/containers/${c.id}/start`);
          process.stdout.write(`${c.name}\n`);
          return;
        }
        const { attachAndStart } = await import('../commands/container.js');
        await attachAndStart(cli, c.id, { tty, stdin, stdout: true, stderr: true, removed: !!o.rm, sigProxy: true });
      }),
    );

  compose
    .command('cp')
    .description('Copy files/folders between a service container and the local filesystem')
    .argument('<SRC>', 'SERVICE:SRC_PATH | SRC_PATH')
    .argument('<DEST>', 'DEST_PATH | SERVICE:DEST_PATH')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option('--index <int>', 'Index of the container if service has multiple replicas', '1')
    .action(
      action(async (src: string, dest: string, o: { archive?: boolean; followLink?: boolean; index: string }) => {
        const s = await session();
        const swap = async (arg: string) => {
          const colon = arg.indexOf(':');
          if (arg.startsWith('/') || arg.startsWith('.') || colon <= 0) return arg;
          const c = await serviceContainer(s, arg.slice(0, colon), Number(o.index));
          return `${c.id}:${arg.slice(colon + 1)}`;
        };
        const { copy } = await import('../commands/cp.js');
        await copy(cli, await swap(src), await swap(dest), { archive: o.archive, followLink: o.followLink, quiet: true });
      }),
    );

  // ---- build, pull, push, config, version ---------------------------------------------------------------------

  compose
    .command('build')
    .description('Build or rebuild services')
    .argument('[SERVICE...]')
    .option('--build-arg <stringArray>', 'Set build-time variables for services', collect, [])
    .option('--no-cache', 'Do not use cache when building the image')
    .option('--pull', 'Always attempt to pull a newer version of the image')
    .option('-q, --quiet', "Don't print anything to STDOUT")
    .action(
      action(async (services: string[], o: { buildArg: string[]; cache: boolean; pull?: boolean; quiet?: boolean }) => {
        const s = await session();
        const args = Object.fromEntries(o.buildArg.map((a) => [a.split('=')[0], a.includes('=') ? a.slice(a.indexOf('=') + 1) : (process.env[a] ?? null)]));
        for (const svc of s.engine.services(services, true)) {
          if (!svc.build) continue;
          await buildService(cli, s.progress, { ...svc, build: { ...svc.build, args: { ...svc.build.args, ...args } } }, svc.image ?? `${s.project.name}-${svc.name}`, {
            noCache: o.cache === false,
            pull: o.pull,
            quiet: o.quiet,
          });
        }
      }),
    );

  compose
    .command('pull')
    .description('Pull service images')
    .argument('[SERVICE...]')
    .option('-q, --quiet', 'Pull without printing progress information')
    .option('--ignore-pull-failures', 'Pull what it can and ignores images with pull failures')
    .option('--ignore-buildable', 'Ignore images that can be built')
    .option('--include-deps', 'Also pull services declared as dependencies')
    .action(
      action(async (services: string[], o: { quiet?: boolean; ignorePullFailures?: boolean; ignoreBuildable?: boolean; includeDeps?: boolean }) => {
        const s = await session({ title: 'Pulling' });
        for (const svc of s.engine.services(services, !o.includeDeps)) {
          if (!svc.image || (svc.build && o.ignoreBuildable) || svc.pull_policy === 'build') continue;
          s.progress.report('Service', svc.name, 'Pulling');
          s.progress.flush();
          try {
            await (await registry()).pullImage(cli, parseReference(svc.image), { quiet: true, platform: svc.platform });
            s.progress.report('Service', svc.name, 'Pulled');
          } catch (e) {
            // a service that builds may not be in any registry yet: Compose warns and goes on
            const skip = o.ignorePullFailures || !!svc.build;
            s.progress.report('Service', svc.name, skip ? 'Skipped' : 'Error', !skip);
            if (!skip) throw e;
            warn(`${svc.name}: ${(e as Error).message}`);
          }
        }
        s.progress.flush();
      }),
    );

  compose
    .command('push')
    .description('Push service images')
    .argument('[SERVICE...]')
    .option('--ignore-push-failures', 'Push what it can and ignores images with push failures')
    .option('-q, --quiet', 'Push without printing progress information')
    .action(
      action(async (services: string[], o: { ignorePushFailures?: boolean; quiet?: boolean }) => {
        const s = await session({ title: 'Pushing' });
        for (const svc of s.engine.services(services, true)) {
          if (!svc.image || !svc.build) continue;
          s.progress.report('Service', svc.name, 'Pushing');
          s.progress.flush();
          try {
            await (await registry()).pushImage(cli, parseReference(svc.image), { quiet: o.quiet || !process.stdout.isTTY });
            s.progress.report('Service', svc.name, 'Pushed');
          } catch (e) {
            s.progress.report('Service', svc.name, 'Error', true);
            if (!o.ignorePushFailures) throw e;
            warn(`${svc.name}: ${(e as Error).message}`);
          }
        }
        s.progress.flush();
      }),
    );

  compose
    .command('config')
    .alias('convert')
    .description('Parse, resolve and render compose file in canonical format')
    .argument('[SERVICE...]')
    .option('--format <string>', 'Format the output. Values: [yaml | json]', 'yaml')
    .option('-q, --quiet', 'Only validate the configuration, don\'t print anything')
    .option('--services', 'Print the service names, one per line')
    .option('--volumes', 'Print the volume names, one per line')
    .option('--networks', 'Print the network names, one per line')
    .option('--profiles', 'Print the profile names, one per line')
    .option('--images', 'Print the image names, one per line')
    .option('--hash <string>', 'Print the service config hash, one per line')
    .option('-o, --output <string>', 'Save to file (default to stdout)')
    .action(
      action(async (services: string[], o: { format: string; quiet?: boolean; services?: boolean; volumes?: boolean; networks?: boolean; profiles?: boolean; images?: boolean; hash?: string; output?: string }) => {
        const project = await loadProject(loadOptions());
        if (services.length) {
          const keep = new Set(services);
          for (const n of Object.keys(project.services)) if (!keep.has(n)) delete project.services[n];
        }
        const lines = (xs: string[]) => xs.map((x) => `${x}\n`).join('');
        let text: string;
        if (o.quiet) return;
        else if (o.services) text = lines(Object.keys(project.services).sort());
        else if (o.volumes) text = lines(Object.keys(project.volumes).sort());
        else if (o.networks) text = lines(Object.keys(project.networks).sort());
        else if (o.profiles) text = lines([...new Set([...Object.values(project.services), ...Object.values(project.disabledServices)].flatMap((x) => x.profiles ?? []))].sort());
        else if (o.images) text = lines(Object.values(project.services).map((x) => x.image ?? `${project.name}-${x.name}`));
        else if (o.hash) {
          const names = o.hash === '*' ? Object.keys(project.services).sort() : o.hash.split(',');
          text = lines(
            names.map((n) => {
              const svc = project.services[n];
              if (!svc) throw new ComposeError(`no such service: ${n}`);
              return `${n} ${serviceHash(svc)}`;
            }),
          );
        } else text = o.format === 'json' ? projectToJson(project) : projectToYaml(project);
        if (o.output) await writeFile(o.output, text);
        else process.stdout.write(text);
      }),
    );

  compose
    .command('version')
    .description('Show the Docker Compose version information')
    .option('--short', 'Shows only Compose\'s version number')
    .option('-f, --format <string>', 'Format the output. Values: [pretty | json]')
    .action((o: { short?: boolean; format?: string }) => {
      if (o.short) process.stdout.write(`${composeVersion}\n`);
      else if (o.format === 'json') process.stdout.write(`${JSON.stringify({ version: `v${composeVersion}` })}\n`);
      else process.stdout.write(`Docker Compose version v${composeVersion}\n`);
    });

  for (const c of compose.commands) c.exitOverride().helpOption('--help', 'Print usage');
}

/** A service's image built through the classic builder, as `docker compose build` drives it without BuildKit. */
async function buildService(cli: Cli, progress: ProgressPrinter, service: Project['services'][string], tag: string, o: { noCache?: boolean; pull?: boolean; quiet?: boolean }): Promise<void> {
  const b = service.build;
  if (!b) return;
  if (/^[a-z]+:\/\//.test(b.context) || b.context.startsWith('git@')) throw new ComposeError(`service "${service.name}": remote build contexts are not supported (${b.context})`);
  progress.report('Service', service.name, 'Building');
  progress.flush();
  const flags: BuildFlags = {
    tag: [tag, ...(b.tags ?? [])],
    file: b.dockerfile_inline === undefined && b.dockerfile ? (b.dockerfile.startsWith('/') ? b.dockerfile : `${b.context}/${b.dockerfile}`) : undefined,
    buildArg: Object.entries(b.args ?? {}).flatMap(([k, v]) => (v === null ? [k] : [`${k}=${v}`])),
    target: b.target,
    cache: !(o.noCache || b.no_cache),
    pull: o.pull || b.pull,
    label: Object.entries(b.labels ?? {}).map(([k, v]) => `${k}=${v}`),
    quiet: o.quiet,
    network: b.network,
    rm: true,
    cacheFrom: b.cache_from ?? [],
    addHost: b.extra_hosts ?? [],
    shmSize: b.shm_size,
    securityOpt: [],
    ulimit: [],
  };
  try {
    await (await import('../commands/build-run.js')).runBuild(cli, 'build', b.context, flags, b.dockerfile_inline);
  } catch (e) {
    progress.report('Service', service.name, 'Error', true);
    if (e instanceof CliError) throw new ComposeError(`failed to solve: ${e.message || 'build failed'}`, e.exitCode || 1);
    throw e;
  }
  progress.report('Service', service.name, 'Built');
}

/** One line of `compose ps --format json`, with Compose v2's field names. */
function psJson(project: string, c: ProjectContainer) {
  const sum: ContainerSummary = c.summary;
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(sum.Status)?.[1]?.replace('health: ', '') ?? '';
  return {
    Command: sum.Command,
    CreatedAt: new Date(sum.Created * 1000).toISOString(),
    ExitCode: Number(/Exited \((\d+)\)/.exec(sum.Status)?.[1] ?? 0),
    Health: health,
    ID: sum.Id,
    Image: sum.Image,
    Labels: Object.entries(sum.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    Name: c.name,
    Names: c.name,
    Project: project,
    Publishers: (sum.Ports ?? []).map((p) => ({ URL: p.IP ?? '', TargetPort: p.PrivatePort, PublishedPort: p.PublicPort ?? 0, Protocol: p.Type })),
    RunningFor: timeAgo(new Date(sum.Created * 1000)),
    Service: c.service,
    State: c.state,
    Status: sum.Status,
  };
}
