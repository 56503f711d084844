// Wire shapes of image objects (Engine API 1.45: ImageSummary, ImageInspect, HistoryResponseItem),
// built from Berth's records. Pure functions, no I/O.
import { zeroTime } from '../../util/timestamp.js';
import type { Digest, HistoryEntry, ImageConfig } from '../../oci/index.js';
import type { ImageRecord } from '../../metadata/index.js';
import type { LayerDirs } from '../../layers/index.js';

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string>;
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container?: string;
  ContainerConfig?: unknown;
  DockerVersion: string;
  Author: string;
  Config: unknown;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize?: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

const unix = (iso: string | undefined) => (iso ? Math.floor(Date.parse(iso) / 1000) || 0 : 0);

export function imageSummary(rec: ImageRecord, repoTags: string[], containers: number): ImageSummary {
  return {
    Id: rec.id,
    ParentId: rec.parent ?? '',
    RepoTags: repoTags,
    RepoDigests: rec.repoDigests,
    Created: unix(rec.created),
    Size: rec.size,
    SharedSize: -1,
    VirtualSize: rec.size,
    Labels: rec.labels,
    Containers: containers,
  };
}

/** overlay2's GraphDriver data for an image: the top layer is the "upper", the rest are lowers. */
export function graphDriver(top: LayerDirs, lowerDiffDirs: string[]): ImageInspect['GraphDriver'] {
  return {
    Name: 'overlay2',
    Data: {
      ...(lowerDiffDirs.length > 0 && { LowerDir: lowerDiffDirs.join(':') }),
      MergedDir: top.merged,
      UpperDir: top.diff,
      WorkDir: top.work,
    },
  };
}

export function imageInspect(
  rec: ImageRecord,
  config: ImageConfig,
  repoTags: string[],
  driver: ImageInspect['GraphDriver'],
): ImageInspect {
  return {
    Id: rec.id,
    RepoTags: repoTags,
    RepoDigests: rec.repoDigests,
    Parent: rec.parent ?? '',
    Comment: (config['comment'] as string | undefined) ?? config.history?.at(-1)?.comment ?? '',
    Created: config.created ?? zeroTime,
    ...(config['container'] !== undefined && { Container: config['container'] as string }),
    ...(config.container_config && { ContainerConfig: config.container_config }),
    DockerVersion: config.docker_version ?? '',
    Author: config.author ?? '',
    Config: config.config ?? null,
    Architecture: config.architecture,
    ...(config.variant && { Variant: config.variant }),
    Os: config.os,
    Size: rec.size,
    VirtualSize: rec.size,
    GraphDriver: driver,
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Metadata: { LastTagTime: rec.lastTagTime ?? zeroTime },
  };
}

/**
 * `docker history`: newest first; a non-empty history entry takes the size of the next layer. The top row
 * carries the image ID and its tags; rows below are `<missing>` unless they are a known local parent image.
 */
export function imageHistory(
  rec: ImageRecord,
  config: ImageConfig,
  layerSizes: number[],
  repoTags: string[],
): HistoryItem[] {
  const history = config.history?.length
    ? config.history
    : config.rootfs.diff_ids.map((): HistoryEntry => ({ created: config.created ?? '', created_by: '' }));
  let layer = 0;
  const rows: HistoryItem[] = history.map((h) => ({
    Id: '<missing>',
    Created: unix(h.created),
    CreatedBy: h.created_by ?? '',
    Tags: null,
    Size: h.empty_layer ? 0 : (layerSizes[layer++] ?? 0),
    Comment: h.comment ?? '',
  }));
  rows.reverse();
  const top = rows[0];
  if (top) {
    top.Id = rec.id;
    top.Tags = repoTags.length ? repoTags : null;
  }
  return rows;
}

export type { Digest };
