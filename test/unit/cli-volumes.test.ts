// The CLI's side of volumes, against what the docker 28 CLI does: the request bodies of run's `-v`, `--mount`,
// `--tmpfs`, `--volumes-from` and `--read-only` (captured by pointing docker 28.2.2 at a socket that records its
// requests), docker's client-side errors and their wording, and `berth volume …` side by side with `docker volume …`
// against a fake daemon that records what each sends and answers both the same.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBody, goCsvRecord, mountRequest, volumeFlags } from '../../src/cli/commands/run-flags.js';
import { goVolume, volumeCreateBody, volumePruneFilters } from '../../src/cli/commands/volume.js';
import { createFlags } from '../harness/cli-flags.js';
import { dist, run } from '../harness/daemon.js';

/** The options `berth create ARGS… busybox` parses to. */
const flags = createFlags;

const cwd = process.cwd();

// What docker 28.2.2 sent for `-v SPEC`: Config.Volumes keys (anonymous volumes) and HostConfig.Binds.
const volumeSpecs: Array<[string, { volumes?: string[]; binds?: string[] }]> = [
  ['/data', { volumes: ['/data'] }],
  ['/data/', { volumes: ['/data/'] }],
  ['/', { volumes: ['/'] }],
  ['rel', { volumes: ['rel'] }],
  [':', { volumes: [':'] }],
  ['::', { volumes: ['::'] }],
  // a single letter before a colon is a Windows drive: one anonymous target
  ['a:b', { volumes: ['a:b'] }],
  ['x:/d', { volumes: ['x:/d'] }],
  ['é:/d', { volumes: ['é:/d'] }],
  ['vol:/data', { binds: ['vol:/data'] }],
  ['vol:/data:ro', { binds: ['vol:/data:ro'] }],
  ['vol:/data:nocopy', { binds: ['vol:/data:nocopy'] }],
  ['/h:/data', { binds: ['/h:/data'] }],
  ['/h:/data:ro,z', { binds: ['/h:/data:ro,z'] }],
  ['/h:/data:rshared', { binds: ['/h:/data:rshared'] }],
  ['/h:/', { binds: ['/h:/'] }],
  ['/data:ro', { binds: ['/data:ro'] }],
  ['a:/b:bogus', { binds: ['a:/b:bogus'] }],
  ['a:b:c:d', { binds: ['a:b:c:d'] }],
  ['ab:c:d:e', { binds: ['ab:c:d:e'] }],
  ['1:/d', { binds: ['1:/d'] }],
  ['/h:c:/x:ro', { binds: ['/h:c:/x:ro'] }],
  ['~/x:/d', { binds: ['~/x:/d'] }],
  ['a/b:/d', { binds: ['a/b:/d'] }],
  // a host path starting with "." is made absolute from the CLI's working directory
  ['./rel:/data', { binds: [`${resolve(cwd, 'rel')}:/data`] }],
  ['./a/../b:/d:ro', { binds: [`${resolve(cwd, 'b')}:/d:ro`] }],
  ['.:/d', { binds: [`${cwd}:/d`] }],
  ['..:/d', { binds: [`${resolve(cwd, '..')}:/d`] }],
  ['.x:/d', { binds: [`${resolve(cwd, '.x')}:/d`] }],
];

// What docker 28.2.2 printed (after "docker: ") for `-v SPEC`, exiting 125.
const badVolumeSpecs: Array<[string, string]> = [
  ['', 'invalid empty volume spec'],
  [':/x', 'invalid spec: :/x: empty section between colons'],
  ['/h:', 'invalid spec: /h:: empty section between colons'],
  [':::', 'invalid spec: :::: empty section between colons'],
  ['/a::ro', 'invalid spec: /a::ro: empty section between colons'],
  ['/a:/b:/c:ro', 'invalid spec: /a:/b:/c:ro: too many colons'],
];

