// The epchat client: a session with the server over one WebSocket at a
// time (transport.js), the rooms it is seated in, and the end-to-end work
// of each room behind its RoomCrypto (scheme.js). Events the server sends
// are checked, decrypted and handed to the listeners in each room's order;
// nothing the server sends can throw out of it.

import { utf8Length, sealedLength as defaultSealedLength } from './crypto.js';
import { ProtocolError, isProtocolError } from './errors.js';
import { hasInvite, inviteLink, parseInvite } from './invite.js';
import { aesGcmScheme } from './scheme.js';
import { Transport, once } from './transport.js';
import { MAX_MEMBERS, historyEntry, isId, isSeq, isTime, limit, member, roomInfo } from './validate.js';

/** @typedef {import('./validate.js').Member} Member */
/** @typedef {import('./validate.js').RoomInfo} RoomInfo */
/** @typedef {import('./validate.js').HistoryEntry} HistoryEntry */
/** @typedef {import('./scheme.js').RoomCrypto} RoomCrypto */
/** @typedef {import('./scheme.js').CryptoScheme} CryptoScheme */
/** @typedef {import('./invite.js').Invite} Invite */
/** @typedef {import('./transport.js').TransportOptions} TransportOptions */
/** @typedef {import('./transport.js').TransportStatus} TransportStatus */

/**
 * DEFAULT_LIMITS are the Hub's defaults, for a server whose welcome does
 * not tell its limits.
 */
export const DEFAULT_LIMITS = Object.freeze({ max_message: 16 * 1024, max_members: 10, room_idle: 600 });

/**
 * Storage keeps the session and the rooms' keys across page reloads. The
 * values are JSON-able. See webStorage.
 * @typedef {object} Storage
 * @property {(name: string) => unknown} get
 * @property {(name: string, value: unknown) => void} set
 * @property {(name: string) => void} remove
 */

/**
 * @typedef {object} ClientOptionsOwn
 * @property {string} url the Hub's WebSocket URL, e.g. wss://chat.example/chat/
 * @property {CryptoScheme} [scheme] the end-to-end scheme of new rooms (aesGcmScheme)
 * @property {Storage|null} [storage] where to keep the session (none: a reload forgets it)
 *
 * @typedef {ClientOptionsOwn & TransportOptions} ClientOptions
 */

/**
 * Room is what the client knows of one room it is seated in. Read it;
 * the client alone changes it.
 * @typedef {object} Room
 * @property {string} id
 * @property {string} owner the owner's member id
 * @property {Member[]} members in join order
 * @property {number} seq the latest message seq this client knows of
 * @property {boolean} locked
 * @property {RoomCrypto} crypto
 * @property {boolean} attached its crypto has its channel
 */

/**
 * @typedef {object} InviteInfo
 * @property {string} room
 * @property {string} token
 * @property {string} secret
 * @property {number} expires server time, Unix ms
 * @property {number} ttl how long it is valid from the reply, in ms, by the server's clock
 * @property {string|null} ref its public reference, which member_joined tells when it is redeemed (null from a server that does not tell it)
 */

/**
 * The events, by name, and what their listeners get.
 * @typedef {object} ClientEvents
 * @property {{state: 'connecting'|'open'|'waiting'|'ready'|'stopped', attempt?: number, delay?: number, at?: number}} status
 * @property {{you: Member, resumed: boolean, rooms: Room[]}} welcome identified (again, after a reconnect: resumed)
 * @property {{code: number, reason: string, wasOpen: boolean}} disconnected
 * @property {MessageEvent} message
 * @property {{room: Room, from: string, nickname: string, kind: 'message'|'history', seq?: number, reason: string}} undecryptable reason: undecryptable, malformed, before_admitted, removed
 * @property {{room: Room, from: string, nickname: string, kind: 'message'|'history', seq?: number, reason: string}} refused it opened but did not check out: replay, relabelled, bad_signature, unknown_sender, nickname_mismatch, wrong_room, epoch_mismatch
 * @property {{room: Room, from: string, entries: HistoryEntry[], dropped: number, omitted: number, verified: boolean}} history omitted: messages the passer left out, as their authors' counters tell (0 when the scheme cannot tell)
 * @property {{room: Room, kind: string, member?: string, detail?: string}} verification what the room's scheme noticed: key_package_refused, commit_refused, removed
 * @property {{room: Room, member: Member, invite: string|null}} member_joined invite: the reference of the invite redeemed (see InviteInfo.ref), when the server tells it
 * @property {{room: Room, member: string, nickname: string, reason: string}} member_left
 * @property {{room: Room, owner: string, previous: string}} owner_changed
 * @property {{room: Room, reason: string, byMe: boolean}} room_closed
 * @property {{room: Room, reason: string}} room_left you were removed (reason kicked, or gone: see PROTOCOL.md)
 * @property {{room: Room, locked: boolean}} room_locked
 * @property {{room: Room}} room_gone not seated any more when the session resumed
 * @property {{room: Room, count: number}} missed messages sent while away, gone for good
 * @property {{room: Room, epoch: number}} epoch the room's keys changed
 * @property {{connections: number}} session_connected another connection presented this session's token (a new tab, or someone who has it); connections counts them now
 * @property {{}} session_ended end_session, here or in another tab
 * @property {{}} session_invalid the server no longer knows the session
 * @property {{event: string, reason: string}} invalid a frame from the server was dropped as malformed
 */

