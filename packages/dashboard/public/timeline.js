/**
 * The timeline: joined, reconnected, suspect, recovered, dead and closed events,
 * newest first. Pausing freezes the list and queues what arrives meanwhile.
 */
import { cause, clock, duration } from './format.js';

const MAX_ITEMS = 300;
const MAX_QUEUED = 5000;

export class Timeline {
  /**
   * @param {HTMLOListElement} list
   * @param {HTMLButtonElement} pauseButton
   * @param {HTMLElement} pendingBadge
   * @param {import('./model.js').Model} model
   * @param {(id: string) => void} onPick
   */
  constructor(list, pauseButton, pendingBadge, model, onPick) {
    this.list = list;
    this.button = pauseButton;
    this.badge = pendingBadge;
    this.model = model;
    this.onPick = onPick;
    this.paused = false;
    this.queue = [];
    this.dropped = 0;
    pauseButton.addEventListener('click', () => this.setPaused(!this.paused));
  }

  setPaused(paused) {
    this.paused = paused;
    this.button.textContent = paused ? 'Resume' : 'Pause';
    this.button.setAttribute('aria-pressed', String(paused));
    this.button.classList.toggle('active', paused);
    if (!paused) {
      const queued = this.queue;
      this.queue = [];
      this.insert(queued, this.dropped);
      this.dropped = 0;
    }
    this.updateBadge();
  }

  /** Replaces the list (a `full` message); a paused list keeps what it shows and queues nothing older. */
  reset(events) {
    if (this.paused) return;
    this.list.replaceChildren();
    this.insert(events, 0);
  }

  /** Adds events from a delta (oldest first); `skipped` were too many to send. */
  add(events, skipped) {
    if (events.length === 0 && skipped === 0) return;
    if (this.paused) {
      this.queue.push(...events);
      this.dropped += skipped;
      if (this.queue.length > MAX_QUEUED) {
        this.dropped += this.queue.length - MAX_QUEUED;
        this.queue.splice(0, this.queue.length - MAX_QUEUED);
      }
      this.updateBadge();
      return;
    }
    this.insert(events, skipped);
  }

  updateBadge() {
    const n = this.queue.length + this.dropped;
    this.badge.hidden = !this.paused || n === 0;
    this.badge.textContent = `${n.toLocaleString('en-US')} new`;
  }

  insert(events, skipped) {
    const frag = document.createDocumentFragment();
    const from = Math.max(0, events.length - MAX_ITEMS);
    for (let i = events.length - 1; i >= from; i--) frag.appendChild(this.item(events[i]));
    if (skipped > 0) {
      const li = document.createElement('li');
      li.className = 'ev skipped';
      li.textContent = `${skipped.toLocaleString('en-US')} more events not shown`;
      frag.insertBefore(li, frag.firstChild);
    }
    this.list.insertBefore(frag, this.list.firstChild);
    while (this.list.childElementCount > MAX_ITEMS) this.list.lastElementChild.remove();
  }

  item(e) {
    const li = document.createElement('li');
    li.className = 'ev';
    li.dataset.kind = e.kind;
    li.dataset.id = e.id;
    const t = document.createElement('time');
    t.textContent = clock(this.model.wall(e.at));
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = e.kind;
    const peer = document.createElement('button');
    peer.type = 'button';
    peer.className = 'peer';
    peer.textContent = e.id;
    peer.title = `Show ${e.id} in the table`;
    peer.addEventListener('click', () => this.onPick(e.id));
    const detail = document.createElement('span');
    detail.className = 'why';
    if (e.kind === 'dead' || e.kind === 'closed' || e.kind === 'suspect') {
      detail.textContent = `${cause(e.ca)}${e.kind !== 'closed' ? ` · silent ${duration(e.sil)}` : ''}`;
    }
    li.append(t, kind, peer, detail);
    return li;
  }
}
