// Signed envelopes: who said what, in which room, in which epoch, and the
// how-manyeth message of its sender it was (docs/E2E.md). mlsScheme
// (mls/scheme.js) seals every message in one.
//
// Every message a member sends, live or relayed later as history, is an
// envelope signed by its author's identity key (Ed25519, Web Crypto). The
// signature covers the room, the author's member id and nickname, the
// epoch, a per-author counter, the last seq the author had seen, the
// author's clock and the body, so that a server or a relaying owner can
// neither forge a message nor move one to another room, author, nickname
// or place without the reader seeing it:
//
//   - openEnvelope checks the signature against the key the reader's
//     roster holds for the claimed author, and that the envelope is for
//     this room and arrived from that author (not relabelled);
//   - SenderTracker sees a replay (a counter again), a gap (counters
//     skipped) and a message put before what its author had already seen.
//
// On the wire an envelope is base64url(payload) "." base64url(signature),
// payload being the UTF-8 JSON array of its fields in a fixed order: the
// signature is over exactly the bytes sent, so no canonical form is needed.
// Under MLS the envelope travels inside the room's encrypted application
// message; the signature is what lets a newcomer check history entries,
// which it receives outside the epoch they were sent in.

import { b64urlDecode, b64urlEncode } from './crypto.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

// LABEL prefixes every signed payload: a signature made for something else
// (an MLS structure, another version) is never an envelope's.
const LABEL = encoder.encode('epchat-v1 envelope\0');
const VERSION = 1;
const ED25519 = { name: 'Ed25519' };
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
// MAX_TS bounds a claimed time: a later one is not a date a page can show
// (new Date(1e300) is invalid), so an envelope claiming it is malformed.
const MAX_TS = 8.64e15;

/**
 * Identity is one member's signing key for one room: fresh per room and
 * session, as rooms are ephemeral. publicKey is raw Ed25519, base64url.
 * @typedef {object} Identity
 * @property {string} publicKey
 * @property {CryptoKey} privateKey
 * @property {string} [saved] the PKCS#8 private key, base64url, when extractable
 */

/**
 * Envelope is what a member signs.
 * @typedef {object} Envelope
 * @property {'message'|'history'} kind
 * @property {string} room the room id
 * @property {string} from the author's member id
 * @property {string} nick the author's nickname
 * @property {number} epoch the room's epoch the author sent it in
 * @property {number} n the author's counter in this room: 1, 2, 3, ...
 * @property {number} seen the highest seq the author had seen when sending (0: none)
 * @property {number} ts the author's clock, ms since the epoch
 * @property {unknown} body
 */

/**
 * EnvelopeError says why an envelope was refused, in `code`:
 *
 * - `malformed`: not an envelope, or a field out of its range;
 * - `wrong_room`: signed for another room;
 * - `unknown_sender`: its author holds no key in the reader's roster;
 * - `relabelled`: it arrived as from another member than its author;
 * - `nickname_mismatch`: its nickname is not the one the roster binds to
 *   the author's key;
 * - `bad_signature`: not signed by its author's key (forged or changed).
 */
export class EnvelopeError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'EnvelopeError';
    /** @type {string} */
    this.code = code;
  }
}

/**
 * newIdentity makes an identity. With extractable, its private key can be
 * saved (to restore the room after a reload).
 * @param {boolean} [extractable]
 * @returns {Promise<Identity>}
 */
export async function newIdentity(extractable = false) {
  const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey(ED25519, extractable, ['sign', 'verify']));
  const publicKey = b64urlEncode(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
  /** @type {Identity} */
  const id = { publicKey, privateKey: pair.privateKey };
  if (extractable) id.saved = b64urlEncode(new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey)));
  return id;
}

/**
 * restoreIdentity imports what newIdentity(true) saved.
 * @param {{publicKey: string, saved: string}} saved
 * @returns {Promise<Identity>}
 */
export async function restoreIdentity(saved) {
  const privateKey = await crypto.subtle.importKey('pkcs8', b64urlDecode(saved.saved), ED25519, false, ['sign']);
  await importPublic(saved.publicKey);
  return { publicKey: saved.publicKey, privateKey };
}

/** @type {Map<string, Promise<CryptoKey>>} */
const publicKeys = new Map();

/**
 * importPublic imports a raw Ed25519 public key, once per key text.
 * @param {string} text
 * @returns {Promise<CryptoKey>}
 */
