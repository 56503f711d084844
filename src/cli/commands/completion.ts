import type { Command, Option } from 'commander';
import { type Cli, CliError, ExitCode } from '../context.js';

/**
 * Shell completion as `docker completion` gives it: a script per shell that asks the CLI itself, through the
 * hidden `__complete` command (cobra's protocol: one candidate per line, then `:<directive>`), for the commands,
 * flags and live names (containers, images, networks, volumes) that fit the words typed so far.
 */
export function registerCompletionCommands(program: Command, cli: Cli): void {
  program
    .command('completion')
    .description('Generate the autocompletion script for the specified shell')
    .argument('<shell>', 'bash, zsh or fish')
    .action((shell: string) => {
      const script = scripts[shell];
      if (!script) throw new CliError(`unsupported shell: ${shell} (bash, zsh or fish)`, ExitCode.Usage);
      cli.out(script);
    });
  program
    .command('__complete', { hidden: true })
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .argument('[words...]')
    .action(async (words: string[]) => {
      const candidates = await complete(program, cli, words);
      cli.out([...candidates, `:${NoFileCompletion}`].join('\n'));
    });
}

/** cobra's ShellCompDirectiveNoFileComp: the shell offers no file names instead. */
const NoFileCompletion = 4;

/** Which live objects a command's operands name. */
const operandKinds: Array<[RegExp, 'containers' | 'images' | 'networks' | 'volumes']> = [
  [/^(container )?(start|stop|restart|kill|rm|logs|exec|attach|top|port|rename|pause|unpause|wait|update|diff|export|commit|stats|inspect)$/, 'containers'],
  [/^(image (rm|inspect|history|tag|save)|rmi|history|tag|save|run|create|push)$/, 'images'],
  [/^network (rm|inspect|connect|disconnect)$/, 'networks'],
  [/^volume (rm|inspect)$/, 'volumes'],
];

/** The candidates for the last word (possibly empty) after `words` before it. */
export async function complete(program: Command, cli: Cli, words: string[]): Promise<string[]> {
  const current = words.at(-1) ?? '';
  let cmd = program;
  const path: string[] = [];
  let operands = 0;
  for (let i = 0; i < words.length - 1; i++) {
    const w = words[i] as string;
    if (w.startsWith('-')) {
      // A flag taking a value swallows the next word (unless given as --flag=value).
      const option = findOption(cmd, w.split('=')[0] as string);
      if (option?.required && !w.includes('=') && !/^-[^-]./.test(w)) i++;
      continue;
    }
    const sub = operands === 0 ? cmd.commands.find((c) => c.name() === w || c.aliases().includes(w)) : undefined;
    if (sub) {
      cmd = sub;
      path.push(sub.name());
    } else operands++;
  }
  const visible = (c: Command) => !(c as unknown as { _hidden?: boolean })._hidden;
  if (current.startsWith('-')) {
    return cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => !!f && f.startsWith(current)).sort();
  }
  if (cmd.commands.length && operands === 0) {
    return cmd.commands.filter(visible).map((c) => c.name()).filter((n) => n.startsWith(current)).sort();
  }
  const kind = operandKinds.find(([re]) => re.test(path.join(' ')))?.[1];
  if (!kind || (kind === 'images' && /^(run|create)$/.test(path.at(-1) ?? '') && operands > 0)) return [];
  return (await liveNames(cli, kind)).filter((n) => n.startsWith(current)).sort();
}

function findOption(cmd: Command, flag: string): Option | undefined {
  return cmd.options.find((o) => o.long === flag || o.short === flag);
}

/** Names of live objects; none when the daemon cannot be asked (completion must never fail loudly). */
async function liveNames(cli: Cli, kind: 'containers' | 'images' | 'networks' | 'volumes'): Promise<string[]> {
  try {
    const c = cli.client();
    switch (kind) {
      case 'containers':
        return (await c.json<Array<{ Names: string[] }>>('GET', '/containers/json', { query: { all: true } })).flatMap((x) => x.Names.map((n) => n.replace(/^\//, '')));
      case 'images':
        return (await c.json<Array<{ RepoTags: string[] | null }>>('GET', '/images/json')).flatMap((x) => x.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
      case 'networks':
        return (await c.json<Array<{ Name: string }>>('GET', '/networks')).map((n) => n.Name);
      case 'volumes':
        return ((await c.json<{ Volumes: Array<{ Name: string }> | null }>('GET', '/volumes')).Volumes ?? []).map((v) => v.Name);
    }
  } catch {
    return [];
  }
}

// The scripts are Berth's own, on cobra's `__complete` protocol: the CLI answers, the shell only relays.
const bash = `# bash completion for berth                                  -*- shell-script -*-
_berth() {
  local cur words out directive
  cur="\${COMP_WORDS[COMP_CWORD]}"
  words=("\${COMP_WORDS[@]:1:COMP_CWORD}")
  [ "\${#words[@]}" -eq 0 ] && words=("")
  out=$("\${COMP_WORDS[0]}" __complete "\${words[@]}" 2>/dev/null) || return
  directive="\${out##*:}"
  out="\${out%:*}"
  COMPREPLY=()
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$out" -- "$cur"))
  if [ \${#COMPREPLY[@]} -eq 0 ] && [ $((directive & 4)) -eq 0 ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o default -F _berth berth
`;

const zsh = `#compdef berth
# zsh completion for berth
_berth() {
  local -a lines candidates
  local out directive
  out=$(\${words[1]} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive=\${lines[-1]#:}
  candidates=("\${(@)lines[1,-2]}")
  if (( \${#candidates} )); then
    compadd -- "\${(@)candidates}"
  elif (( (directive & 4) == 0 )); then
    _files
  fi
}
compdef _berth berth
`;

const fish = `# fish completion for berth
function __berth_complete
  set -l args (commandline -opc)[2..-1] (commandline -ct)
  for line in (berth __complete $args 2>/dev/null)
    string match -q -r '^:' -- $line; or echo $line
  end
end
complete -c berth -f -a '(__berth_complete)'
`;

const scripts: Record<string, string> = { bash, zsh, fish };
