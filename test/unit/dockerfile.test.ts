import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metaArgValues, parseDockerfile, stageRef, stagesFor, type Dockerfile } from '../../src/builder/dockerfile.js';
import { processWord, processWords } from '../../src/builder/expand.js';
import { applyChange, evaluate, goDuration, initialState, parseGoDuration, type StageState, type Step } from '../../src/builder/instructions.js';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs every instruction of the last stage; returns the steps and the final state. */
function build(text: string, buildArgs: Record<string, string> = {}): { steps: Step[]; state: StageState; df: Dockerfile } {
  const df = parseDockerfile(text);
  const args = new Map(Object.entries(buildArgs));
  let state = initialState({}, metaArgValues(df, args), args);
  const steps: Step[] = [];
  for (const ins of (df.stages[df.stages.length - 1] ?? assert.fail('no stage')).instructions) {
    const step = evaluate(state, ins, df.escape);
    steps.push(step);
    if (step.kind === 'config' || step.kind === 'workdir') state = step.state;
  }
  return { steps, state, df };
}

const history = (text: string, buildArgs: Record<string, string> = {}): string[] => build(text, buildArgs).steps.map((s) => s.createdBy);

function throwsMessage(f: () => unknown, message: string): void {
  assert.throws(f, (e: Error) => {
    assert.equal(e.name, 'InvalidArgument');
    assert.equal(e.message, message);
    return true;
  });
}

describe('word expansion (the classic builder lexer)', () => {
  const vars = new Map([['a', '1'], ['e', ''], ['sp', 'x  y']]);
  it('substitutes $v and ${v}, unset and empty as nothing', () => {
    assert.equal(processWord('$a-${a}-$zz-${e}.', vars), '1-1--.');
    assert.equal(processWord('$', vars), '$');
    assert.equal(processWord('a$', vars), 'a$');
  });
  it('knows :- and :+ (with nested variables) and refuses the forms classic refuses', () => {
    assert.equal(processWord('${a:-d} ${e:-d} ${zz:-$a}', vars), '1 d 1');
    assert.equal(processWord('${a:+alt} [${e:+alt}] [${zz:+alt}]', vars), 'alt [] []');
    assert.throws(() => processWord('${a-d}', vars), { message: 'failed to process "${a-d}": missing \':\' in substitution' });
    assert.throws(() => processWord('${a:?x}', vars), { message: 'failed to process "${a:?x}": unsupported modifier (?) in substitution' });
    assert.throws(() => processWord('${', vars), { message: 'failed to process "${": syntax error: missing \'}\'' });
    assert.throws(() => processWord('${}', vars), { message: 'failed to process "${}": syntax error: bad substitution' });
  });
  it('removes quotes: no expansion in single quotes, escapes of " $ \\ in double quotes', () => {
    assert.equal(processWord(`'$a'"$a"`, vars), '$a1');
    assert.equal(processWord('"q\\"x \\$a \\\\ \\n"', vars), 'q"x $a \\ \\n');
    assert.equal(processWord('\\$a a\\ b \\"', vars), '$a a b "');
    assert.throws(() => processWord('"1 B', vars), { message: 'failed to process "\\"1 B": unexpected end of statement while looking for matching double-quote' });
    assert.throws(() => processWord("'x", vars), /matching single-quote/);
  });
  it('uses the escape directive\'s character', () => {
    assert.equal(processWord('`$a c:\\dir', vars, '`'), '$a c:\\dir');
  });
  it('splits words outside quotes, and a variable\'s value too', () => {
    assert.deepEqual(processWords('80 "a b"  $sp "" x', vars), ['80', 'a b', 'x', 'y', 'x']);
    assert.deepEqual(processWords('"$sp"', vars), ['x  y']);
  });
  it('follows the reference\'s examples (ENV abc=hello, ${abc:-world}, ${abc:+world}, escaped $)', () => {
    const env = new Map([['abc', 'hello']]);
    assert.equal(processWord('${abc:-world}', env), 'hello');
    assert.equal(processWord('${nope:-world}', env), 'world');
    assert.equal(processWord('${abc:+world}', env), 'world');
    assert.equal(processWord('\\$foo \\${foo}', env), '$foo ${foo}');
  });
});

