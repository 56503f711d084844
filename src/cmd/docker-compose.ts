// docker-compose as a docker CLI plugin: `docker compose …` runs `berth compose …`. The docker CLI first asks a
// plugin for its metadata (`docker-cli-plugin-metadata`), then runs it with its own arguments: the docker CLI's
// global flags, then `compose` and the rest. Of those flags, the daemon's address matters (-H, or DOCKER_HOST,
// which the environment carries); the others configure the docker CLI itself.
import { composeVersion } from '../compose/labels.js';

const argv = process.argv.slice(2);
if (argv[0] === 'docker-cli-plugin-metadata') {
  process.stdout.write(`${JSON.stringify({ SchemaVersion: '0.1.0', Vendor: 'Berth', Version: `v${composeVersion}`, ShortDescription: 'Docker Compose' }, null, 2)}\n`);
} else {
  const at = argv.indexOf('compose');
  const host: string[] = [];
  for (let i = 0; i < Math.max(at, 0); i++) {
    const a = argv[i]!;
    if (a === '-H' || a === '--host') host.push('-H', argv[++i] ?? '');
    else if (a.startsWith('--host=')) host.push('-H', a.slice('--host='.length));
  }
  const rest = at < 0 ? ['compose', ...argv] : argv.slice(at);
  import('../cli/main.js')
    .then((m) => m.main([process.argv[0]!, process.argv[1]!, ...host, ...rest]))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        process.stderr.write(`docker-compose: ${(e as Error).message}\n`);
        process.exitCode = 1;
      },
    );
}
