// One room's conversation on screen: the messages in seq order, once
// each, the notices between them, and what the tab keeps of it.

import { loadLog, loadNotes, saveLog, saveNotes } from './store.js';
import { isAtEnd, nick, scrollToEnd, setAvatar, setParts } from './ui.js';

// LOG_CAP bounds the conversation a tab keeps per room, and so the history
// an owner passes on.
const LOG_CAP = 500;
// NOTES_CAP bounds the notices (joined, left, ...) a tab keeps per room.
const NOTES_CAP = 200;
// GROUP_MS is how close in time two messages of one sender must be to be
// shown as one group.
const GROUP_MS = 5 * 60 * 1000;

export class Conversation {
  // room is the room id; me() the member id of this tab's user;
  // onScreen() whether the conversation is the one shown.
  constructor(room, { me, onScreen }) {
    this.room = room;
    this.me = me;
    this.onScreen = onScreen;
    // {seq, ts, from, nick, body, via?, mid?, envelope?, placement?,
    // missing?, verified?}: via, who passed it on as history; mid and
    // envelope, its author's signed message id and envelope (mlsScheme),
    // which a history passes on; placement, where the author's counter
    // says it belongs (see flag).
    this.msgs = [];
    this.notes = []; // {after, kind, parts}: the notices between them, as kept (see keepParts)
    this.seqs = new Set();
    this.mids = new Set(); // signed message ids shown: one message, once
    this.lis = new WeakMap(); // message -> its line
    this.noticeLines = []; // the notices' lines, oldest first
    this.seen = 0; // the latest seq shown, for placing notices
    this.unread = 0;
    const list = document.createElement('ol');
    list.className = 'log';
    list.setAttribute('role', 'log');
    list.setAttribute('aria-live', 'polite');
    list.setAttribute('aria-relevant', 'additions');
    list.setAttribute('aria-label', 'Messages');
    this.list = list;
    this.intro();
  }

  // restore shows what the tab kept of the conversation: its messages,
  // and the notices between them where they were.
  restore() {
    const notes = loadNotes(this.room).filter(validNote);
    let i = 0;
    for (const m of loadLog(this.room)) {
      if (!validEntry(m)) continue;
      while (i < notes.length && notes[i].after < m.seq) this.restoreNote(notes[i++]);
      this.add(m, { save: false });
    }
    while (i < notes.length) this.restoreNote(notes[i++]);
    return this.msgs.length;
  }

  restoreNote(n) {
    this.seen = Math.max(this.seen, n.after);
    this.notice(n.parts.map((p) => (typeof p === 'string' ? p : nick(p.n))), n.kind);
  }

  save() {
    saveLog(this.room, this.msgs.slice(-LOG_CAP));
  }

  // idleRule says, in the intro, how long a quiet room lasts.
  idleRule(text) {
    if (this.idle.textContent !== text) this.idle.textContent = text;
  }

  // lastTs is the time (server clock) of the latest message, or null.
  lastTs() {
    return this.msgs.reduce((t, m) => (t === null || m.ts > t ? m.ts : t), null);
  }

  // entries is the conversation so far, as history for a newcomer.
  entries() {
    return this.msgs.map(({ seq, ts, from, nick: n, body, envelope }) => (typeof envelope === 'string'
      ? { seq, ts, from, nick: n, body, envelope }
      : { seq, ts, from, nick: n, body }));
  }

  // add puts a message into the conversation in seq order, once. It
  // reports whether it was new. A signed message (mid) is one message by
  // its author's id for it, not by the seq the server gave it: a new one
  // under a seq already shown is shown too, flagged, so that the server
  // cannot hide a message behind another's number.
  add(m, { save = true } = {}) {
    const signed = typeof m.mid === 'string';
    if (signed ? this.mids.has(m.mid) : this.seqs.has(m.seq)) return false;
    if (signed && this.seqs.has(m.seq)) m = { ...m, reused: true };
    this.seqs.add(m.seq);
    if (signed) this.mids.add(m.mid);
    let i = this.msgs.length;
    while (i > 0 && this.msgs[i - 1].seq > m.seq) i--;
    this.msgs.splice(i, 0, m);
    if (this.msgs.length > LOG_CAP) {
      const dropped = this.msgs.shift();
      this.lis.get(dropped)?.remove();
    }
    if (m.seq > this.seen) this.seen = m.seq;
    const stick = isAtEnd(this.list);
    this.insert(m);
    if (stick) this.scroll();
    if (save) this.save();
    return true;
  }