describe('parseDockerfile', () => {
  it('joins continuations, skips comment and empty lines inside them, keeps flags and JSON forms', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1\nFROM busybox AS Build\nRUN echo a \\\n  # comment\n\n  b c\nCOPY --from=build --chown=1:2 a b\nCMD ["x", "y"]\nCMD [not json\n');
    assert.equal(df.syntax, 'docker/dockerfile:1');
    assert.equal(df.escape, '\\');
    const [stage] = df.stages;
    assert.equal(stage?.name, 'build');
    assert.equal(stage?.base, 'busybox');
    const [run, copy, cmd, bad] = stage?.instructions ?? [];
    assert.deepEqual([run?.keyword, run?.line, run?.text, run?.args], ['RUN', 3, 'RUN echo a   b c', 'echo a   b c']);
    assert.deepEqual([copy?.flags, copy?.args], [{ from: 'build', chown: '1:2' }, 'a b']);
    assert.deepEqual(cmd?.json, ['x', 'y']);
    assert.equal(bad?.json, undefined);
  });

  it('takes the escape directive (backtick), meta ARGs and --platform', () => {
    const df = parseDockerfile('# escape=`\nARG V=1\nFROM --platform=linux/amd64 img:$V\nRUN dir c:\\ `\n  && echo\n');
    assert.equal(df.escape, '`');
    assert.deepEqual(df.metaArgs.map((i) => i.text), ['ARG V=1']);
    assert.equal(df.stages[0]?.platform, 'linux/amd64');
    assert.equal(df.stages[0]?.instructions[0]?.args, 'dir c:\\   && echo');
  });

  it('reads heredocs: several per instruction, <<- and quoted delimiters, COPY <<EOF', () => {
    const df = parseDockerfile('FROM a\nRUN <<-"EOF" cat && <<B cat\n\tx $y\n\tEOF\nb\nB\nCOPY <<EOF /f\nhello $y\nEOF\n');
    const [run, copy] = df.stages[0]?.instructions ?? [];
    assert.equal(run?.args, '<<-"EOF" cat && <<B cat');
    assert.deepEqual(run?.heredocs, [
      { name: 'EOF', content: '\tx $y\n', expand: false, chomp: true },
      { name: 'B', content: 'b\n', expand: true, chomp: false },
    ]);
    assert.deepEqual(copy?.heredocs, [{ name: 'EOF', content: 'hello $y\n', expand: true, chomp: false }]);
  });

  it('refuses what the classic builder refuses, with its messages', () => {
    throwsMessage(() => parseDockerfile(''), 'the Dockerfile (Dockerfile) cannot be empty');
    throwsMessage(() => parseDockerfile('# only a comment\n'), 'failed to parse Dockerfile: file with no instructions');
    throwsMessage(() => parseDockerfile('RUN true\n'), 'no build stage in current context');
    throwsMessage(() => parseDockerfile('FROM scratch\nfoo bar\n'), 'dockerfile parse error line 2: unknown instruction: FOO');
    throwsMessage(() => parseDockerfile('FROM scratch\nENV\n'), 'dockerfile parse error line 2: ENV requires at least one argument');
    throwsMessage(() => parseDockerfile('FROM scratch\nENV a\n'), 'failed to parse Dockerfile: ENV must have two arguments');
    throwsMessage(() => parseDockerfile('FROM scratch\nENV =b\n'), 'dockerfile parse error line 2: ENV names can not be blank');
    throwsMessage(() => parseDockerfile('FROM scratch\nENV A=1 B\n'), 'failed to parse Dockerfile: Syntax error - can\'t find = in "B". Must be of the form: name=value');
    throwsMessage(() => parseDockerfile('FROM\n'), 'dockerfile parse error line 1: FROM requires either one or three arguments');
    throwsMessage(() => parseDockerfile('FROM a b\n'), 'dockerfile parse error line 1: FROM requires either one or three arguments');
    throwsMessage(() => parseDockerfile('FROM a AS 1a\n'), 'dockerfile parse error line 1: invalid name for build stage: "1a", name can\'t start with a number or contain symbols');
    throwsMessage(() => parseDockerfile('FROM a AS x\nFROM b AS X\n'), 'x stage name already used');
    throwsMessage(() => parseDockerfile('FROM scratch\nCOPY f\n'), 'dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined');
    throwsMessage(() => parseDockerfile('FROM scratch\nCOPY --foo=1 f /\n'), 'dockerfile parse error line 2: Unknown flag: foo');
    throwsMessage(() => parseDockerfile('FROM scratch\nCMD --version\n'), 'dockerfile parse error line 2: Unknown flag: version');
    throwsMessage(() => parseDockerfile('FROM scratch\nCOPY --chown f /\n'), 'dockerfile parse error line 2: Missing a value on flag: chown');
    throwsMessage(() => parseDockerfile('FROM scratch\nCOPY --from=a --from=b f /\n'), 'dockerfile parse error line 2: Duplicate flag specified: from');
    throwsMessage(() => parseDockerfile('FROM scratch\nONBUILD ONBUILD RUN x\n'), 'dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    throwsMessage(() => parseDockerfile('FROM scratch\nONBUILD FROM x\n'), 'dockerfile parse error line 2: FROM isn\'t allowed as an ONBUILD trigger');
    throwsMessage(() => parseDockerfile('FROM scratch\nONBUILD MAINTAINER x\n'), 'dockerfile parse error line 2: MAINTAINER isn\'t allowed as an ONBUILD trigger');
    throwsMessage(() => parseDockerfile('FROM scratch\nSHELL sh -c\n'), 'dockerfile parse error line 2: SHELL requires the arguments to be in JSON form');
    throwsMessage(() => parseDockerfile('FROM scratch\nCMD ["a", 1]\n'), 'failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only');
    throwsMessage(() => parseDockerfile('FROM scratch\nHEALTHCHECK FOO x\n'), 'dockerfile parse error line 2: Unknown type "FOO" in HEALTHCHECK (try CMD)');
    throwsMessage(() => parseDockerfile('FROM scratch\nHEALTHCHECK CMD\n'), 'dockerfile parse error line 2: Missing command after HEALTHCHECK CMD');
    throwsMessage(() => parseDockerfile('FROM scratch\nHEALTHCHECK NONE x\n'), 'dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments');
    throwsMessage(() => parseDockerfile('FROM scratch\nUSER\n'), 'dockerfile parse error line 2: USER requires exactly one argument');
    throwsMessage(() => parseDockerfile('FROM scratch\nVOLUME []\n'), 'dockerfile parse error line 2: VOLUME requires at least one argument');
  });

  it('accepts what the classic builder accepts (empty RUN and CMD, RUN --network)', () => {
    const df = parseDockerfile('FROM scratch\nRUN\nCMD\nRUN --network=none true\n');
    assert.deepEqual(df.stages[0]?.instructions[2]?.flags, { network: 'none' });
  });
});