/**
 * MessageEvent is a member's message. With a scheme that signs messages
 * (mls-v1), verified is true, nickname is the one the author's key is
 * bound to, and placement tells where it stands among its author's
 * messages: ok, gap (missing of them before it never came), late (one of
 * the missing, arriving now) or reordered (the server put it before a
 * message its author had already seen). mid is its id (author, epoch,
 * counter), envelope what passes it on in history, sentAt the author's
 * clock.
 * @typedef {object} MessageEvent
 * @property {Room} room
 * @property {string} from
 * @property {string} nickname
 * @property {number} seq
 * @property {number} ts
 * @property {string} body
 * @property {boolean} verified
 * @property {'ok'|'gap'|'late'|'reordered'} placement
 * @property {number} missing
 * @property {string|null} mid
 * @property {string|null} envelope
 * @property {number|null} sentAt
 */

/** @typedef {keyof ClientEvents} EventName */

/**
 * @typedef {object} Waiter
 * @property {(w: ClientEvents['welcome']) => void} resolve
 * @property {(e: Error) => void} reject
 */

const CLOSE_SESSION_ENDED = 4003;
// MAX_SKEW is the furthest the server's clock is believed to be from this
// browser's (see noteServerTime): a day.
const MAX_SKEW = 24 * 60 * 60 * 1000;
// REFUSED are the reasons a payload opened but did not check out.
const REFUSED = new Set(['replay', 'relabelled', 'bad_signature', 'unknown_sender', 'nickname_mismatch', 'wrong_room', 'epoch_mismatch']);

/**
 * sealed_ takes what encrypt resolved to: the payload text, or with a
 * signing scheme {text, envelope, mid}.
 * @param {Promise<string|{text: string, envelope?: string, mid?: string}>} p
 */
async function sealed_(p) {
  let v;
  try {
    v = await p;
  } catch (e) {
    const code = /** @type {{code?: unknown}} */ (e)?.code;
    if (typeof code === 'string') throw new ProtocolError(code, /** @type {Error} */ (e).message);
    throw e;
  }
  if (typeof v === 'string') return { text: v, envelope: null, mid: null };
  return { text: v.text, envelope: v.envelope ?? null, mid: v.mid ?? null };
}
const MEMBER_REASONS = new Set(['left', 'disconnected', 'kicked']);

export class Client {
  /** @type {Map<string, Set<(ev: any) => void>>} */
  #listeners = new Map();
  /** @type {Map<string, Promise<void>>} */
  #queues = new Map();
  /** @type {Waiter[]} */
  #waiters = [];
  /** @type {string|null} */
  #nickname = null;
  /** @type {number|null} */
  #clockOffset = null;
  /** @type {ClientEvents['welcome']|null} */
  #lastWelcome = null;
  /** @type {Transport} */
  #transport;
  /** @type {ReturnType<typeof setTimeout>|null} */
  #saveTimer = null;
  /** @type {import('./transport.js').TransportOptions} */
  #opts;

  /** @param {ClientOptions} opts */
  constructor(opts) {
    this.url = opts.url;
    /** @type {CryptoScheme} */
    this.scheme = opts.scheme ?? aesGcmScheme;
    /** @type {Storage|null} */
    this.storage = opts.storage ?? null;
    /** @type {Member|null} */
    this.me = null;
    /** @type {string|null} the secret session token */
    this.token = null;
    /** @type {{max_message: number, max_members: number, room_idle: number}} room_idle in seconds */
    this.limits = { ...DEFAULT_LIMITS };
    /** @type {Map<string, Room>} */
    this.rooms = new Map();
    /** identified on the current connection */
    this.ready = false;
    /** @type {Map<string, string>} member id -> the last nickname seen */
    this.names = new Map();
    // A page that goes away (a reload, say) saves what saveSoon had not;
    // so does one that is hidden, which a phone may discard without a
    // pagehide.
    globalThis.addEventListener?.('pagehide', () => {
      if (this.#saveTimer !== null) this.#save();
    });
    globalThis.document?.addEventListener?.('visibilitychange', () => {
      if (globalThis.document.visibilityState === 'hidden' && this.#saveTimer !== null) this.#save();
    });
    this.#opts = opts;
    this.#transport = new Transport(opts.url, {
      onOpen: () => this.#hello(),
      onEvent: (m) => this.#event(m),
      onInvalid: (m) => this.#emit('invalid', { event: String(m.type), reason: 'not an event' }),
      onClose: (e) => this.#closed(e),
      onStatus: (s) => this.#emit('status', s),
    }, opts);
  }

  // ---------------------------------------------------------------------
  // Events.

