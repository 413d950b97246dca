/**
 * The peer table: sortable, filterable and virtualized (only the rows in view exist
 * in the DOM, recycled as the list scrolls), so 10,000 peers cost the same to draw
 * as thirty. Every cell is written with `textContent`: peer ids come from clients.
 */
import { cause, duration, rtt } from './format.js';
import { drawSpark } from './sparkline.js';
import { ENDED, STATES } from './model.js';

const ROW_HEIGHT = 34;
const OVERSCAN = 6;
const SVG = 'http://www.w3.org/2000/svg';
const SEVERITY = Object.fromEntries(STATES.map((s, i) => [s, i]));

/** Column definitions: header label, sort key (value for sorting), default direction. */
const COLUMNS = [
  { id: 'state', label: 'State', sort: (p) => SEVERITY[p.st] },
  { id: 'id', label: 'Peer', sort: (p) => p.id },
  // Shown on a cluster node only (CSS hides it otherwise): the node holding the peer.
  { id: 'node', label: 'Node', sort: (p) => p.nd ?? '' },
  { id: 'transport', label: 'Via', sort: (p) => p.tr },
  { id: 'remote', label: 'Remote', sort: (p) => p.rem },
  { id: 'since', label: 'In state', sort: (p) => -p.since, desc: true },
  { id: 'rtt', label: 'RTT', sort: (p) => p.rtt ?? -1, desc: true, align: 'num' },
  { id: 'silence', label: 'Silence', sort: (p, m, now) => (m.isRemote(p) ? -1 : m.silence(p, now) / m.timeout(p)), desc: true },
  { id: 'cause', label: 'Cause', sort: (p) => p.ca ?? '' },
  { id: 'reconnects', label: 'Reconn.', sort: (p) => p.rc, desc: true, align: 'num' },
  { id: 'kernel', label: 'Kernel (TCP)', sort: (p) => p.kn?.st ?? '~' },
];

function el(tag, className, parent) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (parent) parent.appendChild(e);
  return e;
}

/** Sets text only when it changed (DOM writes are the cost at 4 updates a second). */
function text(node, value) {
  if (node.textContent !== value) node.textContent = value;
}

function attr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function kernelText(p) {
  if (!p.kn) return ['—', ''];
  const k = p.kn;
  const parts = [];
  if (k.rtx > 0) parts.push(`rtx ${k.rtx}`);
  if (k.txq > 0) parts.push(`sendq ${k.txq}`);
  if (k.ps && k.ps.rxq > 0) parts.push(`unread ${k.ps.rxq}`);
  if (k.frozen) parts.push('before end');
  return [k.st, parts.join(' · ')];
}

export class PeerTable {
  /**
   * @param {HTMLElement} root the `.table` element
   * @param {import('./model.js').Model} model
   * @param {{ onSelect: (key: number) => void }} hooks
   */
  constructor(root, model, hooks) {
    this.model = model;
    this.hooks = hooks;
    this.thead = root.querySelector('.thead');
    this.body = root.querySelector('.tbody');
    this.spacer = root.querySelector('.spacer');
    this.empty = root.querySelector('.empty');
    this.sortBy = 'state';
    this.desc = false;
    this.filterText = '';
    this.shown = new Set(STATES);
    this.view = [];
    this.dirty = true;
    this.seenVersion = -1;
    this.selected = null;
    this.rows = [];
    this.buildHeader();
    this.body.addEventListener('scroll', () => this.paint(), { passive: true });
    new ResizeObserver(() => this.paint()).observe(this.body);
  }

  buildHeader() {
    for (const col of COLUMNS) {
      const b = el('button', `th c-${col.id}${col.align ? ` ${col.align}` : ''}`, this.thead);
      b.type = 'button';
      b.dataset.sort = col.id;
      b.setAttribute('role', 'columnheader');
      el('span', 'label', b).textContent = col.label;
      el('span', 'arrow', b);
      b.addEventListener('click', () => {
        if (this.sortBy === col.id) this.desc = !this.desc;
        else {
          this.sortBy = col.id;
          this.desc = col.desc ?? false;
        }
        this.dirty = true;
        this.render();
      });
    }
    this.updateHeader();
  }

