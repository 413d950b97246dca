/**
 * Boots the page: reads the token from the URL, opens the stream, and redraws the
 * summary, table, detail, timeline and (on a cluster node) the node list as messages
 * arrive (data) and five times a second (clocks and silence bars move between messages).
 */
import { Detail } from './detail.js';
import { count } from './format.js';
import { Model, STATES } from './model.js';
import { NodeList } from './nodes.js';
import { openStream } from './stream.js';
import { Summary } from './summary.js';
import { PeerTable } from './table.js';
import { Timeline } from './timeline.js';

const TICK_MS = 200;
const $ = (id) => document.getElementById(id);

const token = new URLSearchParams(location.search).get('token');
const model = new Model();
const shown = new Set(STATES);
let selected = null;
let selectedId = null;
let dataDirty = false;

const detail = new Detail($('detail'), model);
const table = new PeerTable($('table'), model, { onSelect: select });
const summary = new Summary(model, toggleState);
const timeline = new Timeline($('timeline'), $('pause'), $('pending'), model, pickById);
const nodeList = new NodeList($('nodes'), model);

function select(key) {
  selected = key;
  selectedId = key === null ? null : (model.peers.get(key)?.id ?? null);
  table.select(key);
  detail.select(key);
}

function pickById(id) {
  let best = null;
  for (const p of model.peers.values()) if (p.id === id && (best === null || p.con > best.con)) best = p;
  if (best === null) return;
  $('filter').value = id;
  table.setFilter(id);
  select(best.k);
}

function toggleState(state) {
  if (shown.has(state)) shown.delete(state);
  else shown.add(state);
  if (shown.size === 0) for (const s of STATES) shown.add(s);
  renderChips();
  table.setShown(new Set(shown));
  updateCount();
}

function renderChips() {
  for (const b of $('chips').children) {
    const on = shown.has(b.dataset.state);
    b.classList.toggle('on', on);
    b.setAttribute('aria-pressed', String(on));
  }
}

for (const s of STATES) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `chip s-${s}`;
  b.dataset.state = s;
  b.textContent = s;
  b.addEventListener('click', () => toggleState(s));
  $('chips').appendChild(b);
}
renderChips();

let filterTimer = 0;
$('filter').addEventListener('input', (e) => {
  clearTimeout(filterTimer);
  const value = e.target.value;
  filterTimer = setTimeout(() => {
    table.setFilter(value);
    updateCount();
  }, 80);
});

function updateCount() {
  $('count').textContent = `${count(table.size)} of ${count(model.peers.size)}`;
}

function setStatus(status) {
  const conn = $('conn');
  conn.dataset.state = status;
  conn.querySelector('.text').textContent = status === 'unauthorized' ? 'unauthorized: check the ?token= in the URL' : status;
  document.body.dataset.stream = status;
}

function frame() {
  if (!dataDirty) return;
  dataDirty = false;
  summary.render();
  nodeList.render();
  table.render();
  detail.render();
  updateCount();
}

openStream(new URL('api/stream', location.href), {
  token,
  onStatus: setStatus,
  onMessage(event, msg) {
    if (event === 'full') {
      model.reset(msg);
      timeline.reset(msg.events);
      // Keys are per stream: after a server restart the same key may be another session.
      if (selected !== null && model.peers.get(selected)?.id !== selectedId) {
        const again = [...model.peers.values()].filter((p) => p.id === selectedId).sort((a, b) => b.con - a.con)[0];
        select(again?.k ?? null);
      }
    } else if (event === 'delta') {
      model.apply(msg);
      timeline.add(msg.ev, msg.evSkipped);
    } else return;
    if (!dataDirty) {
      dataDirty = true;
      requestAnimationFrame(frame);
    }
  },
});

// Time moves between messages: refresh time-in-state, silence bars and the detail view.
setInterval(() => {
  if (model.config === null || document.hidden) return;
  table.paint();
  if (selected !== null) detail.render();
}, TICK_MS);
