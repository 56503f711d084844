import { InvalidArgument, NotFound } from '../../errors/index.js';
import type { Descriptor, Platform } from '../../oci/index.js';

const archOf: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** This host, as image indexes name platforms. */
export function hostPlatform(): Platform {
  const architecture = archOf[process.arch] ?? process.arch;
  return { os: 'linux', architecture, ...(architecture === 'arm' && { variant: 'v7' }) };
}

/** `os[/arch[/variant]]` (the API's `platform` parameter); missing parts are this host's. */
export function parsePlatform(s: string): Platform {
  const parts = s.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) throw new InvalidArgument(`invalid platform: ${s}`);
  const host = hostPlatform();
  const [os = host.os, arch = parts.length === 1 && parts[0] === host.os ? host.architecture : '', variant] = parts;
  if (!arch) throw new InvalidArgument(`invalid platform: ${s}: no architecture`);
  const architecture = { x86_64: 'amd64', x86: '386', aarch64: 'arm64', armhf: 'arm', armel: 'arm' }[arch] ?? arch;
  return { os, architecture, ...(variant && { variant }) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Variants that only name a default: amd64 has none that matter here, arm64's is v8. */
function normalVariant(p: Platform): string {
  if (p.architecture === 'amd64') return '';
  if (p.architecture === 'arm64' && (p.variant === 'v8' || !p.variant)) return '';
  if (p.architecture === 'arm' && !p.variant) return 'v7';
  return p.variant ?? '';
}

/**
 * The entry of an index or manifest list for `want`: same OS and architecture, and the same variant where the
 * variant means something (it is ignored for amd64). Entries without a platform (attestations) never match.
 */
export function chooseManifest(entries: readonly Descriptor[], want: Platform): Descriptor {
  const found = entries.find(
    (d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture && normalVariant(d.platform) === normalVariant(want),
  );
  if (!found) throw new NotFound(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
  return found;
}
