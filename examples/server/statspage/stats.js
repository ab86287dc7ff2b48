// The live stats page: polls stats.json once a second and draws messages
// per second over the last five minutes. Nothing but counts comes in, and
// everything is written with textContent.

const WINDOW_MS = 5 * 60 * 1000;
const POLL_MS = 1000;
const W = 600, H = 200, TOP = 20;

const fmt = new Intl.NumberFormat('en-US');
const samples = []; // {t, rate}: t from performance.now(), rate in messages per second
let prev = null;

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function setStatus(text, ok) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.classList.toggle('down', !ok);
}

function fillTable(id, rows) {
  const body = document.getElementById(id);
  body.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = fmt.format(v);
    tr.append(th, td);
    return tr;
  }));
}

function render(s, now) {
  for (const el of document.querySelectorAll('[data-field]')) {
    const v = s[el.dataset.field];
    el.textContent = el.dataset.unit === 'bytes' ? bytes(v) : fmt.format(v);
  }
  const last = samples.length ? samples[samples.length - 1].rate : 0;
  document.getElementById('rate-now').textContent = last.toFixed(1);
  fillTable('RoomsClosed', Object.entries(s.RoomsClosed));
  fillTable('ConnectionsClosed', Object.entries(s.ConnectionsClosed));
  fillTable('MembersLeft', Object.entries(s.MembersLeft));
  fillTable('Invites', [
    ['Made', s.InvitesMade], ['Redeemed', s.InvitesRedeemed],
    ['Expired', s.InvitesExpired], ['Refused', s.InvitesRefused],
  ]);
  const errs = Object.entries(s.Errors || {}).filter(([, n]) => n > 0).sort();
  fillTable('Errors', errs.length ? errs : [['none', 0]]);
  drawChart(now);
}

function drawChart(now) {
  let peak = 0;
  for (const p of samples) peak = Math.max(peak, p.rate);
  const scale = Math.max(1, Math.ceil(peak));
  const pts = samples.map(p => {
    const x = W - (now - p.t) / WINDOW_MS * W;
    const y = H - p.rate / scale * (H - TOP);
    return x.toFixed(1) + ',' + y.toFixed(1);
  });
  document.getElementById('rate-line').setAttribute('points', pts.join(' '));
  const area = pts.length ? [pts[0].split(',')[0] + ',' + H, ...pts, pts[pts.length - 1].split(',')[0] + ',' + H] : [];
  document.getElementById('rate-area').setAttribute('points', area.join(' '));
  document.getElementById('chart-max').textContent = scale;
  const svg = document.getElementById('chart');
  svg.dataset.peak = peak.toFixed(2);
  svg.dataset.samples = samples.length;
}

async function poll() {
  try {
    const r = await fetch('stats.json', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const s = await r.json();
    const now = performance.now();
    if (prev) {
      const dt = (now - prev.t) / 1000;
      const d = s.Messages - prev.s.Messages;
      samples.push({ t: now, rate: dt > 0 && d > 0 ? d / dt : 0 });
    }
    while (samples.length && now - samples[0].t > WINDOW_MS) samples.shift();
    prev = { t: now, s };
    render(s, now);
    setStatus('live', true);
  } catch {
    setStatus('server unreachable, retrying', false);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
