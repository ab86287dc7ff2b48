// The epchat demo page, on the epchat client library (lib/): the library
// speaks PROTOCOL.md and does all the end-to-end encryption; the page is
// its user interface. Its modules: store.js (what the tab keeps),
// connection.js (status, nickname, lost sessions), rooms.js (rooms and
// what a person does to them), messages.js (a conversation on screen) and
// ui.js (views, notices, dialogs).

import { Client, hasCrypto, hasInvite, isProtocolError } from './lib/index.js';
import { mlsScheme } from './lib/mls/scheme.js';
import { Connection } from './connection.js';
import { Rooms } from './rooms.js';
import { clearAll, loadActive, loadInvite, saveInvite, storage } from './store.js';
import { $, dismissNotice, focusSoon, notify, setConnText, show } from './ui.js';

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

// takeFragment removes an invite from the URL fragment (#join=token.key)
// and the tab's history at once, before anything else can read or keep
// it, and returns it.
function takeFragment() {
  if (!hasInvite(location.hash)) return null;
  const text = location.hash;
  history.replaceState(history.state, '', pageURL());
  return text;
}

const DAMAGED = 'This invite link is incomplete or damaged. Ask for a new one.';

// serverNow reads the server's clock from the Date of an answer of its
// (to a second), for a link's expiry before anything else is said to the
// server; null if it cannot be read.
async function serverNow() {
  try {
    const sent = Date.now();
    const r = await fetch(pageURL(), { method: 'HEAD', cache: 'no-store' });
    const d = Date.parse(r.headers.get('Date') ?? '');
    return Number.isFinite(d) ? d + (Date.now() - sent) / 2 : null;
  } catch {
    return null;
  }
}

// expired reports whether an invite's link says it has expired, by the
// server's clock: such a link is refused before the page asks for a
// nickname (checkLink then asks the server whether it was used).
async function expired(inv) {
  if (inv.expires === undefined) return false;
  const now = await serverNow();
  return now !== null && now > inv.expires + 1000;
}

function expiredText(inv) {
  const at = new Date(inv.expires).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  return `This invite link expired at ${at}: links work for a few minutes only. Ask the room’s owner for a new one.`;
}

const USED = 'This invite link was used already, or it expired, or its room was closed, or the link was changed: each link lets one person in, once. Ask the room’s owner for a new one.';
const LOCKED = 'That room is locked right now: its owner is not letting anyone in. The link still works once they unlock it, until it expires.';
const FULL = 'That room is full right now. The link still works once a seat is free, until it expires.';

// checkLink asks the server whether the invite would seat its holder,
// before the page asks for a nickname: 'invalid' (used, expired, revoked,
// its room closed), 'locked', 'full', or 'ok'. When the server cannot be
// asked (offline, an older server), 'ok': the join will tell.
async function checkLink(client, inv) {
  try {
    const r = await client.checkInvite(inv);
    if (r.locked) return 'locked';
    if (r.full) return 'full';
  } catch (e) {
    if (isProtocolError(e, 'invite_invalid')) return 'invalid';
  }
  return 'ok';
}

