// The epchat demo page. It speaks PROTOCOL.md over one WebSocket and
// encrypts everything members say (crypto.js). Untrusted strings (nicknames,
// messages, server texts) only ever go into the page as textContent.

import {
  exportKey, hasCrypto, historyAD, importKey, isKeyText, messageAD, newRoomKey,
  open, plainBudget, safetyCode, seal, sealedLength, utf8Length,
} from './crypto.js';
import { Connection, ProtocolError } from './client.js';
import { hue, initial, roomName } from './words.js';

// DEFAULT_LIMITS are the Hub's defaults, for a server whose welcome does
// not tell its limits: max_message is the longest `text` or `data` it
// relays, in bytes; max_members the seats of a room.
const DEFAULT_LIMITS = { max_message: 16 * 1024, max_members: 10 };
// LOG_CAP bounds the conversation a tab keeps per room, and so the history
// an owner passes on.
const LOG_CAP = 500;
// GROUP_MS is how close in time two messages of one sender must be to be
// shown as one group.
const GROUP_MS = 5 * 60 * 1000;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// sessionStorage: the tab's session token, room keys and conversation. It
// lives as long as the tab, survives reloads, and is not shared with other
// tabs or sent anywhere.

const store = {
  get(name) {
    try {
      const v = sessionStorage.getItem(`epchat.${name}`);
      return v === null ? null : JSON.parse(v);
    } catch {
      return null;
    }
  },
  set(name, value) {
    try {
      sessionStorage.setItem(`epchat.${name}`, JSON.stringify(value));
    } catch {
      // Full or disabled: the page still works, a reload just forgets.
    }
  },
  del(name) {
    try {
      sessionStorage.removeItem(`epchat.${name}`);
    } catch {
      // As above.
    }
  },
  clear() {
    try {
      for (const k of Object.keys(sessionStorage)) {
        if (k.startsWith('epchat.')) sessionStorage.removeItem(k);
      }
    } catch {
      // As above.
    }
  },
};

// ---------------------------------------------------------------------------
// State.

const S = {
  me: null, // {id, nickname}
  token: null, // session token
  ready: false, // identified on the current connection
  pendingNick: null, // nickname to say hello with
  invite: null, // invite to redeem: {token, key}
  rooms: new Map(), // room id -> room (see newRoom)
  active: null, // id of the room on screen
  clockOffset: null, // estimate of server clock minus ours, in ms
  limits: DEFAULT_LIMITS, // the server's, as told in welcome
  names: new Map(), // member id -> last nickname seen
  joining: false, // a join request is in flight
  early: [], // events for an unknown room that came while joining
};

const conn = new Connection(chatURL(), {
  onOpen: hello,
  onEvent: handleEvent,
  onClose: connectionClosed,
  onStatus: connectionStatus,
});

function chatURL() {
  const u = new URL('chat/', document.baseURI);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.hash = '';
  u.search = '';
  return u.href;
}

function pageURL() {
  const u = new URL(location.href);
  u.hash = '';
  return u.href;
}

function serverNow() {
  return Date.now() + (S.clockOffset ?? 0);
}

// noteServerTime refines the clock offset from a server timestamp that was
// just made. Network delay only makes a sample smaller than the truth, so
// the largest sample is the best estimate.
function noteServerTime(ts) {
  if (typeof ts !== 'number') return;
  const sample = ts - Date.now();
  if (S.clockOffset === null || sample > S.clockOffset) S.clockOffset = sample;
}

// ---------------------------------------------------------------------------
// Boot.

async function boot() {
  bindUI();
  if (!hasCrypto()) {
    show('insecure');
    setConnText('Encryption unavailable');
    return;
  }
  readFragment();
  window.addEventListener('hashchange', () => {
    if (readFragment() && S.ready) joinPending();
  });
  window.addEventListener('online', () => conn.retryNow());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) markRead(activeRoom());
  });
  setInterval(tick, 1000);

  S.invite = S.invite ?? store.get('invite');
  const session = store.get('session');
  if (session?.token) {
    S.token = session.token;
    S.me = session.me ?? null;
    await restoreRooms();
    render();
    conn.start();
    return;
  }
  showNickForm();
}

// readFragment takes an invite out of the URL fragment (#join=token.key)
// and removes it from the address bar and the tab's history at once.
function readFragment() {
  if (!location.hash.startsWith('#join=')) return false;
  const inv = parseInvite(location.hash);
  history.replaceState(history.state, '', pageURL());
  if (!inv) {
    notify('This invite link is incomplete or damaged. Ask for a new one.', { kind: 'error', code: 'invite_damaged' });
    return false;
  }
  S.invite = inv;
  store.set('invite', inv);
  return true;
}

function parseInvite(text) {
  const i = text.indexOf('#join=');
  if (i < 0) return null;
  const value = text.slice(i + '#join='.length).trim();
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return null;
  const token = value.slice(0, dot);
  const key = value.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token) || !isKeyText(key)) return null;
  return { token, key };
}