  /**
   * on adds a listener and returns a function that removes it. A listener
   * that throws does not stop the others; its error is reported as an
   * uncaught one.
   * @template {EventName} K
   * @param {K} type
   * @param {(ev: ClientEvents[K]) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * @template {EventName} K
   * @param {K} type
   * @param {ClientEvents[K]} ev
   */
  #emit(type, ev) {
    for (const fn of [...(this.#listeners.get(type) ?? [])]) {
      try {
        fn(ev);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  // ---------------------------------------------------------------------
  // Session.

  /**
   * restore loads the session and rooms kept in storage by an earlier
   * page, and reports whether there was a session to resume. Call it
   * before connect.
   * @returns {Promise<boolean>}
   */
  async restore() {
    const s = /** @type {{token?: unknown, me?: unknown}|null} */ (this.storage?.get('session') ?? null);
    if (!s || typeof s.token !== 'string' || s.token === '') return false;
    this.token = s.token;
    this.me = member(s.me);
    if (this.me) this.names.set(this.me.id, this.me.nickname);
    const saved = this.storage?.get('rooms');
    if (saved && typeof saved === 'object') {
      for (const [id, r] of Object.entries(saved)) {
        const info = roomInfo({ ...r, room: id });
        if (!info) continue;
        try {
          this.#addRoom(info, await this.scheme.restore(r?.crypto));
        } catch {
          // A key that does not import: the room is lost to this tab.
        }
      }
    }
    return true;
  }

  /**
   * connect opens the connection and identifies: with the session token
   * if there is one (restore, or an earlier welcome), else as a new user
   * with nickname. It resolves on welcome; until then a dropped or
   * refused connection is retried with backoff. It rejects with
   * ProtocolError invalid_nickname or session_invalid (the client then
   * stops), stopped, or too_many_users, too_many_connections, unavailable
   * or rate_limited: the server refused the hello for now; the client goes
   * on retrying with backoff, and welcome tells when it gets in.
   * @param {{nickname?: string}} [opts]
   * @returns {Promise<ClientEvents['welcome']>}
   */
  connect(opts = {}) {
    if (typeof opts.nickname === 'string') this.#nickname = opts.nickname;
    if (this.ready && this.#lastWelcome) return Promise.resolve(this.#lastWelcome);
    if (!this.token && this.#nickname === null) {
      return Promise.reject(new ProtocolError('bad_request', 'no session token and no nickname'));
    }
    /** @type {Promise<ClientEvents['welcome']>} */
    const p = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#transport.isActive) this.#transport.retryNow();
    else this.#transport.start();
    return p;
  }

  /** disconnect closes the connection and stops reconnecting; the session stays. */
  disconnect() {
    this.ready = false;
    this.#transport.stop();
    this.#settle(new ProtocolError('stopped', 'the client was stopped'));
  }

  /** retryNow skips the rest of a backoff wait (say, when the browser is back online). */
  retryNow() {
    this.#transport.retryNow();
  }

  /** whether the client is connecting or connected (not stopped) */
  get active() {
    return this.#transport.isActive;
  }

  /**
   * @param {Error|null} err
   * @param {ClientEvents['welcome']} [w]
   */
  #settle(err, w) {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const x of waiters) {
      if (err) x.reject(err);
      else if (w) x.resolve(w);
    }
  }

  async #hello() {
    /** @type {Record<string, unknown>} */
    let req;
    if (this.token) req = { type: 'hello', token: this.token };
    else if (this.#nickname !== null) req = { type: 'hello', nickname: this.#nickname };
    else {
      this.#transport.stop();
      return;
    }
    const resumed = !!this.token;
    let w;
    try {
      w = await this.#transport.request(req);
    } catch (e) {
      this.#helloFailed(e);
      return;
    }
    this.#welcomed(w, resumed);
  }

  /** @param {unknown} e */
  #helloFailed(e) {
    const code = isProtocolError(e) ? e.code : 'internal';
    switch (code) {
      case 'session_invalid':
        this.#forget();
        this.#transport.stop();
        this.#emit('session_invalid', {});
        this.#settle(/** @type {Error} */ (e));
        break;
      case 'invalid_nickname':
        this.#nickname = null;
        this.#transport.stop();
        this.#settle(/** @type {Error} */ (e));
        break;
      case 'offline':
      case 'stopped':
        break; // the transport retries by itself, or was stopped
      case 'too_many_users':
      case 'too_many_connections':
      case 'unavailable':
      case 'rate_limited':
        // Refused for now: whoever waits for connect hears why; the
        // client tries again after a backoff wait.
        this.#settle(/** @type {Error} */ (e));
        this.#transport.restart();
        break;
      default:
        // timeout, rate_limited, internal: start over on a new connection,
        // after a backoff wait.
        this.#transport.restart();
    }
  }

  /**
   * @param {Record<string, unknown>} w
   * @param {boolean} resumed
   */
  #welcomed(w, resumed) {
    const you = member(w.you);
    if (w.type !== 'welcome' || !you) {
      this.#emit('invalid', { event: String(w.type), reason: 'bad welcome' });
      this.#transport.restart();
      return;
    }
    this.#transport.healthy();
    const lim = /** @type {Record<string, unknown>} */ (w.limits && typeof w.limits === 'object' ? w.limits : {});
    this.limits = {
      max_message: limit(lim.max_message, DEFAULT_LIMITS.max_message),
      max_members: limit(lim.max_members, DEFAULT_LIMITS.max_members),
      room_idle: limit(lim.room_idle, DEFAULT_LIMITS.room_idle),
    };
    if (typeof w.token === 'string' && w.token !== '') this.token = w.token;
    this.#nickname = null;
    this.me = you;
    this.names.set(you.id, you.nickname);

    /** @type {Map<string, RoomInfo>} */
    const seated = new Map();
    for (const x of Array.isArray(w.rooms) ? w.rooms : []) {
      const info = roomInfo(x);
      if (info) seated.set(info.room, info);
    }
    for (const room of [...this.rooms.values()]) {
      const info = seated.get(room.id);
      if (!info) {
        this.#removeRoom(room);
        this.#emit('room_gone', { room });
        continue;
      }
      const missed = info.seq - room.seq;
      this.#apply(room, info);
      if (missed > 0) this.#emit('missed', { room, count: missed });
      this.#attach(room);
    }
    this.ready = true;
    this.#save();
    const ev = { you, resumed, rooms: [...this.rooms.values()] };
    this.#lastWelcome = ev;
    this.#emit('status', { state: 'ready' });
    this.#emit('welcome', ev);
    this.#settle(null, ev);
  }

  /** @param {{code: number, reason: string, wasOpen: boolean}} e */
  #closed(e) {
    this.ready = false;
    if (e.code === CLOSE_SESSION_ENDED) {
      this.#sessionEnded();
      return;
    }
    this.#emit('disconnected', e);
  }

