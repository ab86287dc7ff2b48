// MlsRoom: one epchat room as an MLS group (RFC 9420, through the vendored
// ts-mls bundle), with every message a signed envelope (../signed.js).
// docs/E2E.md is the design; this is its core, and scheme.js puts it
// behind the library's CryptoScheme seam (mlsScheme).
//
// Frames are what goes in `send.text` (and later `history.data`), each
// with a prefix that names it:
//
//   e2e1.kp.<b64url JSON {kp, mac}>   a joiner's key package, MACed with the invite secret
//   e2e1.c.<b64url MLSMessage>        a commit
//   e2e1.w.<b64url JSON {to, w}>      a Welcome for member `to`
//   e2e1.m.<b64url MLSMessage>        a message: its plaintext is an envelope
//   e2e1.h.<b64url MLSMessage>        history: a batch envelope of its authors' envelopes
//
// Commits take effect in the server's seq order: apply them in that order,
// the committer's own included. Of two commits for one epoch, the first
// wins; the other is "stale" everywhere, and its author's pending state is
// dropped.

import * as M from '../vendor/ts-mls.js';
import { b64urlDecode, b64urlEncode } from '../crypto.js';
import { EnvelopeError, SenderTracker, openEnvelope, peekEnvelope, signEnvelope } from '../signed.js';

const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** @type {Promise<any>|null} */
let implP = null;
const impl = () => (implP ??= M.getCiphersuiteImpl(M.getCiphersuiteFromName(SUITE)));

/**
 * MlsError says why a frame was refused, in `code`: `malformed`,
 * `bad_invite` (a key package not MACed with a pending invite's secret),
 * `wrong_member` (a key package whose credential names another member than
 * the one the server seated), `undecryptable` (not for an epoch this member
 * holds: sent before it was admitted, or after it was removed),
 * `bad_commit` (a commit whose roster gives two leaves one member id, or a
 * leaf none), `replay` (this very frame was already processed), `epoch_mismatch` (the envelope
 * names another epoch than the MLS message it came in), or an
 * EnvelopeError's code.
 */
export class MlsError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'MlsError';
    this.code = code;
  }
}

/** @param {string} me @param {string} nick */
const credential = (me, nick) => ({ credentialType: 'basic', identity: enc.encode(JSON.stringify(['epchat-v1', me, nick])) });

/**
 * memberOf reads the member id and nickname out of a leaf's credential.
 * @param {any} leaf
 * @returns {{id: string, nick: string, publicKey: string}|null}
 */
function memberOf(leaf) {
  try {
    const a = JSON.parse(dec.decode(leaf.credential.identity));
    if (!Array.isArray(a) || a[0] !== 'epchat-v1' || typeof a[1] !== 'string' || typeof a[2] !== 'string') return null;
    return { id: a[1], nick: a[2], publicKey: b64urlEncode(leaf.signaturePublicKey) };
  } catch {
    return null;
  }
}

/**
 * hmac is HMAC-SHA-256 of parts under the invite secret.
 * @param {string} secret
 * @param {string[]} parts
 */
async function hmac(secret, parts) {
  const key = await crypto.subtle.importKey('raw', enc.encode('epchat-v1 invite ' + secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return b64urlEncode(new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(JSON.stringify(parts)))));
}

/** @param {string} text */
async function digest(text) {
  return b64urlEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(text))));
}

/** @param {any} state */
const encodeState = (state) => b64urlEncode(M.encodeGroupState(state));

/** @param {unknown} text */
function decodeState(text) {
  const s = M.decodeGroupState(b64urlDecode(text), 0)?.[0];
  if (!s) throw new Error('not a group state');
  return { ...s, clientConfig: M.defaultClientConfig };
}