function importPublic(text) {
  let p = publicKeys.get(text);
  if (!p) {
    p = (async () => {
      const raw = b64urlDecode(text);
      if (raw.length !== PUBLIC_KEY_BYTES) throw new EnvelopeError('malformed', 'not an Ed25519 public key');
      return crypto.subtle.importKey('raw', raw, ED25519, false, ['verify']);
    })();
    p.catch(() => publicKeys.delete(text));
    if (publicKeys.size > 1024) publicKeys.clear();
    publicKeys.set(text, p);
  }
  return p;
}

/**
 * @param {Uint8Array} payload
 * @returns {Uint8Array<ArrayBuffer>}
 */
function labelled(payload) {
  const out = new Uint8Array(LABEL.length + payload.length);
  out.set(LABEL);
  out.set(payload, LABEL.length);
  return out;
}

/**
 * @param {unknown} n
 * @param {number} min
 * @returns {n is number}
 */
const isCount = (n, min) => Number.isSafeInteger(n) && /** @type {number} */ (n) >= min;

/**
 * checkFields throws EnvelopeError('malformed') unless e is a well-formed
 * envelope.
 * @param {Envelope} e
 */
function checkFields(e) {
  const str = (/** @type {unknown} */ s) => typeof s === 'string' && s.length > 0 && s.length <= 256;
  if (e.kind !== 'message' && e.kind !== 'history') throw new EnvelopeError('malformed', 'unknown kind');
  if (!str(e.room) || !str(e.from) || typeof e.nick !== 'string' || e.nick.length > 256) {
    throw new EnvelopeError('malformed', 'room, author or nickname missing');
  }
  if (!isCount(e.epoch, 0) || !isCount(e.n, 1) || !isCount(e.seen, 0)) {
    throw new EnvelopeError('malformed', 'epoch, counter or seq out of range');
  }
  if (!isCount(e.ts, 0) || e.ts > MAX_TS) throw new EnvelopeError('malformed', 'time out of range');
}

/**
 * signEnvelope signs e with id, and returns it as it goes on the wire.
 * @param {Identity} id
 * @param {Envelope} e
 * @returns {Promise<string>}
 */
export async function signEnvelope(id, e) {
  checkFields(e);
  const payload = encoder.encode(JSON.stringify(
    [VERSION, e.kind, e.room, e.from, e.nick, e.epoch, e.n, e.seen, e.ts, e.body ?? null]));
  const sig = new Uint8Array(await crypto.subtle.sign(ED25519, id.privateKey, labelled(payload)));
  return b64urlEncode(payload) + '.' + b64urlEncode(sig);
}

/**
 * parse decodes an envelope's text without checking its signature.
 * @param {unknown} text
 * @returns {{e: Envelope, payload: Uint8Array<ArrayBuffer>, sig: Uint8Array<ArrayBuffer>}}
 */
function parse(text) {
  try {
    if (typeof text !== 'string' || text.length > 1 << 20) throw new Error('not text');
    const [p, s, ...rest] = text.split('.');
    if (rest.length) throw new Error('extra parts');
    const payload = b64urlDecode(p);
    const sig = b64urlDecode(s);
    if (sig.length !== SIGNATURE_BYTES) throw new Error('signature length');
    const a = JSON.parse(decoder.decode(payload));
    if (!Array.isArray(a) || a.length !== 10 || a[0] !== VERSION) throw new Error('not an envelope');
    const [, kind, room, from, nick, epoch, n, seen, ts, body] = a;
    /** @type {Envelope} */
    const e = { kind, room, from, nick, epoch, n, seen, ts, body };
    checkFields(e);
    return { e, payload, sig };
  } catch (err) {
    if (err instanceof EnvelopeError) throw err;
    throw new EnvelopeError('malformed', 'not an envelope');
  }
}

/**
 * peekEnvelope reads an envelope's fields without checking its signature
 * (for an entry whose author's key the reader does not hold: shown as not
 * verified), or returns null for one that does not parse.
 * @param {unknown} text
 * @returns {Envelope|null}
 */
export function peekEnvelope(text) {
  try {
    return parse(text).e;
  } catch {
    return null;
  }
}

/**
 * RosterEntry is what the reader's roster binds to a member id: the
 * identity key (under MLS, the key of the member's leaf, from the ratchet
 * tree) and the nickname its credential names.
 * @typedef {object} RosterEntry
 * @property {string} publicKey
 * @property {string} nick
 */

/**
 * OpenExpect says what the reader expects of an envelope.
 * @typedef {object} OpenExpect
 * @property {string} room the room it arrived in
 * @property {string} [from] the member the server says sent it (live
 *   messages); a history entry has no such claim
 * @property {'message'|'history'} [kind] the kind it must be
 * @property {(member: string) => (RosterEntry|undefined)} roster the keys
 *   the reader can verify
 */