  updateHeader() {
    for (const b of this.thead.children) {
      const active = b.dataset.sort === this.sortBy;
      b.classList.toggle('active', active);
      attr(b, 'aria-sort', active ? (this.desc ? 'descending' : 'ascending') : 'none');
      text(b.querySelector('.arrow'), active ? (this.desc ? '▼' : '▲') : '');
    }
  }

  setFilter(value) {
    this.filterText = value.trim().toLowerCase();
    this.dirty = true;
    this.body.scrollTop = 0;
    this.render();
  }

  setShown(states) {
    this.shown = states;
    this.dirty = true;
    this.render();
  }

  select(key) {
    this.selected = key;
    this.paint();
  }

  /** Number of peers shown after filtering (valid after `render`). */
  get size() {
    return this.view.length;
  }

  matches(p) {
    if (!this.shown.has(p.st)) return false;
    const f = this.filterText;
    if (f === '') return true;
    return (
      p.id.toLowerCase().includes(f) ||
      p.rem.toLowerCase().includes(f) ||
      p.st.includes(f) ||
      p.tr === f ||
      (p.nd !== undefined && p.nd.toLowerCase().includes(f)) ||
      (p.ca !== null && p.ca.includes(f)) ||
      (p.kn !== null && p.kn.st.toLowerCase().includes(f))
    );
  }

  /** Re-filters and re-sorts when the data or the controls changed, then paints. */
  render() {
    if (this.dirty || this.seenVersion !== this.model.version) {
      this.dirty = false;
      this.seenVersion = this.model.version;
      const col = COLUMNS.find((c) => c.id === this.sortBy) ?? COLUMNS[0];
      const now = this.model.now();
      const rows = [];
      for (const p of this.model.peers.values()) if (this.matches(p)) rows.push({ p, v: col.sort(p, this.model, now) });
      const dir = this.desc ? -1 : 1;
      rows.sort((a, b) => {
        if (a.v < b.v) return -dir;
        if (a.v > b.v) return dir;
        if (a.p.id !== b.p.id) return a.p.id < b.p.id ? -1 : 1;
        return a.p.k - b.p.k;
      });
      this.view = rows.map((r) => r.p);
      this.updateHeader();
    }
    this.paint();
  }

  /** Draws the rows in view (also called on scroll and on the clock tick). */
  paint() {
    const total = this.view.length;
    this.spacer.style.height = `${total * ROW_HEIGHT}px`;
    this.empty.hidden = total > 0;
    text(this.empty, this.model.peers.size === 0 ? 'No peers yet.' : 'No peer matches the filter.');
    const height = this.body.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.body.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((this.body.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const needed = last - first;
    while (this.rows.length < needed) this.rows.push(this.makeRow());
    const now = this.model.now();
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i];
      const p = i < needed ? this.view[first + i] : undefined;
      if (p === undefined) {
        row.el.hidden = true;
        row.key = null;
        continue;
      }
      row.el.hidden = false;
      row.el.style.transform = `translateY(${(first + i) * ROW_HEIGHT}px)`;
      this.fill(row, p, now);
    }
  }

