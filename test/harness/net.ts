// HTTP checks for networking tests. Node's own client on the host; inside containers, busybox nc (busybox-static's
// wget crashes resolving names through static glibc's NSS, and the host's busybox wget crashes on some machines).
import { run } from './daemon.js';

/**
 * An HTTP GET from the host (or from inside the namespace `ns`): the body, or '' when nothing answers in time.
 * Node's own client: the host's busybox wget is not usable everywhere (it crashes on some of these machines).
 */
export async function httpGet(url: string, o: { ns?: string; timeoutMs?: number } = {}): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(${o.timeoutMs ?? 3000}) }).then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))`;
  const r = o.ns ? await run('ip', ['netns', 'exec', o.ns, process.execPath, '-e', script]) : await run(process.execPath, ['-e', script]);
  return r.code === 0 ? r.stdout.trim() : '';
}

/** A shell snippet for a busybox container: GET `path` from `host` port 80 and print the body's last line. */
export function httpGetIn(host: string, path: string): string {
  return `printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${host} 80 | tail -1`;
}
