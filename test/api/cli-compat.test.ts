// The berth CLI against the real docker CLI on the same daemon: what each prints (stdout and stderr) and its exit
// code, for ps's fields and formats, port, inspect (--size, templates, missing keys), and the
// errors of start, rename, create and run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { naturalLess } from '../../src/cli/commands/container.js';
import { displayablePorts } from '../../src/cli/commands/ps.js';
import { type Daemon, type RunResult, startDaemon } from '../harness/daemon.js';

/** berth's output in docker's words: the program names its errors and help hints. */
const asDocker = (s: string) => s.replace(/^berth: /gm, 'docker: ').replace(/Run 'berth /g, "Run 'docker ");

describe('the berth CLI matches the docker CLI', () => {
  let d: Daemon;
  /**
   * Runs the same arguments through both CLIs and checks they print and exit alike (berth's output in docker's
   * words, and addresses, which Go prints for nested pointers and which differ from run to run, masked).
   */
  const same = async (args: string[]): Promise<RunResult> => {
    const theirs = await d.docker(args);
    const ours = await d.berth(args);
    const what = `berth ${args.join(' ')}`;
    // The two CLIs run a moment apart: a duration may differ by a second, and a table's column widths with it.
    const mask = (s: string) => s.replace(/Less than a second|\d+ seconds?/g, 'N seconds').replace(/ {2,}/g, '  ');
    assert.equal(mask(asDocker(ours.stdout)), mask(theirs.stdout), `${what}: stdout`);
    assert.equal(mask(asDocker(ours.stderr)), mask(theirs.stderr), `${what}: stderr`);
    assert.equal(ours.code, theirs.code, `${what}: exit code`);
    return ours;
  };

  before(async () => {
    d = await startDaemon();
    for (const args of [
      ['create', '--network', 'none', '--name', 'labelled', '-l', 'a=1', '-l', 'com.example.b-c=x', 'busybox', 'true'],
      ['run', '-d', '--network', 'none', '--name', 'running', 'busybox', 'sleep', '300'],
      ['create', '--network', 'none', '--name', 'rich', '--init', '--stop-timeout', '7', '--ulimit', 'nofile=1024:2048', '-m', '64m', '--pids-limit', '50', '-e', 'A=1', 'busybox', 'sleep', '5'],
    ]) {
      const r = await d.berth(args);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await d.destroy();
  });

  it('ps --format json and {{json .}} give every field docker does (Size "0B" unless sizes are asked for)', async () => {
    for (const format of ['json', '{{json .}}']) {
      const rows = async (cli: typeof d.berth) => {
        const r = await cli(['ps', '-a', '--format', format]);
        assert.equal(r.code, 0, r.stderr);
        // the times are the clock's: equal but for a second ticking between the two commands
        return r.stdout.trim().split('\n').map((l) => ({ ...JSON.parse(l), RunningFor: '', Status: '' }) as Record<string, unknown>);
      };
      const ours = await rows(d.berth);
      assert.deepEqual(ours, await rows(d.docker));
      assert.deepEqual(Object.keys(ours[0]!), ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Platform', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
      const labelled = ours.find((r) => r['Names'] === 'labelled')!;
      assert.equal(labelled['Labels'], 'a=1,com.example.b-c=x');
      // `json` is literal text to docker's size check, so sizes are not fetched; {{json .}} calls .Size, so they are
      assert.match(String(labelled['Size']), format === 'json' ? /^0B$/ : /^0B \(virtual \d/);
      assert.equal(labelled['Platform'], null);
    }
  });

  it('ps templates: .Label, .Labels, .Mounts, .Networks, .LocalVolumes, .Platform, .Size, raw, -q', async () => {
    await same(['ps', '-a', '--format', '{{.Names}}|{{.Label "a"}}|{{.Label "nope"}}|{{.Labels}}|{{.Mounts}}|{{.Networks}}|{{.LocalVolumes}}|{{.Platform}}|{{.Size}}']);
    await same(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Label "com.example.b-c"}}\\t{{.Labels}}\\t{{.Mounts}}\\t{{.Networks}}\\t{{.LocalVolumes}}\\t{{.Platform}}']);
    await same(['ps', '-a', '--size=false', '--format', '{{.Names}} {{.Size}}']);
    await same(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Size}}']);
    await same(['ps', '-a', '--format', 'table']);
    await same(['ps', '-a', '--format', 'raw']);
    await same(['ps', '-a', '-q', '--format', '{{.Names}}']);
    await same(['ps', '-a', '-q', '--format', 'raw']);
  });

  it('ps checks its format first, as docker does: unknown fields, wrong arguments, bad syntax', async () => {
    const r = await same(['ps', '-a', '--format', '{{.Nope}}']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'failed to execute template: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext\n');
    await same(['ps', '-a', '--format', '{{.Label}}']);
    await same(['ps', '-a', '--format', '{{.Names']);
  });

  it('port: nothing published gives no lines, and docker\'s errors for a port or a container', async () => {
    const none = await same(['port', 'running']);
    assert.equal(none.stdout, '');
    const missing = await same(['port', 'running', '80']);
    assert.equal(missing.stderr, "Error: No public port '80' published for running\n");
    assert.equal(missing.code, 1);
    await same(['container', 'port', 'running', '53/udp']);
    await same(['port', 'running', 'http']);
    await same(['port', 'running', '65536']);
    await same(['port', 'no-such-container']);
  });

  it('inspect -s (and --size) asks for sizes; other kinds warn that it does not apply', async () => {
    const r = await same(['inspect', '-s', '--format', '{{.SizeRw}} {{.SizeRootFs}}', 'labelled']);
    assert.match(r.stdout, /^0 [1-9]\d*\n$/);
    await same(['container', 'inspect', '--size', '--format', '{{.SizeRw}}', 'labelled']);
    assert.equal((await same(['inspect', '--format', '{{.SizeRw}}', 'labelled'])).stdout, '<nil>\n');
    await same(['inspect', '-s', '--format', '{{.Id}}', 'busybox']);
  });

  it('inspect templates: omitempty fields are zero values, missing map keys no value, json in docker\'s order', async () => {
    for (const format of [
      '{{.Config.Labels.zz}}|{{index .Config.Labels "zz"}}|{{.SizeRw}}|{{.State.Health}}|{{.Config.StopTimeout}}|{{.HostConfig.Memory}}',
      '{{json .State}}',
      '{{json .HostConfig}}',
      '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}{{with .State}}{{.Status}}{{end}}',
    ]) {
      await same(['inspect', '--format', format, 'rich', 'labelled']);
    }
    await same(['image', 'inspect', '--format', '{{.Config.Cmd}}|{{.Config.Healthcheck}}|{{.Config.Labels.x}}', 'busybox']);
  });

  it('inspect: a key no object has is an error (missingkey=error on the raw JSON), exit 1', async () => {
    const r = await same(['inspect', '--format', '{{.Nope}}', 'labelled']);
    assert.equal(r.stdout, '\n');
    assert.equal(r.stderr, 'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"\n');
    assert.equal(r.code, 1);
    await same(['inspect', '--format', '{{.Name}}{{.State.Nope.X}}', 'labelled', 'running']);
    await same(['inspect', '--format', '{{if .Nope}}x{{end}}', 'labelled']);
    // A nil pointer in docker's typed run: the raw JSON's error is the one shown, as docker's fallback does.
    await same(['inspect', '--format', '{{.State.Health.Status}}', 'labelled']);
    await same(['container', 'inspect', '--format', '{{.Nope}}', 'labelled']);
    await same(['image', 'inspect', '--format', '{{.Nope}}', 'busybox']);
    const unparsable = await same(['inspect', '--format', '{{.Name', 'labelled']);
    assert.equal(unparsable.code, 64);
  });

  it('inspect: json, every failure reported after the objects found, --type checked', async () => {
    await same(['inspect', '--format', 'json', 'labelled']);
    await same(['inspect', '--format', '{{.Name}}', 'nope', 'labelled', 'nope2']);
    await same(['container', 'inspect', '--format', '{{.Name}}', 'nope', 'labelled', 'nope2']);
    await same(['inspect', 'nope']);
    await same(['inspect', '--type', 'container', 'busybox']);
    await same(['inspect', '--type', 'bogus', 'labelled']);
    await same(['inspect', '--type=', 'labelled']);
  });

  it('start: each failure, then "failed to start containers"; rename: the daemon\'s error, then its own', async () => {
    const start = await same(['start', 'nope1', 'running', 'nope2']);
    assert.equal(start.stdout, 'running\n');
    assert.equal(start.stderr, 'Error response from daemon: No such container: nope1\nError response from daemon: No such container: nope2\nError: failed to start containers: nope1, nope2\n');
    const rename = await same(['rename', 'labelled', 'running']);
    assert.match(rename.stderr, /is already in use[^\n]*\nError: failed to rename container named labelled\n$/);
    await same(['rename', 'no-such-container', 'x']);
    await same(['rename', 'labelled', ' ']);
  });

  it('create fails with exit 1, run with 125 and the help hint; a missing image is named as docker names it', async () => {
    const taken = await same(['create', '--network', 'none', '--name', 'running', 'busybox']);
    assert.equal(taken.code, 1);
    const runTaken = await same(['run', '--network', 'none', '--name', 'running', 'busybox']);
    assert.equal(runTaken.code, 125);
    const named = { 'no-such-image': 'no-such-image:latest', 'no-such-image:v1': 'no-such-image:v1', 'docker.io/library/no-such-image': 'no-such-image:latest' };
    for (const [image, familiar] of Object.entries(named)) {
      const r = await same(['create', '--network', 'none', image]);
      assert.ok(r.stderr.startsWith(`Unable to find image '${familiar}' locally\n`), r.stderr);
      assert.equal(r.code, 1);
    }
    await same(['run', '--network', 'none', 'no-such-image']);
    await same(['create', '--pull', 'never', 'no-such-image']);
    await same(['run', '--pull', 'never', 'no-such-image']);
    await same(['create', '--pull', 'sometimes', 'busybox']);
    await same(['create', 'No-Such-Image']);
    await same(['run', 'No-Such-Image']);
    await same(['create', 'no-such-image:']);
  });

  it('--rm with a --restart policy is refused by the CLI (exit 125), as docker does', async () => {
    for (const command of ['create', 'run']) {
      for (const policy of ['always', 'on-failure:3', 'unless-stopped']) {
        const r = await same([command, '--rm', '--restart', policy, 'busybox']);
        assert.equal(r.code, 125);
        assert.equal(asDocker(r.stderr), `docker: conflicting options: cannot specify both --restart and --rm\n\nRun 'docker ${command} --help' for more information\n`);
      }
    }
    const noPolicy = await d.berth(['create', '--network', 'none', '--rm', '--restart', 'no', 'busybox']);
    assert.equal(noPolicy.code, 0, noPolicy.stderr);
  });
});

describe('CLI helpers as docker/cli has them', () => {
  it('sortorder.NaturalLess', () => {
    const sorted = ['80/tcp -> 0.0.0.0:8080', '8080/tcp -> 0.0.0.0:80', '443/tcp -> :::443', '9/udp -> 0.0.0.0:9', 'a10', 'a9', 'a09'].sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
    assert.deepEqual(sorted, ['9/udp -> 0.0.0.0:9', '80/tcp -> 0.0.0.0:8080', '443/tcp -> :::443', '8080/tcp -> 0.0.0.0:80', 'a9', 'a09', 'a10']);
  });

  it('formatter.DisplayablePorts', () => {
    assert.equal(displayablePorts([]), '');
    assert.equal(
      displayablePorts([
        { PrivatePort: 81, Type: 'tcp' },
        { PrivatePort: 80, Type: 'tcp' },
        { PrivatePort: 9988, Type: 'udp' },
        { IP: '0.0.0.0', PrivatePort: 9090, PublicPort: 8080, Type: 'tcp' },
        { IP: '::', PrivatePort: 53, PublicPort: 53, Type: 'udp' },
      ]),
      '[::]:53->53/udp, 80-81/tcp, 9988/udp, 0.0.0.0:8080->9090/tcp',
    );
  });
});