async function restoreRooms() {
  const saved = store.get('rooms') ?? {};
  for (const [id, r] of Object.entries(saved)) {
    let key;
    try {
      key = await importKey(r.key);
    } catch {
      continue;
    }
    const room = newRoom(id, r.key, key, r);
    for (const m of store.get(`log.${id}`) ?? []) addMessage(room, m, { save: false });
    room.restored = true;
  }
  const active = store.get('active');
  S.active = S.rooms.has(active) ? active : (S.rooms.keys().next().value ?? null);
}

// ---------------------------------------------------------------------------
// Connection.

async function hello() {
  let req;
  if (S.token) req = { type: 'hello', token: S.token };
  else if (S.pendingNick) req = { type: 'hello', nickname: S.pendingNick };
  else {
    conn.stop();
    return;
  }
  let w;
  try {
    w = await conn.request(req);
  } catch (e) {
    helloFailed(e);
    return;
  }
  welcome(w);
}

function helloFailed(e) {
  if (!(e instanceof ProtocolError)) throw e;
  switch (e.code) {
    case 'session_invalid':
      endSession();
      break;
    case 'invalid_nickname':
      conn.stop();
      S.pendingNick = null;
      showNickForm('That nickname cannot be used: 1 to 32 characters, no control characters.');
      break;
    default:
      // offline or timeout: the connection retries by itself.
      break;
  }
}

function welcome(w) {
  conn.healthy();
  S.limits = {
    max_message: positive(w.limits?.max_message) ?? DEFAULT_LIMITS.max_message,
    max_members: positive(w.limits?.max_members) ?? DEFAULT_LIMITS.max_members,
  };
  renderComposerLimit();
  S.me = w.you;
  S.names.set(w.you.id, w.you.nickname);
  if (w.token) S.token = w.token;
  S.pendingNick = null;
  S.ready = true;
  store.set('session', { token: S.token, me: S.me });
  document.body.dataset.conn = 'ready';
  setConnText('Connected');
  dismissNotice('conn');

  const seated = new Map((w.rooms ?? []).map((r) => [r.room, r]));
  for (const room of S.rooms.values()) {
    if (room.closed) continue;
    const info = seated.get(room.id);
    if (info) applyRoomInfo(room, info);
    else roomGone(room);
  }
  saveRooms();
  render();
  if (S.invite) joinPending();
  else if (!activeRoom()) focusSoon($('create-btn'));
}

