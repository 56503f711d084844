// `build` (also `image build`, `builder build`) and `builder prune`: docker 28's classic builder's flags, as
// commander parses them; what a build does is build-run.ts's.
import { type Command, Option } from 'commander';
import { type Cli, CliError, ExitCode } from '../context.js';
import { humanSize4, parseBytes } from '../format/units.js';
import { quote } from '../format/gofmt.js';
import { type BuildFlags, USAGE, runBuild } from './build-run.js';
import { askYesNo, collect, filtersQuery } from './common.js';

export type { BuildFlags } from './build-run.js';

export function registerBuildCommands(program: Command, image: Command, builder: Command, cli: Cli): void {
  const build = (cmd: Command, command: string) =>
    cmd
      .argument('[PATH | URL | -...]')
      .option('--add-host <list>', 'Add a custom host-to-IP mapping ("host:ip")', collect, [])
      .option('--build-arg <list>', 'Set build-time variables', collect, [])
      .option('--cache-from <strings>', 'Images to consider as cache sources', collect, [])
      .option('--cgroup-parent <string>', 'Set the parent cgroup for the "RUN" instructions during build')
      .option('--compress', 'Compress the build context using gzip')
      .option('--cpu-period <int>', 'Limit the CPU CFS (Completely Fair Scheduler) period')
      .option('--cpu-quota <int>', 'Limit the CPU CFS (Completely Fair Scheduler) quota')
      .option('-c, --cpu-shares <int>', 'CPU shares (relative weight)')
      .option('--cpuset-cpus <string>', 'CPUs in which to allow execution (0-3, 0,1)')
      .option('--cpuset-mems <string>', 'MEMs in which to allow execution (0-3, 0,1)')
      .addOption(new Option('--disable-content-trust', 'Skip image verification (default true)').hideHelp())
      .option('-f, --file <string>', 'Name of the Dockerfile (Default is "PATH/Dockerfile")')
      .option('--force-rm', 'Always remove intermediate containers')
      .option('--iidfile <string>', 'Write the image ID to the file')
      .option('--isolation <string>', 'Container isolation technology')
      .option('--label <list>', 'Set metadata for an image', collect, [])
      .option('-m, --memory <bytes>', 'Memory limit')
      .option('--memory-swap <bytes>', 'Swap limit equal to memory plus swap: -1 to enable unlimited swap')
      .option('--network <string>', 'Set the networking mode for the RUN instructions during build (default "default")')
      .option('--no-cache', 'Do not use cache when building the image')
      .option('--platform <string>', 'Set platform if server is multi-platform capable')
      .option('--pull', 'Always attempt to pull a newer version of the image')
      .option('-q, --quiet', 'Suppress the build output and print image ID on success')
      .option('--rm', 'Remove intermediate containers after a successful build (default true)', true)
      .addOption(new Option('--no-rm').hideHelp()) // what `--rm=false` becomes
      .option('--security-opt <strings>', 'Security options', collect, [])
      .option('--shm-size <bytes>', 'Size of "/dev/shm"')
      .option('--squash', 'Squash newly built layers into a single new layer')
      .option('-t, --tag <list>', 'Name and optionally a tag in the "name:tag" format', collect, [])
      .option('--target <string>', 'Set the target build stage to build.')
      .option('--ulimit <ulimit>', 'Ulimit options (default [])', collect, [])
      .action(async (args: string[], o: BuildFlags) => {
        if (args.length !== 1) {
          throw new CliError(`berth: 'berth ${command}' requires 1 argument\n\nUsage:  berth ${command} ${USAGE}\n\nRun 'berth ${command} --help' for more information`);
        }
        await runBuild(cli, command, args[0]!, o);
      });
  const about = 'Build an image from a Dockerfile';
  build(program.command('build').description(about), 'build');
  build(image.command('build').description(about), 'image build');
  build(builder.command('build').description(about), 'builder build');

  builder
    .command('prune')
    .description('Remove build cache')
    .option('-a, --all', 'Remove all unused build cache, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=24h")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--keep-storage <bytes>', 'Amount of disk space to keep for cache')
    .action(async (o: { all?: boolean; filter: string[]; force?: boolean; keepStorage?: string }) => {
      let keep: number | undefined;
      if (o.keepStorage !== undefined) {
        try {
          keep = parseBytes(o.keepStorage);
        } catch (e) {
          throw new CliError(
            `invalid argument ${quote(o.keepStorage)} for "--keep-storage" flag: ${(e as Error).message}\n\nUsage:  berth builder prune\n\nRun 'berth builder prune --help' for more information`,
            ExitCode.Usage,
          );
        }
      }
      const warning = o.all
        ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
        : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
      if (!o.force && !(await askYesNo(`${warning} [y/N] `))) return;
      const r = await cli.client().json<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/build/prune', {
        query: { all: o.all, filters: filtersQuery(o.filter), 'keep-storage': keep || undefined },
      });
      if (r.CachesDeleted?.length) cli.out(`Deleted build cache objects:\n${r.CachesDeleted.join('\n')}\n\n`);
      cli.out(`Total reclaimed space: ${humanSize4(r.SpaceReclaimed ?? 0)}`);
    });
}
