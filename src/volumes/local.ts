// Docker's `local` volume driver: a directory per volume under the data root (`<root>/<name>/_data`), optionally
// a mount made there while containers use it (`-o type=tmpfs device=tmpfs o=size=64m`, or `type=none o=bind
// device=/host/path`), as moby's volume/local does with mount(8)'s terms.
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgument, NotFound } from '../errors/index.js';
import { contentSize } from '../kernel/fs.js';
import { isMounted, mount, unmount } from '../kernel/mount.js';

/** The options the local driver takes (moby's validOpts). */
const validOptions = new Set(['type', 'device', 'o', 'size']);

export class LocalDriver {
  constructor(private readonly root: string) {}

  /** Where a volume's data lives, and where containers mount it from. */
  path(name: string): string {
    return join(this.root, name, '_data');
  }

  /** Refuses options the driver does not know, and incomplete mount options, as moby's does. */
  static checkOptions(options: Record<string, string>): void {
    for (const k of Object.keys(options)) if (!validOptions.has(k)) throw new InvalidArgument(`invalid option key: "${k}"`);
    if (options['size'] !== undefined) throw new InvalidArgument('quota size requested but no quota support');
    if (options['type'] === 'none' && !(options['o'] ?? '').split(',').includes('bind')) throw new InvalidArgument('missing required option: "o" (o=bind) for type=none');
    if ((options['type'] || options['o']) && !options['device']) throw new InvalidArgument('missing required option: "device"');
    if (options['device'] && !options['type']) throw new InvalidArgument('missing required option: "type"');
  }

  async create(name: string): Promise<void> {
    await mkdir(this.path(name), { recursive: true, mode: 0o755 });
  }

  async exists(name: string): Promise<boolean> {
    return stat(this.path(name)).then((s) => s.isDirectory(), () => false);
  }

  /** Makes the volume's own mount (if it has mount options) on its data directory; the caller counts users. */
  async mount(name: string, options: Record<string, string>): Promise<void> {
    if (!options['type']) return;
    const target = this.path(name);
    if (await isMounted(target)) return;
    const o = (options['o'] ?? '').split(',').filter(Boolean);
    if (options['type'] === 'none') {
      const device = options['device'] as string;
      if (!(await stat(device).then((s) => s.isDirectory(), () => false))) throw new NotFound(`error while mounting volume '${target}': failed to mount local volume: mount ${device}:${target}, flags: 0x1000: no such file or directory`);
      await mount({ type: 'none', source: device, options: o.includes('bind') || o.includes('rbind') ? o : ['bind', ...o] }, target);
    } else await mount({ type: options['type'] as string, source: options['device'] as string, options: o.length ? o : ['defaults'] }, target);
  }

  async unmount(name: string, options: Record<string, string>): Promise<void> {
    if (options['type']) await unmount(this.path(name));
  }

  /** Removes the volume's directory and data (unmounting it first, should a crash have left it mounted). */
  async remove(name: string): Promise<void> {
    await unmount(this.path(name));
    await rm(join(this.root, name), { recursive: true, force: true });
  }

  async size(name: string): Promise<number> {
    return contentSize(this.path(name)).catch(() => 0);
  }
}