// positive returns n if it is a positive integer, else undefined.
function positive(n) {
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

// endSession forgets a session the server no longer knows (it restarted,
// or forgot an idle user): the rooms went with it.
function endSession() {
  conn.stop();
  const invite = S.invite;
  store.clear();
  if (invite) store.set('invite', invite);
  S.token = null;
  S.me = null;
  S.ready = false;
  S.rooms.clear();
  S.active = null;
  notify('The server no longer knows your session (it may have restarted), so your rooms are gone. Pick a nickname to start again.', { kind: 'warn', code: 'session_invalid' });
  showNickForm();
}

function connectionClosed({ code }) {
  S.ready = false;
  if (code === 1001) {
    notify('The server is shutting down or restarting. The page reconnects when it is back.', { kind: 'warn', code: 'shutdown', key: 'conn' });
  } else if (code === 4001 || code === 4002) {
    notify('The connection was too slow and was reset. Reconnecting…', { kind: 'warn', code: 'slow', key: 'conn' });
  }
  render();
}

function connectionStatus({ state, at }) {
  document.body.dataset.conn = state === 'open' ? 'connecting' : state;
  switch (state) {
    case 'connecting':
    case 'open':
      setConnText(S.me ? 'Reconnecting…' : 'Connecting…');
      break;
    case 'waiting': {
      const s = Math.max(1, Math.round((at - Date.now()) / 1000));
      setConnText(`Offline · retrying in ${s} s`);
      break;
    }
    default:
      setConnText('Not connected');
  }
}

function setConnText(text) {
  $('conn-text').textContent = text;
}

// ---------------------------------------------------------------------------
// Rooms.

function newRoom(id, keyText, key, saved = {}) {
  const list = document.createElement('ol');
  list.className = 'log';
  list.setAttribute('role', 'log');
  list.setAttribute('aria-live', 'polite');
  list.setAttribute('aria-relevant', 'additions');
  list.setAttribute('aria-label', 'Messages');
  const room = {
    id,
    name: roomName(id),
    keyText,
    key,
    safety: '',
    owner: saved.owner ?? '',
    members: saved.members ?? [],
    seen: saved.seen ?? 0,
    msgs: [],
    seqs: new Set(),
    closed: null,
    invite: null,
    unread: 0,
    list,
  };
  for (const m of room.members) S.names.set(m.id, m.nickname);
  S.rooms.set(id, room);
  renderIntro(room);
  safetyCode(keyText).then((code) => {
    room.safety = code;
    if (S.active === id) $('safety').textContent = code;
  });
  return room;
}

function applyRoomInfo(room, info) {
  room.owner = info.owner;
  room.members = info.members ?? [];
  for (const m of room.members) S.names.set(m.id, m.nickname);
  if (typeof info.seq === 'number' && info.seq > room.seen) {
    const missed = info.seq - room.seen;
    if (room.restored || room.msgs.length > 0) {
      addNotice(room, missed === 1
        ? '1 message was sent while you were away. The server keeps nothing, so it is gone.'
        : `${missed} messages were sent while you were away. The server keeps nothing, so they are gone.`, 'warn');
    }
    room.seen = info.seq;
  }
}

function activeRoom() {
  return S.active ? S.rooms.get(S.active) ?? null : null;
}

function activate(room) {
  S.active = room ? room.id : null;
  store.set('active', S.active);
  if (room) markRead(room);
  render();
}

function saveRooms() {
  const out = {};
  for (const r of S.rooms.values()) {
    if (r.closed) continue;
    out[r.id] = { key: r.keyText, owner: r.owner, members: r.members, seen: r.seen };
  }
  store.set('rooms', out);
}

function saveLog(room) {
  if (room.closed) return;
  store.set(`log.${room.id}`, room.msgs.slice(-LOG_CAP));
}

function forgetRoom(room) {
  store.del(`log.${room.id}`);
  S.rooms.delete(room.id);
  saveRooms();
}

function nameOf(id) {
  return S.names.get(id) ?? 'Someone';
}

function isOwner(room) {
  return !!S.me && room.owner === S.me.id;
}

async function createRoom() {
  const btn = $('create-btn');
  btn.disabled = true;
  try {
    const key = await newRoomKey();
    const keyText = await exportKey(key);
    const j = await conn.request({ type: 'create' });
    const room = newRoom(j.room, keyText, key);
    applyRoomInfo(room, j);
    addNotice(room, 'You created this room. Invite people with one-time links.');
    saveRooms();
    activate(room);
    focusSoon($('invite-btn'));
  } catch (e) {
    requestFailed(e, {
      too_many_rooms: 'You are in as many rooms as allowed. Leave one first.',
    });
  } finally {
    btn.disabled = false;
  }
}

async function joinPending() {
  const inv = S.invite;
  if (!inv || !S.ready) return;
  S.invite = null;
  store.del('invite');
  let key;
  try {
    key = await importKey(inv.key);
  } catch {
    notify('This invite link is incomplete or damaged. Ask for a new one.', { kind: 'error', code: 'invite_damaged' });
    return;
  }
  S.joining = true;
  S.early = [];
  try {
    const j = await conn.request({ type: 'join', token: inv.token });
    // Registered before any later event of this connection is handled:
    // the owner's history may follow right behind the reply.
    const room = newRoom(j.room, inv.key, key);
    applyRoomInfo(room, j);
    addNotice(room, `You joined ${room.name}.`);
    saveRooms();
    activate(room);
    for (const ev of S.early) if (ev.room === room.id) handleEvent(ev);
    focusSoon($('composer-input'));
  } catch (e) {
    if (e instanceof ProtocolError && (e.code === 'offline' || e.code === 'timeout')) {
      // Not redeemed as far as we know: try again once reconnected.
      S.invite = inv;
      store.set('invite', inv);
    }
    requestFailed(e, {
      invite_invalid: 'This invite link has expired or was already used. Ask the room’s owner for a new one.',
      room_full: 'This room is full. Ask its owner to send you a new link once a seat is free.',
      already_member: 'You are already in this room.',
      too_many_rooms: 'You are in as many rooms as allowed. Leave one, then open the link again.',
    });
    render();
  } finally {
    S.joining = false;
    S.early = [];
  }
}

async function makeInvite() {
  const room = activeRoom();
  if (!room || room.closed) return;
  const btn = $('invite-btn');
  btn.disabled = true;
  try {
    const r = await conn.request({ type: 'invite', room: room.id });
    // The countdown runs on the server's clock: now says where it stood
    // when the invite was made.
    noteServerTime(r.now);
    const ttl = r.expires - (typeof r.now === 'number' ? r.now : serverNow());
    room.invite = {
      link: `${pageURL()}#join=${r.token}.${room.keyText}`,
      expires: r.expires,
      ttl: ttl > 0 ? ttl : 1,
    };
    clearTimeout(copyInvite.timer);
    $('copy-label').textContent = 'Copy';
    renderInvite(room);
    $('copy-btn').focus();
  } catch (e) {
    requestFailed(e, {
      room_full: 'Every seat in this room is taken: there is nobody left to invite.',
      too_many_invites: 'There are as many unused invites as free seats. Wait for one to be used or to expire.',
      forbidden: 'Only the room’s owner can invite people.',
    });
  } finally {
    btn.disabled = false;
  }
}

async function copyInvite() {
  const input = $('invite-link');
  const text = input.value;
  if (!text) return;
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    input.focus();
    input.select();
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
  }
  const label = $('copy-label');
  label.textContent = ok ? 'Copied' : 'Press Ctrl+C';
  clearTimeout(copyInvite.timer);
  copyInvite.timer = setTimeout(() => {
    label.textContent = 'Copy';
  }, 2000);
}

