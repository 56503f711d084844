// Running `berth …` beside the docker CLI against the same daemon, and asserting they agree.
import assert from 'node:assert/strict';
import type { Daemon, RunResult } from './daemon.js';

/** berth's output in docker's words: the program names its errors and help hints. */
export const asDocker = (s: string) => s.replace(/^berth: /gm, 'docker: ').replace(/'berth /g, "'docker ").replace(/^Usage: {2}berth /gm, 'Usage:  docker ');

/** `same`: both CLIs print the same and exit alike (berth's result returned); `ok`: berth succeeds. */
export function compareClis(daemon: () => Daemon) {
  const same = async (args: string[], input?: string): Promise<RunResult> => {
    const d = daemon();
    const theirs = await d.docker(args, ...(input === undefined ? [] : [{ input }]));
    const ours = await d.berth(args, input === undefined ? {} : { input });
    const what = `berth ${args.join(' ')}`;
    assert.equal(asDocker(ours.stdout), theirs.stdout, `${what}: stdout`);
    assert.equal(asDocker(ours.stderr), theirs.stderr, `${what}: stderr`);
    assert.equal(ours.code, theirs.code, `${what}: exit code`);
    return ours;
  };
  const ok = async (args: string[]): Promise<RunResult> => {
    const r = await daemon().berth(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  return { same, ok };
}