describe('-v/--volume', () => {
  it('sends a bare target as an anonymous volume and anything with a source as a bind, as docker does', () => {
    for (const [spec, want] of volumeSpecs) {
      const got = volumeFlags([spec]);
      assert.deepEqual(Object.keys(got.Volumes), want.volumes ?? [], `${spec}: Volumes`);
      assert.deepEqual(got.Binds, want.binds ?? [], `${spec}: Binds`);
    }
  });

  it("refuses what docker refuses, in docker's words", () => {
    for (const [spec, message] of badVolumeSpecs) assert.throws(() => volumeFlags([spec]), { message }, spec);
  });

  it('sends a repeated spec once (docker keeps them in a set), and different spellings each', () => {
    assert.deepEqual(volumeFlags(['/h:/d', '/data', '/h:/d', '/data']), { Volumes: { '/data': {} }, Binds: ['/h:/d'] });
    assert.deepEqual(volumeFlags(['/h:/d:ro', '/h:/d']).Binds, ['/h:/d:ro', '/h:/d']);
  });
});

type Mount = ReturnType<typeof mountRequest>;
// What docker 28.2.2 sent as the HostConfig.Mounts entry for `--mount VALUE`.
const mounts: Array<[string, Mount]> = [
  ['type=volume,target=/d', { Type: 'volume', Target: '/d' }],
  ['target=/d', { Type: 'volume', Target: '/d' }],
  ['type=volume,src=v,dst=/d', { Type: 'volume', Source: 'v', Target: '/d' }],
  ['type=volume,source=v,destination=/d,readonly', { Type: 'volume', Source: 'v', Target: '/d', ReadOnly: true }],
  ['type=volume,source=v,target=/d,ro=false', { Type: 'volume', Source: 'v', Target: '/d' }],
  ['type=volume,source=v,target=/d,readonly=1', { Type: 'volume', Source: 'v', Target: '/d', ReadOnly: true }],
  ['ro=T,dst=/t', { Type: 'volume', Target: '/t', ReadOnly: true }],
  ['RO,dst=/d', { Type: 'volume', Target: '/d', ReadOnly: true }],
  ['type=volume,dst=/d,src=', { Type: 'volume', Target: '/d' }],
  ['type=volume,src=v,dst=/d,volume-nocopy', { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { NoCopy: true, DriverConfig: {} } }],
  ['type=volume,src=v,dst=/d,volume-nocopy=false', { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { DriverConfig: {} } }],
  [
    'type=volume,src=v,dst=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m',
    { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } } } },
  ],
  ['dst=/d,volume-opt=a=1,volume-opt=a=2', { Type: 'volume', Target: '/d', VolumeOptions: { DriverConfig: { Options: { a: '2' } } } }],
  ['type=volume,dst=/d,volume-opt=k', { Type: 'volume', Target: '/d', VolumeOptions: { DriverConfig: { Options: { k: '' } } } }],
  ['type=volume,dst=/d,volume-opt==x', { Type: 'volume', Target: '/d', VolumeOptions: { DriverConfig: {} } }],
  ['type=volume,src=v,dst=/d,volume-label=a=b,volume-label=c', { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { Labels: { a: 'b', c: '' }, DriverConfig: {} } }],
  ['type=volume,src=v,dst=/d,volume-driver=local', { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { DriverConfig: { Name: 'local' } } }],
  ['type=volume,src=v,dst=/d,volume-subpath=sub/dir', { Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { Subpath: 'sub/dir', DriverConfig: {} } }],
  ['type=volume,src=v,dst=/d,consistency=cached', { Type: 'volume', Source: 'v', Target: '/d', Consistency: 'cached' }],
  ['type=bind,src=/h,dst=/d', { Type: 'bind', Source: '/h', Target: '/d' }],
  ['type=bind,dst=/t', { Type: 'bind', Target: '/t' }],
  ['type=bind,src=/h,dst=/d,bind-propagation=RSLAVE', { Type: 'bind', Source: '/h', Target: '/d', BindOptions: { Propagation: 'rslave' } }],
  ['type=bind,dst=/t,bind-propagation=', { Type: 'bind', Target: '/t', BindOptions: {} }],
  ['type=bind,src=/h,dst=/d,bind-nonrecursive', { Type: 'bind', Source: '/h', Target: '/d', BindOptions: { NonRecursive: true } }],
  ['type=bind,dst=/t,bind-nonrecursive=false', { Type: 'bind', Target: '/t', BindOptions: {} }],
  ['type=bind,src=/h,dst=/d,bind-recursive=disabled', { Type: 'bind', Source: '/h', Target: '/d', BindOptions: { NonRecursive: true } }],
  ['type=bind,src=/h,dst=/d,bind-recursive=enabled', { Type: 'bind', Source: '/h', Target: '/d' }],
  ['type=bind,src=/h,dst=/d,bind-recursive=writable,ro', { Type: 'bind', Source: '/h', Target: '/d', ReadOnly: true, BindOptions: { ReadOnlyNonRecursive: true } }],
  [
    'type=bind,src=/h,dst=/d,bind-recursive=readonly,ro,bind-propagation=RPRIVATE',
    { Type: 'bind', Source: '/h', Target: '/d', ReadOnly: true, BindOptions: { Propagation: 'rprivate', ReadOnlyForceRecursive: true } },
  ],
  ['type=bind,src=./rel,dst=/d', { Type: 'bind', Source: resolve(cwd, 'rel'), Target: '/d' }],
  ['type=bind,src=.,dst=/d', { Type: 'bind', Source: cwd, Target: '/d' }],
  ['type=volume,src=../x,dst=/d', { Type: 'volume', Source: resolve(cwd, '../x'), Target: '/d' }],
  ['type=volume,src=.x,dst=/d', { Type: 'volume', Source: resolve(cwd, '.x'), Target: '/d' }],
  ['type=bind,src=rel,dst=/d', { Type: 'bind', Source: 'rel', Target: '/d' }],
  ['type=bind,src=~/x,dst=/d', { Type: 'bind', Source: '~/x', Target: '/d' }],
  ['type=tmpfs,dst=/t', { Type: 'tmpfs', Target: '/t' }],
  ['TYPE=TMPFS,DST=/t', { Type: 'tmpfs', Target: '/t' }],
  ['type=tmpfs,dst=/t,ro', { Type: 'tmpfs', Target: '/t', ReadOnly: true }],
  ['type=tmpfs,dst=/t,tmpfs-size=64m', { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 67108864 } }],
  ['type=tmpfs,dst=/t,tmpfs-size=1000', { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1000 } }],
  ['type=tmpfs,dst=/t,tmpfs-size=1.5m', { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1572864 } }],
  ['type=tmpfs,dst=/t,tmpfs-size=0', { Type: 'tmpfs', Target: '/t', TmpfsOptions: {} }],
  ['type=tmpfs,dst=/t,tmpfs-mode=1777', { Type: 'tmpfs', Target: '/t', TmpfsOptions: { Mode: 0o1777 } }],
  ['type=tmpfs,dst=/t,tmpfs-mode=0700,tmpfs-size=1g', { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1073741824, Mode: 0o700 } }],
  ['type=tmpfs,dst=/t,tmpfs-mode=37777777777', { Type: 'tmpfs', Target: '/t', TmpfsOptions: { Mode: 4294967295 } }],
  ['type=image,src=busybox,dst=/d,image-subpath=bin', { Type: 'image', Source: 'busybox', Target: '/d', ImageOptions: { Subpath: 'bin' } }],
  ['type=bogus,dst=/d', { Type: 'bogus', Target: '/d' }],
  ['dst=/d,type=bind,type=volume', { Type: 'volume', Target: '/d' }],
  // Go's CSV: quoted fields may hold commas, "" is a quote, a field-less line ends the record
  ['"type=bind,src=/h,with,comma",dst=/d', { Type: 'bind,src=/h,with,comma', Target: '/d' }],
  ['type=bind,"src=/h,with,comma",dst=/d', { Type: 'bind', Source: '/h,with,comma', Target: '/d' }],
  ['"type=bind",dst=/d,"src=a""b"', { Type: 'bind', Source: 'a"b', Target: '/d' }],
  ['type=bind,dst=/d\nfoo', { Type: 'bind', Target: '/d' }],
  ['\ntype=bind,dst=/x', { Type: 'bind', Target: '/x' }],
];