async function closeRoom() {
  const room = activeRoom();
  if (!room || room.closed) return;
  const ok = await confirmDialog({
    title: `Close ${room.name}?`,
    text: 'Everyone is removed at once and the conversation is gone for good. Unused invite links stop working.',
    confirm: 'Close room',
  });
  if (!ok) return;
  try {
    await conn.request({ type: 'close', room: room.id });
    roomClosed(room, 'owner');
  } catch (e) {
    requestFailed(e, { forbidden: 'Only the room’s owner can close it.' });
  }
}

async function leaveRoom() {
  const room = activeRoom();
  if (!room || room.closed) return;
  const ok = await confirmDialog({
    title: `Leave ${room.name}?`,
    text: isOwner(room) && room.members.length > 1
      ? 'The conversation disappears from this tab and the earliest member who joined becomes the owner. You need a new invite to come back.'
      : 'The conversation disappears from this tab. You need a new invite to come back.',
    confirm: 'Leave',
  });
  if (!ok) return;
  try {
    await conn.request({ type: 'leave', room: room.id });
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.code !== 'not_found') {
      requestFailed(e, {});
      return;
    }
  }
  notify(`You left ${room.name}.`, { kind: 'info', code: 'left', timeout: 5000 });
  dismissRoom(room);
}

// dismissRoom takes a room off the screen and out of storage.
function dismissRoom(room) {
  forgetRoom(room);
  if (S.active === room.id) {
    const next = [...S.rooms.values()].find((r) => !r.closed) ?? S.rooms.values().next().value ?? null;
    activate(next);
  } else {
    render();
  }
  if (!activeRoom()) focusSoon($('create-btn'));
}

const CLOSE_REASONS = {
  owner: 'The owner closed this room.',
  idle: 'This room closed because nobody wrote for a while.',
  host: 'The server’s operator closed this room.',
  shutdown: 'This room closed because the server is shutting down.',
};

function roomClosed(room, reason) {
  if (room.closed) return;
  room.closed = { reason };
  room.invite = null;
  const text = reason === 'owner' && isOwner(room)
    ? 'You closed this room. Nobody can write in it any more.'
    : CLOSE_REASONS[reason] ?? 'This room was closed.';
  room.closedText = text;
  addNotice(room, text, 'warn');
  store.del(`log.${room.id}`);
  saveRooms();
  if (S.active !== room.id) {
    notify(`${room.name}: ${text}`, { kind: 'warn', code: `closed_${reason}` });
  }
  render();
}

// roomGone handles a room the server no longer seats us in, found out on
// reconnecting: it closed while we were away, or we were away too long.
function roomGone(room) {
  if (room.closed) return;
  room.closed = { reason: 'gone' };
  room.invite = null;
  room.closedText = 'You are no longer in this room: it closed, or you were away for too long.';
  addNotice(room, room.closedText, 'warn');
  store.del(`log.${room.id}`);
  if (S.active !== room.id) notify(`${room.name}: ${room.closedText}`, { kind: 'warn', code: 'room_gone' });
}

// ---------------------------------------------------------------------------
// Messages.

async function sendMessage() {
  const room = activeRoom();
  const input = $('composer-input');
  const text = composerText();
  if (!room || room.closed || text.trim() === '') return;
  if (!S.ready) {
    notify('You are offline: the message was not sent. It will be here when you are back.', { kind: 'warn', code: 'offline', key: 'send', timeout: 5000 });
    return;
  }
  if (!fits(text)) {
    notify('That message is too long to send. Split it into several.', { kind: 'warn', code: 'too_large', key: 'send', timeout: 6000 });
    return;
  }
  const sealed = await seal(room.key, messageAD(room.id, S.me.id), messageBody(text));
  input.value = '';
  renderComposerLimit();
  try {
    const r = await conn.request({ type: 'send', room: room.id, text: sealed });
    noteServerTime(r.ts);
    addMessage(room, { seq: r.seq, ts: r.ts, from: S.me.id, nick: S.me.nickname, body: text });
    scrollToEnd(room, true);
  } catch (e) {
    if (input.value === '') {
      input.value = text;
      renderComposerLimit();
    }
    requestFailed(e, { too_large: 'That message is too long to send. Split it into several.' });
  }
}