  #sessionEnded() {
    const had = this.token !== null || this.#transport.isActive;
    this.#forget();
    this.#transport.stop();
    this.#settle(new ProtocolError('stopped', 'the session ended'));
    if (had) this.#emit('session_ended', {});
  }

  // forget drops the session and its rooms, here and in storage.
  #forget() {
    this.token = null;
    this.me = null;
    this.ready = false;
    this.#lastWelcome = null;
    this.rooms.clear();
    this.#queues.clear();
    this.storage?.remove('session');
    this.storage?.remove('rooms');
  }

  // saveSoon saves within SAVE_DELAY, once for all that changed meanwhile
  // (and at once if the page is hidden or goes away): a tab that crashes
  // in between reopens the room at an earlier point of its receiving
  // ratchet, which moves forward again by itself. What a sender must never
  // lose (the sending ratchet) is saved at once.
  #saveSoon() {
    if (this.#saveTimer !== null || !this.storage) return;
    this.#saveTimer = setTimeout(() => this.#save(), SAVE_DELAY);
  }

  #save() {
    if (this.#saveTimer !== null) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = null;
    }
    if (!this.storage || !this.token) return;
    this.storage.set('session', { token: this.token, me: this.me });
    // fromEntries makes own properties, whatever the id ("__proto__" too).
    const rooms = Object.fromEntries([...this.rooms.values()].map((r) => [r.id,
      { crypto: r.crypto.save(), owner: r.owner, members: r.members, seq: r.seq, locked: r.locked }]));
    this.storage.set('rooms', rooms);
  }

  // ---------------------------------------------------------------------
  // Time.

  /** serverNow is the server's clock as best known: Unix ms. */
  serverNow() {
    return Date.now() + (this.#clockOffset ?? 0);
  }

  // noteServerTime refines the clock offset from a server timestamp that
  // was just made. Network delay only makes a sample smaller than the
  // truth, so the largest sample is the best estimate. A sample more than
  // MAX_SKEW from this browser's clock is not believed: a server (or a
  // frame forged on the way) must not move the page's clock to where
  // dates stop working.
  /** @param {unknown} ts */
  #noteServerTime(ts) {
    if (!isTime(ts)) return;
    const sample = ts - Date.now();
    if (Math.abs(sample) > MAX_SKEW) return;
    if (this.#clockOffset === null || sample > this.#clockOffset) this.#clockOffset = sample;
  }

  // ---------------------------------------------------------------------
  // Rooms.

  /**
   * @param {string} id
   * @returns {Room|undefined}
   */
  room(id) {
    return this.rooms.get(id);
  }

  /**
   * nameOf is the last nickname seen for a member id.
   * @param {string} id
   */
  nameOf(id) {
    return this.names.get(id) ?? 'Someone';
  }

  /**
   * isOwner reports whether you own the room.
   * @param {string} id
   */
  isOwner(id) {
    return !!this.me && this.rooms.get(id)?.owner === this.me.id;
  }

  /**
   * @param {RoomInfo} info
   * @param {RoomCrypto} crypto
   */
  #addRoom(info, crypto) {
    /** @type {Room} */
    const room = { id: info.room, owner: info.owner, members: info.members, seq: info.seq, locked: info.locked, crypto, attached: false };
    for (const m of room.members) this.names.set(m.id, m.nickname);
    this.rooms.set(room.id, room);
    return room;
  }

  /**
   * @param {Room} room
   * @param {RoomInfo} info
   */
  #apply(room, info) {
    room.owner = info.owner;
    room.members = info.members;
    room.locked = info.locked;
    if (info.seq > room.seq) room.seq = info.seq;
    for (const m of room.members) this.names.set(m.id, m.nickname);
    this.#membership(room, { kind: 'members' });
  }

  /** @param {Room} room */
  #removeRoom(room) {
    if (this.rooms.get(room.id) === room) this.rooms.delete(room.id);
    this.#queues.delete(room.id);
    this.#save();
  }

  /**
   * #need returns the room, or throws not_found.
   * @param {string} id
   */
  #need(id) {
    const room = this.rooms.get(id);
    if (!room) throw new ProtocolError('not_found', 'no such room in this client');
    return room;
  }

  /**
   * @param {Record<string, unknown>} msg
   */
  #request(msg) {
    return this.#transport.request(msg);
  }

  /**
   * @param {Record<string, unknown>} reply
   * @param {RoomCrypto} crypto
   */
  #seat(reply, crypto) {
    const info = roomInfo(reply);
    if (reply.type !== 'joined' || !info) throw new ProtocolError('bad_reply', 'malformed joined');
    // A new seat is a new room: a reply naming one this client is in
    // already would replace its keys and conversation.
    if (this.rooms.has(info.room)) throw new ProtocolError('bad_reply', 'joined names a room this client is in already');
    const room = this.#addRoom(info, crypto);
    this.#save();
    this.#attach(room);
    this.#membership(room, { kind: 'members' });
    return room;
  }

  /**
   * #enqueue runs fn in the room's event order.
   * @param {Room} room
   * @param {() => (void|Promise<void>)} fn
   * @returns {Promise<void>}
   */
  #enqueue(room, fn) {
    const prev = this.#queues.get(room.id) ?? Promise.resolve();
    const next = prev.then(() => (this.rooms.get(room.id) === room ? fn() : undefined));
    const settled = next.catch(() => {});
    this.#queues.set(room.id, settled);
    return next;
  }

  /**
   * #attach gives the room's crypto its channel (once, in the room's
   * order): a scheme with a handshake sends its frames through it.
   * @param {Room} room
   */
  #attach(room) {
    const c = room.crypto;
    if (room.attached || !c.attach || !this.me) return;
    room.attached = true;
    const me = this.me;
    /** @type {import('./scheme.js').Channel} */
    const ch = {
      room: room.id,
      me: me.id,
      nick: me.nickname,
      send: async (text) => {
        const r = await this.#request({ type: 'send', room: room.id, text });
        if (r.type !== 'sent' || !isSeq(r.seq)) throw new ProtocolError('bad_reply', 'malformed sent');
        if (r.seq > room.seq) room.seq = r.seq;
        return { seq: r.seq };
      },
      members: () => room.members,
      owner: () => room.owner,
      seen: () => room.seq,
      changed: () => {
        if (this.rooms.get(room.id) !== room) return;
        this.#save();
        this.#emit('epoch', { room, epoch: c.epoch });
      },
      notify: (ev) => {
        if (this.rooms.get(room.id) === room) this.#emit('verification', { room, ...ev });
      },
      deliver: (ctx, result) => {
        if (this.rooms.get(room.id) === room) this.#delivered(room, ctx.from, ctx.seq, ctx.ts, result.opened ?? null, result.error);
      },
      run: (fn) => this.#enqueue(room, fn),
    };
    this.#enqueue(room, () => c.attach?.(ch)).catch(() => {
      this.#emit('verification', { room, kind: 'attach_failed' });
    });
  }

  /**
   * create opens a room with you as its owner, under a new room key.
   * @returns {Promise<Room>}
   */
  async create() {
    const crypto = await this.scheme.create();
    return this.#seat(await this.#request({ type: 'create' }), crypto);
  }

  /**
   * parseInvite takes an invite out of a link or fragment, or returns null
   * when it is missing or damaged.
   * @param {string} text
   */
  parseInvite(text) {
    return parseInvite(text, this.scheme.isSecret);
  }

  /**
   * join redeems an invite (a link, a "#join=" fragment or an Invite). A
   * link whose key is damaged is refused with invite_damaged before
   * anything is sent.
   * @param {string|Invite} invite
   * @returns {Promise<Room>}
   */
  async join(invite) {
    const inv = typeof invite === 'string' ? this.parseInvite(invite) : invite;
    if (!inv || !this.scheme.isSecret(inv.secret)) {
      throw new ProtocolError('invite_damaged', 'the invite link is incomplete or damaged');
    }
    let crypto;
    try {
      crypto = await this.scheme.fromInvite(inv.secret, inv.token);
    } catch {
      throw new ProtocolError('invite_damaged', 'the invite link is incomplete or damaged');
    }
    const verifier = (await this.scheme.verifierOf?.(inv.secret)) || '';
    // Seated in the same task as the reply: the owner's history may follow
    // right behind it.
    return this.#seat(await this.#request({ type: 'join', token: inv.token, ...(verifier ? { verifier } : {}) }), crypto);
  }

  /**
   * checkInvite asks the server whether an invite (a link, a "#join="
   * fragment or an Invite) would seat its holder now, without spending
   * it: call it before asking for a nickname, so that a used or expired
   * link is told at once. It needs no session: with none, it opens a
   * short connection of its own. Rejects with invite_damaged (nothing was
   * sent), invite_invalid (unknown, used, expired, revoked by a kick, or
   * its room closed), rate_limited, offline or timeout. `locked` and
   * `full` say a join would be refused now (room_locked, room_full).
   * @param {string|Invite} invite
   * @returns {Promise<{expires: number, now: number, locked: boolean, full: boolean}>}
   */
  async checkInvite(invite) {
    const inv = typeof invite === 'string' ? this.parseInvite(invite) : invite;
    if (!inv || !this.scheme.isSecret(inv.secret)) {
      throw new ProtocolError('invite_damaged', 'the invite link is incomplete or damaged');
    }
    const verifier = (await this.scheme.verifierOf?.(inv.secret)) || '';
    const msg = { type: 'check_invite', token: inv.token, ...(verifier ? { verifier } : {}) };
    const r = this.#transport.isOpen ? await this.#request(msg) : await once(this.url, msg, this.#opts);
    if (r.type !== 'invite_ok' || !isTime(r.expires) || !isTime(r.now) || typeof r.locked !== 'boolean' || typeof r.full !== 'boolean') {
      throw new ProtocolError('bad_reply', 'malformed invite_ok');
    }
    this.#noteServerTime(r.now);
    return { expires: r.expires, now: r.now, locked: r.locked, full: r.full };
  }

  /**
   * invite makes a one-time invite (owner only). Its link is
   * inviteLink(pageURL, info).
   * @param {string} roomId
   * @returns {Promise<InviteInfo>}
   */
  async invite(roomId) {
    const room = this.#need(roomId);
    const prepared = room.crypto.newInvite ? await room.crypto.newInvite() : undefined;
    const r = await this.#request({ type: 'invite', room: room.id, ...(prepared ? { verifier: prepared.verifier } : {}) });
    if (r.type !== 'invite' || !isId(r.token) || !isTime(r.expires)) throw new ProtocolError('bad_reply', 'malformed invite');
    this.#noteServerTime(r.now);
    const ttl = r.expires - (isTime(r.now) ? r.now : this.serverNow());
    const ref = isId(r.invite) ? r.invite : null;
    const secret = await room.crypto.inviteSecret(r.token, prepared);
    this.#save();
    return { room: room.id, token: r.token, secret, expires: r.expires, ttl: ttl > 0 ? ttl : 1, ref };
  }

  /**
   * inviteLink is the link of an invite to the page at base.
   * @param {string} base
   * @param {InviteInfo} info
   */
  inviteLink(base, info) {
    return inviteLink(base, info);
  }

  /**
   * fits reports whether body, sealed as send seals it, fits in the
   * server's max_message: encryption makes it longer.
   * @param {string} body
   * @param {string} [roomId]
   */
  fits(body, roomId) {
    const n = utf8Length(JSON.stringify({ v: 1, body }));
    const crypto = roomId ? this.rooms.get(roomId)?.crypto : undefined;
    return (crypto ? crypto.sealedLength(n) : defaultSealedLength(n)) <= this.limits.max_message;
  }

  /**
   * send encrypts body and sends it to the room. It rejects with
   * too_large, without sending, when it would not fit.
   * @param {string} roomId
   * @param {string} body
   * @returns {Promise<{seq: number, ts: number, mid: string|null, envelope: string|null}>} mid and envelope as in MessageEvent, for your own message
   */
  async send(roomId, body) {
    const room = this.#need(roomId);
    if (!this.me) throw new ProtocolError('offline', 'not identified');
    if (!this.fits(body, roomId)) throw new ProtocolError('too_large', 'the message is too long');
    const sealed = await sealed_(room.crypto.encrypt({ v: 1, body }, { kind: 'message', room: room.id, from: this.me.id }));
    const reply = this.#request({ type: 'send', room: room.id, text: sealed.text });
    // A key used to seal is never used again, even after a reload: the
    // state is saved in the task that wrote the frame, so no reload comes
    // between them, and the frame is on its way while it is saved.
    if (sealed.mid !== null) this.#save();
    const r = await reply;
    if (r.type !== 'sent' || !isSeq(r.seq)) throw new ProtocolError('bad_reply', 'malformed sent');
    this.#noteServerTime(r.ts);
    if (r.seq > room.seq) room.seq = r.seq;
    this.#saveSoon();
    return { seq: r.seq, ts: isTime(r.ts) ? r.ts : this.serverNow(), mid: sealed.mid, envelope: sealed.envelope };
  }

  /**
   * members asks the server for the room's members and returns the room.
   * @param {string} roomId
   */
  async members(roomId) {
    const room = this.#need(roomId);
    const r = await this.#request({ type: 'members', room: room.id });
    const info = roomInfo(r);
    if (r.type !== 'members' || !info) throw new ProtocolError('bad_reply', 'malformed members');
    if (this.rooms.get(room.id) === room) {
      this.#apply(room, info);
      this.#save();
    }
    return room;
  }

  /**
   * sendHistory passes entries to the newcomer `to` (owner only):
   * encrypted batches that each fit in one history request. It returns
   * how many requests it sent; an entry too big for one request alone is
   * skipped, not the rest.
   * @param {string} roomId
   * @param {string} to
   * @param {ReadonlyArray<HistoryEntry>} entries
   */
  async sendHistory(roomId, to, entries) {
    const room = this.#need(roomId);
    if (!this.me) throw new ProtocolError('offline', 'not identified');
    const max = this.limits.max_message;
    const budget = room.crypto.plainBudget(max) - 64;
    /** @type {HistoryEntry[][]} */
    const batches = [];
    /** @type {HistoryEntry[]} */
    let batch = [];
    let size = 0;
    for (const m of entries) {
      /** @type {HistoryEntry} */
      const entry = { seq: m.seq, ts: m.ts, from: m.from, nick: m.nick, body: m.body };
      if (typeof m.envelope === 'string') entry.envelope = m.envelope;
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
    let sent = 0;
    for (const msgs of batches) {
      const data = (await sealed_(room.crypto.encrypt({ v: 1, msgs }, { kind: 'history', room: room.id, from: this.me.id, to }))).text;
      if (data.length > max) continue;
      await this.#request({ type: 'history', room: room.id, to, data });
      sent++;
    }
    return sent;
  }

  /**
   * leave leaves the room. A room the server no longer has counts as
   * left.
   * @param {string} roomId
   */
  async leave(roomId) {
    const room = this.#need(roomId);
    try {
      await this.#request({ type: 'leave', room: room.id });
    } catch (e) {
      if (!isProtocolError(e, 'not_found')) throw e;
    }
    this.#removeRoom(room);
  }

  /**
   * close closes the room for everyone (owner only); room_closed follows
   * with byMe: true.
   * @param {string} roomId
   */
  async close(roomId) {
    const room = this.#need(roomId);
    await this.#request({ type: 'close', room: room.id });
    if (this.rooms.get(room.id) !== room) return;
    this.#removeRoom(room);
    this.#emit('room_closed', { room, reason: 'owner', byMe: true });
  }

  /**
   * kick removes a member from the room (owner only): member_left with
   * reason kicked follows, and invites made before it stop working.
   * @param {string} roomId
   * @param {string} memberId
   */
  async kick(roomId, memberId) {
    const room = this.#need(roomId);
    const c = room.crypto;
    if (c.beforeKick) await this.#enqueue(room, () => c.beforeKick?.(memberId));
    await this.#request({ type: 'kick', room: room.id, member: memberId });
  }

  /**
   * lock makes the room refuse invites and joins (owner only), unlock
   * opens it again; room_locked follows for every member.
   * @param {string} roomId
   * @param {boolean} [locked]
   */
  async lock(roomId, locked = true) {
    const room = this.#need(roomId);
    await this.#request({ type: locked ? 'lock' : 'unlock', room: room.id });
    room.locked = locked;
    this.#save();
  }

  /** @param {string} roomId */
  unlock(roomId) {
    return this.lock(roomId, false);
  }

  /**
   * endSession ends the session on the server: you leave every room, the
   * token is forgotten, every tab of the session is told (session_ended)
   * and disconnected.
   */
  async endSession() {
    await this.#request({ type: 'end_session' });
    this.#sessionEnded();
  }

  // ---------------------------------------------------------------------
  // Server events.

  /** @param {Record<string, unknown>} msg */
  #event(msg) {
    if (msg.type === 'session_ended') {
      this.#sessionEnded();
      return;
    }
    if (msg.type === 'session_connected') {
      const n = msg.connections;
      if (!Number.isSafeInteger(n) || /** @type {number} */ (n) < 1) {
        this.#emit('invalid', { event: 'session_connected', reason: 'malformed connections' });
        return;
      }
      this.#emit('session_connected', { connections: /** @type {number} */ (n) });
      return;
    }
    if (typeof msg.room !== 'string') return; // unknown events are ignored
    const room = this.rooms.get(msg.room);
    if (!room) return;
    // One room's events are handled in order, decryption included.
    this.#enqueue(room, () => this.#roomEvent(room, msg)).catch(() => {
      this.#emit('invalid', { event: String(msg.type), reason: 'failed' });
    });
  }

  /**
   * @param {Room} room
   * @param {Record<string, unknown>} msg
   */
  async #roomEvent(room, msg) {
    if (this.rooms.get(room.id) !== room) return;
    /** @param {string} reason */
    const invalid = (reason) => this.#emit('invalid', { event: String(msg.type), reason });
    switch (msg.type) {
      case 'message': {
        const { from, seq, text } = msg;
        if (!isId(from) || !isSeq(seq) || typeof text !== 'string') return invalid('malformed message');
        this.#noteServerTime(msg.ts);
        const ts = isTime(msg.ts) ? msg.ts : this.serverNow();
        /** @type {import('./scheme.js').Opened|null} */
        let opened = null;
        /** @type {unknown} */
        let error = null;
        try {
          opened = await room.crypto.decrypt(text, { kind: 'message', room: room.id, from, seq, ts });
        } catch (e) {
          error = e;
        }
        // Only a frame that opened moves the room's seq: one that did not
        // may be anyone's junk, and the seq is what this member tells the
        // others it has seen.
        if (opened && seq > room.seq) room.seq = seq;
        this.#delivered(room, from, seq, ts, opened, error);
        return;
      }
      case 'history': {
        const { from, data } = msg;
        if (!isId(from) || typeof data !== 'string') return invalid('malformed history');
        if (!this.me) return;
        /** @type {import('./scheme.js').Opened|null} */
        let opened = null;
        /** @type {unknown} */
        let error = null;
        try {
          opened = await room.crypto.decrypt(data, { kind: 'history', room: room.id, from, to: this.me.id });
        } catch (e) {
          error = e;
        }
        this.#delivered(room, from, 0, 0, opened, error, 'history');
        return;
      }
      case 'member_joined': {
        const m = member(msg.member);
        if (!m) return invalid('malformed member');
        const i = room.members.findIndex((x) => x.id === m.id);
        if (i < 0 && room.members.length >= Math.min(this.limits.max_members, MAX_MEMBERS)) return invalid('more members than a room has seats');
        this.names.set(m.id, m.nickname);
        if (i < 0) room.members.push(m);
        else room.members[i] = m;
        this.#save();
        await this.#membership(room, { kind: 'joined', member: m.id });
        this.#emit('member_joined', { room, member: m, invite: isId(msg.invite) ? msg.invite : null });
        return;
      }
      case 'member_left': {
        const id = msg.member;
        if (!isId(id)) return invalid('malformed member');
        const reason = typeof msg.reason === 'string' && MEMBER_REASONS.has(msg.reason) ? msg.reason : 'left';
        room.members = room.members.filter((x) => x.id !== id);
        this.#save();
        await this.#membership(room, { kind: 'left', member: id, reason });
        this.#emit('member_left', { room, member: id, nickname: this.nameOf(id), reason });
        return;
      }
      case 'owner_changed': {
        if (!isId(msg.owner)) return invalid('malformed owner');
        const previous = room.owner;
        room.owner = msg.owner;
        this.#save();
        await this.#membership(room, { kind: 'owner_changed', member: msg.owner });
        this.#emit('owner_changed', { room, owner: msg.owner, previous });
        return;
      }
      case 'room_closed': {
        const reason = typeof msg.reason === 'string' ? msg.reason.slice(0, 32) : 'unknown';
        this.#removeRoom(room);
        this.#emit('room_closed', { room, reason, byMe: false });
        return;
      }
      case 'room_left': {
        const reason = typeof msg.reason === 'string' ? msg.reason.slice(0, 32) : 'unknown';
        this.#removeRoom(room);
        this.#emit('room_left', { room, reason });
        return;
      }
      case 'room_locked': {
        if (typeof msg.locked !== 'boolean') return invalid('malformed room_locked');
        room.locked = msg.locked;
        this.#save();
        this.#emit('room_locked', { room, locked: msg.locked });
        return;
      }
      default:
        // Unknown events are ignored, as unknown fields are.
    }
  }

  /**
   * #delivered emits what a message or history payload opened to (or why
   * it did not). A handshake frame (opened.control) shows nothing.
   * @param {Room} room
   * @param {string} from
   * @param {number} seq
   * @param {number} ts
   * @param {import('./scheme.js').Opened|null} opened
   * @param {unknown} error
   * @param {'message'|'history'} [kind]
   */
  #delivered(room, from, seq, ts, opened, error, kind = 'message') {
    const nickname = this.nameOf(from);
    if (opened?.control) {
      this.#save();
      return;
    }
    const code = /** @type {{code?: unknown}} */ (error)?.code;
    if (!opened) {
      const reason = typeof code === 'string' ? code : 'undecryptable';
      const ev = kind === 'history' ? { room, from, nickname, kind, reason } : { room, from, nickname, kind, seq, reason };
      this.#emit(REFUSED.has(reason) ? 'refused' : 'undecryptable', ev);
      return;
    }
    this.#saveSoon();
    if (kind === 'history') {
      const msgs = /** @type {{msgs?: unknown}} */ (opened.value)?.msgs;
      if (!Array.isArray(msgs)) {
        this.#emit('undecryptable', { room, from, nickname, kind, reason: 'malformed' });
        return;
      }
      /** @type {HistoryEntry[]} */
      const entries = [];
      let dropped = opened.dropped ?? 0;
      for (const x of msgs) {
        const e = historyEntry(x);
        if (!e) {
          dropped++;
          continue;
        }
        if (!opened.verified) {
          // What a scheme that checks no author says of an entry
          // (verified, its signed id and envelope) is whatever the member
          // who sent it wrote: not the library's to repeat.
          delete e.verified;
          delete e.mid;
          delete e.envelope;
        }
        entries.push(e);
      }
      this.#emit('history', { room, from, entries, dropped, omitted: opened.omitted ?? 0, verified: !!opened.verified });
      return;
    }
    const body = /** @type {{body?: unknown}|null} */ (opened.value)?.body;
    if (typeof body !== 'string') {
      this.#emit('undecryptable', { room, from, nickname, kind, seq, reason: 'malformed' });
      return;
    }
    const placement = opened.placement ?? 'ok';
    this.#emit('message', {
      room, from, seq, ts, body, verified: !!opened.verified,
      nickname: opened.verified && typeof opened.nickname === 'string' ? opened.nickname : nickname,
      placement: placement === 'replay' ? 'ok' : placement, missing: opened.missing ?? 0,
      mid: opened.mid ?? null, envelope: opened.envelope ?? null, sentAt: opened.sentAt ?? null,
    });
  }

  /**
   * verification is what this client can check of a room's members:
   * whether it holds the room's keys, the safety code, and each member the
   * server seats with what the scheme knows of them: `verified` (in the
   * roster, under the nickname the server gives), `renamed` (in the
   * roster, whose key names another nickname: keyNickname), `not_admitted`
   * (seated, but holds no keys: cannot read or send), or `unknown` (the
   * scheme has no roster: aes-gcm-v1). `leaving` lists members who hold
   * the keys but whom the server no longer seats (their Remove is on its
   * way).
   * @param {string} roomId
   */
  async verification(roomId) {
    const room = this.#need(roomId);
    const c = room.crypto;
    const roster = c.roster ? c.roster() : null;
    const byId = new Map((roster ?? []).map((x) => [x.id, x]));
    const seated = new Set(room.members.map((m) => m.id));
    return {
      scheme: c.scheme,
      admitted: roster ? roster.length > 0 : true,
      epoch: c.epoch,
      safetyCode: await c.safetyCode(),
      members: room.members.map((m) => {
        const r = byId.get(m.id);
        /** @type {'verified'|'renamed'|'not_admitted'|'unknown'} */
        let status = 'unknown';
        if (roster) status = !r ? 'not_admitted' : r.nick === m.nickname ? 'verified' : 'renamed';
        return { id: m.id, nickname: m.nickname, status, keyNickname: r?.nick ?? null, key: r?.publicKey ?? null };
      }),
      leaving: (roster ?? []).filter((x) => !seated.has(x.id)).map((x) => ({ id: x.id, nickname: x.nick })),
    };
  }

  /**
   * membership tells the room's crypto what changed, and emits epoch when
   * its keys did.
   * @param {Room} room
   * @param {{kind: import('./scheme.js').MembershipChange['kind'], member?: string, reason?: string}} change
   */
  async #membership(room, change) {
    const hook = room.crypto.membershipChanged;
    if (!hook || !this.me) return;
    const before = room.crypto.epoch;
    try {
      await hook.call(room.crypto, { ...change, room: room.id, members: room.members, owner: room.owner, me: this.me.id });
    } catch {
      return;
    }
    if (room.crypto.epoch !== before) this.#emit('epoch', { room, epoch: room.crypto.epoch });
  }
}