// What docker 28.2.2 printed for `--mount VALUE` (after `invalid argument "VALUE" for "--mount" flag: `), exiting 125.
const badMounts: Array<[string, string]> = [
  ['type=volume,source=v,target=/d,readonly=yes', 'invalid value for readonly: yes'],
  ['READONLY=maybe,dst=/t', 'invalid value for readonly: maybe'],
  ['type=volume,VOLUME-NOCOPY=x,dst=/t', 'invalid value for volume-nocopy: x'],
  ['type=bind,src=/h,dst=/d,bind-nonrecursive=maybe', 'invalid value for bind-nonrecursive: maybe'],
  ['type=bind,src=/h,dst=/d,bind-recursive=writable', "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"],
  ['type=bind,dst=/d,bind-recursive=writable,ro=false', "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"],
  ['type=bind,src=/h,dst=/d,bind-recursive=readonly,ro', "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction"],
  ['type=bind,src=/h,dst=/d,bind-recursive=bogus', 'invalid value for bind-recursive: bogus (must be "enabled", "disabled", "writable", or "readonly")'],
  ['type=bind,dst=/d,bind-recursive=ENABLED', 'invalid value for bind-recursive: ENABLED (must be "enabled", "disabled", "writable", or "readonly")'],
  ['type=bind,src=/h,dst=/d,bind-create-host-path', "invalid field 'bind-create-host-path' must be a key=value pair"],
  ['type=bind,src=/h,dst=/d,bind-create-host-path=true', "unexpected key 'bind-create-host-path' in 'bind-create-host-path=true'"],
  ['type=tmpfs,dst=/t,tmpfs-size=bogus', 'invalid value for tmpfs-size: bogus'],
  ['type=tmpfs,dst=/t,tmpfs-size=-1', 'invalid value for tmpfs-size: -1'],
  ['type=tmpfs,dst=/t,tmpfs-mode=999', 'invalid value for tmpfs-mode: 999'],
  ['type=tmpfs,dst=/t,tmpfs-mode=-1', 'invalid value for tmpfs-mode: -1'],
  ['type=tmpfs,dst=/t,tmpfs-mode=', 'invalid value for tmpfs-mode: '],
  ['type=tmpfs,dst=/t,tmpfs-mode=0o7', 'invalid value for tmpfs-mode: 0o7'],
  ['type=tmpfs,dst=/t,tmpfs-mode=+7', 'invalid value for tmpfs-mode: +7'],
  ['type=tmpfs,dst=/t,tmpfs-mode=40000000000', 'invalid value for tmpfs-mode: 40000000000'],
  ['type=,dst=/d', 'type is required'],
  ['type=,bind-propagation=x', 'type is required'],
  ['type=volume', 'target is required'],
  ['type=volume,dst=', 'target is required'],
  ['type=tmpfs,bind-propagation=x', 'target is required'],
  ['type=volume,src=v,dst=/d,bogus', "invalid field 'bogus' must be a key=value pair"],
  ['type=volume,src=v,dst=/d,bogus=1', "unexpected key 'bogus' in 'bogus=1'"],
  [' type=volume,dst=/d', "unexpected key ' type' in ' type=volume'"],
  ['type = volume,dst=/d', "unexpected key 'type ' in 'type = volume'"],
  ['type=bind,dst=/d,', "invalid field '' must be a key=value pair"],
  ['type=bind,,dst=/d', "invalid field '' must be a key=value pair"],
  ['type=bind,src=/h,dst=/d,volume-nocopy', "cannot mix 'volume-*' options with mount type 'bind'"],
  ['type=tmpfs,dst=/d,volume-opt=a=b', "cannot mix 'volume-*' options with mount type 'tmpfs'"],
  ['type=tmpfs,bind-propagation=x,dst=/d,volume-nocopy', "cannot mix 'volume-*' options with mount type 'tmpfs'"],
  ['type=image,dst=/t,volume-nocopy', "cannot mix 'volume-*' options with mount type 'image'"],
  ['type=volume,dst=/t,image-subpath=x', "cannot mix 'image-*' options with mount type 'volume'"],
  ['type=volume,dst=/d,bind-propagation=shared', "cannot mix 'bind-*' options with mount type 'volume'"],
  ['type=volume,dst=/d,tmpfs-size=1m', "cannot mix 'tmpfs-*' options with mount type 'volume'"],
  ['', 'EOF'],
  ['type=bind,src="/h",dst=/d', 'parse error on line 1, column 15: bare " in non-quoted-field'],
  ['dst=/d,src=é"', 'parse error on line 1, column 14: bare " in non-quoted-field'],
  ['type=bind,"src=/h"x,dst=/d', 'parse error on line 1, column 18: extraneous or missing " in quoted-field'],
  ['"type=bind","dst=/d"x', 'parse error on line 1, column 20: extraneous or missing " in quoted-field'],
  ['type=bind,"src=/h,dst=/d', 'parse error on line 1, column 25: extraneous or missing " in quoted-field'],
  ['"type=bind', 'parse error on line 1, column 11: extraneous or missing " in quoted-field'],
  ['"', 'parse error on line 1, column 2: extraneous or missing " in quoted-field'],
];