  makeRow() {
    const r = el('div', 'row', this.body);
    r.setAttribute('role', 'row');
    const row = { el: r, key: null, sparkKey: '' };
    const cell = (id) => {
      const c = el('div', `td c-${id}`, r);
      c.setAttribute('role', 'cell');
      return c;
    };
    const st = cell('state');
    el('span', 'dot', st);
    row.stateText = el('span', 'txt', st);
    row.id = cell('id');
    row.nd = cell('node');
    row.tr = el('span', 'badge', cell('transport'));
    row.rem = cell('remote');
    row.since = cell('since');
    const rttCell = cell('rtt');
    row.rtt = el('span', 'v', rttCell);
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 64 18');
    svg.setAttribute('preserveAspectRatio', 'none');
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('class', 'line');
    svg.appendChild(line);
    rttCell.appendChild(svg);
    row.spark = svg;
    const sil = cell('silence');
    row.silCell = sil;
    const bar = el('div', 'bar', sil);
    row.fill = el('div', 'fill', bar);
    row.mark = el('div', 'mark', bar);
    row.silText = el('span', 'lbl', sil);
    row.cause = cell('cause');
    row.rc = cell('reconnects');
    const k = cell('kernel');
    row.kst = el('span', 'kst', k);
    row.ksub = el('span', 'ksub', k);
    r.tabIndex = 0;
    r.addEventListener('click', () => {
      if (row.key !== null) this.hooks.onSelect(row.key);
    });
    r.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && row.key !== null) {
        e.preventDefault();
        this.hooks.onSelect(row.key);
      }
    });
    return row;
  }

  fill(row, p, now) {
    const m = this.model;
    row.key = p.k;
    const ds = row.el.dataset;
    if (ds.key !== String(p.k)) ds.key = String(p.k);
    if (ds.id !== p.id) ds.id = p.id;
    if (ds.state !== p.st) ds.state = p.st;
    row.el.classList.toggle('selected', this.selected === p.k);
    text(row.stateText, p.st);
    text(row.id, p.id);
    attr(row.id, 'title', p.id);
    const remote = m.isRemote(p);
    text(row.nd, p.nd ?? '');
    row.nd.classList.toggle('other', remote);
    row.el.classList.toggle('remote', remote);
    text(row.tr, p.tr);
    text(row.rem, p.rem);
    text(row.since, duration(now - p.since));
    text(row.rtt, rtt(p.rtt));
    const sparkKey = `${p.k}|${p.smp.length}|${p.smp.at(-1)}|${p.smp[0]}`;
    if (sparkKey !== row.sparkKey) {
      row.sparkKey = sparkKey;
      drawSpark(row.spark, p.smp);
    }
    if (remote) {
      // Another node hears this peer: its silence and socket are on that node's dashboard.
      row.fill.style.width = '0%';
      text(row.silText, '—');
      attr(row.silCell, 'title', `heard by ${p.nd}`);
      text(row.cause, cause(p.ca));
      text(row.rc, '—');
      text(row.kst, '—');
      text(row.ksub, `on ${p.nd}`);
      row.kst.classList.remove('mismatch');
      return;
    }
    const silence = m.silence(p, now);
    const timeout = m.timeout(p);
    const ratio = Math.min(1, silence / timeout);
    // Coloured by the server's verdict: between deltas the page only extrapolates silence.
    const level = p.st === 'suspect' ? 'warn' : p.st === 'alive' || p.st === 'connecting' ? 'ok' : p.st;
    row.fill.style.width = `${(ratio * 100).toFixed(1)}%`;
    if (row.fill.dataset.level !== level) row.fill.dataset.level = level;
    row.mark.style.left = `${Math.min(100, (m.suspectAfter(p) / timeout) * 100).toFixed(1)}%`;
    text(row.silText, duration(silence));
    attr(row.silCell, 'title', `${duration(silence)} of ${duration(timeout)} timeout; the mark is the suspect threshold`);
    text(row.cause, cause(p.ca));
    text(row.rc, String(p.rc));
    const [kst, ksub] = m.kernel ? kernelText(p) : ['n/a', ''];
    text(row.kst, kst);
    text(row.ksub, ksub);
    // The point of the kernel view: the application declared the peer dead, the kernel still calls the socket healthy.
    row.kst.classList.toggle('mismatch', p.st === 'dead' && p.kn?.st === 'ESTABLISHED');
  }
}
