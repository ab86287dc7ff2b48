// mlsScheme, "mls-v1": authenticated rooms (docs/E2E.md) behind the
// CryptoScheme seam of ../scheme.js. One MLS group per room (room.js), every
// message an envelope signed by its author, the keys changed on every leave
// and kick, and the safety code over who holds them.
//
// A page opts in with `new Client({scheme: mlsScheme, ...})`; a page that
// does not import this module never loads the MLS bundle (147 KB).
//
// The room's handshake travels as ordinary room messages (the server sees
// opaque text, as for every message), ordered by the server's seq:
//
//   joiner  -> room   e2e1.kp.  its key package, MACed with the link's secret
//   admitter -> room  e2e1.c.   the Add commit (applied by every member in seq order)
//   admitter -> room  e2e1.w.   the Welcome, for the joiner only (sent once the commit won)
//   member  -> room   e2e1.m.   a message
//   owner   -> to     e2e1.h.   history (a history request), in the newcomer's epoch
//
// Any admitted member online admits: the member who makes an invite (the
// owner: only owners invite) tells the room its secret, in a signed message
// of the group (`{v: 1, invites: [secret]}`, opened as a control frame),
// and tells the pending ones again to each member it admits, so every
// member can check the joiner's key package. The owner
// admits at once; each other member, in the server's join order, takes over
// 2 s after the one before it if no Add has come (concurrent commits: the
// first in seq order wins, the others are stale). On a leave the first
// admitted member in the server's join order commits the Remove, with the
// same 2 s steps. A kick commits the Remove before the kick is sent.

import { b64urlDecode, b64urlEncode } from '../crypto.js';
import { MlsError, MlsRoom, PendingJoin } from './room.js';

const enc = new TextEncoder();
const SECRET_CHARS = 22; // 128 bits, base64url
const CHECK_CHARS = 6; // 36 bits of SHA-256 over token and secret
const LINK_SECRET = new RegExp(`^[A-Za-z0-9_-]{${SECRET_CHARS + CHECK_CHARS}}$`);
const INVITE_SECRET = new RegExp(`^[A-Za-z0-9_-]{${SECRET_CHARS}}$`);
// INVITES bounds the pending invite secrets a member keeps.
const INVITES = 64;
// REMOVE_STEP is how long each member in join order waits, after the one
// before it, to commit a Remove that has not come.
const REMOVE_STEP = 2000;
// SETTLE_WAIT is how long a send waits for the keys to change after a
// leave before it gives up with `rotating`.
const SETTLE_WAIT = 8000;
// (REMOVE_STEP also spaces the members' turns to admit a joiner.)
// ADMIT_WAIT is how long history waits for its newcomer to be admitted.
const ADMIT_WAIT = 10000;
const BUFFER = 256; // frames a joiner keeps until its Welcome

/**
 * linkCheck is the check characters of an invite link: they let the
 * joiner's page refuse a link with a changed character before it takes a
 * seat.
 * @param {string} token
 * @param {string} secret
 */
async function linkCheck(token, secret) {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(`epchat-v1 link\0${token}\0${secret}`)));
  return b64urlEncode(h).slice(0, CHECK_CHARS);
}

/**
 * verifierOf is what the server keeps of an invite's secret s (PROTOCOL.md,
 * invite): base64url of HMAC-SHA-256 keyed with s, over "epchat-v1
 * verifier". A link whose secret was changed, its check recomputed, then
 * finds no invite and takes no seat.
 * @param {string} s the invite secret, base64url of 16 bytes
 */
async function verifierOf(s) {
  const key = await crypto.subtle.importKey('raw', b64urlDecode(s), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return b64urlEncode(new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode('epchat-v1 verifier'))));
}

/** @typedef {import('../scheme.js').Channel} Channel */

/**
 * Signal wakes what waits for the room's roster or epoch to change.
 */
class Signal {
  constructor() {
    /** @type {Array<() => void>} */
    this.waiters = [];
  }