  // addHistory adds the entries a room's owner passed on, marked as
  // passed on by via (their nickname).
  addHistory(entries, via) {
    let added = 0;
    for (const e of entries) if (this.add({ ...e, via }, { save: false })) added++;
    if (added > 0) this.save();
  }

  // notice adds a line of text, or parts (ui.line), after what is shown;
  // the tab keeps it with the conversation (see restore).
  notice(text, kind = '') {
    const stick = isAtEnd(this.list);
    const li = document.createElement('li');
    li.className = `notice-line ${kind}`.trim();
    li.dataset.after = String(this.seen);
    setParts(li, text);
    this.list.append(li);
    this.noticeLines.push(li);
    if (this.noticeLines.length > NOTES_CAP) this.noticeLines.shift().remove(); // as many as the tab keeps
    if (stick) this.scroll();
    this.notes.push({ after: this.seen, kind, parts: keepParts(text) });
    if (this.notes.length > NOTES_CAP) this.notes.shift();
    saveNotes(this.room, this.notes);
  }

  // markHistory shows, above the first message passed on, who passed the
  // earlier messages on: they are not live, and only that member vouches
  // for them.
  markHistory(via) {
    const first = this.list.querySelector('li.msg.from-history');
    if (!first) return;
    let note = this.list.querySelector('li.history-note');
    if (!note) {
      note = document.createElement('li');
      note.className = 'notice-line history-note';
      note.dataset.after = '0'; // never where a message goes before
      note.append('Earlier messages, passed on by ', nick(via));
    }
    if (note.nextElementSibling !== first) this.list.insertBefore(note, first);
  }

  scroll(force = false) {
    if (force || this.onScreen()) scrollToEnd();
  }

  // intro opens every conversation with what protects it.
  intro() {
    const li = document.createElement('li');
    li.className = 'intro';
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
    use.setAttribute('href', 'icons.svg#lock');
    svg.append(use);
    const p = document.createElement('p');
    this.idle = document.createElement('span');
    this.idle.textContent = '10 minutes';
    p.append('Messages are end-to-end encrypted in your browsers. The server relays only ciphertext and keeps nothing: the room closes when nobody has written for ',
      this.idle, ', and the conversation is gone with it. A reload of this tab keeps the room and the conversation; closing the tab forgets everything.');
    li.append(svg, p);
    this.list.append(li);
  }

  insert(m) {
    const li = document.createElement('li');
    this.lis.set(m, li);
    li.className = 'msg';
    li.dataset.seq = String(m.seq);
    li.dataset.from = m.from;
    if (m.from === this.me()) li.classList.add('mine');
    if (m.via !== undefined) li.classList.add('from-history');

    const av = document.createElement('span');
    av.className = 'avatar';
    av.setAttribute('aria-hidden', 'true');
    setAvatar(av, m.from, m.nick);

    const meta = document.createElement('p');
    meta.className = 'meta';
    const time = document.createElement('time');
    const d = new Date(m.ts);
    time.dateTime = d.toISOString();
    time.title = d.toLocaleString();
    time.textContent = d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    meta.append(nick(m.nick, 'who'), document.createTextNode(' '), time);

    const body = document.createElement('div');
    body.className = 'bubble';
    body.append(...linkify(m.body));

    li.append(av, meta, body);
    const flag = flagText(m);
    if (flag) {
      li.dataset.flag = m.via !== undefined && m.verified === false ? 'unverified' : m.reused ? 'reused' : m.placement;
      const p = document.createElement('p');
      p.className = 'flag';
      p.textContent = flag;
      li.append(p);
    }

    // Before the first message with a later seq, or the first notice made
    // after this message's time (a newcomer's history goes above "You
    // joined").
    const after = (el) => (el.classList.contains('msg') ? Number(el.dataset.seq) > m.seq : Number(el.dataset.after) >= m.seq);
    let next = null;
    // Live messages go at the end; only history searches.
    if (this.list.lastElementChild && after(this.list.lastElementChild)) {
      for (const el of this.list.children) {
        if (after(el)) {
          next = el;
          break;
        }
      }
    }
    this.list.insertBefore(li, next);
    if (m.via !== undefined) this.markHistory(m.via);
    regroup(li);
    if (li.nextElementSibling) regroup(li.nextElementSibling);
  }
}