// composerText is the message in the composer, without the blank lines
// before it and the spaces after it.
function composerText() {
  return $('composer-input').value.replace(/^\s*\n|\s+$/g, '');
}

// messageBody is what a message's text travels as, sealed.
function messageBody(text) {
  return { v: 1, body: text };
}

// fits reports whether text, sealed as sendMessage seals it, fits in the
// server's max_message: encryption and base64url make it longer.
function fits(text) {
  return sealedLength(utf8Length(JSON.stringify(messageBody(text)))) <= S.limits.max_message;
}

// renderComposerLimit says, while it is so, that the text in the composer
// is too long to send.
function renderComposerLimit() {
  const input = $('composer-input');
  const over = !fits(composerText());
  $('composer-limit').hidden = !over;
  if (over) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

async function receiveMessage(room, msg) {
  noteServerTime(msg.ts);
  if (room.seqs.has(msg.seq)) return;
  let plain;
  try {
    plain = await open(room.key, messageAD(room.id, msg.from), msg.text);
  } catch {
    addNotice(room, `A message from ${nameOf(msg.from)} could not be decrypted: it was changed on the way, or made with another key.`, 'warn');
    return;
  }
  if (typeof plain?.body !== 'string') return;
  addMessage(room, { seq: msg.seq, ts: msg.ts, from: msg.from, nick: nameOf(msg.from), body: plain.body });
  if (S.active !== room.id || document.hidden) {
    room.unread++;
    renderTabs();
    renderTitle();
  }
}

// sendHistory passes the conversation so far to a newcomer, as the owner:
// encrypted batches that each fit in one `history` request.
async function sendHistory(room, to) {
  const max = S.limits.max_message;
  const budget = plainBudget(max) - 64;
  const batches = [];
  let batch = [];
  let size = 0;
  for (const m of room.msgs) {
    const entry = { seq: m.seq, ts: m.ts, from: m.from, nick: m.nick, body: m.body };
    const n = utf8Length(JSON.stringify(entry)) + 1;
    if (batch.length > 0 && size + n > budget) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(entry);
    size += n;
  }
  if (batch.length > 0) batches.push(batch);
  for (const msgs of batches) {
    const data = await seal(room.key, historyAD(room.id, S.me.id, to), { v: 1, msgs });
    if (data.length > max) continue; // one oversized entry: skip it, not the rest
    try {
      await conn.request({ type: 'history', room: room.id, to, data });
    } catch {
      return; // they left, we lost ownership, or we are offline
    }
  }
}

async function receiveHistory(room, msg) {
  let plain;
  try {
    plain = await open(room.key, historyAD(room.id, msg.from, S.me.id), msg.data);
  } catch {
    addNotice(room, 'The earlier messages could not be decrypted.', 'warn');
    return;
  }
  if (!Array.isArray(plain?.msgs)) return;
  let added = 0;
  for (const e of plain.msgs) {
    if (!Number.isSafeInteger(e?.seq) || e.seq < 1 || typeof e.ts !== 'number'
      || typeof e.from !== 'string' || typeof e.nick !== 'string' || typeof e.body !== 'string') continue;
    if (addMessage(room, { seq: e.seq, ts: e.ts, from: e.from, nick: e.nick.slice(0, 64), body: e.body }, { save: false })) added++;
  }
  if (added > 0) saveLog(room);
}

// addMessage puts a message into the room in seq order, once.
function addMessage(room, m, { save = true } = {}) {
  if (room.seqs.has(m.seq)) return false;
  room.seqs.add(m.seq);
  let i = room.msgs.length;
  while (i > 0 && room.msgs[i - 1].seq > m.seq) i--;
  room.msgs.splice(i, 0, m);
  if (room.msgs.length > LOG_CAP) {
    const dropped = room.msgs.shift();
    room.list.querySelector(`li.msg[data-seq="${dropped.seq}"]`)?.remove();
  }
  if (m.seq > room.seen) room.seen = m.seq;
  const stick = isAtEnd(room);
  insertMessage(room, m);
  if (stick) scrollToEnd(room);
  if (save) {
    saveLog(room);
    saveRooms();
  }
  return true;
}

// ---------------------------------------------------------------------------
// Events.

function handleEvent(msg) {
  const room = typeof msg.room === 'string' ? S.rooms.get(msg.room) : null;
  if (!room && S.joining && S.early.length < 64) {
    // The protocol orders one connection's replies, not events of a room
    // we are about to learn the id of: keep them until the join answers.
    S.early.push(msg);
    return;
  }
  if (!room || room.closed) return;
  switch (msg.type) {
    case 'message':
      if (typeof msg.text === 'string' && Number.isSafeInteger(msg.seq)) receiveMessage(room, msg);
      break;
    case 'history':
      if (typeof msg.data === 'string') receiveHistory(room, msg);
      break;
    case 'member_joined': {
      const m = msg.member;
      if (!m || typeof m.id !== 'string') break;
      S.names.set(m.id, m.nickname);
      if (!room.members.some((x) => x.id === m.id)) room.members.push({ id: m.id, nickname: m.nickname });
      addNotice(room, `${m.nickname} joined.`);
      saveRooms();
      renderMembers(room);
      if (isOwner(room) && m.id !== S.me.id && room.msgs.length > 0) sendHistory(room, m.id);
      break;
    }
    case 'member_left': {
      room.members = room.members.filter((x) => x.id !== msg.member);
      addNotice(room, msg.reason === 'disconnected'
        ? `${nameOf(msg.member)} lost their connection and left.`
        : `${nameOf(msg.member)} left.`);
      saveRooms();
      renderMembers(room);
      break;
    }
    case 'owner_changed':
      room.owner = msg.owner;
      addNotice(room, isOwner(room)
        ? 'You are now the owner: you can invite people and close the room.'
        : `${nameOf(msg.owner)} is now the owner.`);
      saveRooms();
      render();
      break;
    case 'room_closed':
      roomClosed(room, msg.reason);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------
// Rendering.

function show(view) {
  for (const v of ['insecure', 'nick', 'lobby', 'room']) $(`view-${v}`).hidden = v !== view;
  document.body.dataset.view = view;
}

function showNickForm(error) {
  show('nick');
  $('nick-invited').hidden = !S.invite;
  $('nick-submit').textContent = S.invite ? 'Join the room' : 'Continue';
  $('nick-submit').disabled = false;
  const input = $('nick-input');
  if (error) {
    $('nick-help').textContent = error;
    $('nick-help').classList.add('error');
    input.setAttribute('aria-invalid', 'true');
  }
  focusSoon(input);
}

function render() {
  renderWhoami();
  renderTitle();
  if (!S.me) return;
  const room = activeRoom();
  if (!room) {
    show('lobby');
    renderLobby();
    return;
  }
  show('room');
  renderTabs();
  renderRoom(room);
}

function renderWhoami() {
  $('whoami').hidden = !S.me;
  if (!S.me) return;
  $('whoami-name').textContent = S.me.nickname;
  setAvatar($('whoami-avatar'), S.me.id, S.me.nickname);
}

function renderTitle() {
  const unread = [...S.rooms.values()].reduce((n, r) => n + r.unread, 0);
  const room = activeRoom();
  document.title = `${unread > 0 ? `(${unread}) ` : ''}${room ? `${room.name} · ` : ''}epchat`;
}

function renderLobby() {
  const rooms = [...S.rooms.values()];
  $('lobby-rooms').hidden = rooms.length === 0;
  const ul = $('lobby-room-list');
  ul.replaceChildren(...rooms.map((r) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn';
    const name = document.createElement('span');
    name.textContent = r.name;
    const meta = document.createElement('span');
    meta.className = 'muted';
    meta.textContent = r.closed ? 'closed' : `${r.members.length} ${r.members.length === 1 ? 'member' : 'members'}`;
    b.append(name, meta);
    b.addEventListener('click', () => activate(r));
    li.append(b);
    return li;
  }));
  $('create-btn').disabled = !S.ready;
}

function renderTabs() {
  const nav = $('room-tabs');
  const tabs = [...S.rooms.values()].map((r) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tab';
    b.dataset.room = r.id;
    if (r.id === S.active) b.setAttribute('aria-current', 'page');
    const name = document.createElement('span');
    name.textContent = r.name;
    b.append(name);
    if (r.unread > 0) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = String(r.unread);
      badge.setAttribute('aria-label', `${r.unread} unread`);
      b.append(badge);
    }
    b.addEventListener('click', () => activate(r));
    return b;
  });
  const add = document.createElement('button');
  add.type = 'button';
  add.className = 'tab tab-new';
  add.textContent = '+ New room or invite';
  add.addEventListener('click', () => activate(null));
  nav.replaceChildren(...tabs, add);
}