  fire() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * until waits for cond, re-checked on each fire, for at most ms: it
   * resolves to whether cond held.
   * @param {() => boolean} cond
   * @param {number} ms
   * @returns {Promise<boolean>}
   */
  async until(cond, ms) {
    const end = Date.now() + ms;
    while (!cond()) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve(undefined);
        });
      });
    }
    return true;
  }
}

/**
 * MlsCrypto is one room's RoomCrypto under mls-v1.
 */
class MlsCrypto {
  /**
   * @param {{mode: 'create'|'join'|'member'|'removed', secret?: string, mls?: MlsRoom|null, invites?: string[], inviter?: boolean}} o
   */
  constructor(o) {
    this.scheme = 'mls-v1';
    /** @type {'create'|'join'|'member'|'removed'} */
    this.mode = o.mode;
    /** @type {MlsRoom|null} */
    this.mls = o.mls ?? null;
    /** @type {PendingJoin|null} */
    this.pendingJoin = null;
    this.joinSecret = o.secret ?? '';
    /** @type {Set<string>} the secrets of pending invites: made by this member, or told to the room by their maker */
    this.invites = new Set(o.invites ?? []);
    /** whether this member made invites: it answers every key package, refusing those of no pending invite */
    this.inviter = !!o.inviter;
    /** @type {Map<string, ReturnType<typeof setTimeout>>} joiner -> this member's turn to admit them */
    this.admitTimers = new Map();
    /** @type {Channel|null} */
    this.ch = null;
    /** @type {{text: string, ctx: any}[]} frames that came before the Welcome */
    this.buffer = [];
    this.signal = new Signal();
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.removeTimer = null;
  }

  get epoch() {
    return this.mls ? this.mls.epoch : 0;
  }

  /** whether this member holds the room's keys */
  get admitted() {
    return this.mode === 'member' && this.mls !== null;
  }

  /** @param {Channel} ch */
  async attach(ch) {
    this.ch = ch;
    if (this.mode === 'create' && !this.mls) {
      this.mls = await MlsRoom.create({ room: ch.room, me: ch.me, nick: ch.nick });
      this.mode = 'member';
      this.#changed();
    } else if (this.mode === 'join' && !this.pendingJoin) {
      this.pendingJoin = await PendingJoin.prepare({ room: ch.room, me: ch.me, nick: ch.nick, secret: this.joinSecret });
      await ch.send(this.pendingJoin.frame);
    } else if (this.mode === 'member') {
      // A reload: a leave may have happened while away.
      this.#scheduleRemovals(false);
    }
  }