/**
 * openEnvelope checks text against what the reader expects and its roster,
 * and returns the envelope. It rejects with an EnvelopeError, never with
 * anything else, whatever the text.
 * @param {unknown} text
 * @param {OpenExpect} expect
 * @returns {Promise<Envelope>}
 */
export async function openEnvelope(text, expect) {
  const { e, payload, sig } = parse(text);
  if (e.room !== expect.room) throw new EnvelopeError('wrong_room', 'signed for another room');
  if (expect.kind && e.kind !== expect.kind) throw new EnvelopeError('malformed', 'not a ' + expect.kind);
  if (expect.from !== undefined && e.from !== expect.from) {
    throw new EnvelopeError('relabelled', 'arrived as from another member than its author');
  }
  const entry = expect.roster(e.from);
  if (!entry) throw new EnvelopeError('unknown_sender', 'its author is not in the roster');
  let ok = false;
  try {
    ok = await crypto.subtle.verify(ED25519, await importPublic(entry.publicKey), sig, labelled(payload));
  } catch {
    ok = false;
  }
  if (!ok) throw new EnvelopeError('bad_signature', 'not signed by its author');
  if (e.nick !== entry.nick) throw new EnvelopeError('nickname_mismatch', "not the nickname the author's key is bound to");
  return e;
}

/**
 * Placement is where an opened envelope stands among its author's others:
 *
 * - `ok`: the next one;
 * - `gap`: `missing` of its author's messages before it never came;
 * - `late`: an earlier one of its author's, arriving after later ones;
 * - `replay`: this counter was already shown (the server sent it again);
 * - `reordered`: placed (by its seq) before a message its author had
 *   already seen.
 * @typedef {object} Placement
 * @property {'ok'|'gap'|'late'|'replay'|'reordered'} status
 * @property {number} missing
 */

/**
 * SenderTracker follows, per author and epoch, the counters already shown
 * in one room, to place each new envelope (an author counts from 1 again
 * in each epoch). State is small (per author and epoch: the highest
 * counter and the set of counters below it still missing; the 8 latest
 * epochs) and JSON-able for a reload.
 */
export class SenderTracker {
  /** @param {unknown} [saved] what save returned */
  constructor(saved) {
    /** @type {Map<string, {high: number, missing: Set<number>, epoch: number}>} */
    this.authors = new Map();
    if (saved && typeof saved === 'object') {
      for (const [k, v] of Object.entries(saved)) {
        const high = /** @type {{high?: unknown}} */ (v)?.high;
        const missing = /** @type {{missing?: unknown}} */ (v)?.missing;
        if (!isCount(high, 0) || !Array.isArray(missing)) continue;
        const epoch = Number(k.slice(k.lastIndexOf('/') + 1));
        this.authors.set(k, { high, missing: new Set(missing.filter((m) => isCount(m, 1) && m < high)), epoch: isCount(epoch, 0) ? epoch : 0 });
      }
    }
  }

  /**
   * place records envelope e, which arrived with seq, and says where it
   * stands.
   * @param {Envelope} e
   * @param {number} seq the server's seq for it (for history, the entry's)
   * @returns {Placement}
   */
  place(e, seq) {
    const key = `${e.from}/${e.epoch}`;
    let a = this.authors.get(key);
    if (!a) {
      this.authors.set(key, (a = { high: 0, missing: new Set(), epoch: e.epoch }));
      this.#prune(e.epoch);
    }
    if (e.n <= a.high) {
      if (a.missing.delete(e.n)) return { status: 'late', missing: 0 };
      return { status: 'replay', missing: 0 };
    }
    // The envelope is new: the counters it skips are missing until they
    // come, late.
    const skipped = e.n - a.high - 1;
    for (let m = a.high + 1; m < e.n && a.missing.size < 4096; m++) a.missing.add(m);
    a.high = e.n;
    if (e.seen >= seq) return { status: 'reordered', missing: skipped };
    return { status: skipped > 0 ? 'gap' : 'ok', missing: skipped };
  }

  // #prune forgets the counters of epochs 8 or more before epoch: MLS
  // keeps no keys that old, so no message of them can open any more.
  /** @param {number} epoch */
  #prune(epoch) {
    for (const [k, a] of this.authors) if (a.epoch + 8 <= epoch) this.authors.delete(k);
  }

  /** @returns {Record<string, {high: number, missing: number[]}>} */
  save() {
    /** @type {Record<string, {high: number, missing: number[]}>} */
    const out = {};
    for (const [k, a] of this.authors) out[k] = { high: a.high, missing: [...a.missing] };
    return out;
  }
}
