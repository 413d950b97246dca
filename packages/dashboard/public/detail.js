/**
 * The selected peer, the application's view beside the kernel's: what Vigil
 * concluded from heartbeats, and what TCP thinks of the same socket.
 */
import { bytes, cause, clock, duration, rtt } from './format.js';
import { drawSpark } from './sparkline.js';

function row(dl, label, value, className) {
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  dd.textContent = value;
  if (className) dd.className = className;
  dl.append(dt, dd);
}

export class Detail {
  /** @param {HTMLElement} root @param {import('./model.js').Model} model */
  constructor(root, model) {
    this.root = root;
    this.model = model;
    this.key = null;
  }

  select(key) {
    this.key = key;
    this.render();
  }

  render() {
    const root = this.root;
    const m = this.model;
    const p = this.key === null ? undefined : m.peers.get(this.key);
    root.replaceChildren();
    const head = document.createElement('div');
    head.className = 'detail-head';
    const h = document.createElement('h2');
    head.appendChild(h);
    root.appendChild(head);
    if (p === undefined) {
      h.textContent = 'Peer detail';
      const hint = document.createElement('p');
      hint.className = 'hint';
      hint.textContent = 'Select a peer to compare what Vigil concluded from heartbeats with what the kernel thinks of its TCP socket.';
      root.appendChild(hint);
      return;
    }
    root.dataset.state = p.st;
    h.textContent = p.id;
    const pill = document.createElement('span');
    pill.className = `pill s-${p.st}`;
    pill.textContent = p.st;
    head.appendChild(pill);

    const now = m.now();
    const cols = document.createElement('div');
    cols.className = 'views';
    const app = document.createElement('section');
    app.className = 'view app';
    const appTitle = document.createElement('h3');
    appTitle.textContent = 'Application (Vigil)';
    const dl = document.createElement('dl');
    const remote = m.isRemote(p);
    row(dl, 'State', p.st, `s-${p.st}`);
    if (p.nd !== undefined) row(dl, 'Node', remote ? p.nd : `${p.nd} (this node)`);
    row(dl, 'For', duration(now - p.since));
    if (p.ca) row(dl, 'Cause', cause(p.ca));
    if (remote) {
      row(dl, 'RTT', rtt(p.rtt));
    } else {
      row(dl, 'Silence', `${duration(m.silence(p, now))} / ${duration(m.timeout(p))}`);
      row(dl, 'RTT', p.rtt === null ? '—' : `${rtt(p.rtt)} ±${rtt(p.rv).replace(' ms', '')}`);
      row(dl, 'Interval', duration(p.iv ?? m.config.intervalMs));
    }
    row(dl, 'Transport', p.tr);
    row(dl, 'Remote', p.rem);
    row(dl, 'Connected', clock(m.wall(p.con)));
    if (!remote) row(dl, 'Reconnects', String(p.rc));
    app.append(appTitle, dl);
    const spark = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    spark.setAttribute('class', 'spark wide');
    spark.setAttribute('viewBox', '0 0 240 40');
    spark.setAttribute('preserveAspectRatio', 'none');
    for (const cls of ['area', 'line']) {
      const pl = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      pl.setAttribute('class', cls);
      spark.appendChild(pl);
    }
    app.appendChild(spark);
    drawSpark(spark, p.smp);

    const kern = document.createElement('section');
    kern.className = 'view kernel';
    const kTitle = document.createElement('h3');
    kTitle.textContent = 'Kernel (TCP socket)';
    const kdl = document.createElement('dl');
    const k = p.kn;
    if (remote) row(kdl, 'On node', `${p.nd}: its socket is on that node's host`);
    else if (!m.kernel) row(kdl, 'Not available', 'the kernel view needs Linux /proc/net/tcp');
    else if (!k) row(kdl, 'Socket', 'not found');
    else {
      row(kdl, 'State', k.st, p.st === 'dead' && k.st === 'ESTABLISHED' ? 'mismatch' : '');
      row(kdl, 'Send-Q', bytes(k.txq));
      row(kdl, 'Recv-Q', bytes(k.rxq));
      row(kdl, 'Timer', k.tmr === 'off' || k.tmrAt === null ? 'none' : `${k.tmr}${k.frozen ? '' : ` in ${duration(k.tmrAt - now)}`}`);
      row(kdl, 'Retransmits', String(k.rtx));
      row(kdl, 'Probes', String(k.prb));
      if (k.ps) {
        row(kdl, 'Peer socket', k.ps.st);
        row(kdl, 'Peer unread', bytes(k.ps.rxq), k.ps.rxq > 0 ? 'warn' : '');
      }
      if (k.frozen) row(kdl, '', 'Last reading before the peer ended.', 'note');
    }
    kern.append(kTitle, kdl);
    cols.append(app, kern);
    root.appendChild(cols);
  }
}