describe('stages', () => {
  const df = parseDockerfile('ARG SRC=one\nFROM a AS one\nFROM b AS two\nFROM c AS unused\nFROM one AS three\nCOPY --from=$SRC x y\nCOPY --from=1 x y\nCOPY --from=nginx x y\n');
  it('a target needs itself and the stages its FROM and COPY --from name (with meta ARGs)', () => {
    assert.deepEqual(stagesFor(df, undefined, metaArgValues(df, new Map())).map((s) => s.index), [0, 1, 3]);
    assert.deepEqual(stagesFor(df, 'TWO').map((s) => s.index), [1]);
    assert.deepEqual(stagesFor(df, '2').map((s) => s.index), [2]);
    // --build-arg overrides the meta ARG's default: no stage named "two-x", so only index 1 and the base stay.
    assert.deepEqual(stagesFor(df, 'three', metaArgValues(df, new Map([['SRC', 'two-x']]))).map((s) => s.index), [0, 1, 3]);
    throwsMessage(() => stagesFor(df, 'nope'), 'failed to reach build target nope in Dockerfile');
  });
  it('stageRef: names and indexes of earlier stages only', () => {
    assert.equal(stageRef(df, 3, 'One')?.index, 0);
    assert.equal(stageRef(df, 3, '1')?.index, 1);
    assert.equal(stageRef(df, 0, 'two'), undefined); // a later stage's name is an image name there
    assert.equal(stageRef(df, 3, 'nginx'), undefined);
    throwsMessage(() => stageRef(df, 0, '0'), 'invalid from flag value 0: refers to current build stage');
    throwsMessage(() => stageRef(df, 0, '1'), 'invalid from flag value 1: index out of bounds');
  });
});