function renderRoom(room) {
  const view = $('view-room');
  view.dataset.room = room.id;
  view.dataset.owner = String(isOwner(room));
  view.dataset.closed = String(!!room.closed);
  $('room-title').textContent = room.name;
  $('safety').textContent = room.safety;
  const owner = isOwner(room) && !room.closed;
  $('invite-btn').hidden = !owner;
  $('close-btn').hidden = !owner;
  $('invite-btn').disabled = !S.ready;
  $('close-btn').disabled = !S.ready;
  $('leave-btn').hidden = !!room.closed;
  $('leave-btn').disabled = !S.ready;

  const banner = $('room-banner');
  banner.hidden = !room.closed;
  if (room.closed) {
    banner.dataset.reason = room.closed.reason;
    $('room-banner-text').textContent = room.closedText;
  }

  const wrap = $('log-wrap');
  if (wrap.firstChild !== room.list) {
    wrap.replaceChildren(room.list);
    scrollToEnd(room);
  }
  renderMembers(room);
  renderInvite(room);

  const composer = $('composer');
  composer.hidden = !!room.closed;
  $('send-btn').disabled = !S.ready;
}

function renderMembers(room) {
  if (S.active !== room.id) return;
  $('member-count').textContent = `· ${room.members.length} of ${S.limits.max_members}`;
  const ul = $('member-list');
  ul.replaceChildren(...room.members.map((m) => {
    const li = document.createElement('li');
    li.dataset.id = m.id;
    const av = document.createElement('span');
    av.className = 'avatar avatar-sm';
    av.setAttribute('aria-hidden', 'true');
    setAvatar(av, m.id, m.nickname);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = m.nickname;
    li.append(av, name);
    if (m.id === room.owner) {
      li.dataset.owner = 'true';
      li.append(tag('owner', ''));
    }
    if (S.me && m.id === S.me.id) li.append(tag('you', 'tag-you'));
    return li;
  }));
}

