// What the page keeps in sessionStorage: it lives as long as the tab,
// survives reloads, and is not shared with other tabs or sent anywhere.
// The library keeps the session and room keys there too (under
// epchat.session and epchat.rooms); the page keeps its own part: the
// conversation of each room (its messages, and its notices: who joined,
// who left, ...), the room on screen, and an invite waiting
// for a nickname.

import { webStorage } from './lib/index.js';

const PREFIX = 'epchat.';

// storage is sessionStorage under the page's prefix, for the library.
export const storage = webStorage(globalThis.sessionStorage, PREFIX);

export function loadInvite() {
  const inv = storage.get('invite');
  return inv && typeof inv.token === 'string' && typeof inv.secret === 'string' ? inv : null;
}

export function saveInvite(inv) {
  if (inv) storage.set('invite', inv);
  else storage.remove('invite');
}

export function loadActive() {
  const v = storage.get('active');
  return typeof v === 'string' ? v : null;
}

export function saveActive(id) {
  storage.set('active', id);
}

export function loadLog(room) {
  const v = storage.get(`log.${room}`);
  return Array.isArray(v) ? v : [];
}

export function saveLog(room, msgs) {
  storage.set(`log.${room}`, msgs);
}

export function loadNotes(room) {
  const v = storage.get(`notes.${room}`);
  return Array.isArray(v) ? v : [];
}

export function saveNotes(room, notes) {
  storage.set(`notes.${room}`, notes);
}

// loadSafety is the room's safety code as this tab last showed it.
export function loadSafety(room) {
  const v = storage.get(`safety.${room}`);
  return typeof v === 'string' ? v : null;
}

export function saveSafety(room, code) {
  storage.set(`safety.${room}`, code);
}

// dropLog forgets a room's conversation: its messages and notices, and
// the safety code it showed.
export function dropLog(room) {
  storage.remove(`log.${room}`);
  storage.remove(`notes.${room}`);
  storage.remove(`safety.${room}`);
}

// clearAll forgets everything the page kept but the pending invite.
export function clearAll() {
  try {
    for (const k of Object.keys(sessionStorage)) {
      if (k.startsWith(PREFIX) && k !== `${PREFIX}invite`) sessionStorage.removeItem(k);
    }
  } catch {
    // Disabled: nothing was kept.
  }
}
