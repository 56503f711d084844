// `commit`: its own file rather than one shared with `cp`: the two have nothing in common but moving files, and
// `cp` brings the local archive code (../copy-archive.ts) that `commit` does not need.
import { type Command, Option } from 'commander';
import type { Cli } from '../context.js';
import { collect, splitRepoTag } from './common.js';

interface CommitFlags {
  author?: string;
  change: string[];
  message?: string;
  pause: boolean;
}

export function registerCommitCommand(program: Command, container: Command, cli: Cli): void {
  const commit = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .argument('[REPOSITORY[:TAG]]')
      .option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
      .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect, [])
      .option('-m, --message <string>', 'Commit message')
      .option('-p, --pause', 'Pause container during commit', true)
      .addOption(new Option('--no-pause').hideHelp()) // what `--pause=false` becomes
      .action(async (name: string, reference: string | undefined, o: CommitFlags) => {
        const { repo, tag } = reference ? splitRepoTag(reference) : { repo: undefined, tag: undefined };
        const r = await cli.client().json<{ Id: string }>('POST', '/commit', {
          query: { container: name, repo, tag, comment: o.message, author: o.author, changes: o.change, pause: o.pause ? undefined : '0' },
        });
        cli.out(r.Id);
      });
  const about = "Create a new image from a container's changes";
  commit(program.command('commit').description(about));
  commit(container.command('commit').description(about));
}