describe('--mount', () => {
  it('sends the Mount docker sends for each spelling, options objects and all', () => {
    for (const [value, want] of mounts) assert.deepEqual(mountRequest(value), want, value);
  });

  it("refuses what docker's flag parser refuses, in its words, with the value quoted as Go's %q", () => {
    for (const [value, message] of badMounts) {
      const quoted = JSON.stringify(value); // none of these values holds a character where %q and JSON differ
      assert.throws(() => mountRequest(value), { message: `invalid argument ${quoted} for "--mount" flag: ${message}`, exitCode: 125 }, value);
    }
  });

  it("reads one record as Go's encoding/csv does", () => {
    assert.deepEqual(goCsvRecord('a,"b,c",,"d""e"'), ['a', 'b,c', '', 'd"e']);
    assert.deepEqual(goCsvRecord('"x"\r\ny'), ['x']);
    assert.throws(() => goCsvRecord('\n\n'), { message: 'EOF' });
  });
});

describe("run's volume flags in the create body", () => {
  it('puts -v, --mount, --tmpfs, --volumes-from, --read-only and --volume-driver where docker does', () => {
    const body = createBody(
      'busybox',
      [],
      flags('-v', '/h:/d', '--mount', 'type=tmpfs,dst=/t', '--mount', 'type=volume,dst=/u', '-v', '/e', '--tmpfs', '/x', '--tmpfs', '/y:ro,size=1m', '--volumes-from', 'c1:ro', '--volumes-from', 'c2', '--read-only', '--volume-driver', 'foo'),
    );
    assert.deepEqual(body.Volumes, { '/e': {} });
    assert.deepEqual(body.HostConfig.Binds, ['/h:/d']);
    assert.deepEqual(body.HostConfig.Mounts, [
      { Type: 'tmpfs', Target: '/t' },
      { Type: 'volume', Target: '/u' },
    ]);
    assert.deepEqual(body.HostConfig.Tmpfs, { '/x': '', '/y': 'ro,size=1m' });
    assert.deepEqual(body.HostConfig.VolumesFrom, ['c1:ro', 'c2']);
    assert.equal(body.HostConfig.ReadonlyRootfs, true);
    assert.equal(body.HostConfig.VolumeDriver, 'foo');
  });

  it('sends an anonymous -v only in Config.Volumes, and nothing of the kind without volume flags', () => {
    const anon = createBody('busybox', [], flags('-v', '/data'));
    assert.deepEqual(anon.Volumes, { '/data': {} });
    assert.equal(anon.HostConfig.Binds, undefined);
    const none = createBody('busybox', [], flags());
    for (const k of ['Binds', 'Mounts', 'Tmpfs', 'VolumesFrom', 'ReadonlyRootfs'] as const) assert.equal(none.HostConfig[k], undefined, k);
    assert.equal(none.Volumes, undefined);
    assert.deepEqual(createBody('busybox', [], flags('--tmpfs', '', '--tmpfs', ':x')).HostConfig.Tmpfs, { '': 'x' });
  });

  it("fails the create with docker's -v error (a usage error, not a flag error) and --mount's flag error", () => {
    assert.throws(() => createBody('busybox', [], flags('-v', '/ok:/ok', '-v', ':/x')), (e: Error) => e.message === 'invalid spec: :/x: empty section between colons' && !('exitCode' in e));
    assert.throws(() => createBody('busybox', [], flags('--mount', 'type=volume')), { message: 'invalid argument "type=volume" for "--mount" flag: target is required', exitCode: 125 });
  });
});

