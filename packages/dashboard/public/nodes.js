/**
 * The cluster's node list, on a cluster node only: each node's lease (how long ago it
 * was renewed, against its TTL), its state (`live`, `expired` until another node
 * notices, `lost` while its peers are removed) and how many peers it holds.
 */
import { count, duration } from './format.js';

function cell(tr, className, value) {
  const td = document.createElement('td');
  td.className = className;
  td.textContent = value;
  tr.appendChild(td);
  return td;
}

export class NodeList {
  /** @param {HTMLElement} root the `#nodes` panel @param {import('./model.js').Model} model */
  constructor(root, model) {
    this.root = root;
    this.model = model;
    this.body = root.querySelector('tbody');
    this.status = root.querySelector('.node-status');
    this.key = '';
  }

  render() {
    const c = this.model.cluster;
    this.root.hidden = c === null;
    document.body.toggleAttribute('data-cluster', c !== null);
    if (c === null) return;
    const degraded = c.status.state !== 'active';
    const why = c.error !== null ? `node list not read: ${c.error}` : '';
    const status = `${c.node}: ${c.status.state}${c.status.reason ? ` (${c.status.reason.replaceAll('-', ' ')})` : ''}${why ? ` · ${why}` : ''}`;
    if (this.status.textContent !== status) this.status.textContent = status;
    this.status.classList.toggle('warn', degraded || c.error !== null);
    // Rebuilt only when a new node list arrived (about once a second).
    const key = `${c.nodesAt}|${c.node}`;
    if (key === this.key) return;
    this.key = key;
    const rows = c.nodes.map((n) => {
      const tr = document.createElement('tr');
      tr.dataset.node = n.node;
      tr.dataset.state = n.state;
      if (n.node === c.node) tr.classList.add('self');
      const name = cell(tr, 'n-name', n.node === c.node ? `${n.node} (this)` : n.node);
      name.title = `${n.host}, pid ${n.pid}`;
      cell(tr, 'n-state', n.state);
      const lease = cell(tr, 'n-lease', '');
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.className = 'fill';
      fill.style.width = `${Math.min(100, (n.leaseAgeMs / n.leaseTtlMs) * 100).toFixed(1)}%`;
      bar.appendChild(fill);
      const label = document.createElement('span');
      label.className = 'lbl';
      label.textContent = `${duration(n.leaseAgeMs)} / ${duration(n.leaseTtlMs)}`;
      lease.append(bar, label);
      lease.title = n.state === 'live' ? `renewed ${duration(n.leaseAgeMs)} ago; expires in ${duration(n.leaseLeftMs)}` : 'lease expired';
      cell(tr, 'n-peers num', count(n.peers));
      return tr;
    });
    this.body.replaceChildren(...rows);
  }
}
