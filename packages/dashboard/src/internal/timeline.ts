/**
 * Timeline events for the page: each engine state change classified as joined,
 * reconnected, suspect, recovered, dead or closed, kept in a bounded ring.
 */
import type { StateChange } from '@vigil/core';

export type TimelineKind = 'joined' | 'reconnected' | 'suspect' | 'recovered' | 'dead' | 'closed';

/** One event on the wire. `at` is engine-clock ms; `sil` the silence at the change, ms. */
export interface TimelineEvent {
  readonly at: number;
  readonly id: string;
  readonly kind: TimelineKind;
  readonly ca: string | null;
  readonly sil: number;
}

/** Null for changes the timeline does not show (none today; kept total for new states). */
export function classify(change: StateChange, reconnects: number): TimelineKind | null {
  switch (change.to) {
    case 'alive':
      if (change.from === 'suspect') return 'recovered';
      return reconnects > 0 ? 'reconnected' : 'joined';
    case 'suspect':
      return 'suspect';
    case 'dead':
      return 'dead';
    case 'closed':
      return 'closed';
    case 'connecting':
      return null;
  }
}

export function toTimelineEvent(change: StateChange, reconnects: number): TimelineEvent | null {
  const kind = classify(change, reconnects);
  if (kind === null) return null;
  return { at: Math.round(change.at), id: change.peerId, kind, ca: change.cause, sil: Math.round(change.silenceMs) };
}

/** A fixed-size ring of the most recent events. */
export class EventRing<T> {
  private readonly items: T[] = [];

  constructor(readonly capacity: number) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length >= 2 * this.capacity) this.items.splice(0, this.items.length - this.capacity);
  }

  /** The most recent `n` (default: capacity), oldest first. */
  recent(n = this.capacity): T[] {
    return this.items.slice(-Math.min(n, this.capacity));
  }
}