describe('volume create, prune and inspect bodies', () => {
  it('sends only the fields given, as docker omits empty ones', () => {
    assert.deepEqual(volumeCreateBody('bvol-a', { driver: 'local', label: [], opt: [] }), { Driver: 'local', Name: 'bvol-a' });
    assert.deepEqual(volumeCreateBody(undefined, { driver: 'local', label: [], opt: [] }), { Driver: 'local' });
    assert.deepEqual(volumeCreateBody(undefined, { name: 'y', driver: '', label: ['a=b', 'c', ' d=e'], opt: ['type=tmpfs', 'o=size=1m', 'k', '=x'] }), {
      Name: 'y',
      Labels: { a: 'b', c: '', ' d': 'e' },
      DriverOpts: { type: 'tmpfs', o: 'size=1m', k: '', '': 'x' },
    });
    assert.throws(() => volumeCreateBody('x', { name: 'y', driver: 'local', label: [], opt: [] }), { message: 'conflicting options: cannot specify a volume-name through both --name and as a positional arg', exitCode: 1 });
    assert.throws(() => volumeCreateBody('x', { driver: 'local', label: ['a b=c'], opt: [] }), { message: /^invalid argument "a b=c" for "--label" flag: label 'a b' contains whitespaces\n/, exitCode: 125 });
    assert.throws(() => volumeCreateBody('x', { driver: 'local', label: [''], opt: [] }), { message: /^invalid argument "" for "--label" flag: invalid label '': empty name\n/, exitCode: 125 });
  });

  it('prunes anonymous volumes unless -a sends all=true, which --filter all=… conflicts with', () => {
    assert.equal(volumePruneFilters([], false), undefined);
    assert.deepEqual(JSON.parse(volumePruneFilters(['label=x', ' Label! = y '], true)!), { label: ['x'], 'label!': ['y'], all: ['true'] });
    assert.throws(() => volumePruneFilters(['ALL=false'], true), { message: 'conflicting options: cannot specify both --all and --filter all=1', exitCode: 1 });
    assert.deepEqual(JSON.parse(volumePruneFilters(['all=true'], false)!), { all: ['true'] });
  });

  it("re-encodes a Volume as docker's volume inspect does: Go's field order, omitempty, sorted maps", () => {
    const v = goVolume({ Scope: 'local', Name: 'n', Options: null, Mountpoint: '/m', Labels: { z: '1', a: '2' }, Driver: 'local', Status: {}, UsageData: null, CreatedAt: '' });
    assert.equal(JSON.stringify(v), '{"Driver":"local","Labels":{"a":"2","z":"1"},"Mountpoint":"/m","Name":"n","Options":null,"Scope":"local"}');
  });
});