/** @param {string} a @param {string} b */
function sameText(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

/**
 * newMember makes an identity (the MLS signature key, which is the envelope
 * key too) and a key package for member me with nickname nick.
 * @param {string} me
 * @param {string} nick
 */
async function newMember(me, nick) {
  const cs = await impl();
  const keys = await cs.signature.keygen(); // Ed25519: signKey PKCS#8, publicKey raw
  const kp = await M.generateKeyPackageWithKey(credential(me, nick), M.defaultCapabilities(), M.defaultLifetime, [], keys, cs);
  const privateKey = await crypto.subtle.importKey('pkcs8', keys.signKey, { name: 'Ed25519' }, false, ['sign']);
  return { kp, identity: { publicKey: b64urlEncode(keys.publicKey), privateKey } };
}

/** @param {string} text @param {string} prefix */
function body(text, prefix) {
  if (typeof text !== 'string' || !text.startsWith(prefix)) throw new MlsError('malformed', 'not a ' + prefix + ' frame');
  try {
    return b64urlDecode(text.slice(prefix.length));
  } catch {
    throw new MlsError('malformed', 'not base64url');
  }
}

/** @param {Uint8Array} bytes @param {string} want */
function decodeMls(bytes, want) {
  let m;
  try {
    m = M.decodeMlsMessage(bytes, 0)?.[0];
  } catch {
    m = undefined;
  }
  if (!m || m.wireformat !== want) throw new MlsError('malformed', 'not an MLS ' + want);
  return m;
}

/**
 * leavesOf yields the leaves of a group state's ratchet tree (its even
 * nodes) with their leaf index.
 * @param {any} state
 */
function* leavesOf(state) {
  const tree = state.ratchetTree;
  for (let i = 0; i < tree.length; i += 2) {
    const node = tree[i];
    if (node?.nodeType === 'leaf') yield { leaf: node.leaf, index: i / 2 };
  }
}

/**
 * rosterOf is the members a group state's leaves name (null for a leaf
 * whose credential names none).
 * @param {any} state
 */
function rosterOf(state) {
  return [...leavesOf(state)].map(({ leaf }) => memberOf(leaf));
}

/**
 * PendingJoin is a joiner waiting for its Welcome.
 */
export class PendingJoin {
  /**
   * prepare makes the joiner's identity and its kp frame, MACed with the
   * invite secret s of the link.
   * @param {{room: string, me: string, nick: string, secret: string}} o
   */
  static async prepare(o) {
    const { kp, identity } = await newMember(o.me, o.nick);
    const kpBytes = M.encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' });
    const kpText = b64urlEncode(kpBytes);
    const mac = await hmac(o.secret, ['kp', o.room, o.me, kpText]);
    const p = new PendingJoin(o, kp, identity);
    p.frame = 'e2e1.kp.' + b64urlEncode(enc.encode(JSON.stringify({ kp: kpText, mac })));
    return p;
  }

  /** @param {{room: string, me: string, nick: string}} o @param {any} kp @param {any} identity */
  constructor(o, kp, identity) {
    this.o = o;
    this.kp = kp;
    this.identity = identity;
    /** @type {string} */
    this.frame = '';
  }

  /**
   * join takes a Welcome frame; it resolves to the room, or to null when
   * the Welcome is for someone else.
   * @param {string} frame
   * @returns {Promise<MlsRoom|null>}
   */
  async join(frame) {
    let w;
    try {
      w = JSON.parse(dec.decode(body(frame, 'e2e1.w.')));
    } catch (e) {
      throw e instanceof MlsError ? e : new MlsError('malformed', 'not a Welcome frame');
    }
    if (w?.to !== this.o.me) return null;
    const m = decodeMls(body('x' + w.w, 'x'), 'mls_welcome');
    const cs = await impl();
    let state;
    try {
      state = await M.joinGroup(m.welcome, this.kp.publicPackage, this.kp.privatePackage, M.emptyPskIndex, cs);
    } catch {
      throw new MlsError('undecryptable', 'a Welcome this joiner cannot open');
    }
    if (dec.decode(state.groupContext.groupId) !== this.o.room) {
      throw new MlsError('malformed', "a Welcome into another room's group");
    }
    // The same check as for a commit: no two leaves for one member id.
    const ids = rosterOf(state).map((x) => x?.id);
    if (ids.includes(undefined) || new Set(ids).size !== ids.length) {
      throw new MlsError('bad_commit', 'the Welcome gives two leaves one member id, or a leaf no member');
    }
    return new MlsRoom(this.o, state, this.identity);
  }
}

/**
 * MlsRoom is one member's view of one room.
 */
export class MlsRoom {
  /**
   * create makes a room with its creator as the only member.
   * @param {{room: string, me: string, nick: string}} o
   */
  static async create(o) {
    const { kp, identity } = await newMember(o.me, o.nick);
    const state = await M.createGroup(enc.encode(o.room), kp.publicPackage, kp.privatePackage, [], await impl());
    return new MlsRoom(o, state, identity);
  }

  /**
   * @param {{room: string, me: string, nick: string}} o
   * @param {any} state ts-mls ClientState
   * @param {{publicKey: string, privateKey: CryptoKey}} identity
   */
  constructor(o, state, identity) {
    this.room = o.room;
    this.me = o.me;
    this.nick = o.nick;
    this.state = state;
    this.identity = identity;
    /** @type {{text: string, state: any}|null} the commit this member sent, not yet applied */
    this.pending = null;
    this.n = 0; // this member's envelope counter in nEpoch
    this.nEpoch = this.epoch;
    this.tracker = new SenderTracker();
    /** @type {Set<string>} SHA-256 of the frames of messages already processed */
    this.seenFrames = new Set();
  }

  /**
   * save returns this member's state, JSON-able, for restore after a
   * reload: it holds the member's private keys, so it belongs where the
   * session token does (the tab's sessionStorage), nowhere else.
   */
  save() {
    return {
      v: 1, room: this.room, me: this.me, nick: this.nick, n: this.n, nEpoch: this.nEpoch,
      state: encodeState(this.state),
      pending: this.pending && { text: this.pending.text, state: encodeState(this.pending.state) },
      tracker: this.tracker.save(),
      seen: [...this.seenFrames],
    };
  }

  /**
   * restore makes the room again from what save returned; it rejects with
   * MlsError('malformed') on anything else.
   * @param {any} saved
   */
  static async restore(saved) {
    try {
      if (saved?.v !== 1 || typeof saved.room !== 'string' || typeof saved.me !== 'string' || typeof saved.nick !== 'string'
        || !Number.isSafeInteger(saved.n) || saved.n < 0) throw new Error('not a saved room');
      const state = decodeState(saved.state);
      const privateKey = await crypto.subtle.importKey('pkcs8', state.signaturePrivateKey, { name: 'Ed25519' }, false, ['sign']);
      const room = new MlsRoom(saved, state, { publicKey: '', privateKey });
      const own = room.roster().find((x) => x.id === saved.me);
      if (!own) throw new Error('not in its own roster');
      room.identity.publicKey = own.publicKey;
      room.n = saved.n;
      room.nEpoch = Number.isSafeInteger(saved.nEpoch) ? saved.nEpoch : room.epoch;
      room.tracker = new SenderTracker(saved.tracker);
      if (saved.pending) room.pending = { text: String(saved.pending.text), state: decodeState(saved.pending.state) };
      if (Array.isArray(saved.seen)) for (const h of saved.seen) if (typeof h === 'string') room.seenFrames.add(h);
      return room;
    } catch {
      throw new MlsError('malformed', 'not a saved room');
    }
  }

  /** The MLS epoch. */
  get epoch() {
    return Number(this.state.groupContext.epoch);
  }

  /**
   * roster is the members this member can verify: the group's leaves.
   * @returns {{id: string, nick: string, publicKey: string}[]}
   */
  roster() {
    return [...this.#members().roster];
  }

  /** @type {{tree: unknown, key: string, roster: {id: string, nick: string, publicKey: string}[], byId: Map<string, {id: string, nick: string, publicKey: string}>}|null} */
  #cache = null;

  /**
   * #members is the roster, and the roster by member id, read out of the
   * ratchet tree once per tree rather than at every message (reading ten
   * credentials per message was a fifth of a receiver's JavaScript). A
   * tree is the same when it is the same object (ts-mls changes a tree by
   * copying it: a member who is removed keeps the old epoch, with a new
   * tree) with the same epoch and tree hash (RFC 9420: the hash covers
   * every leaf, its credential and its keys, and each member computes it).
   */
  #members() {
    const gc = this.state.groupContext;
    const tree = this.state.ratchetTree;
    const key = `${gc.epoch}.${b64urlEncode(gc.treeHash)}`;
    let c = this.#cache;
    if (!c || c.tree !== tree || c.key !== key) {
      const roster = /** @type {{id: string, nick: string, publicKey: string}[]} */ (rosterOf(this.state).filter((m) => m));
      for (const m of roster) Object.freeze(m);
      c = this.#cache = { tree, key, roster, byId: new Map(roster.map((x) => [x.id, x])) };
    }
    return c;
  }

  // #leaves yields the ratchet tree's leaves with their leaf index.
  *#leaves() {
    yield* leavesOf(this.state);
  }

  /**
   * safetyCode is 20 digits (66 bits), in five groups of four (as the
   * old scheme's, so a person reads it the same way), over the roster's
   * member ids, nicknames and identity keys: equal for everyone in one
   * epoch's roster, different for another roster.
   */
  async safetyCode() {
    const r = this.roster().map((m) => [m.id, m.nick, m.publicKey]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(JSON.stringify(['epchat-v1 roster', this.room, r]))));
    let v = 0n;
    for (const b of h.subarray(0, 12)) v = (v << 8n) | BigInt(b);
    return (v % 10n ** 20n).toString().padStart(20, '0').replace(/(\d{4})(?=\d)/g, '$1 ');
  }

  /** @param {any} commit */
  #commitFrame(commit) {
    return 'e2e1.c.' + b64urlEncode(M.encodeMlsMessage(commit));
  }

  /**
   * admit checks a joiner's kp frame against the pending invite's secret
   * and the member id the server seated it as, and commits its Add: it
   * returns the commit frame (send it first) and the Welcome frame.
   * @param {string} frame
   * @param {string} joiner the member id the server says sent the frame
   * @param {string} secret the invite's secret
   */
  async admit(frame, joiner, secret) {
    let kpText, mac;
    try {
      ({ kp: kpText, mac } = JSON.parse(dec.decode(body(frame, 'e2e1.kp.'))));
    } catch (e) {
      throw e instanceof MlsError ? e : new MlsError('malformed', 'not a key package frame');
    }
    if (typeof kpText !== 'string' || typeof mac !== 'string') throw new MlsError('malformed', 'not a key package frame');
    if (!sameText(mac, await hmac(secret, ['kp', this.room, joiner, kpText]))) {
      throw new MlsError('bad_invite', 'the key package is not MACed with this invite');
    }
    const m = decodeMls(body('x' + kpText, 'x'), 'mls_key_package');
    const who = memberOf(m.keyPackage.leafNode);
    if (!who || who.id !== joiner) throw new MlsError('wrong_member', 'the key package names another member');
    const c = await M.createCommit({ state: this.state, cipherSuite: await impl() }, {
      ratchetTreeExtension: true,
      extraProposals: [{ proposalType: 'add', add: { keyPackage: m.keyPackage } }],
    });
    const text = this.#commitFrame(c.commit);
    this.pending = { text, state: c.newState };
    const w = b64urlEncode(M.encodeMlsMessage({ welcome: c.welcome, wireformat: 'mls_welcome', version: 'mls10' }));
    return { commit: text, welcome: 'e2e1.w.' + b64urlEncode(enc.encode(JSON.stringify({ to: joiner, w }))) };
  }

  /**
   * remove commits the removal of member id from the roster, and returns
   * the commit frame. Send it, and apply it when it comes back in seq
   * order.
   * @param {string} id
   */
  async remove(id) {
    let leafIndex = -1;
    for (const { leaf, index } of this.#leaves()) if (memberOf(leaf)?.id === id) leafIndex = index;
    if (leafIndex < 0) throw new MlsError('malformed', 'no such member in the roster');
    const c = await M.createCommit({ state: this.state, cipherSuite: await impl() }, {
      extraProposals: [{ proposalType: 'remove', remove: { removed: leafIndex } }],
    });
    const text = this.#commitFrame(c.commit);
    this.pending = { text, state: c.newState };
    return text;
  }

  /**
   * apply takes a commit frame in seq order. It resolves to 'applied' (the
   * epoch moved on) or 'stale' (a commit for an epoch already past: it lost
   * the race); a commit that removes this member resolves to 'removed'.
   * @param {string} frame
   * @returns {Promise<'applied'|'stale'|'removed'>}
   */
  async apply(frame) {
    const m = decodeMls(body(frame, 'e2e1.c.'), 'mls_private_message');
    if (this.pending && sameText(this.pending.text, frame)) {
      this.state = this.pending.state;
      this.pending = null;
      return 'applied';
    }
    if (m.privateMessage.epoch !== this.state.groupContext.epoch) return 'stale';
    let r;
    try {
      r = await M.processPrivateMessage(this.state, m.privateMessage, M.emptyPskIndex, await impl());
    } catch {
      throw new MlsError('undecryptable', 'a commit this member cannot process');
    }
    if (r.kind !== 'newState') throw new MlsError('malformed', 'not a commit');
    // A roster where two leaves claim one member id, or a leaf names no
    // member, would let a member's key be substituted: refuse the commit
    // and stay in this epoch (every honest member does the same).
    const ids = rosterOf(r.newState).map((x) => x?.id);
    if (ids.includes(undefined) || new Set(ids).size !== ids.length) {
      throw new MlsError('bad_commit', 'the commit gives two leaves one member id, or a leaf no member');
    }
    this.pending = null; // our own commit for this epoch, if any, lost
    this.state = r.newState;
    if (!this.roster().some((x) => x.id === this.me)) return 'removed';
    return 'applied';
  }

  /**
   * seal makes the message frame of body: an envelope signed by this
   * member, inside an MLS application message of the current epoch. The
   * envelope's counter starts at 1 in every epoch, so that a member
   * admitted in an epoch knows every author's first message of it, and
   * sees one dropped.
   * @param {unknown} value
   * @param {number} seen the highest seq this member has shown
   * @param {number} [ts]
   * @returns {Promise<string>}
   */
  async seal(value, seen, ts = Date.now()) {
    return (await this.sealMessage(value, seen, ts)).frame;
  }

  /**
   * sealMessage is seal, also returning the envelope (what a history entry
   * passes on) and its id, `<author>.<epoch>.<n>`.
   * @param {unknown} value
   * @param {number} seen
   * @param {number} [ts]
   */
  async sealMessage(value, seen, ts = Date.now()) {
    if (this.nEpoch !== this.epoch) {
      this.nEpoch = this.epoch;
      this.n = 0;
    }
    const e = { kind: /** @type {'message'} */ ('message'), room: this.room, from: this.me, nick: this.nick, epoch: this.epoch, n: ++this.n, seen, ts, body: value };
    const envelope = await signEnvelope(this.identity, e);
    return { frame: await this.#application('e2e1.m.', envelope), envelope, mid: `${e.from}.${e.epoch}.${e.n}` };
  }

  /**
   * #application wraps text in an MLS application message of the current
   * epoch, as a frame with prefix.
   * @param {string} prefix
   * @param {string} text
   */
  async #application(prefix, text) {
    const r = await M.createApplicationMessage(this.state, enc.encode(text), await impl());
    this.state = r.newState;
    return prefix + b64urlEncode(M.encodeMlsMessage({ privateMessage: r.privateMessage, wireformat: 'mls_private_message', version: 'mls10' }));
  }

  /**
   * #decrypt opens an MLS application message frame with prefix, once:
   * the same frame again is a replay.
   * @param {string} frame
   * @param {string} prefix
   */
  async #decrypt(frame, prefix) {
    const m = decodeMls(body(frame, prefix), 'mls_private_message');
    const id = await digest(frame);
    if (this.seenFrames.has(id)) throw new MlsError('replay', 'this message was already shown');
    let r;
    try {
      r = await M.processPrivateMessage(this.state, m.privateMessage, M.emptyPskIndex, await impl());
    } catch {
      throw new MlsError('undecryptable', 'not for an epoch this member holds');
    }
    if (r.kind !== 'applicationMessage') throw new MlsError('malformed', 'not a message');
    this.state = r.newState;
    if (this.seenFrames.size > 4096) this.seenFrames.delete(this.seenFrames.values().next().value ?? '');
    this.seenFrames.add(id);
    let text;
    try {
      text = dec.decode(r.message);
    } catch {
      throw new MlsError('malformed', 'not an envelope');
    }
    return { text, epoch: m.privateMessage.epoch };
  }

  /** #rosterMap is the roster by member id, for openEnvelope. */
  #rosterMap() {
    const roster = this.#members().byId;
    return (/** @type {string} */ id) => roster.get(id);
  }

  /**
   * sealHistory makes the history frame for newcomer `to`: a batch
   * envelope signed by this member (kind history, body {to, entries}),
   * whose entries are their authors' original envelopes with the seq this
   * member saw them at, in the current epoch (which `to` must hold).
   * @param {string} to
   * @param {ReadonlyArray<{seq: number, envelope: string}>} entries
   */
  async sealHistory(to, entries) {
    const env = await signEnvelope(this.identity, {
      kind: 'history', room: this.room, from: this.me, nick: this.nick, epoch: this.epoch, n: 1, seen: 0, ts: Date.now(),
      body: { to, entries: entries.map((x) => [x.seq, x.envelope]) },
    });
    return this.#application('e2e1.h.', env);
  }

  /**
   * openHistory reads a history frame that the server says member from
   * sent: the batch must be signed by from and addressed to this member.
   * Each entry is checked on its own against the roster: `ok` (signed by
   * its author, a member now), `former` (its author is not in the roster:
   * not verifiable), or refused with an EnvelopeError code (`bad_signature`,
   * `nickname_mismatch`, `wrong_room`, `malformed`...), never thrown.
   * @param {string} frame
   * @param {string} from
   */
  async openHistory(frame, from) {
    const { text } = await this.#decrypt(frame, 'e2e1.h.');
    const roster = this.#rosterMap();
    let batch;
    try {
      batch = await openEnvelope(text, { room: this.room, from, kind: 'history', roster });
    } catch (err) {
      if (err instanceof EnvelopeError) throw new MlsError(err.code, err.message);
      throw new MlsError('malformed', 'not an envelope');
    }
    const b = /** @type {{to?: unknown, entries?: unknown}} */ (batch.body);
    if (!b || b.to !== this.me || !Array.isArray(b.entries)) throw new MlsError('malformed', 'not a history batch for this member');
    /** @type {{seq: number, envelope: string, status: string, e: import('../signed.js').Envelope|null}[]} */
    const out = [];
    for (const x of b.entries.slice(0, 1024)) {
      const seq = Array.isArray(x) ? x[0] : undefined;
      const envelope = Array.isArray(x) ? x[1] : undefined;
      if (!Number.isSafeInteger(seq) || typeof envelope !== 'string') {
        out.push({ seq: 0, envelope: '', status: 'malformed', e: null });
        continue;
      }
      try {
        const e = await openEnvelope(envelope, { room: this.room, kind: 'message', roster });
        out.push({ seq: /** @type {number} */ (seq), envelope, status: 'ok', e });
      } catch (err) {
        const code = err instanceof EnvelopeError ? err.code : 'malformed';
        let e = null;
        if (code === 'unknown_sender') e = peekEnvelope(envelope);
        out.push({ seq: /** @type {number} */ (seq), envelope, status: code === 'unknown_sender' ? 'former' : code, e });
      }
    }
    return { batch, entries: out };
  }

  /**
   * open reads a message frame that the server says member from sent with
   * seq: it resolves to the envelope and where it stands among its
   * author's messages, or rejects with an MlsError (EnvelopeErrors are
   * turned into MlsErrors of the same code).
   * @param {string} frame
   * @param {{from: string, seq: number}} at
   */
  async open(frame, at) {
    const { text, epoch } = await this.#decrypt(frame, 'e2e1.m.');
    let e;
    try {
      e = await openEnvelope(text, { room: this.room, from: at.from, kind: 'message', roster: this.#rosterMap() });
    } catch (err) {
      if (err instanceof EnvelopeError) throw new MlsError(err.code, err.message);
      throw new MlsError('malformed', 'not an envelope');
    }
    if (BigInt(e.epoch) !== epoch) throw new MlsError('epoch_mismatch', 'the envelope names another epoch');
    return { envelope: e, text, mid: `${e.from}.${e.epoch}.${e.n}`, placement: this.tracker.place(e, at.seq) };
  }
}
