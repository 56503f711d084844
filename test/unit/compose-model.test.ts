import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ComposeFileError, loadProject, projectToJson, projectToYaml } from '../../src/compose/model/index.js';
import type { LoadOptions } from '../../src/compose/types.js';

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-compose-model-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh project directory with these files (paths relative to it). */
async function project(files: Record<string, string>, dirName = `p${++n}`): Promise<string> {
  const dir = join(root, dirName);
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

async function load(dir: string, opts: Partial<LoadOptions> = {}, warnings: string[] = []) {
  return loadProject({ cwd: dir, environment: {}, warn: (m) => warnings.push(m), ...opts });
}

async function loadError(dir: string, opts: Partial<LoadOptions> = {}): Promise<string> {
  try {
    await load(dir, opts);
  } catch (e) {
    assert.ok(e instanceof ComposeFileError, `not a ComposeFileError: ${String(e)}`);
    return e.message;
  }
  assert.fail('loading succeeded');
}

describe('compose model: interpolation', () => {
  it('substitutes every form, $$ escapes, and warns once for an unset variable', async () => {
    const dir = await project({
      'compose.yaml': `services:
  web:
    image: "img:\${TAG:-dflt}"
    environment:
      A: "$SET"
      B: "\${SET}"
      C: "\${EMPTY:-fallback}"
      D: "\${EMPTY-kept}"
      E: "\${UNSET-dash}"
      F: "\${SET:+alt}"
      G: "\${EMPTY+alt2}"
      H: "\${UNSET:+never}"
      I: "\${UNSET:-\${OTHER:-deep}}"
      J: "$$SET and $$\{SET}"
      K: "\${NOPE}x\${NOPE}"
      L: "cost $ 5"
      "$KEY": literal-key
`,
    });
    const warnings: string[] = [];
    const p = await load(dir, { environment: { SET: 'v', EMPTY: '' } }, warnings);
    const web = p.services.web!;
    assert.equal(web.image, 'img:dflt');
    assert.deepEqual(web.environment, { A: 'v', B: 'v', C: 'fallback', D: '', E: 'dash', F: 'alt', G: 'alt2', H: '', I: 'deep', J: '$SET and ${SET}', K: 'x', L: 'cost $ 5', $KEY: 'literal-key' });
    assert.deepEqual(warnings, ['The "NOPE" variable is not set. Defaulting to a blank string.']);
  });

  it('fails on a required variable (:? when empty, ? when unset) naming the key', async () => {
    const dir = await project({ 'compose.yaml': 'services:\n  web:\n    image: "app:${TAG:?set TAG please}"\n' });
    assert.equal(await loadError(dir, { environment: { TAG: '' } }), 'error while interpolating services.web.image: required variable TAG is missing a value: set TAG please');
    const dir2 = await project({ 'compose.yaml': 'services:\n  web:\n    image: "app:${TAG?}"\n' });
    assert.equal((await load(dir2, { environment: { TAG: '' } })).services.web!.image, 'app:');
    assert.equal(await loadError(dir2), 'error while interpolating services.web.image: required variable TAG is missing a value');
  });

  it('refuses a malformed ${…}', async () => {
    const dir = await project({ 'compose.yaml': 'services:\n  web:\n    image: "${TAG"\n' });
    assert.match(await loadError(dir), /^invalid interpolation format for services\.web\.image\./);
  });

  it('takes .env from the project directory, the environment winning; --env-file replaces .env', async () => {
    const dir = await project({
      'compose.yaml': 'services:\n  web:\n    image: "${IMG}:${TAG}"\n    labels: ["q=${QUOTED}", "s=${SINGLE}"]\n',
      '.env': '# comment\nIMG=fromdotenv\nexport TAG=1 # trailing\nQUOTED="a\\tb ${IMG}"\nSINGLE=\'$IMG\'\n',
      'other.env': 'IMG=other\nTAG=2\n',
      'more.env': 'TAG=3\n',
    });
    const p = await load(dir, { environment: { TAG: 'env' } });
    assert.equal(p.services.web!.image, 'fromdotenv:env');
    assert.deepEqual(p.services.web!.labels, { q: 'a\tb fromdotenv', s: '$IMG' });
    const q = await load(dir, { envFiles: ['other.env', 'more.env'] });
    assert.equal(q.services.web!.image, 'other:3');
    assert.equal(await loadError(dir, { envFiles: ['missing.env'] }), `couldn't find env file: ${join(dir, 'missing.env')}`);
  });
});

describe('compose model: files and merge', () => {
  it('finds compose.yaml in a parent directory with its override, and errs when there is none', async () => {
    const dir = await project({
      'compose.yaml': 'services:\n  web:\n    image: a\n',
      'compose.override.yaml': 'services:\n  web:\n    image: b\n',
      'sub/deeper/.keep': '',
    });
    const p = await load(join(dir, 'sub/deeper'));
    assert.equal(p.services.web!.image, 'b');
    assert.deepEqual(p.configFiles, [join(dir, 'compose.yaml'), join(dir, 'compose.override.yaml')]);
    assert.equal(p.workingDir, dir);
    const empty = await mkdtemp(join(tmpdir(), 'berth-compose-none-'));
    try {
      assert.equal(await loadError(empty), 'no configuration file provided: not found');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('merges an override: ports and volumes by target, maps merged, command replaced, !reset and !override', async () => {
    const dir = await project({
      'compose.yaml': `services:
  web:
    image: a
    command: ["echo", "base"]
    ports: ["8080:80", "9000:9000"]
    volumes: ["./a:/work", "/keep"]
    environment: {A: "1", B: "2", GONE: x}
    labels: [l1=a]
    dns: [1.1.1.1]
    expose: ["1"]
    healthcheck: {test: [CMD, base]}
`,
      'over.yaml': `services:
  web:
    command: echo over
    ports: ["8080:80", "8081:81"]
    volumes: ["./b:/work"]
    environment: [B=3, C=4]
    labels: {l2: b}
    dns: [8.8.8.8]
    expose: !override ["2"]
    healthcheck: {test: over-shell}
  extra:
    image: x
    environment:
      FOO: bar
`,
      'reset.yaml': `services:
  web:
    environment:
      GONE: !reset null
    dns: !reset []
`,
    });
    const p = await load(dir, { files: ['compose.yaml', 'over.yaml', 'reset.yaml'] });
    const web = p.services.web!;
    assert.deepEqual(web.command, ['echo', 'over']);
    assert.deepEqual(
      web.ports?.map((x) => `${x.published}:${x.target}`),
      ['8080:80', '9000:9000', '8081:81'],
    );
    assert.deepEqual(
      web.volumes?.map((v) => `${v.source ?? ''}:${v.target}`),
      [`${join(dir, 'b')}:/work`, ':/keep'],
    );
    assert.deepEqual(web.environment, { A: '1', B: '3', C: '4' });
    assert.deepEqual(web.labels, { l1: 'a', l2: 'b' });
    assert.equal(web.dns, undefined);
    assert.deepEqual(web.expose, ['2']);
    assert.deepEqual(web.healthcheck?.test, ['CMD-SHELL', 'over-shell']);
    assert.equal(p.services.extra!.image, 'x');
  });

  it('reads -f - from stdin, with the working directory as project directory', async () => {
    const dir = await project({});
    const p = await load(dir, { files: ['-'], stdin: async () => 'name: fromstdin\nservices:\n  s:\n    image: x\n    volumes: [./v:/v]\n' });
    assert.equal(p.name, 'fromstdin');
    assert.deepEqual(p.configFiles, ['-']);
    assert.equal(p.services.s!.volumes![0]!.source, join(dir, 'v'));
  });

  it('refuses a schema violation naming file, line and key, and accepts an obsolete version with a warning', async () => {
    const dir = await project({ 'compose.yaml': 'services:\n  web:\n    image: a\n    ports:\n      - target: 80\n        bogus: 1\n' });
    const file = join(dir, 'compose.yaml');
    assert.equal(await loadError(dir), `validating ${file}: line 6: services.web.ports.0: additional properties 'bogus' not allowed`);
    const dir2 = await project({ 'compose.yaml': 'services:\n  web:\n    image: a\n    privileged: [1]\n' });
    assert.equal(await loadError(dir2), `validating ${join(dir2, 'compose.yaml')}: line 4: services.web.privileged: must be a boolean or string`);
    const dir3 = await project({ 'compose.yaml': 'services:\n  web:\n    image: a\n    colour: blue\n' });
    assert.equal(await loadError(dir3), `validating ${join(dir3, 'compose.yaml')}: line 4: services.web: additional properties 'colour' not allowed`);
    const dir4 = await project({ 'compose.yaml': 'version: "3.8"\nservices:\n  web:\n    image: a\n' });
    const warnings: string[] = [];
    await load(dir4, {}, warnings);
    assert.deepEqual(warnings, [`${join(dir4, 'compose.yaml')}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`]);
  });

  it('remembers the contents that passed the schema, and still refuses a changed one', async () => {
    const cache = join(root, 'cache', 'berth', 'compose-validated');
    const dir = await project({ 'compose.yaml': 'services:\n  web:\n    image: a\n' });
    await load(dir, { validatedCache: cache });
    const keys = (await readFile(cache, 'utf8')).trim().split('\n');
    assert.equal(keys.length, 1);
    assert.match(keys[0]!, /^[0-9a-f]{64}$/);
    // The same content again (another directory, same text): a hit, nothing added.
    const again = await project({ 'compose.yaml': 'services:\n  web:\n    image: a\n' });
    assert.equal((await load(again, { validatedCache: cache })).services['web']?.image, 'a');
    assert.deepEqual((await readFile(cache, 'utf8')).trim().split('\n'), keys);
    // A key is the content after interpolation: another value is another key.
    const interp = await project({ 'compose.yaml': 'services:\n  web:\n    image: ${IMG}\n' });
    await load(interp, { validatedCache: cache, environment: { IMG: 'b' } });
    await load(interp, { validatedCache: cache, environment: { IMG: 'c' } });
    assert.equal((await readFile(cache, 'utf8')).trim().split('\n').length, 3);
    // The file edited into an invalid one is validated, and refused.
    await writeFile(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: a\n    privileged: [1]\n');
    assert.match(await loadError(dir, { validatedCache: cache }), /line 4: services\.web\.privileged: must be a boolean or string/);
    // An unusable cache is no cache: the file is validated and the load works.
    await writeFile(join(root, 'cache', 'not-a-dir'), '');
    const unusable = join(root, 'cache', 'not-a-dir', 'x');
    assert.match(await loadError(dir, { validatedCache: unusable }), /privileged: must be a boolean or string/);
    assert.equal((await load(again, { validatedCache: unusable })).services['web']?.image, 'a');
  });

  it('supports anchors, merge keys and x- fragments', async () => {
    const dir = await project({
      'compose.yaml': `x-common: &common
  image: base
  environment: {A: "1"}
services:
  a:
    <<: *common
    x-note: kept
  b:
    <<: *common
    image: other
`,
    });
    const p = await load(dir);
    assert.equal(p.services.a!.image, 'base');
    assert.equal(p.services.b!.image, 'other');
    assert.deepEqual(p.services.b!.environment, { A: '1' });
    assert.equal(p.services.a!['x-note'], 'kept');
    assert.ok(!projectToYaml(p).includes('x-common'));
  });
});

describe('compose model: extends, include, profiles', () => {
  it('extends a service of the same file and of another file, paths relative to that file', async () => {
    const dir = await project({
      'compose.yaml': `services:
  base:
    image: b
    environment: {A: "1"}
  child:
    extends: base
    environment: {B: "2"}
  remote:
    extends: {file: common/common.yaml, service: tmpl}
    command: run
`,
      'common/common.yaml': 'services:\n  tmpl:\n    build: ./ctx\n    volumes: [./data:/data]\n    command: ["never"]\n',
    });
    const p = await load(dir);
    assert.deepEqual(p.services.child!.environment, { A: '1', B: '2' });
    assert.equal(p.services.child!.image, 'b');
    assert.deepEqual(p.services.remote!.build, { context: join(dir, 'common/ctx'), dockerfile: 'Dockerfile' });
    assert.equal(p.services.remote!.volumes![0]!.source, join(dir, 'common/data'));
    assert.deepEqual(p.services.remote!.command, ['run']);
    const bad = await project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    extends: nope\n' });
    assert.equal(await loadError(bad), `cannot extend service "nope" in ${join(bad, 'compose.yaml')}: service not found`);
  });

  it('includes another project with its own directory and .env; a conflicting service is an error', async () => {
    const dir = await project({
      'compose.yaml': 'include:\n  - lib/compose.yaml\nservices:\n  app:\n    image: app\n    depends_on: [db]\n',
      'lib/compose.yaml': 'services:\n  db:\n    image: "db:${DBTAG}"\n    volumes: [./init:/init, dbdata:/var/lib/db]\nvolumes:\n  dbdata: {}\n',
      'lib/.env': 'DBTAG=15\n',
    });
    const p = await load(dir);
    assert.equal(p.services.db!.image, 'db:15');
    assert.equal(p.services.db!.volumes![0]!.source, join(dir, 'lib/init'));
    assert.equal(p.volumes.dbdata!.name, `${p.name}_dbdata`);
    assert.equal((await load(dir, { environment: { DBTAG: '16' } })).services.db!.image, 'db:16');
    const clash = await project({
      'compose.yaml': 'include:\n  - path: lib/compose.yaml\nservices:\n  db:\n    image: mine\n',
      'lib/compose.yaml': 'services:\n  db:\n    image: theirs\n',
    });
    assert.equal(await loadError(clash), `imported compose file ${join(clash, 'lib/compose.yaml')} defines conflicting service db`);
  });

  it('splits services by profile: none, --profile, COMPOSE_PROFILES, and *', async () => {
    const dir = await project({ 'compose.yaml': 'services:\n  foo:\n    image: foo\n  bar:\n    image: bar\n    profiles: [test]\n  zot:\n    image: zot\n    profiles: [debug]\n' });
    const names = (p: { services: object; disabledServices: object }) => [Object.keys(p.services).sort(), Object.keys(p.disabledServices).sort()];
    assert.deepEqual(names(await load(dir)), [['foo'], ['bar', 'zot']]);
    assert.deepEqual(names(await load(dir, { profiles: ['test'] })), [['bar', 'foo'], ['zot']]);
    assert.deepEqual(names(await load(dir, { environment: { COMPOSE_PROFILES: 'debug,test' } })), [['bar', 'foo', 'zot'], []]);
    assert.deepEqual(names(await load(dir, { profiles: ['*'] })), [['bar', 'foo', 'zot'], []]);
  });
});

describe('compose model: normalisation', () => {
  it('turns the short syntaxes into long forms', async () => {
    const dir = await project({
      'compose.yaml': `services:
  web:
    image: w
    command: sh -c 'echo "a b"' \\"x\\"
    entrypoint: ["/bin/tini", "--"]
    environment: [A=1, FROMENV, NOTSET]
    env_file: [web.env, {path: optional.env, required: false}]
    labels: [a=b]
    ports: ["80", "8080:80", "127.0.0.1:8081:81/udp", "[::1]:8082:82", "3000-3001:4000-4001", 5000, {target: "6000", published: 6001}]
    volumes: ["./data:/data:ro", "named:/named:ro,nocopy", "/anon", "~/home:/home", {type: bind, source: ./long, target: /long}, {type: tmpfs, target: /t}]
    depends_on: [db]
    networks: [front]
    healthcheck: {test: "curl -f localhost", retries: "3"}
    secrets: [s1, {source: s1, target: /other}]
    configs: [c1]
    privileged: "true"
    deploy: {replicas: 3}
  db:
    image: d
    build: ./db
    network_mode: host
    depends_on:
      cache: {condition: service_healthy, required: false}
  gitbuild:
    image: g
    build: {context: "https://github.com/x/y.git#main", dockerfile: other.Dockerfile}
networks:
  front: {}
  ext: {external: true}
  named: {name: exact}
volumes:
  named: {}
  outside: {external: true, name: real}
secrets:
  s1: {file: ./s1.txt}
configs:
  c1: {environment: CONF}
`,
      'web.env': '# env file\nA=0\nW="x y"\nexport E=1\nFROMENV\n',
    });
    const p = await load(dir, { environment: { FROMENV: 'env-value' } });
    const web = p.services.web!;
    assert.deepEqual(web.command, ['sh', '-c', 'echo "a b"', '"x"']);
    assert.deepEqual(web.entrypoint, ['/bin/tini', '--']);
    assert.deepEqual(web.environment, { A: '1', W: 'x y', E: '1', FROMENV: 'env-value', NOTSET: null });
    assert.deepEqual(web.labels, { a: 'b' });
    for (const [i, want] of [
      { target: 80 },
      { target: 80, published: '8080' },
      { target: 81, published: '8081', host_ip: '127.0.0.1', protocol: 'udp' },
      { target: 82, published: '8082', host_ip: '::1' },
      { target: 4000, published: '3000' },
      { target: 4001, published: '3001' },
      { target: 5000 },
      { target: 6000, published: '6001' },
    ].entries())
      assert.deepEqual(web.ports![i], { protocol: 'tcp', mode: 'ingress', ...want });
    assert.equal(web.ports!.length, 8);
    const home = (await import('node:os')).homedir();
    assert.deepEqual(web.volumes, [
      { type: 'bind', source: join(dir, 'data'), target: '/data', read_only: true, bind: { create_host_path: true } },
      { type: 'volume', source: 'named', target: '/named', read_only: true, volume: { nocopy: true } },
      { type: 'volume', target: '/anon' },
      { type: 'bind', source: join(home, 'home'), target: '/home', bind: { create_host_path: true } },
      { type: 'bind', source: join(dir, 'long'), target: '/long' },
      { type: 'tmpfs', target: '/t' },
    ]);
    assert.deepEqual(web.depends_on, { db: { condition: 'service_started', required: true } });
    assert.deepEqual(web.networks, { front: null });
    assert.deepEqual(web.healthcheck, { test: ['CMD-SHELL', 'curl -f localhost'], retries: 3 });
    assert.deepEqual(web.secrets, [{ source: 's1' }, { source: 's1', target: '/other' }]);
    assert.deepEqual(web.configs, [{ source: 'c1' }]);
    assert.equal(web.privileged, true);
    assert.equal(web.scale, 3);
    const db = p.services.db!;
    assert.deepEqual(db.build, { context: join(dir, 'db'), dockerfile: 'Dockerfile' });
    assert.equal(db.networks, undefined);
    assert.deepEqual(db.depends_on, { cache: { condition: 'service_healthy', required: false } });
    assert.equal(db.scale, 1);
    assert.deepEqual(p.services.gitbuild!.build, { context: 'https://github.com/x/y.git#main', dockerfile: 'other.Dockerfile' });
    assert.deepEqual(p.services.gitbuild!.networks, { default: null });
    assert.deepEqual(p.networks, {
      front: { name: `${p.name}_front` },
      ext: { name: 'ext', external: true },
      named: { name: 'exact' },
      default: { name: `${p.name}_default` },
    });
    assert.deepEqual(p.volumes, { named: { name: `${p.name}_named` }, outside: { name: 'real', external: true } });
    assert.deepEqual(p.secrets, { s1: { name: `${p.name}_s1`, file: join(dir, 's1.txt') } });
    assert.deepEqual(p.configs, { c1: { name: `${p.name}_c1`, environment: 'CONF' } });
  });

  it('refuses undefined volumes, networks, secrets and dependencies, cycles, and container_name with scale', async () => {
    const cases: [string, string][] = [
      ['services:\n  web:\n    image: x\n    volumes: [foo:/foo]\n', 'service "web" refers to undefined volume foo: invalid compose project'],
      ['services:\n  web:\n    image: x\n    networks: [back]\n', 'service "web" refers to undefined network back: invalid compose project'],
      ['services:\n  web:\n    image: x\n    secrets: [s]\n', 'service "web" refers to undefined secret s: invalid compose project'],
      ['services:\n  web:\n    image: x\n    depends_on: [db]\n', 'service "web" depends on undefined service "db": invalid compose project'],
      ['services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n', 'dependency cycle detected: a -> b -> c -> a'],
      ['services:\n  web:\n    image: x\n    container_name: one\n    scale: 2\n', "services.web: can't set container_name and web as container name must be unique: invalid compose project"],
      ['services:\n  web:\n    image: x\n    ports: ["99999:80"]\n', 'invalid hostPort: 99999 in port "99999:80"'],
      ['services:\n  web:\n    image: x\n    env_file: nope.env\n', ''],
    ];
    for (const [text, want] of cases) {
      const dir = await project({ 'compose.yaml': text });
      assert.equal(await loadError(dir), want || `env file ${join(dir, 'nope.env')} not found: stat ${join(dir, 'nope.env')}: no such file or directory`);
    }
  });

  it('names the project: -p, COMPOSE_PROJECT_NAME (env or .env), name:, then the directory made valid', async () => {
    const dir = await project({ 'compose.yaml': 'name: fromfile\nservices:\n  s:\n    image: x\n' }, 'Proj.Dir_1');
    assert.equal((await load(dir, { projectName: 'flag' })).name, 'flag');
    assert.equal((await load(dir, { environment: { COMPOSE_PROJECT_NAME: 'envname' } })).name, 'envname');
    assert.equal((await load(dir)).name, 'fromfile');
    assert.equal(await loadError(dir, { projectName: 'Bad' }), 'invalid project name "Bad": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number');
    const plain = await project({ 'compose.yaml': 'services:\n  s:\n    image: x\n', '.env': 'COMPOSE_PROJECT_NAME=dotenvname\n' }, '_My.App');
    assert.equal((await load(plain)).name, 'dotenvname');
    await rm(join(plain, '.env'));
    const p = await load(plain);
    assert.equal(p.name, 'myapp');
    assert.equal(p.networks.default!.name, 'myapp_default');
  });
});

describe('compose model: output', () => {
  it('prints name first, services sorted without their name, then the other sections; empty ones left out', async () => {
    const dir = await project({ 'compose.yaml': 'x-top: 1\nservices:\n  zeta:\n    image: z\n  alpha:\n    image: a\n    x-mine: 1\nvolumes:\n  v: {}\n' });
    const p = await load(dir, { projectName: 'out' });
    const text = projectToYaml(p);
    assert.deepEqual(Object.keys(parse(text) as object), ['name', 'services', 'networks', 'volumes']);
    assert.ok(text.startsWith('name: out\nservices:\n  alpha:\n'), text);
    const doc = parse(text) as { services: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(doc.services), ['alpha', 'zeta']);
    assert.equal(doc.services.alpha!.name, undefined);
    assert.equal(doc.services.alpha!['x-mine'], 1);
    assert.ok(!text.includes('x-top'));
    assert.deepEqual(JSON.parse(projectToJson(p)), parse(text));
  });
});