async function boot() {
  // First of all, even where the page will not run: the link's key must
  // not stay in the address bar or the history.
  const fragment = takeFragment();
  if (!hasCrypto()) {
    show('insecure');
    setConnText('Encryption unavailable');
    return;
  }

  // Authenticated rooms (docs/E2E.md): one MLS group per room, every
  // message signed by its author, the keys changed on every leave.
  const client = new Client({ url: chatURL(), storage, scheme: mlsScheme });
  const rooms = new Rooms(client, pageURL);
  let invite = loadInvite(); // an invite to redeem once identified

  const readInvite = async (text) => {
    const inv = client.parseInvite(text);
    if (!inv) {
      notify(DAMAGED, { kind: 'error', code: 'invite_damaged', key: 'link' });
      return false;
    }
    if (await expired(inv)) {
      notify(expiredText(inv), { kind: 'error', code: 'invite_expired', key: 'link' });
      return false;
    }
    const check = await checkLink(client, inv);
    if (check === 'invalid') {
      notify(USED, { kind: 'error', code: 'invite_invalid', key: 'link' });
      return false;
    }
    dismissNotice('link'); // a good link: what was said of another is past
    if (check === 'locked') notify(LOCKED, { kind: 'warn', code: 'room_locked', key: 'join' });
    else if (check === 'full') notify(FULL, { kind: 'warn', code: 'room_full', key: 'join' });
    invite = inv;
    saveInvite(inv);
    return true;
  };
  const joinPending = async () => {
    const inv = invite;
    if (!inv || !client.ready) return;
    invite = null;
    saveInvite(null);
    const done = await rooms.join(inv);
    if (done !== true) {
      // Not redeemed as far as we know: try again once reconnected, or
      // under another nickname.
      invite = inv;
      saveInvite(inv);
    }
    if (done === 'nickname_taken') {
      conn.showNickForm('Someone in that room already has a nickname that looks like yours. Pick another one to join.');
    }
  };

  const conn = new Connection(client, {
    hasInvite: () => !!invite,
    onLost: () => {
      clearAll();
      rooms.views.clear();
      rooms.active = null;
      rooms.render();
    },
  });
  conn.listen();
  rooms.listen();
  client.on('welcome', () => {
    for (const room of client.rooms.values()) rooms.view(room);
    rooms.render();
    if (invite) joinPending();
    else if (!rooms.activeView()) focusSoon($('create-btn'));
  });
  client.on('disconnected', () => rooms.render());
  bindUI(rooms, readInvite, joinPending);

  if (fragment) await readInvite(fragment);
  window.addEventListener('hashchange', async () => {
    const text = takeFragment();
    if (!text || !await readInvite(text)) return;
    // Not identified yet: the nickname form now says why it asks.
    if (!client.ready && document.body.dataset.view === 'nick') conn.showNickForm();
    else joinPending();
  });
  window.addEventListener('online', () => client.retryNow());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) rooms.markRead(rooms.activeView());
  });
  setInterval(() => rooms.tick(), 1000);

  if (await client.restore()) {
    for (const room of client.rooms.values()) rooms.view(room).conv.restore();
    const active = loadActive();
    rooms.active = rooms.views.has(active) ? active : (rooms.views.keys().next().value ?? null);
    rooms.render();
    conn.start();
    return;
  }
  conn.showNickForm();
}

function bindUI(rooms, readInvite, joinPending) {
  $('create-btn').addEventListener('click', () => rooms.create());
  $('paste-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('paste-input');
    if (!hasInvite(input.value)) {
      notify('That does not look like an invite link: it should contain “#join=”.', { kind: 'error', code: 'invite_damaged', timeout: 6000 });
      input.focus();
      return;
    }
    const text = input.value;
    input.value = '';
    readInvite(text).then((ok) => ok && joinPending());
  });

  $('invite-btn').addEventListener('click', () => rooms.makeInvite());
  $('copy-btn').addEventListener('click', () => rooms.copyInvite());
  $('next-invite-btn').addEventListener('click', () => rooms.makeInvite());
  $('invite-link').addEventListener('focus', (e) => e.target.select());
  $('close-btn').addEventListener('click', () => rooms.close());
  $('leave-btn').addEventListener('click', () => rooms.leave());
  $('lock-btn').addEventListener('click', () => rooms.toggleLock());
  $('safety-explain').addEventListener('toggle', () => rooms.safetySeen());
  $('banner-back').addEventListener('click', () => {
    const v = rooms.activeView();
    if (v) rooms.dismiss(v);
  });

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    rooms.send();
  });
  $('composer-input').addEventListener('input', () => rooms.renderComposerLimit());
  $('composer-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      rooms.send();
    }
  });

  // A click anywhere but on the member menu closes it.
  document.addEventListener('click', (e) => {
    if (!e.target.closest?.('.member-menu, .member-menu-btn')) rooms.closeMenu();
  });

  $('confirm-cancel').addEventListener('click', () => $('confirm').close('cancel'));
  $('confirm-ok').addEventListener('click', () => $('confirm').close('ok'));
}

boot();