// SAVE_DELAY is how long saveSoon waits. Each save writes the whole state
// of every room (with MLS, a few kilobytes a member): a receiver saving
// 100 ms after every message, as it once did, wrote up to ten times a
// second in a busy room, and those writes (about 1 ms of the page's time
// in a room of ten, and sessionStorage's copy to the browser process)
// could fall on the next message; once a second costs a tenth of that
// (client/README.md, the figures).
const SAVE_DELAY = 1000;

/**
 * webStorage adapts a Web Storage (sessionStorage: per tab, survives
 * reloads) to Storage, under a prefix. A full or disabled storage only
 * means that a reload forgets.
 * @param {globalThis.Storage} store
 * @param {string} [prefix]
 * @returns {Storage}
 */
export function webStorage(store, prefix = 'epchat.') {
  return {
    get(name) {
      try {
        const v = store.getItem(prefix + name);
        return v === null ? null : JSON.parse(v);
      } catch {
        return null;
      }
    },
    set(name, value) {
      try {
        store.setItem(prefix + name, JSON.stringify(value));
      } catch {
        // Full or disabled. An older value must not outlive a failed
        // write: a reload would restore keys that were used since.
        try {
          store.removeItem(prefix + name);
        } catch {
          // Disabled: nothing is kept anyway.
        }
      }
    },
    remove(name) {
      try {
        store.removeItem(prefix + name);
      } catch {
        // As above.
      }
    },
  };
}

export { hasInvite };
