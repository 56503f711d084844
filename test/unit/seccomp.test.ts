// Docker-format seccomp profiles → the runtime spec's linux.seccomp: Docker's default profile (moby's default.json,
// as set-up takes it from Debian) filtered by capabilities, architecture and kernel, the loader's errors, and
// runc running busybox under the result to show the kernel enforces what the conversion kept or dropped.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, copyFile, mkdir, mkdtemp, readdir, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InvalidArgument, NotFound } from '../../src/errors/index.js';
import { hostFacts, which } from '../../src/kernel/host.js';
import {
  type LinuxSeccomp,
  type SeccompProfile,
  buildSpec,
  defaultCapabilities,
  defaultSeccompProfilePath,
  loadSeccompProfile,
  parseSeccompProfile,
  seccompForContainer,
} from '../../src/runtime/index.js';

const withSysAdmin = [...defaultCapabilities, 'CAP_SYS_ADMIN'];

/** Actions (with errno when set) of the kept rules that name `syscall`, in profile order. */
function actionsFor(s: LinuxSeccomp, syscall: string): string[] {
  return s.syscalls.filter((r) => r.names.includes(syscall)).map((r) => (r.errnoRet === undefined ? r.action : `${r.action}(${r.errnoRet})`));
}

describe('seccomp: the host default profile', () => {
  let profile: SeccompProfile;
  before(async () => {
    profile = await loadSeccompProfile(defaultSeccompProfilePath);
  });

  test('loads with its default action and errno, and converts to rules the runtime accepts', () => {
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    const s = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64', kernel: '6.1.0' });
    assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s.defaultErrnoRet, profile.defaultErrnoRet);
    assert.ok(s.syscalls.length > 0);
    for (const r of s.syscalls) {
      assert.ok(r.names.length > 0, 'every rule names a syscall');
      assert.deepEqual(Object.keys(r).filter((k) => !['names', 'action', 'errnoRet', 'args'].includes(k)), [], 'no profile-only fields');
    }
    assert.deepEqual(actionsFor(s, 'read'), ['SCMP_ACT_ALLOW']);
  });

  test('CAP_SYS_ADMIN allows sethostname, mount, unshare, bpf …; without it they fall to the default EPERM', () => {
    const plain = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64' });
    const admin = seccompForContainer(profile, { capabilities: withSysAdmin, arch: 'x64' });
    for (const name of ['sethostname', 'setdomainname', 'mount', 'umount2', 'unshare', 'setns', 'bpf', 'perf_event_open', 'fanotify_init']) {
      assert.deepEqual(actionsFor(plain, name), [], name);
      assert.deepEqual(actionsFor(admin, name), ['SCMP_ACT_ALLOW'], name);
    }
    // clone3 says ENOSYS without CAP_SYS_ADMIN (its flags cannot be filtered), so libc falls back to clone.
    assert.deepEqual(actionsFor(plain, 'clone3'), ['SCMP_ACT_ERRNO(38)']);
    assert.deepEqual(actionsFor(admin, 'clone3'), ['SCMP_ACT_ALLOW']);
  });

  test('clone without CAP_SYS_ADMIN only when no namespace flag is set; other caps gate their own syscalls', () => {
    const plain = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64' });
    const clone = plain.syscalls.filter((r) => r.names.includes('clone'));
    assert.deepEqual(clone.map((r) => [r.action, r.args]), [['SCMP_ACT_ALLOW', [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]]]);
    const s390x = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 's390x' });
    assert.deepEqual(s390x.syscalls.filter((r) => r.names.includes('clone')).map((r) => r.args?.[0]?.index), [1], 's390 orders clone\'s arguments differently');

    const caps = [...defaultCapabilities, 'CAP_SYS_PTRACE', 'CAP_SYS_TIME', 'CAP_SYS_MODULE'];
    const more = seccompForContainer(profile, { capabilities: caps, arch: 'x64' });
    for (const name of ['kcmp', 'process_madvise', 'clock_settime', 'settimeofday', 'init_module']) {
      assert.deepEqual(actionsFor(plain, name), [], name);
      assert.deepEqual(actionsFor(more, name), ['SCMP_ACT_ALLOW'], name);
    }
    // chroot is gated by CAP_SYS_CHROOT, which Docker grants by default.
    assert.deepEqual(actionsFor(plain, 'chroot'), ['SCMP_ACT_ALLOW']);
    const noChroot = seccompForContainer(profile, { capabilities: defaultCapabilities.filter((c) => c !== 'CAP_SYS_CHROOT'), arch: 'x64' });
    assert.deepEqual(actionsFor(noChroot, 'chroot'), []);
  });

  test('ptrace needs kernel 4.8 (where seccomp can no longer be bypassed with it)', () => {
    assert.deepEqual(actionsFor(seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64', kernel: '6.1.0' }), 'ptrace'), ['SCMP_ACT_ALLOW']);
    assert.deepEqual(actionsFor(seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64', kernel: '4.4.0' }), 'ptrace'), []);
  });

  test('keeps the host architecture with its sub-architectures, and the rules for that architecture', () => {
    const x64 = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64' });
    assert.deepEqual(x64.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(actionsFor(x64, 'arch_prctl'), ['SCMP_ACT_ALLOW']);
    assert.deepEqual(actionsFor(x64, 'modify_ldt'), ['SCMP_ACT_ALLOW']);
    assert.deepEqual(actionsFor(x64, 'cacheflush'), []);

    const arm64 = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'arm64' });
    assert.deepEqual(arm64.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.deepEqual(actionsFor(arm64, 'cacheflush'), ['SCMP_ACT_ALLOW']);
    assert.deepEqual(actionsFor(arm64, 'arch_prctl'), []);

    const s390x = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 's390x' });
    assert.deepEqual(s390x.architectures, ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390']);
    assert.deepEqual(actionsFor(s390x, 's390_runtime_instr'), ['SCMP_ACT_ALLOW']);

    // No archMap entry for ppc64le: no list, so libseccomp filters for the native architecture only.
    const ppc = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'ppc64' });
    assert.equal(ppc.architectures, undefined);
    assert.deepEqual(actionsFor(ppc, 'sync_file_range2'), ['SCMP_ACT_ALLOW']);
  });

  test('sub-architectures the kernel cannot run are left out (x32 without CONFIG_X86_X32_ABI)', () => {
    const s = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64', withoutArches: ['SCMP_ARCH_X32'] });
    assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    assert.deepEqual(s.syscalls, seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64' }).syscalls);
  });

  test('the host arch and kernel are the defaults', () => {
    const s = seccompForContainer(profile, { capabilities: defaultCapabilities });
    assert.deepEqual(s, seccompForContainer(profile, { capabilities: defaultCapabilities, arch: process.arch }));
  });
});