function tag(text, cls) {
  const t = document.createElement('span');
  t.className = `tag ${cls}`.trim();
  t.textContent = text;
  return t;
}

function setAvatar(el, id, nickname) {
  el.textContent = initial(nickname ?? '?');
  el.style.setProperty('--hue', String(hue(id)));
}

function renderInvite(room) {
  const panel = $('invite-panel');
  const inv = room.invite;
  panel.hidden = !inv || S.active !== room.id;
  if (!inv) return;
  const left = inv.expires - serverNow();
  const expired = left <= 0;
  panel.classList.toggle('expired', expired);
  const input = $('invite-link');
  if (expired) {
    input.value = '';
    input.placeholder = 'This link expired';
    $('invite-expiry').textContent = 'Expired. Make a new link with Invite.';
    $('copy-btn').disabled = true;
    $('invite-meter').style.transform = 'scaleX(0)';
    return;
  }
  if (input.value !== inv.link) input.value = inv.link;
  $('copy-btn').disabled = false;
  const s = Math.ceil(left / 1000);
  const text = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  const p = $('invite-expiry');
  let t = $('invite-countdown');
  if (!t) {
    p.textContent = 'Expires in ';
    t = document.createElement('time');
    t.id = 'invite-countdown';
    p.append(t);
  }
  t.textContent = text;
  t.dateTime = `PT${s}S`;
  $('invite-meter').style.transform = `scaleX(${Math.min(1, left / inv.ttl)})`;
}

function tick() {
  const room = activeRoom();
  if (room?.invite) renderInvite(room);
}

// renderIntro opens every conversation with what protects it.
function renderIntro(room) {
  const li = document.createElement('li');
  li.className = 'intro';
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', 'icons.svg#lock');
  svg.append(use);
  const p = document.createElement('p');
  p.textContent = 'Messages are end-to-end encrypted in your browsers. The server relays only ciphertext and keeps nothing: when the room closes, the conversation is gone.';
  li.append(svg, p);
  room.list.append(li);
}

function insertMessage(room, m) {
  const li = document.createElement('li');
  li.className = 'msg';
  li.dataset.seq = String(m.seq);
  li.dataset.from = m.from;
  if (S.me && m.from === S.me.id) li.classList.add('mine');

  const av = document.createElement('span');
  av.className = 'avatar';
  av.setAttribute('aria-hidden', 'true');
  setAvatar(av, m.from, m.nick);

  const meta = document.createElement('p');
  meta.className = 'meta';
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = m.nick;
  const time = document.createElement('time');
  const d = new Date(m.ts);
  time.dateTime = d.toISOString();
  time.title = d.toLocaleString();
  time.textContent = d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  meta.append(who, document.createTextNode(' '), time);

  const body = document.createElement('div');
  body.className = 'bubble';
  body.textContent = m.body;

  li.append(av, meta, body);

  // Before the first message with a later seq, or the first notice made
  // after this message's time (a newcomer's history goes above "You joined").
  const after = (el) => (el.classList.contains('msg') ? Number(el.dataset.seq) > m.seq : Number(el.dataset.after) >= m.seq);
  let next = null;
  // Live messages go at the end; only history searches.
  if (room.list.lastElementChild && after(room.list.lastElementChild)) {
    for (const el of room.list.children) {
      if (after(el)) {
        next = el;
        break;
      }
    }
  }
  room.list.insertBefore(li, next);
  regroup(li);
  if (li.nextElementSibling) regroup(li.nextElementSibling);
}

// regroup shows a message as the continuation of the one above it when
// the same member sent both within a few minutes.
function regroup(li) {
  if (!li.classList.contains('msg')) return;
  const prev = li.previousElementSibling;
  const ts = (el) => Date.parse(el.querySelector('time').dateTime);
  const cont = !!prev && prev.classList.contains('msg')
    && prev.dataset.from === li.dataset.from
    && ts(li) - ts(prev) < GROUP_MS;
  li.classList.toggle('cont', cont);
}

