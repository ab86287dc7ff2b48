// The page's building blocks: views, notices, dialogs, and the one way a
// nickname goes into the page (nick, bidi-isolated). Untrusted strings
// (nicknames, messages, server texts) only ever go in as text.

import { hue, initial } from './words.js';

/** @param {string} id */
export const $ = (id) => document.getElementById(id);

const VIEWS = ['insecure', 'nick', 'lobby', 'room'];

// context is what the screen is about: 'nick', 'lobby' or 'room:<id>'.
// A notice belongs to the context it was made in and goes when the screen
// moves on to another; one made before anything was shown belongs to the
// first screen shown.
let context = '';

// show shows one view; room is the id of the room a room view shows.
export function show(view, room = '') {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  document.body.dataset.view = view;
  const next = view === 'room' ? `room:${room}` : view;
  if (next === context) return;
  for (const el of $('notices').querySelectorAll('.notice')) {
    const s = el.dataset.scope;
    if (s === '') el.dataset.scope = next;
    else if (s !== 'global' && s !== next) el.remove();
  }
  context = next;
}

// nick returns a nickname as an element of its own, isolated from the
// text around it: a nickname written right to left, or holding bidi
// controls, cannot reorder what comes after it ("Ben joined.").
export function nick(text, cls = '') {
  const b = document.createElement('bdi');
  if (cls) b.className = cls;
  b.textContent = text;
  return b;
}

// line builds text from parts: strings as text, nodes as they are.
export function line(...parts) {
  const frag = document.createDocumentFragment();
  for (const p of parts) frag.append(typeof p === 'string' ? document.createTextNode(p) : p);
  return frag;
}

// setParts replaces an element's content with parts (see line), or text.
export function setParts(el, parts) {
  if (typeof parts === 'string') el.textContent = parts;
  else el.replaceChildren(line(...parts));
}

export function tag(text, cls) {
  const t = document.createElement('span');
  t.className = `tag ${cls}`.trim();
  t.textContent = text;
  return t;
}

export function setAvatar(el, id, nickname) {
  el.textContent = initial(nickname ?? '?');
  el.style.setProperty('--hue', String(hue(id)));
}

export function focusSoon(el) {
  requestAnimationFrame(() => el?.focus());
}

// notify shows a notice above the page: text, or parts (see line). key
// replaces an earlier notice with the same key, and names it for
// dismissNotice once what it tells is resolved; timeout (ms) removes it
// by itself. scope is the context it belongs to (see show): by default
// the one on screen; 'global' for the connection, which outlives screens;
// 'room:<id>' for a room.
export function notify(text, { kind = 'info', code = '', key = '', timeout = 0, scope = context } = {}) {
  if (key) dismissNotice(key, scope === 'global' ? null : scope);
  const div = document.createElement('div');
  div.className = `notice notice-${kind}`;
  div.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (code) div.dataset.code = code;
  if (key) div.dataset.key = key;
  div.dataset.scope = scope;
  const p = document.createElement('p');
  setParts(p, text);
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

// clearNotices removes every notice, but those keep(el) says to keep.
export function clearNotices(keep = () => false) {
  for (const el of $('notices').querySelectorAll('.notice')) {
    if (!keep(el)) el.remove();
  }
}

// dismissNotice removes the notices of key, in scope if given (see
// notify): what they told is resolved.
export function dismissNotice(key, scope = null) {
  for (const el of $('notices').querySelectorAll('.notice')) {
    if (el.dataset.key === key && (scope === null || el.dataset.scope === scope)) el.remove();
  }
}

// dismissCode removes the notices with one of codes in scope (all scopes
// if null): what they told is resolved.
export function dismissCode(codes, scope = null) {
  for (const el of $('notices').querySelectorAll('.notice')) {
    if (codes.includes(el.dataset.code) && (scope === null || el.dataset.scope === scope)) el.remove();
  }
}

const GENERIC = {
  offline: 'You are offline. Try again once the page has reconnected.',
  stopped: 'You are offline. Try again once the page has reconnected.',
  timeout: 'The server did not answer. Try again.',
  not_found: 'That room no longer exists.',
  internal: 'The server failed. Try again.',
  room_locked: 'The room is locked: its owner is not letting anyone in right now.',
  unavailable: 'The server cannot reach its storage right now. Nothing else is wrong: try again in a moment.',
  too_many_users: 'The server has as many people as it can take right now. Try again later.',
  too_many_connections: 'You have this chat open in as many tabs as the server allows. Close one, and this tab gets in.',
  rate_limited: 'That was a lot at once. Wait a moment, then try again.',
  not_admitted: 'Your page does not hold the room’s keys yet, so it cannot send: someone already in the room must be online to give them. Try again in a moment.',
  rotating: 'The room’s keys are changing because someone left. Try again in a moment.',
  removed: 'The room’s keys moved on without you: you can no longer send here.',
};

// requestFailed tells a person why a request failed: texts by error code,
// else a generic text. Anything but a ProtocolError is a bug of the page.
// key names the action that failed (see notify): doing it again replaces
// the notice, doing it successfully dismisses it. Being offline is told
// once, under the key 'offline', and goes when the page is connected.
export function requestFailed(e, texts = {}, { key = '', scope = context } = {}) {
  if (typeof e?.code !== 'string') {
    notify('Something went wrong in this page. Reload it to continue.', { kind: 'error', code: 'page' });
    throw e;
  }
  const text = own(texts, e.code) ?? own(GENERIC, e.code) ?? `The server refused: ${e.message}`;
  const offline = e.code === 'offline' || e.code === 'stopped';
  notify(text, { kind: 'error', code: e.code, key: offline ? 'offline' : key, scope, timeout: offline ? 6000 : 0 });
}

// own is table[key] when the table has it as its own entry: codes and
// reasons come from the server, and "constructor" or "__proto__" must not
// find what every object inherits.
export function own(table, key) {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

// confirmDialog asks a question; title and text may be parts (see line).
export function confirmDialog({ title, text, confirm }) {
  const dlg = $('confirm');
  setParts($('confirm-title'), title);
  setParts($('confirm-text'), text);
  $('confirm-ok').textContent = confirm;
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
  });
}

export function setConnText(text) {
  $('conn-text').textContent = text;
}

// The conversation on screen scrolls in #log-wrap.

export function isAtEnd(list) {
  const wrap = $('log-wrap');
  if (wrap.firstChild !== list) return true;
  return wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 80;
}

export function scrollToEnd() {
  const wrap = $('log-wrap');
  requestAnimationFrame(() => {
    wrap.scrollTop = wrap.scrollHeight;
  });
}