/** A profile in moby's default.json shape (archMap with null sub-architectures, empty filters, minKernel). */
const dockerStyle = JSON.stringify({
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], comment: '', includes: {}, excludes: {} },
    { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'], minKernel: '5.9' } },
    { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }] },
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { arches: ['s390', 's390x'] } },
    { names: [], action: 'SCMP_ACT_ALLOW' },
    { names: null, action: 'SCMP_ACT_LOG' },
  ],
});

describe('seccomp: Docker-format details', () => {
  test('maps name to names, drops rules without names, keeps args and errnos', () => {
    const s = seccompForContainer(parseSeccompProfile(dockerStyle), { capabilities: defaultCapabilities, arch: 'x64', kernel: '6.1.0-18-amd64' });
    assert.deepEqual(s, {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
  });

  test('minKernel: includes need at least that kernel, excludes drop the rule from it on', () => {
    const profile = parseSeccompProfile(dockerStyle);
    const on = (kernel: string) => seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'x64', kernel });
    assert.deepEqual(actionsFor(on('4.4.0-210-generic'), 'ptrace'), []);
    assert.deepEqual(actionsFor(on('4.8'), 'ptrace'), ['SCMP_ACT_ALLOW']);
    assert.deepEqual(actionsFor(on('4.19.0'), 'ptrace'), ['SCMP_ACT_ALLOW']);
    assert.deepEqual(actionsFor(on('5.8.18'), 'clone3'), ['SCMP_ACT_ERRNO(38)']);
    assert.deepEqual(actionsFor(on('5.9.0'), 'clone3'), []);
    assert.deepEqual(actionsFor(on('10.0'), 'clone3'), []);
    // Any exclusion suffices: CAP_SYS_ADMIN drops the rule on an old kernel too.
    assert.deepEqual(actionsFor(seccompForContainer(profile, { capabilities: withSysAdmin, arch: 'x64', kernel: '5.4' }), 'clone3'), []);
    assert.throws(() => on('unknown'), InvalidArgument);
  });

  test('arch filters use libseccomp names; a host missing from the archMap gets no architectures list', () => {
    const profile = parseSeccompProfile(dockerStyle);
    const s390x = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 's390x', kernel: '6.1' });
    assert.deepEqual(actionsFor(s390x, 'clone'), []);
    assert.equal(s390x.architectures, undefined);
    const riscv = seccompForContainer(profile, { capabilities: defaultCapabilities, arch: 'riscv64', kernel: '6.1' });
    assert.deepEqual(riscv.architectures, ['SCMP_ARCH_RISCV64']);
    assert.deepEqual(actionsFor(riscv, 'clone'), ['SCMP_ACT_ALLOW']);
  });

  test('a fixed architectures list is kept as given; with an archMap too it is refused', () => {
    const fixed = parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], syscalls: [] }));
    assert.deepEqual(seccompForContainer(fixed, { capabilities: [], arch: 'arm64' }), { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], syscalls: [] });
    const both = parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }));
    assert.throws(() => seccompForContainer(both, { capabilities: [] }), (e) => e instanceof InvalidArgument && /use either 'architectures' or 'archMap'/.test(e.message));
    const nameAndNames = parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'read', names: ['write'], action: 'SCMP_ACT_ERRNO' }] }));
    assert.throws(() => seccompForContainer(nameAndNames, { capabilities: [] }), (e) => e instanceof InvalidArgument && /use either 'name' or 'names'/.test(e.message));
  });

  test('parse errors say what is wrong and where', () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(() => parseSeccompProfile(text), (e) => e instanceof InvalidArgument && /^Decoding seccomp profile failed: /.test(e.message) && re.test(e.message), text);
    bad('{"defaultAction": ', /JSON/);
    bad('[]', /profile: want an object/);
    bad('{"syscalls": []}', /defaultAction is missing/);
    bad('{"defaultAction": "SCMP_ACT_MAYBE"}', /defaultAction: unknown value "SCMP_ACT_MAYBE"/);
    bad('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SIMILAR"}]}]}', /syscalls\[0\]\.args\[0\]\.op/);
    bad('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}', /syscalls\[0\]\.names: want an array/);
    bad('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}', /invalid kernel version "four"/);
    // 2^64-1 would reach the runtime rounded to 2^64: refused rather than changed.
    bad('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]}]}', /value: want an unsigned integer/);
  });

  test('loading a file: bad content is InvalidArgument, a missing file NotFound, both in docker\'s words', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-seccomp-'));
    try {
      const file = join(dir, 'profile.json');
      await writeFile(file, '{ not json');
      await assert.rejects(loadSeccompProfile(file), (e) => e instanceof InvalidArgument && e.message.startsWith(`opening seccomp profile (${file}) failed: `));
      await writeFile(file, '{"syscalls": []}');
      await assert.rejects(loadSeccompProfile(file), (e) => e instanceof InvalidArgument && e.message === `opening seccomp profile (${file}) failed: defaultAction is missing`);
      await assert.rejects(loadSeccompProfile(join(dir, 'absent.json')), (e) => e instanceof NotFound && /^opening seccomp profile \(.*absent\.json\) failed: ENOENT/.test(e.message));
      await writeFile(file, dockerStyle);
      assert.deepEqual(await loadSeccompProfile(file), parseSeccompProfile(dockerStyle));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Why the real-kernel check cannot run here, if it cannot. */
async function kernelCheckUnavailable(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!(await which('runc'))) return 'needs runc';
  if (!(await access('/bin/busybox').then(() => true, () => false))) return 'needs busybox-static';
  return false;
}

describe('seccomp: runc enforces the converted default profile', async () => {
  const skip = await kernelCheckUnavailable();
  const tag = `berth-test-seccomp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let dir: string;
  let rootfs: string;
  let cgroupVersion: '1' | '2';
  let profile: SeccompProfile;
  const ids: string[] = [];

  before(async () => {
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'berth-seccomp-'));
    rootfs = join(dir, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const applet of ['sh', 'grep', 'hostname', 'swapoff']) await symlink('busybox', join(rootfs, 'bin', applet));
    cgroupVersion = (await hostFacts()).cgroupVersion;
    profile = await loadSeccompProfile(defaultSeccompProfilePath);
  });

  after(async () => {
    if (skip) return;
    for (const id of ids) await runc(['delete', '--force', id]).catch(() => {});
    // runc removes a container's cgroup when it exits; this catches the ones a failure left behind.
    const hierarchies = ['/sys/fs/cgroup', ...(await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((c) => join('/sys/fs/cgroup', c))];
    for (const h of hierarchies) {
      for (const id of ids) await rmdir(join(h, tag, id)).catch(() => {});
      await rmdir(join(h, tag)).catch(() => {});
    }
    await rm(dir, { recursive: true, force: true });
  });

  function runc(args: string[]): Promise<{ code: number; output: string }> {
    return new Promise((resolve, reject) => {
      execFile('runc', ['--root', join(dir, 'runc'), ...args], { timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: typeof err?.code === 'number' ? err.code : 0, output: stdout + stderr });
      });
    });
  }

  /** Runs `script` in busybox sh in a fresh container with these capabilities and this filter (or none). */
  async function run(capabilities: string[], seccomp: LinuxSeccomp | undefined, script: string) {
    const id = `${tag}-${ids.length}`;
    ids.push(id);
    const bundle = join(dir, id);
    await mkdir(bundle);
    const spec = buildSpec({
      rootfs,
      args: ['/bin/sh', '-c', `${script} 2>&1`],
      env: ['PATH=/bin'],
      cwd: '/',
      uid: 0,
      gid: 0,
      hostname: 'seccomp-test',
      cgroupsPath: `/${tag}/${id}`,
      cgroupns: cgroupVersion === '2',
      capabilities,
    });
    if (seccomp) spec.linux.seccomp = seccomp;
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
    return runc(['run', '--bundle', bundle, id]);
  }

  // sethostname is allowed by the profile only with CAP_SYS_ADMIN; swapoff is refused by it whatever the caps.
  const probe = 'grep "^Seccomp:" /proc/self/status; hostname probed && echo hostname-ok; swapoff /nonexistent; echo end';

  test('the profile for Docker\'s default caps is accepted and installed', { skip }, async () => {
    const r = await run(defaultCapabilities, seccompForContainer(profile, { capabilities: defaultCapabilities }), probe);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^Seccomp:\s+2$/m, 'filter mode');
    assert.match(r.output, /sethostname: Operation not permitted/);
    assert.match(r.output, /end$/m);
  });

  test('without a filter, a CAP_SYS_ADMIN container may set its hostname and reach swapoff\'s path lookup', { skip }, async () => {
    const r = await run(withSysAdmin, undefined, probe);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^Seccomp:\s+0$/m);
    assert.match(r.output, /^hostname-ok$/m);
    assert.match(r.output, /swapoff: \/nonexistent: No such file or directory/);
  });

  test('the profile for the same caps allows sethostname and blocks swapoff', { skip }, async () => {
    const r = await run(withSysAdmin, seccompForContainer(profile, { capabilities: withSysAdmin }), probe);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^Seccomp:\s+2$/m);
    assert.match(r.output, /^hostname-ok$/m);
    assert.match(r.output, /swapoff: \/nonexistent: Operation not permitted/);
  });

  test('the profile for caps without CAP_SYS_ADMIN blocks sethostname even though the process holds it', { skip }, async () => {
    const r = await run(withSysAdmin, seccompForContainer(profile, { capabilities: defaultCapabilities }), probe);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /sethostname: Operation not permitted/);
    assert.doesNotMatch(r.output, /hostname-ok/);
  });
});
