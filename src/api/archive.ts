import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { InvalidArgument } from '../errors/index.js';
import type { Services } from '../services/index.js';
import { ContainerArchive, type PathStat } from '../services/containers/archive.js';
import { type CommitOptions, commitContainer } from '../services/containers/commit.js';
import { Status } from './errors.js';
import { type Req, qBool, readJsonBody, sendEmpty, sendJson } from './http.js';
import type { Route } from './router.js';

/** `docker cp` (the archive API: HEAD stats, GET reads, PUT extracts) and `docker commit`. */
export function archiveRoutes(s: Services): Route[] {
  const archive = new ContainerArchive(s.containers);
  const id = (req: Req) => req.params[0] ?? '';
  return [
    ['HEAD', /^\/containers\/([^/]+)\/archive$/, async (req, res) => {
      setStatHeader(res, await archive.stat(id(req), pathParam(req)));
      sendEmpty(res, Status.OK);
    }],
    ['GET', /^\/containers\/([^/]+)\/archive$/, async (req, res) => {
      const { stat, tar } = await archive.archive(id(req), pathParam(req));
      setStatHeader(res, stat);
      res.writeHead(Status.OK, { 'Content-Type': 'application/x-tar' });
      await pipeline(tar, res);
    }],
    ['PUT', /^\/containers\/([^/]+)\/archive$/, async (req, res) => {
      await archive.extract(id(req), pathParam(req), req.raw, {
        noOverwriteDirNonDir: qBool(req.query, 'noOverwriteDirNonDir'),
        copyUIDGID: qBool(req.query, 'copyUIDGID'),
      });
      sendEmpty(res, Status.OK);
    }],
    ['POST', /^\/commit$/, async (req, res) => {
      const q = req.query;
      const config = await readJsonBody<CommitOptions['config']>(req.raw);
      const imageId = await commitContainer(s, {
        container: q.get('container') ?? '',
        ...(q.get('repo') && { repo: q.get('repo') as string }),
        ...(q.get('tag') && { tag: q.get('tag') as string }),
        ...(q.get('comment') && { comment: q.get('comment') as string }),
        ...(q.get('author') && { author: q.get('author') as string }),
        pause: q.get('pause') === null || q.get('pause') === '' ? true : qBool(q, 'pause'),
        changes: q.getAll('changes'),
        ...(config && { config }),
      });
      sendJson(res, Status.Created, { Id: imageId });
    }],
  ];
}

function pathParam(req: Req): string {
  const path = req.query.get('path');
  if (!path) throw new InvalidArgument('path is required');
  return path;
}

function setStatHeader(res: ServerResponse, stat: PathStat): void {
  res.setHeader('X-Docker-Container-Path-Stat', Buffer.from(JSON.stringify(stat)).toString('base64'));
}