  #changed() {
    this.signal.fire();
    this.ch?.changed();
  }

  // -----------------------------------------------------------------
  // Sealing.

  /**
   * @param {unknown} value
   * @param {import('../scheme.js').SealContext} ctx
   */
  async encrypt(value, ctx) {
    // A joiner's first message waits for its keys (a round trip or two).
    if (this.mode === 'join' || this.mode === 'create') await this.signal.until(() => this.mode !== 'join' && this.mode !== 'create', ADMIT_WAIT);
    if (!this.admitted) throw new MlsError(this.mode === 'removed' ? 'removed' : 'not_admitted', 'this member holds no keys for the room');
    if (ctx.kind === 'history') return this.#sealHistory(value, ctx.to ?? '');
    // Never encrypt in an epoch whose roster holds a member the server
    // says left: wait for the Remove.
    if (!(await this.signal.until(() => !this.admitted || this.#stale().length === 0, SETTLE_WAIT))) {
      throw new MlsError('rotating', "the room's keys are changing: try again in a moment");
    }
    const mls = /** @type {MlsRoom} */ (this.mls);
    const s = await mls.sealMessage(value, this.ch?.seen() ?? 0);
    return { text: s.frame, envelope: s.envelope, mid: s.mid };
  }

  /**
   * @param {unknown} value {v, msgs: [{seq, envelope}]}
   * @param {string} to
   */
  async #sealHistory(value, to) {
    const msgs = /** @type {{msgs?: unknown}} */ (value)?.msgs;
    /** @type {{seq: number, envelope: string}[]} */
    const entries = [];
    for (const m of Array.isArray(msgs) ? msgs : []) {
      if (m && Number.isSafeInteger(m.seq) && typeof m.envelope === 'string') entries.push({ seq: m.seq, envelope: m.envelope });
    }
    const ok = await this.signal.until(() => !!this.mls?.roster().some((x) => x.id === to), ADMIT_WAIT);
    if (!ok) throw new MlsError('not_admitted', 'the newcomer was not admitted');
    return /** @type {MlsRoom} */ (this.mls).sealHistory(to, entries);
  }

  /** @param {number} n */
  sealedLength(n) {
    // envelope: base64url of the JSON (the body, ids, a nickname of up to
    // 32 characters) and a signature; MLS adds its header and tag, and
    // pads to at least 256 bytes; the frame is base64url again.
    const envelope = Math.ceil((n + 360) * 4 / 3) + 87;
    return 7 + Math.ceil((Math.max(256, envelope) + 160) * 4 / 3);
  }

  /** @param {number} max */
  plainBudget(max) {
    let lo = 0;
    let hi = max;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.sealedLength(mid) <= max) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  // -----------------------------------------------------------------
  // Opening.

  /**
   * decrypt takes a room message or history payload. Handshake frames are
   * handled here and come back as {control: true}: nothing to show.
   * @param {string} text
   * @param {import('../scheme.js').SealContext & {seq?: number, ts?: number}} ctx
   */
  async decrypt(text, ctx) {
    if (typeof text !== 'string' || !text.startsWith('e2e1.')) throw new MlsError('malformed', 'not an mls-v1 payload');
    if (this.mode === 'removed') throw new MlsError('undecryptable', 'this member was removed from the room');
    if (this.mode === 'join') {
      if (text.startsWith('e2e1.w.')) return this.#welcome(text);
      if (this.buffer.length < BUFFER) this.buffer.push({ text, ctx });
      return { control: true };
    }
    if (!this.mls) throw new MlsError('undecryptable', 'no keys yet');
    const kind = text.slice(5, text.indexOf('.', 5));
    switch (kind) {
      case 'kp':
        await this.#admit(text, ctx.from);
        return { control: true };
      case 'c':
        await this.#apply(text, ctx.from);
        return { control: true };
      case 'w':
        return { control: true }; // for someone else
      case 'm':
        return this.#open(text, ctx);
      case 'h':
        return this.#openHistory(text, ctx.from);
      default:
        throw new MlsError('malformed', 'an unknown mls-v1 frame');
    }
  }

  /**
   * @param {string} text
   * @param {{from: string, seq?: number}} ctx
   */
  async #open(text, ctx) {
    const mls = /** @type {MlsRoom} */ (this.mls);
    const r = await mls.open(text, { from: ctx.from, seq: ctx.seq ?? 0 });
    if (r.placement.status === 'replay') throw new MlsError('replay', 'this message was already shown');
    const invites = /** @type {{invites?: unknown}|null} */ (r.envelope.body)?.invites;
    if (Array.isArray(invites)) {
      // Pending invites' secrets, told by their maker to the room: this
      // member can now admit their joiners too.
      for (const x of invites.slice(0, INVITES)) if (typeof x === 'string' && INVITE_SECRET.test(x)) this.#keepInvite(x);
      return { control: true };
    }
    return {
      value: r.envelope.body, verified: true, nickname: r.envelope.nick, mid: r.mid, envelope: r.text,
      placement: r.placement.status, missing: r.placement.missing, sentAt: r.envelope.ts,
    };
  }

  /**
   * @param {string} text
   * @param {string} from
   */
  async #openHistory(text, from) {
    const mls = /** @type {MlsRoom} */ (this.mls);
    const { entries } = await mls.openHistory(text, from);
    /** @type {any[]} */
    const msgs = [];
    let dropped = 0;
    /** @type {Map<string, number>} author/epoch -> last n, to tell what the owner left out */
    const last = new Map();
    let omitted = 0;
    for (const x of entries) {
      const e = x.e;
      if (!e || (x.status !== 'ok' && x.status !== 'former')) {
        dropped++;
        continue;
      }
      const body = /** @type {{body?: unknown}} */ (e.body)?.body;
      if (typeof body !== 'string') {
        dropped++;
        continue;
      }
      const key = `${e.from}/${e.epoch}`;
      const prev = last.get(key) ?? 0;
      if (e.n > prev + 1) omitted += e.n - prev - 1;
      last.set(key, Math.max(prev, e.n));
      msgs.push({
        seq: x.seq, ts: e.ts, from: e.from, nick: e.nick, body, envelope: x.envelope,
        mid: `${e.from}.${e.epoch}.${e.n}`, verified: x.status === 'ok',
      });
    }
    return { value: { v: 1, msgs }, verified: true, dropped, omitted };
  }

  /**
   * #welcome takes a Welcome while joining: for this member, it makes the
   * room's state and opens what came meanwhile.
   * @param {string} text
   */
  async #welcome(text) {
    if (!this.pendingJoin) return { control: true };
    const room = await this.pendingJoin.join(text);
    if (!room) return { control: true };
    this.mls = room;
    this.mode = 'member';
    this.pendingJoin = null;
    this.joinSecret = '';
    this.#changed();
    const held = this.buffer;
    this.buffer = [];
    for (const { text: t, ctx } of held) {
      if (t.startsWith('e2e1.c.')) {
        try {
          await this.#apply(t, ctx.from);
        } catch {
          // A commit of an epoch before the Welcome's: not ours to apply.
        }
        continue;
      }
      if (!t.startsWith('e2e1.m.') && !t.startsWith('e2e1.h.')) continue;
      try {
        const opened = t.startsWith('e2e1.h.') ? await this.#openHistory(t, ctx.from) : await this.#open(t, ctx);
        this.ch?.deliver(ctx, { opened });
      } catch (error) {
        const code = /** @type {{code?: string}} */ (error)?.code;
        // Sent in an epoch before this member's: it was not admitted yet.
        this.ch?.deliver(ctx, { error: code === 'undecryptable' ? new MlsError('before_admitted', 'sent before you were admitted') : error });
      }
    }
    return { control: true };
  }

  // -----------------------------------------------------------------
  // Membership.

  /**
   * #admit commits the Add of a joiner whose key package is MACed with
   * the secret of an invite this member made, then sends the Welcome once
   * the commit took effect.
   * @param {string} text
   * @param {string} from
   */
  async #admit(text, from) {
    const mls = /** @type {MlsRoom} */ (this.mls);
    const ch = /** @type {Channel} */ (this.ch);
    if (mls.roster().some((x) => x.id === from)) {
      if (this.inviter) ch.notify({ kind: 'key_package_refused', member: from, detail: 'already_admitted' });
      return;
    }
    // Whose turn: the owner first, then the others in join order, 2 s
    // apart; a later one admits only if the joiner is still out.
    const inRoster = new Set(mls.roster().map((x) => x.id));
    const owner = ch.owner();
    const order = ch.members().filter((m) => inRoster.has(m.id)).map((m) => m.id)
      .sort((a, b) => (a === owner ? -1 : b === owner ? 1 : 0));
    const rank = order.indexOf(ch.me);
    if (rank < 0) return;
    if (rank > 0) {
      // At most one turn per invite that may be pending: more joiners
      // than that are key packages anyone (the server) made up.
      if (this.admitTimers.has(from) || this.invites.size === 0 || this.admitTimers.size >= INVITES) return;
      this.admitTimers.set(from, setTimeout(() => {
        this.admitTimers.delete(from);
        ch.run(() => (this.admitted && !this.mls?.roster().some((x) => x.id === from) ? this.#admitNow(text, from) : undefined));
      }, rank * REMOVE_STEP));
      return;
    }
    await this.#admitNow(text, from);
  }

  /**
   * #admitNow admits from with the pending invite whose secret MACed its
   * key package; a key package of no invite this member knows is refused
   * (told) by the member who made invites, ignored by the others.
   * @param {string} text
   * @param {string} from
   */
  async #admitNow(text, from) {
    const mls = /** @type {MlsRoom} */ (this.mls);
    const ch = /** @type {Channel} */ (this.ch);
    for (const secret of this.invites) {
      let out;
      try {
        out = await mls.admit(text, from, secret);
      } catch (e) {
        if (/** @type {{code?: string}} */ (e)?.code === 'bad_invite') continue;
        ch.notify({ kind: 'key_package_refused', member: from, detail: /** @type {{code?: string}} */ (e)?.code ?? 'malformed' });
        return;
      }
      await ch.send(out.commit);
      const r = await mls.apply(out.commit);
      if (r !== 'applied') return; // another commit won: the joiner's kp stays unanswered; it can ask again
      this.invites.delete(secret);
      this.#changed();
      await ch.send(out.welcome);
      // The newcomer was not in the room when the other pending invites
      // were told: tell them again, in the epoch it holds.
      if (this.inviter && this.invites.size > 0) await this.#announce([...this.invites]);
      return;
    }
    if (this.inviter) ch.notify({ kind: 'key_package_refused', member: from, detail: 'bad_invite' });
  }

  /**
   * #keepInvite keeps a pending invite's secret, the oldest going first
   * past INVITES.
   * @param {string} s
   */
  #keepInvite(s) {
    this.invites.add(s);
    if (this.invites.size > INVITES) this.invites.delete(this.invites.values().next().value ?? '');
  }

  /**
   * @param {string} text
   * @param {string} from
   */
  async #apply(text, from) {
    const mls = /** @type {MlsRoom} */ (this.mls);
    let r;
    try {
      r = await mls.apply(text);
    } catch (e) {
      this.ch?.notify({ kind: 'commit_refused', member: from, detail: /** @type {{code?: string}} */ (e)?.code ?? 'malformed' });
      return;
    }
    if (r === 'stale') return;
    if (r === 'removed') {
      this.mode = 'removed';
      this.#changed();
      this.ch?.notify({ kind: 'removed', member: from });
      return;
    }
    this.#changed();
    this.#scheduleRemovals(false);
  }

  /** #stale is the roster's members the server no longer seats. */
  #stale() {
    if (!this.mls || !this.ch) return [];
    const seated = new Set(this.ch.members().map((m) => m.id));
    return this.mls.roster().filter((x) => !seated.has(x.id)).map((x) => x.id);
  }

  /**
   * #scheduleRemovals commits the Remove of a member the server no longer
   * seats, when this member's turn has come: at once for the first
   * admitted member in join order, 2 s later for the next, and so on.
   * @param {boolean} due the timer for this member's turn fired
   */
  async #scheduleRemovals(due) {
    if (!this.admitted || !this.ch) return;
    const stale = this.#stale();
    if (stale.length === 0) return;
    const inRoster = new Set(/** @type {MlsRoom} */ (this.mls).roster().map((x) => x.id));
    const order = this.ch.members().filter((m) => inRoster.has(m.id)).map((m) => m.id);
    const rank = order.indexOf(this.ch.me);
    if (rank < 0) return;
    if (rank === 0 || due) {
      await this.#remove(stale[0]);
      return;
    }
    if (this.removeTimer) return;
    this.removeTimer = setTimeout(() => {
      this.removeTimer = null;
      this.ch?.run(() => this.#scheduleRemovals(true));
    }, rank * REMOVE_STEP);
  }

  /**
   * #remove commits the removal of member id, sends it and applies it.
   * @param {string} id
   */
  async #remove(id) {
    const mls = /** @type {MlsRoom} */ (this.mls);
    const ch = /** @type {Channel} */ (this.ch);
    const text = await mls.remove(id);
    await ch.send(text);
    const r = await mls.apply(text);
    if (r === 'applied') {
      this.#changed();
      this.#scheduleRemovals(false);
    }
  }

  /**
   * membershipChanged is the client's hook: a leave (or a refreshed
   * member list) may leave a member in the roster whom the server no
   * longer seats.
   * @param {import('../scheme.js').MembershipChange} change
   */
  async membershipChanged(change) {
    if (change.kind === 'left' || change.kind === 'members') await this.#scheduleRemovals(false);
    this.signal.fire();
  }

  /**
   * beforeKick commits the kicked member's Remove before the kick is
   * sent, so that no message is sealed in an epoch they can read after
   * the kick.
   * @param {string} id
   */
  async beforeKick(id) {
    if (!this.admitted) return;
    if (!/** @type {MlsRoom} */ (this.mls).roster().some((x) => x.id === id)) return;
    await this.#remove(id);
  }

  // -----------------------------------------------------------------
  // What members compare, links, saving.

  async safetyCode() {
    return this.mls && this.admitted ? this.mls.safetyCode() : '';
  }

  /**
   * inviteSecret makes the secret of one invite: 128 random bits, which
   * authenticate the joiner's key package, and a check over token and
   * secret. It holds no room key: once used, the link opens nothing.
   * With what newInvite prepared, it uses that secret, whose verifier the
   * server has.
   * @param {string} token
   * @param {import('../scheme.js').PreparedInvite} [prepared]
   */
  async inviteSecret(token, prepared) {
    const s = prepared?.secret ?? b64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
    this.#keepInvite(s);
    this.inviter = true;
    // Told to the room, so that any member online can admit the joiner.
    // The link works without it: this member admits them itself.
    await this.#announce([s]);
    return s + await linkCheck(token, s);
  }

  /**
   * newInvite makes an invite's secret before the server's token, with its
   * verifier for the invite request.
   * @returns {Promise<import('../scheme.js').PreparedInvite>}
   */
  async newInvite() {
    const secret = b64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
    return { secret, verifier: await verifierOf(secret) };
  }

  /**
   * #announce tells the room pending invites' secrets, in a signed message
   * of the current epoch: whoever holds its keys can then admit their
   * joiners. It fails quietly (offline, the keys changing): the maker
   * still admits.
   * @param {string[]} secrets
   */
  async #announce(secrets) {
    if (!this.admitted || !this.ch) return;
    const ch = this.ch;
    try {
      const sealed = await /** @type {MlsRoom} */ (this.mls).sealMessage({ v: 1, invites: secrets }, ch.seen());
      await ch.send(sealed.frame);
    } catch {
      // Only this member can admit with them.
    }
  }

  /** this member's public identity key, once admitted */
  identity() {
    return this.mls?.identity.publicKey || null;
  }

  /** the members this member can verify: the roster of the current epoch */
  roster() {
    return this.mls && this.admitted ? this.mls.roster() : [];
  }

  save() {
    return {
      scheme: 'mls-v1', mode: this.mode, secret: this.joinSecret,
      invites: [...this.invites], inviter: this.inviter, mls: this.mls && this.mode === 'member' ? this.mls.save() : null,
    };
  }
}