describe('instructions (history lines checked against dockerd 20.10, DOCKER_BUILDKIT=0)', () => {
  it('config instructions: values, config and created_by', () => {
    const text = 'FROM bb\nARG A=1\nARG B\nENV E=x F="y z"\nENV G h i\nLABEL l1=v "l 2"="w x"\nMAINTAINER me <m@x>\n' +
      'EXPOSE 80 81/udp 8000-8002\nVOLUME /v1 /v2\nVOLUME ["/v3"]\nUSER 1000\nWORKDIR a\nWORKDIR b\nWORKDIR /c\nRUN echo hi\n' +
      'RUN ["echo","x"]\nCMD echo hi\nCMD ["a","b"]\nENTRYPOINT ["e"]\nSHELL ["/bin/sh","-xc"]\nCMD x y\nSTOPSIGNAL SIGKILL\n' +
      'HEALTHCHECK --interval=5s --timeout=1m30s --start-period=1s --retries=3 CMD curl x\nHEALTHCHECK CMD ["a","b"]\nONBUILD RUN echo $A\n';
    const { steps, state } = build(text, { B: '2' });
    assert.deepEqual(steps.map((s) => s.createdBy), [
      '/bin/sh -c #(nop)  ARG A=1',
      '/bin/sh -c #(nop)  ARG B',
      '/bin/sh -c #(nop)  ENV E=x F=y z',
      '/bin/sh -c #(nop)  ENV G=h i',
      '/bin/sh -c #(nop)  LABEL l1=v l 2=w x',
      '/bin/sh -c #(nop)  MAINTAINER me <m@x>',
      '/bin/sh -c #(nop)  EXPOSE 80 8000-8002 81/udp',
      '/bin/sh -c #(nop)  VOLUME [/v1 /v2]',
      '/bin/sh -c #(nop)  VOLUME [/v3]',
      '/bin/sh -c #(nop)  USER 1000',
      '/bin/sh -c #(nop) WORKDIR /a',
      '/bin/sh -c #(nop) WORKDIR /a/b',
      '/bin/sh -c #(nop) WORKDIR /c',
      '|2 A=1 B=2 /bin/sh -c echo hi',
      '|2 A=1 B=2 echo x',
      '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo hi"]',
      '/bin/sh -c #(nop)  CMD ["a" "b"]',
      '/bin/sh -c #(nop)  ENTRYPOINT ["e"]',
      '/bin/sh -xc #(nop)  SHELL [/bin/sh -xc]',
      '/bin/sh -xc #(nop)  CMD ["/bin/sh" "-xc" "x y"]',
      '/bin/sh -xc #(nop)  STOPSIGNAL SIGKILL',
      '/bin/sh -xc #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl x"] "5s" "1m30s" "1s" \'\\x03\'}',
      '/bin/sh -xc #(nop)  HEALTHCHECK &{["CMD" "a" "b"] "0s" "0s" "0s" \'\\x00\'}',
      '/bin/sh -xc #(nop)  ONBUILD RUN echo $A',
    ]);
    assert.deepEqual(state.config, {
      Env: [PATH, 'E=x', 'F=y z', 'G=h i'], Labels: { l1: 'v', 'l 2': 'w x' },
      ExposedPorts: { '80/tcp': {}, '8000/tcp': {}, '8001/tcp': {}, '8002/tcp': {}, '81/udp': {} },
      Volumes: { '/v1': {}, '/v2': {}, '/v3': {} }, User: '1000', WorkingDir: '/c', Cmd: ['/bin/sh', '-xc', 'x y'],
      Entrypoint: ['e'], Shell: ['/bin/sh', '-xc'], StopSignal: 'SIGKILL',
      // the second HEALTHCHECK keeps the first one's timings, as Docker's commit merges them
      Healthcheck: { Test: ['CMD', 'a', 'b'], Interval: 5e9, Timeout: 90e9, StartPeriod: 1e9, Retries: 3 },
      OnBuild: ['RUN echo $A'],
    });
    assert.equal(state.author, 'me <m@x>');
    const run = steps[13];
    assert.equal(run?.kind, 'run');
    if (run?.kind === 'run') assert.deepEqual(run.env, [PATH, 'E=x', 'F=y z', 'G=h i', 'A=1', 'B=2']);
    assert.deepEqual([...state.usedBuildArgs], ['B']);
  });

  it('expansion: ENV pairs see the values from before, quotes and modifiers, WORKDIR/USER/VOLUME/LABEL expand', () => {
    const text = 'FROM bb\nENV a=1\nENV a=2 b=$a c=${a}x d=\'$a\' e="q\\"x" f=a\\ b\nENV P ${a:-d} ${zz:-def} ${a:+alt} ${zz:+alt}"$a"\n' +
      'WORKDIR $P\nLABEL "k"="v\\"1" k2=\'$a\'\nUSER ${a}:0\nCMD ["a", "b\\"c", "\\u00e9"]\nENTRYPOINT echo "$a"\nRUN ["sh","-c","echo hi"]\nVOLUME $a /x\n';
    assert.deepEqual(history(text), [
      '/bin/sh -c #(nop)  ENV a=1',
      '/bin/sh -c #(nop)  ENV a=2 b=1 c=1x d=$a e=q"x f=a b',
      '/bin/sh -c #(nop)  ENV P=2 def alt 2',
      '/bin/sh -c #(nop) WORKDIR /2 def alt 2',
      '/bin/sh -c #(nop)  LABEL k=v"1 k2=$a',
      '/bin/sh -c #(nop)  USER 2:0',
      '/bin/sh -c #(nop)  CMD ["a" "b\\"c" "é"]',
      '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c" "echo \\"$a\\""]',
      'sh -c echo hi',
      '/bin/sh -c #(nop)  VOLUME [2 /x]',
    ]);
  });

  it('ARGs: meta values by redeclaration, proxy ARGs usable undeclared and listed only when declared, ENV wins', () => {
    const text = 'ARG M=meta\nFROM bb\nARG Z=z\nARG M\nARG HTTP_PROXY\nENV Z=envz\nRUN echo $M\nLABEL a=$M b=${FTP_PROXY} z=$Z\n';
    const { steps, state } = build(text, { FTP_PROXY: 'fp', HTTP_PROXY: 'hp', ZZ: '1' });
    const run = steps[4];
    assert.equal(run?.createdBy, '|2 HTTP_PROXY=hp M=meta /bin/sh -c echo $M');
    if (run?.kind === 'run') assert.deepEqual(run.env, [PATH, 'Z=envz', 'FTP_PROXY=fp', 'HTTP_PROXY=hp', 'M=meta']);
    assert.deepEqual(state.config.Labels, { a: 'meta', b: 'fp', z: 'envz' });
    assert.deepEqual(history('FROM bb\nRUN true\n', { http_proxy: 'x' }), ['|0 /bin/sh -c true']);
  });

  it('ENTRYPOINT drops the base image\'s CMD but not one set in the stage', () => {
    const df = parseDockerfile('FROM x\nENTRYPOINT ["e"]\n');
    const base = initialState({ Cmd: ['sh'] }, new Map(), new Map());
    const step = evaluate(base, df.stages[0]?.instructions[0] ?? assert.fail(), '\\');
    assert.equal(step.kind === 'config' && step.state.config.Cmd, null);
    assert.deepEqual(build('FROM x\nCMD ["c"]\nENTRYPOINT ["e"]\n').state.config.Cmd, ['c']);
  });

  it('COPY/ADD: expanded sources, dest against WORKDIR (trailing slash kept), flags', () => {
    const { steps } = build('FROM bb\nENV D=sub S=src\nWORKDIR /w\nCOPY $S b $D/\nADD --chown=$S:1 --chmod=0755 --link a .\nCOPY --from=$S ["x y", "/abs"]\n');
    const [, , c1, c2, c3] = steps;
    assert.deepEqual(c1, { kind: 'copy', add: false, sources: ['src', 'b'], dest: '/w/sub/', writtenDest: 'sub/', heredocs: [], createdBy: '/bin/sh -c #(nop) COPY ' });
    assert.ok(c2?.kind === 'copy');
    if (c2?.kind === 'copy') {
      assert.deepEqual([c2.add, c2.dest, c2.chown, c2.chmod, c2.link, c2.createdBy], [true, '/w', 'src:1', 0o755, true, '/bin/sh -c #(nop) ADD --chown=src:1']);
    }
    if (c3?.kind === 'copy') assert.deepEqual([c3.from, c3.sources, c3.dest], ['src', ['x y'], '/abs']);
  });

  it('COPY splits on blanks before removing quotes, as classic does ("b c" is two broken words)', () => {
    throwsMessage(() => build('FROM x\nCOPY "b c" /x/\n'), 'failed to process "\\"b": unexpected end of statement while looking for matching double-quote');
  });

  it('heredocs: lone script, shebang script file, several for the shell, COPY documents', () => {
    const { steps } = build('FROM bb\nARG Y=why\nRUN <<-EOF\n\techo a\nEOF\nRUN <<EOF\n#!/bin/sh\necho b\nEOF\nRUN <<A cat && <<B cat\na\nA\nb\nB\nCOPY <<EOF <<"RAW" /dir/\nv=$Y\nEOF\nv=$Y\nRAW\n');
    const [, r1, r2, r3, c] = steps;
    assert.ok(r1?.kind === 'run' && r2?.kind === 'run' && r3?.kind === 'run' && c?.kind === 'copy');
    assert.deepEqual(r1.argv, ['/bin/sh', '-c', 'echo a\n']);
    assert.deepEqual(r2.argv, ['/bin/sh', '-c', '/dev/pipes/EOF']);
    assert.deepEqual(r2.files, [{ path: '/dev/pipes/EOF', content: '#!/bin/sh\necho b\n', mode: 0o755 }]);
    assert.deepEqual(r3.argv, ['/bin/sh', '-c', '<<A cat && <<B cat\na\nA\nb\nB']);
    assert.deepEqual(c.sources, []);
    assert.deepEqual(c.heredocs.map((h) => [h.name, h.content]), [['EOF', 'v=why\n'], ['RAW', 'v=$Y\n']]);
  });

  it('dispatch-time errors are Docker\'s', () => {
    throwsMessage(() => build('FROM x\nEXPOSE abc\n'), 'Invalid containerPort: abc');
    throwsMessage(() => build('FROM x\nSTOPSIGNAL FOO\n'), 'Invalid signal: FOO');
    throwsMessage(() => build('FROM x\nVOLUME ""\n'), 'VOLUME specified can not be an empty string');
    throwsMessage(() => build('FROM x\nENV a=${b-x}\n'), 'failed to process "${b-x}": missing \':\' in substitution');
    throwsMessage(() => build('FROM x\nHEALTHCHECK --interval=5 CMD x\n'), 'time: missing unit in duration "5"');
    throwsMessage(() => build('FROM x\nHEALTHCHECK --retries=0 CMD x\n'), '--retries must be at least 1 (not 0)');
    throwsMessage(() => build('FROM x\nHEALTHCHECK --interval=100us CMD x\n'), 'Interval "interval" cannot be less than 1ms');
    assert.equal(build('FROM x\nSTOPSIGNAL 9\nSTOPSIGNAL rtmin+3\n').state.config.StopSignal, 'rtmin+3');
  });

  it('Go durations both ways', () => {
    assert.equal(parseGoDuration('1m30s'), 90e9);
    assert.equal(parseGoDuration('1.5h'), 5400e9);
    assert.equal(parseGoDuration('250ms'), 250e6);
    for (const [ns, s] of [[0, '0s'], [1.5e6, '1.5ms'], [100e3, '100µs'], [90e9, '1m30s'], [3600e9, '1h0m0s'], [1.5e9, '1.5s']] as const) {
      assert.equal(goDuration(ns), s);
    }
  });

  it('applyChange: the instructions commit/import --change allow', () => {
    let c = applyChange({ Env: ['A=1'] }, 'ENV B=$A');
    c = applyChange(c, 'CMD ["x"]');
    c = applyChange(c, 'EXPOSE 80');
    c = applyChange(c, 'WORKDIR /w');
    assert.deepEqual(c, { Env: ['A=1', 'B=1'], Cmd: ['x'], ExposedPorts: { '80/tcp': {} }, WorkingDir: '/w' });
    throwsMessage(() => applyChange({}, 'RUN x'), 'RUN is not a valid change command');
    throwsMessage(() => applyChange({}, 'ENV'), 'dockerfile parse error line 1: ENV requires at least one argument');
  });
});
