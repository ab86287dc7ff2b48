// Checks of what comes from the server: everything is untrusted input. A
// check returns the value in the shape the client works with, or null.

/** @typedef {{id: string, nickname: string}} Member */

/**
 * @typedef {object} RoomInfo
 * @property {string} room
 * @property {string} owner
 * @property {number} seq
 * @property {boolean} locked
 * @property {Member[]} members
 */

const MAX_ID = 128;
const MAX_NICK = 64;
// A valid Date (and a sane one): 8.64e15 ms is the Date limit.
const MAX_TS = 8.64e15;
// MAX_MEMBERS is the most seats a room can have on any server (the Hub's
// WithMaxMembers ceiling): a member list longer than it is forged.
export const MAX_MEMBERS = 1000;

/**
 * @param {unknown} v
 * @returns {v is string}
 */
export function isId(v) {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID;
}

/**
 * @param {unknown} v
 * @returns {v is number}
 */
export function isSeq(v) {
  return Number.isSafeInteger(v) && /** @type {number} */ (v) >= 0;
}

/**
 * @param {unknown} v
 * @returns {v is number}
 */
export function isTime(v) {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < MAX_TS;
}

/**
 * member checks a {id, nickname} object.
 * @param {unknown} v
 * @returns {Member|null}
 */
export function member(v) {
  if (v === null || typeof v !== 'object') return null;
  const m = /** @type {Record<string, unknown>} */ (v);
  if (!isId(m.id) || typeof m.nickname !== 'string') return null;
  return { id: m.id, nickname: m.nickname.slice(0, MAX_NICK) };
}

/**
 * roomInfo checks the room part of joined, members and welcome.rooms.
 * @param {unknown} v
 * @returns {RoomInfo|null}
 */
export function roomInfo(v) {
  if (v === null || typeof v !== 'object') return null;
  const r = /** @type {Record<string, unknown>} */ (v);
  if (!isId(r.room) || !isId(r.owner)) return null;
  /** @type {Member[]} */
  const members = [];
  if (Array.isArray(r.members)) {
    for (const x of r.members.slice(0, MAX_MEMBERS)) {
      const m = member(x);
      if (m && !members.some((y) => y.id === m.id)) members.push(m);
    }
  }
  return {
    room: r.room,
    owner: r.owner,
    seq: isSeq(r.seq) ? r.seq : 0,
    locked: r.locked === true,
    members,
  };
}

/**
 * @typedef {object} HistoryEntry
 * @property {number} seq
 * @property {number} ts
 * @property {string} from
 * @property {string} nick
 * @property {string} body
 * @property {boolean} [verified] signed by its author, whose key the reader holds (mls-v1); false: its author is a former member, not verifiable
 * @property {string} [mid] its id (author, epoch, counter), as MessageEvent.mid
 * @property {string} [envelope] its author's signed text, to pass it on again
 */

/**
 * historyEntry checks one entry of a decrypted history payload.
 * @param {unknown} v
 * @returns {HistoryEntry|null}
 */
export function historyEntry(v) {
  if (v === null || typeof v !== 'object') return null;
  const e = /** @type {Record<string, unknown>} */ (v);
  if (!isSeq(e.seq) || e.seq < 1 || !isTime(e.ts) || !isId(e.from)
    || typeof e.nick !== 'string' || typeof e.body !== 'string') return null;
  /** @type {HistoryEntry} */
  const out = { seq: e.seq, ts: e.ts, from: e.from, nick: e.nick.slice(0, MAX_NICK), body: e.body };
  if (typeof e.verified === 'boolean') out.verified = e.verified;
  if (typeof e.mid === 'string' && e.mid.length <= 256) out.mid = e.mid;
  if (typeof e.envelope === 'string') out.envelope = e.envelope;
  return out;
}

/**
 * limit returns n if it is a positive safe integer, else fallback.
 * @param {unknown} n
 * @param {number} fallback
 */
export function limit(n, fallback) {
  return Number.isSafeInteger(n) && /** @type {number} */ (n) > 0 ? /** @type {number} */ (n) : fallback;
}