/** @type {import('../scheme.js').CryptoScheme} */
export const mlsScheme = {
  name: 'mls-v1',
  async create() {
    return /** @type {any} */ (new MlsCrypto({ mode: 'create' }));
  },
  async fromInvite(secret, token) {
    if (!LINK_SECRET.test(secret) || typeof token !== 'string') throw new MlsError('invite_damaged', 'not an mls-v1 link');
    const s = secret.slice(0, SECRET_CHARS);
    if (b64urlDecode(s).length !== 16 || await linkCheck(token, s) !== secret.slice(SECRET_CHARS)) {
      throw new MlsError('invite_damaged', 'the link is damaged');
    }
    return /** @type {any} */ (new MlsCrypto({ mode: 'join', secret: s }));
  },
  async restore(saved) {
    const o = /** @type {any} */ (saved);
    if (o?.scheme !== 'mls-v1') throw new Error('not an mls-v1 room');
    const invites = Array.isArray(o.invites) ? o.invites.filter((/** @type {unknown} */ x) => typeof x === 'string') : [];
    if (o.mode === 'member') return /** @type {any} */ (new MlsCrypto({ mode: 'member', mls: await MlsRoom.restore(o.mls), invites, inviter: !!o.inviter }));
    if (o.mode === 'join' && typeof o.secret === 'string') return /** @type {any} */ (new MlsCrypto({ mode: 'join', secret: o.secret }));
    return /** @type {any} */ (new MlsCrypto({ mode: 'removed' }));
  },
  isSecret: (text) => typeof text === 'string' && LINK_SECRET.test(text),
  async verifierOf(secret) {
    return LINK_SECRET.test(secret) ? verifierOf(secret.slice(0, SECRET_CHARS)) : '';
  },
};
