// The browser client of the game: one ESM import of Vigil's browser build, a canvas, and
// inputs stamped on the server's clock (our clock + Vigil's clock offset from heartbeats).
import { VigilClient } from '/vigil-client.browser.js';

const params = new URLSearchParams(location.search);
// The same id after a reload or a dropped connection: the server gives back the same seat within its grace window.
const id = params.get('id') ?? sessionStorage.getItem('vigil-game-id') ?? `web-${Math.random().toString(36).slice(2, 10)}`;
sessionStorage.setItem('vigil-game-id', id);

const client = new VigilClient(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/vigil`, {
  id,
  reconnect: { initialMs: 100, maxMs: 2000 },
  resume: false,
  background: { hiddenTimeoutMs: 10000 },
});
const $ = (name) => document.getElementById(name);
const canvas = $('world');
const ctx = canvas.getContext('2d');
const game = { seat: -1, world: { width: 1600, height: 1000 }, state: null, inputs: 0 };
Object.assign(window, { vigil: client, game });

client.status$.subscribe((s) => {
  document.body.dataset.state = s.state;
  $('state').textContent = s.state;
});
client.messages$.subscribe((m) => {
  if (m.t === 'joined') {
    game.seat = m.seat;
    game.world = m.world;
    $('seat').textContent = `${m.seat}${m.rejoined ? ' (rejoined)' : ''}`;
    document.body.dataset.seat = String(m.seat);
  } else if (m.t === 'state') {
    game.state = m;
    $('players').textContent = String(m.count);
    $('tick').textContent = String(m.tick);
  }
});

const keys = new Set();
let seq = 0;
let sent = { dx: 0, dy: 0 };
function direction() {
  const on = (...names) => names.some((n) => keys.has(n));
  return { dx: (on('ArrowRight', 'd') ? 1 : 0) - (on('ArrowLeft', 'a') ? 1 : 0), dy: (on('ArrowDown', 's') ? 1 : 0) - (on('ArrowUp', 'w') ? 1 : 0) };
}
/** Sends the direction if it changed, stamped with when it happened on the server's clock. */
function input() {
  const d = direction();
  if (d.dx === sent.dx && d.dy === sent.dy) return;
  const offset = Number.isNaN(client.clockOffsetMs) ? 0 : client.clockOffsetMs;
  if (client.send({ t: 'input', seq: ++seq, dx: d.dx, dy: d.dy, at: client.engine.now() + offset })) {
    sent = d;
    game.inputs++;
  }
}
addEventListener('keydown', (e) => {
  keys.add(e.key.length === 1 ? e.key.toLowerCase() : e.key);
  input();
});
addEventListener('keyup', (e) => {
  keys.delete(e.key.length === 1 ? e.key.toLowerCase() : e.key);
  input();
});
addEventListener('blur', () => {
  keys.clear();
  input();
});

function draw() {
  const s = game.state;
  const kx = canvas.width / game.world.width;
  const ky = canvas.height / game.world.height;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = '10px system-ui';
  for (const p of s?.players ?? []) {
    const me = p.seat === game.seat;
    ctx.fillStyle = me ? '#fff' : `hsl(${(p.seat * 47) % 360} 70% 60%)`;
    ctx.beginPath();
    ctx.arc(p.x * kx, p.y * ky, me ? 7 : 5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillText(p.rtt >= 0 ? `${p.rtt}` : '', p.x * kx + 8, p.y * ky + 3);
  }
  if (!Number.isNaN(client.rttMs)) $('rtt').textContent = client.rttMs.toFixed(1);
  if (!Number.isNaN(client.clockOffsetMs)) $('offset').textContent = client.clockOffsetMs.toFixed(1);
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
client.connect().catch((e) => (document.body.dataset.error = String(e)));