/** A daemon stand-in on a unix socket: records each request and answers from `answers` (method and path prefix). */
async function fakeDaemon(dir: string, answers: Record<string, { status?: number; body?: unknown }>) {
  const requests: Array<{ method: string; url: string; body: string }> = [];
  const sock = join(dir, 'fake.sock');
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/^\/v1\.\d+/, '');
      res.setHeader('Api-Version', '1.45');
      res.setHeader('Content-Type', 'application/json');
      if (path.startsWith('/_ping')) return res.end('OK');
      requests.push({ method: req.method ?? '', url: decodeURIComponent(path), body });
      const key = Object.keys(answers)
        .sort((a, b) => b.length - a.length)
        .find((k) => `${req.method} ${path}`.startsWith(k));
      const answer = key ? answers[key]! : { status: 404, body: { message: 'not answered by the fake' } };
      res.statusCode = answer.status ?? 200;
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((ok) => server.listen(sock, ok));
  return { host: `unix://${sock}`, requests, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

const docker = '/usr/local/bin/docker';

describe('berth volume beside docker volume, against the same fake daemon', { skip: !existsSync(docker) && 'no docker CLI' }, () => {
  let dir: string;
  let fake: Awaited<ReturnType<typeof fakeDaemon>>;
  const vol = (name: string, extra: object = {}) => ({ Name: name, Driver: 'local', Mountpoint: `/var/lib/x/volumes/${name}/_data`, CreatedAt: '2024-01-02T03:04:05Z', Labels: { x: 'y' }, Scope: 'local', Options: null, ...extra });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-volcli-'));
    fake = await fakeDaemon(dir, {
      'POST /volumes/create': { status: 201, body: vol('bvol-a') },
      'GET /volumes/bvol-a': { body: vol('bvol-a') },
      'GET /volumes/bvol-c': { body: vol('bvol-c', { Labels: { z: '<a&b>', a: '1' }, Options: { o: 'x', device: 'tmpfs' }, Status: { k: 1 }, UsageData: { Size: -1, RefCount: 0 }, Extra: 'x', CreatedAt: undefined }) },
      'GET /volumes/bvol-nope': { status: 404, body: { message: 'get bvol-nope: no such volume' } },
      'GET /volumes': {
        body: {
          Volumes: [vol('bvol-b', { Labels: { x: 'y' }, Options: { type: 'tmpfs' } }), vol('bvol-a', { Labels: null, UsageData: { Size: 1234, RefCount: 2 } }), vol('bvol-10'), vol('bvol-9')],
          Warnings: ['ignored by docker'],
        },
      },
      'DELETE /volumes/bvol-a': { status: 204 },
      'DELETE /volumes/bvol-nope': { status: 404, body: { message: 'get bvol-nope: no such volume' } },
      'DELETE /volumes/bvol-busy': { status: 409, body: { message: 'remove bvol-busy: volume is in use - [0123456789ab]' } },
      'POST /volumes/prune': { body: { VolumesDeleted: ['bvol-a', 'bvol-b'], SpaceReclaimed: 123456 } },
    });
  });
  after(async () => {
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** berth's output in docker's words: the program names itself in errors and hints. */
  const asDocker = (s: string) => s.replace(/^berth: /gm, 'docker: ').replace(/'berth /g, "'docker ").replace(/^Usage: {2}berth /gm, 'Usage:  docker ');
  /** The requests a run made, filters decoded to sets (docker sends {"k":{"v":true}}, Berth {"k":["v"]}). */
  const sent = (from: number) =>
    fake.requests.slice(from).map((r) => {
      const url = r.url.replace(/filters=(\{.*\})$/, (_m, f: string) => {
        const parsed = JSON.parse(f) as Record<string, string[] | Record<string, boolean>>;
        return `filters=${JSON.stringify(Object.fromEntries(Object.entries(parsed).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, (Array.isArray(v) ? v : Object.keys(v)).sort()])))}`;
      });
      return `${r.method} ${url} ${r.body.trim() ? JSON.stringify(JSON.parse(r.body), Object.keys(JSON.parse(r.body)).sort()) : ''}`;
    });
  const same = async (args: string[], input = '') => {
    const before = fake.requests.length;
    const theirs = await run(docker, args, { env: { DOCKER_HOST: fake.host, DOCKER_CONFIG: dir }, input });
    const theirRequests = sent(before);
    const mid = fake.requests.length;
    const ours = await run(process.execPath, [dist('berth'), ...args], { env: { BERTH_HOST: fake.host, DOCKER_HOST: '' }, input });
    const what = `berth ${args.join(' ')}`;
    assert.equal(asDocker(ours.stdout), theirs.stdout, `${what}: stdout`);
    assert.equal(asDocker(ours.stderr), theirs.stderr, `${what}: stderr`);
    assert.equal(ours.code, theirs.code, `${what}: exit code`);
    assert.deepEqual(sent(mid), theirRequests, `${what}: requests`);
    return ours;
  };

  it('create: the name printed, the body docker sends, and its errors', async () => {
    await same(['volume', 'create', 'bvol-a']);
    await same(['volume', 'create', '--name', 'bvol-a', '-d', 'local', '--label', 'a=b', '--label', 'c', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m']);
    await same(['volume', 'create']);
    await same(['volume', 'create', '--name', 'x', '--name', 'bvol-a']);
    await same(['volume', 'create', '-d', '', '-o', 'k', '-o', '=x', '--label', ' a=b', 'bvol-a']);
    await same(['volume', 'create', 'x', '--name', 'y']);
    await same(['volume', 'create', 'a', 'b']);
    await same(['volume', 'create', '--label', 'a b=c', 'x']);
    await same(['volume', 'create', '--label', '', 'x']);
  });

  it('ls: the table, -q, filters, and --format with its fields, json and raw', async () => {
    await same(['volume', 'ls']);
    await same(['volume', 'list', '-q']);
    await same(['volume', 'ls', '-f', 'dangling=true', '-f', 'label=x', '--filter', 'name=bvol', '-f', ' Driver = local ']);
    await same(['volume', 'ls', '--format', 'json']);
    await same(['volume', 'ls', '--format', '{{json .}}']);
    await same(['volume', 'ls', '--format', 'table {{.Name}}\\t{{.Labels}}\\t{{.Mountpoint}}\\t{{.Scope}}\\t{{.Size}}\\t{{.Links}}\\t{{.Label "x"}}\\t{{.Driver}}\\t{{.Group}}\\t{{.Availability}}\\t{{.Status}}']);
    await same(['volume', 'ls', '--format', 'table']);
    await same(['volume', 'ls', '--format', 'raw']);
    await same(['volume', 'ls', '--format', 'raw', '-q']);
    await same(['volume', 'ls', '-q', '--format', '{{.Mountpoint}}']);
    await same(['volume', 'ls', '-q', '--format', 'table {{.Name}}']);
    await same(['volume', 'ls', '--format', '{{.CreatedAt}}']);
    await same(['volume', 'ls', '-f', 'bogus']);
    await same(['volume', 'ls', 'x']);
  });

  it('inspect: the JSON docker prints, its templates, and a missing volume', async () => {
    await same(['volume', 'inspect', 'bvol-a', 'bvol-c']);
    await same(['volume', 'inspect', '--format', 'json', 'bvol-c']);
    await same(['volume', 'inspect', '-f', '{{.Name}} {{.Labels}} {{.Options}} {{.Status}} {{.UsageData}} {{.ClusterVolume}} {{.CreatedAt}} {{json .Labels}}', 'bvol-c', 'bvol-a']);
    await same(['volume', 'inspect', '-f', '{{.Labels.nope}} {{.Options.x}} {{json .UsageData}}', 'bvol-a']);
    await same(['volume', 'inspect', '-f', '{{.UsageData.Size}} {{.Extra}}', 'bvol-c']);
    await same(['volume', 'inspect', '-f', '{{', 'bvol-a']);
    const missing = await same(['volume', 'inspect', 'bvol-nope', 'bvol-a']);
    assert.equal(missing.stderr, 'Error response from daemon: get bvol-nope: no such volume\n');
    await same(['volume', 'inspect', '-f', '{{.Name}}', 'bvol-nope']);
    await same(['volume', 'inspect']);
  });

  it('rm: each removed name, the errors at the end, -f sent as force=1', async () => {
    const r = await same(['volume', 'rm', 'bvol-a', 'bvol-nope', 'bvol-busy', 'bvol-a']);
    assert.equal(r.code, 1);
    await same(['volume', 'remove', '-f', 'bvol-nope', 'bvol-a']);
    await same(['volume', 'rm', '--force', 'bvol-busy']);
    await same(['volume', 'rm']);
  });

  it('prune: the prompt, a no, -a and its all=true, the report', async () => {
    await same(['volume', 'prune'], 'y\n');
    await same(['volume', 'prune'], 'n\n');
    await same(['volume', 'prune']);
    await same(['volume', 'prune', '-f']);
    await same(['volume', 'prune', '-a', '--filter', 'label=x', '--filter', 'label!=y'], 'y\n');
    await same(['volume', 'prune', '-f', '--filter', 'all=true']);
    await same(['volume', 'prune', '-f', '-a', '--filter', 'ALL=false']);
    await same(['volume', 'prune', '-f', '--filter', 'bad']);
    await same(['volume', 'prune', 'x']);
  });
});
