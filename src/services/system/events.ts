import { EventEmitter } from 'node:events';

/** One event as the Engine API's `/events` streams it (EventMessage in the swagger). */
export interface EngineEvent {
  Type: 'image' | 'container' | 'network' | 'volume' | 'daemon' | 'builder';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

/** Docker's event filters: type, event/action, image, container, label, … each a set of accepted values. */
export type EventFilters = Record<string, string[]>;

const historySize = 1024;

/**
 * The daemon's event bus: services publish, `/events` subscribers get a replay of recent events in the
 * `since`/`until` window, then the live stream. Bounded history, like dockerd's 1,024-event buffer.
 */
export class EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly history: EngineEvent[] = [];

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    this.history.push(ev);
    if (this.history.length > historySize) this.history.shift();
    this.emitter.emit('event', ev);
  }

  /** Past events within [sinceSec, untilSec] matching the filters. */
  replay(filters: EventFilters, sinceSec?: number, untilSec?: number): EngineEvent[] {
    return this.history.filter(
      (e) =>
        (sinceSec === undefined || e.timeNano >= sinceSec * 1e9) &&
        (untilSec === undefined || e.timeNano <= untilSec * 1e9) &&
        matchesEvent(e, filters),
    );
  }

  subscribe(filters: EventFilters, onEvent: (e: EngineEvent) => void): () => void {
    const listener = (e: EngineEvent) => {
      if (matchesEvent(e, filters)) onEvent(e);
    };
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}

export function matchesEvent(e: EngineEvent, filters: EventFilters): boolean {
  const accept = (key: string, ...values: Array<string | undefined>) => {
    const wanted = filters[key];
    return !wanted || wanted.length === 0 || values.some((v) => v !== undefined && wanted.includes(v));
  };
  const attrs = e.Actor.Attributes;
  const labelsOk = (filters['label'] ?? []).every((l) => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in attrs : attrs[l.slice(0, eq)] === l.slice(eq + 1);
  });
  return (
    labelsOk &&
    accept('type', e.Type) &&
    accept('event', e.Action, e.Action.split(':')[0]) &&
    accept('image', ...(e.Type === 'image' ? [e.Actor.ID, attrs['name']] : [attrs['image']])) &&
    accept('container', ...(e.Type === 'container' ? [e.Actor.ID, attrs['name']] : [])) &&
    accept('scope', e.scope)
  );
}