function addNotice(room, text, kind = '') {
  const stick = isAtEnd(room);
  const li = document.createElement('li');
  li.className = `notice-line ${kind}`.trim();
  li.dataset.after = String(room.seen);
  li.textContent = text;
  room.list.append(li);
  if (stick) scrollToEnd(room);
}

function isAtEnd(room) {
  const wrap = $('log-wrap');
  if (wrap.firstChild !== room.list) return true;
  return wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 80;
}

function scrollToEnd(room, force = false) {
  if (S.active !== room.id && !force) return;
  const wrap = $('log-wrap');
  requestAnimationFrame(() => {
    wrap.scrollTop = wrap.scrollHeight;
  });
}

function markRead(room) {
  if (!room || room.unread === 0) return;
  room.unread = 0;
  renderTabs();
  renderTitle();
}

// ---------------------------------------------------------------------------
// Notices, dialogs, errors.

// notify shows a notice above the page. key replaces an earlier notice
// with the same key; timeout (ms) removes it by itself.
function notify(text, { kind = 'info', code = '', key = '', timeout = 0 } = {}) {
  if (key) dismissNotice(key);
  const div = document.createElement('div');
  div.className = `notice notice-${kind}`;
  div.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (code) div.dataset.code = code;
  if (key) div.dataset.key = key;
  const p = document.createElement('p');
  p.textContent = text;
  const x = document.createElement('button');
  x.type = 'button';
  x.className = 'dismiss';
  x.setAttribute('aria-label', 'Dismiss');
  x.textContent = '×';
  x.addEventListener('click', () => div.remove());
  div.append(p, x);
  $('notices').append(div);
  if (timeout > 0) setTimeout(() => div.remove(), timeout);
}

function dismissNotice(key) {
  for (const el of $('notices').querySelectorAll('.notice')) {
    if (el.dataset.key === key) el.remove();
  }
}

function requestFailed(e, texts) {
  if (!(e instanceof ProtocolError)) {
    notify('Something went wrong in this page. Reload it to continue.', { kind: 'error', code: 'page' });
    throw e;
  }
  const generic = {
    offline: 'You are offline. Try again once the page has reconnected.',
    timeout: 'The server did not answer. Try again.',
    not_found: 'That room no longer exists.',
    internal: 'The server failed. Try again.',
  };
  const text = texts[e.code] ?? generic[e.code] ?? `The server refused: ${e.message}`;
  notify(text, { kind: 'error', code: e.code, timeout: e.code === 'offline' ? 6000 : 0 });
}

function confirmDialog({ title, text, confirm }) {
  const dlg = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = confirm;
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
  });
}

function focusSoon(el) {
  requestAnimationFrame(() => el?.focus());
}

// ---------------------------------------------------------------------------
// UI wiring.

function bindUI() {
  $('nick-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('nick-input');
    const nick = input.value.trim();
    // The server's rule, checked here too for a quicker answer.
    // eslint-disable-next-line no-control-regex
    if (nick === '' || Array.from(nick).length > 32 || /[\u0000-\u001f\u007f-\u009f]/.test(nick)) {
      showNickForm('Pick 1 to 32 characters, without control characters.');
      return;
    }
    input.removeAttribute('aria-invalid');
    $('nick-help').classList.remove('error');
    $('nick-help').textContent = 'Connecting…';
    $('nick-submit').disabled = true;
    S.pendingNick = nick;
    if (conn.isActive) conn.retryNow();
    else conn.start();
  });

  $('create-btn').addEventListener('click', createRoom);

  $('paste-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('paste-input');
    const inv = parseInvite(input.value);
    if (!inv) {
      notify('That does not look like an invite link: it should contain “#join=”.', { kind: 'error', code: 'invite_damaged', timeout: 6000 });
      input.focus();
      return;
    }
    input.value = '';
    S.invite = inv;
    joinPending();
  });

  $('invite-btn').addEventListener('click', makeInvite);
  $('copy-btn').addEventListener('click', copyInvite);
  $('invite-link').addEventListener('focus', (e) => e.target.select());
  $('close-btn').addEventListener('click', closeRoom);
  $('leave-btn').addEventListener('click', leaveRoom);
  $('banner-back').addEventListener('click', () => {
    const room = activeRoom();
    if (room) dismissRoom(room);
  });

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    sendMessage();
  });
  $('composer-input').addEventListener('input', renderComposerLimit);
  $('composer-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendMessage();
    }
  });

  $('confirm-cancel').addEventListener('click', () => $('confirm').close('cancel'));
  $('confirm-ok').addEventListener('click', () => $('confirm').close('ok'));
}

boot();