// LINK finds what may be a web address in a message: http:// or https://
// and what follows up to a space or a character that never ends one.
const LINK = /\bhttps?:\/\/[^\s<>"'`]+/gi;

// linkify returns a message's text as nodes: text, and its http(s)
// addresses as links that open in a new tab without telling the page they
// came from. Nothing else becomes a link (no javascript:, data: or any
// other scheme), and the text only ever goes in as text.
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let href = match[0];
    // A sentence's punctuation after an address is not part of it, but a
    // closing parenthesis that one in the address opened is.
    while (/[.,;:!?)\]}]$/.test(href) && !(href.endsWith(')') && count(href, '(') >= count(href, ')'))) {
      href = href.slice(0, -1);
    }
    let url = null;
    try {
      url = new URL(href);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') continue;
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    const a = document.createElement('a');
    a.href = url.href;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    a.textContent = href;
    out.push(a);
    last = match.index + href.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function count(s, c) {
  return s.split(c).length - 1;
}

// flagText says in plain words what the author's signed counter tells of
// where a message belongs, when that is not simply next (mlsScheme), and
// that a message passed on by the owner could not be checked against its
// author's key; null when there is nothing to say.
function flagText(m) {
  if (m.via !== undefined && m.verified === false) {
    return 'Not verified: its author has left, so their key could not check it. Only the member who passed it on vouches for it.';
  }
  if (m.reused) {
    return 'The server gave this message the number of another one it had shown: it checks out as its author’s, and is shown all the same.';
  }
  switch (m.placement) {
    case 'gap':
      return m.missing === 1
        ? 'One earlier message from this member never arrived: the server did not deliver it.'
        : `${m.missing} earlier messages from this member never arrived: the server did not deliver them.`;
    case 'late':
      return 'Arrived late: it was sent before messages shown above it.';
    case 'reordered':
      return 'Out of order: the server delivered it before a message its author had already seen.';
  }
  return null;
}

// keepParts turns a notice's text or parts into what storage keeps:
// strings, and nicknames as {n}.
function keepParts(text) {
  if (typeof text === 'string') return [text];
  return text.map((p) => (typeof p === 'string' ? p : p.nodeName === 'BDI' ? { n: p.textContent } : p.textContent));
}

function validNote(n) {
  return n && Number.isSafeInteger(n.after) && n.after >= 0 && typeof n.kind === 'string' && /^[a-z-]*$/.test(n.kind)
    && Array.isArray(n.parts) && n.parts.every((p) => typeof p === 'string' || (p && typeof p.n === 'string'));
}

// validEntry checks an entry the tab kept: a bad one is skipped, not
// shown.
function validEntry(m) {
  return m && Number.isSafeInteger(m.seq) && m.seq > 0 && Number.isFinite(m.ts) && Math.abs(m.ts) < 8.64e15
    && typeof m.from === 'string' && typeof m.nick === 'string' && typeof m.body === 'string'
    && (m.via === undefined || typeof m.via === 'string')
    && (m.mid === undefined || m.mid === null || typeof m.mid === 'string')
    && (m.envelope === undefined || m.envelope === null || typeof m.envelope === 'string')
    && (m.placement === undefined || ['ok', 'gap', 'late', 'reordered'].includes(m.placement))
    && (m.missing === undefined || (Number.isSafeInteger(m.missing) && m.missing >= 0));
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
