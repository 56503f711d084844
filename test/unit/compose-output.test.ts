// The compose CLI's printers: Compose v2's plain progress lines, its redrawn block on a terminal, and the
// `name | ` prefixes of container output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogPrinter, ProgressPrinter, pipeContainerStream } from '../../src/cli/compose/output.js';

function fakeStream(isTTY: boolean) {
  let text = '';
  return { stream: { isTTY, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream, text: () => text };
}

const frame = (stream: 1 | 2, s: string) => {
  const payload = Buffer.from(s);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
};

describe('compose output', () => {
  it('plain progress: one line per change, as Compose v2 prints without a terminal', () => {
    const out = fakeStream(false);
    const p = new ProgressPrinter('auto', 'Running', out.stream);
    p.report('Network', 'demo_default', 'Creating');
    p.report('Network', 'demo_default', 'Created');
    p.flush();
    assert.equal(out.text(), ' Network demo_default  Creating\n Network demo_default  Created\n');
  });

  it('terminal progress: a block with a count of what is done, redrawn in place', () => {
    const out = fakeStream(true);
    const p = new ProgressPrinter('auto', 'Running', out.stream);
    p.report('Container', 'demo-web-1', 'Creating');
    p.flush();
    p.report('Container', 'demo-web-1', 'Started');
    p.report('Container', 'demo-db-1', 'Error', true);
    p.flush();
    const text = out.text();
    assert.match(text, /\[\+\] Running 0\/1\n/);
    assert.match(text, /\x1b\[2A/, 'the second drawing moves up over the first (2 lines)');
    assert.match(text, /\[\+\] Running 2\/2\n.*✔.*Container demo-web-1 +Started .*s\n.*✘.*Container demo-db-1 +Error/s);
  });

  it('json progress: an object per event, on a terminal too, as Compose v2 prints with --progress json', () => {
    const out = fakeStream(true);
    const p = new ProgressPrinter('json', 'Running', out.stream);
    p.report('Container', 'demo-web-1', 'Creating');
    p.report('Container', 'demo-web-1', 'Error', true);
    p.flush();
    const events = out.text().trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(events, [
      { id: 'Container demo-web-1', status: 'Creating' },
      { id: 'Container demo-web-1', status: 'Error' },
    ]);
  });

  it('quiet progress prints nothing', () => {
    const out = fakeStream(true);
    const p = new ProgressPrinter('quiet', 'Running', out.stream);
    p.report('Container', 'x', 'Created');
    p.flush();
    assert.equal(out.text(), '');
  });

  it('log lines get a padded prefix per container; partial lines wait for their end; frames are split by stream', async () => {
    const lines: string[] = [];
    const sink = { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream;
    const logs = new LogPrinter({ color: false, prefix: true }, ['web-1', 'worker-12']);
    const out = logs.writer('web-1', sink);
    const err = logs.writer('web-1', sink);
    async function* stream() {
      yield Buffer.concat([frame(1, 'one\ntw'), frame(2, 'oops\n')]);
      yield frame(1, 'o\nthree');
    }
    await pipeContainerStream(stream(), false, out, err);
    assert.deepEqual(lines, ['web-1     | one\n', 'web-1     | oops\n', 'web-1     | two\n', 'web-1     | three\n']);
  });

  it('coloured prefixes differ per container', () => {
    const lines: string[] = [];
    const sink = { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream;
    const logs = new LogPrinter({ color: true, prefix: true }, ['a-1', 'b-1']);
    logs.writer('a-1', sink).write(Buffer.from('x\n'));
    logs.writer('b-1', sink).write(Buffer.from('y\n'));
    assert.equal(lines[0], '\x1b[36ma-1 | \x1b[0mx\n');
    assert.equal(lines[1], '\x1b[33mb-1 | \x1b[0my\n');
  });
});
