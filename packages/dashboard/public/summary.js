/** The summary cards: peers by state, deaths per minute by cause, event-loop lag, heartbeat settings. */
import { cause, count, duration } from './format.js';
import { drawSpark } from './sparkline.js';

const ORDER = ['alive', 'suspect', 'connecting', 'dead', 'closed'];

function item(list, className) {
  const li = document.createElement('li');
  if (className) li.className = className;
  list.appendChild(li);
  return li;
}

export class Summary {
  /** @param {import('./model.js').Model} model @param {(state: string) => void} onToggleState */
  constructor(model, onToggleState) {
    this.model = model;
    this.$ = (id) => document.getElementById(id);
    this.bar = this.$('statebar');
    this.legend = this.$('state-legend');
    this.segments = {};
    this.legendItems = {};
    for (const s of ORDER) {
      const seg = document.createElement('div');
      seg.className = `seg s-${s}`;
      this.bar.appendChild(seg);
      this.segments[s] = seg;
      const li = item(this.legend, `s-${s}`);
      const b = document.createElement('button');
      b.type = 'button';
      b.title = `Show or hide ${s} peers`;
      b.addEventListener('click', () => onToggleState(s));
      const dot = document.createElement('span');
      dot.className = 'dot';
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = s;
      const n = document.createElement('span');
      n.className = 'n';
      b.append(dot, label, n);
      li.appendChild(b);
      this.legendItems[s] = n;
    }
  }

  render() {
    const m = this.model;
    const c = m.counts();
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    this.$('peers-live').textContent = count(c.alive + c.suspect + c.connecting);
    this.$('peers-total-label').textContent = `live · ${count(total)} listed`;
    for (const s of ORDER) {
      this.segments[s].style.flexGrow = String(c[s]);
      this.segments[s].hidden = c[s] === 0;
      this.legendItems[s].textContent = count(c[s]);
    }
    const sum = m.summary;
    if (!sum) return;
    const deaths = Object.entries(sum.deathsPerMin).sort((a, b) => b[1] - a[1]);
    const totalDeaths = deaths.reduce((a, [, n]) => a + n, 0);
    this.$('deaths-total').textContent = count(totalDeaths);
    const list = this.$('deaths-causes');
    list.replaceChildren();
    if (deaths.length === 0) item(list, 'none').textContent = 'No deaths in the last minute.';
    for (const [c2, n] of deaths.slice(0, 4)) {
      const li = item(list);
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = cause(c2);
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.max(4, (n / totalDeaths) * 100)}%`;
      bar.appendChild(fill);
      const num = document.createElement('span');
      num.className = 'n';
      num.textContent = count(n);
      li.append(name, bar, num);
    }
    this.$('lag-p99').textContent = sum.lag.p99.toFixed(sum.lag.p99 < 10 ? 1 : 0);
    this.$('lag-sub').textContent = `p50 ${sum.lag.p50.toFixed(1)} ms · max ${sum.lag.max.toFixed(1)} ms`;
    const lag = this.$('card-lag');
    lag.dataset.level = sum.lag.p99 >= 100 ? 'bad' : sum.lag.p99 >= 20 ? 'warn' : 'ok';
    drawSpark(this.$('lag-spark'), m.lagHistory, Math.max(5, ...m.lagHistory));
    const cfg = m.config;
    const facts = this.$('heartbeat-facts');
    const rows = [
      ['Interval', duration(cfg.intervalMs)],
      ['Suspect after', duration(cfg.suspectAfterMs)],
      ['Timeout', duration(cfg.timeoutMs)],
      ['Pings / pongs', `${count(sum.heartbeats.sent)} / ${count(sum.heartbeats.received)}`],
    ];
    facts.replaceChildren();
    for (const [k, v] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      facts.append(dt, dd);
    }
    this.$('config').textContent = `interval ${duration(cfg.intervalMs)} · suspect ${duration(cfg.suspectAfterMs)} · timeout ${duration(cfg.timeoutMs)}`;
  }
}
