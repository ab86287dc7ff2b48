// The room scheme: everything end to end about one room sits behind the
// RoomCrypto interface below, so that another scheme (signatures,
// identities, key rotation, MLS) replaces this one without touching the
// transport or the client. The client calls only these hooks.
//
// aesGcmScheme is today's scheme, "aes-gcm-v1": one AES-GCM 256 key per
// room, made by the owner's browser, travelling only in invite links; each
// payload bound to its room, sender and purpose by the additional data. It
// authenticates "a member holding the key", not which member: messages it
// opens come out with verified: false.

import {
  exportKey, historyAD, importKey, isKeyText, messageAD, newRoomKey, open,
  plainBudget, safetyCode, seal, sealedLength,
} from './crypto.js';

/**
 * SealContext says what a payload is, for the additional data (or
 * signature) that binds it.
 * @typedef {object} SealContext
 * @property {'message'|'history'} kind
 * @property {string} room the room id
 * @property {string} from the sender's member id
 * @property {string} [to] history: the newcomer's member id
 * @property {number} [seq] decrypt of a message: the seq the server gave it
 * @property {number} [ts] decrypt of a message: the server's time for it
 */

/**
 * Opened is what decrypt returns: the plaintext value and whether the
 * scheme authenticated the sender as the member in ctx.from (more than
 * "someone with the room key").
 * A scheme that signs messages tells more (all optional): the nickname
 * the author's key is bound to, where the message stands among its
 * author's (placement, missing), its id (mid), the signed text that passes
 * it on in history (envelope), the author's clock (sentAt); for history,
 * entries dropped and messages omitted. A handshake frame the scheme
 * handled itself opens to {control: true}: nothing to show.
 * @typedef {object} Opened
 * @property {unknown} [value]
 * @property {boolean} [verified]
 * @property {boolean} [control]
 * @property {string} [nickname]
 * @property {'ok'|'gap'|'late'|'replay'|'reordered'} [placement]
 * @property {number} [missing]
 * @property {string} [mid]
 * @property {string} [envelope]
 * @property {number} [sentAt]
 * @property {number} [dropped]
 * @property {number} [omitted]
 */

/**
 * Channel is what the client gives a seated room's crypto (attach): who
 * this member is, a way to send handshake frames as room messages (their
 * seq orders them like any message), and to tell the client what changed.
 * Everything the client calls runs in the room's event order; run queues a
 * function there.
 * @typedef {object} Channel
 * @property {string} room
 * @property {string} me
 * @property {string} nick
 * @property {(text: string) => Promise<{seq: number}>} send
 * @property {() => ReadonlyArray<{id: string, nickname: string}>} members the members the server seats, in join order
 * @property {() => string} owner the owner's member id, as the server says
 * @property {() => number} seen the highest seq this client knows of
 * @property {() => void} changed the keys or the roster changed: the client saves and emits epoch
 * @property {(ev: {kind: string, member?: string, detail?: string}) => void} notify emitted as verification
 * @property {(ctx: {from: string, seq: number, ts: number}, result: {opened?: Opened, error?: unknown}) => void} deliver a message held back (until the keys came), now opened
 * @property {(fn: () => (void|Promise<void>)) => Promise<void>} run
 */

/**
 * MembershipChange is told to a room's crypto when the members change, so
 * that a scheme with epochs can rotate (on leave and kick) or admit (on
 * join). It may change its epoch; the client then emits `epoch`.
 * @typedef {object} MembershipChange
 * @property {'joined'|'left'|'owner_changed'|'members'} kind
 * @property {string} room
 * @property {string} [member] the member id concerned
 * @property {string} [reason] for left: left, disconnected or kicked
 * @property {ReadonlyArray<{id: string, nickname: string}>} members the members after the change
 * @property {string} owner
 * @property {string} me your member id
 */

/**
 * RoomCrypto is one room's end-to-end state. Methods may throw (or
 * reject): the client turns a failed decrypt into an `undecryptable` event
 * and never lets it escape.
 * @typedef {object} RoomCrypto
 * @property {string} scheme the scheme's name
 * @property {number} epoch changes when the keys do (aes-gcm-v1: always 0)
 * @property {(value: unknown, ctx: SealContext) => Promise<string|{text: string, envelope?: string, mid?: string}>} encrypt rejects with an error whose code the client passes on (e.g. rotating)
 * @property {(text: string, ctx: SealContext) => Promise<Opened>} decrypt
 * @property {(plainBytes: number) => number} sealedLength wire length of a payload of n bytes of JSON
 * @property {(max: number) => number} plainBudget the largest JSON, in bytes, whose payload fits in max
 * @property {() => Promise<string>} safetyCode what members compare out of band
 * @property {(token: string, prepared?: PreparedInvite) => (string|Promise<string>)} inviteSecret what goes in the invite link of token, after it (with what newInvite prepared, if the scheme has it)
 * @property {() => Promise<PreparedInvite>} [newInvite] called before an invite is asked for: its verifier goes with the request, so that the server seats only a link with the right secret
 * @property {(change: MembershipChange) => (void|Promise<void>)} [membershipChanged]
 * @property {(ch: Channel) => (void|Promise<void>)} [attach] called once the room is seated (and after a reload, once identified)
 * @property {(member: string) => Promise<void>} [beforeKick] called before a kick is sent: rotate away from member first
 * @property {() => ReadonlyArray<{id: string, nick: string, publicKey: string}>} [roster] the members whose keys this member can verify
 * @property {(() => (string|null))} [identity] this member's public identity key, when the scheme has one
 * @property {() => unknown} save JSON-able state to restore the room after a reload
 */

/**
 * CryptoScheme makes a RoomCrypto: for a room this client creates, from
 * an invite's secret, or from what save returned.
 * @typedef {object} CryptoScheme
 * @property {string} name
 * @property {() => Promise<RoomCrypto>} create
 * @property {(secret: string, token: string) => Promise<RoomCrypto>} fromInvite rejects on a damaged secret (or one that does not match token)
 * @property {(saved: unknown) => Promise<RoomCrypto>} restore
 * @property {(secret: string) => boolean} isSecret whether text is a well-formed secret
 * @property {(secret: string) => Promise<string>} [verifierOf] the verifier a join or check of a link with this secret carries (see newInvite); "" for none
 */

/**
 * PreparedInvite is an invite's secret made before the server's token, and
 * the verifier the server keeps of it (PROTOCOL.md, invite): derived from
 * the secret, it tells the server nothing of it.
 * @typedef {object} PreparedInvite
 * @property {string} secret
 * @property {string} verifier
 */

/**
 * @param {CryptoKey} key
 * @param {string} keyText
 * @returns {RoomCrypto}
 */
function aesGcmRoom(key, keyText) {
  /** @type {Promise<string>|null} */
  let code = null;
  /** @param {SealContext} ctx */
  const ad = (ctx) => (ctx.kind === 'history'
    ? historyAD(ctx.room, ctx.from, ctx.to ?? '')
    : messageAD(ctx.room, ctx.from));
  return {
    scheme: 'aes-gcm-v1',
    epoch: 0,
    encrypt: (value, ctx) => seal(key, ad(ctx), value),
    decrypt: async (text, ctx) => ({ value: await open(key, ad(ctx), text), verified: false }),
    sealedLength,
    plainBudget,
    safetyCode: () => (code ??= safetyCode(keyText)),
    inviteSecret: () => keyText,
    identity: () => null,
    save: () => ({ key: keyText }),
  };
}

/** @type {CryptoScheme} */
export const aesGcmScheme = {
  name: 'aes-gcm-v1',
  async create() {
    const key = await newRoomKey();
    const keyText = await exportKey(key);
    // The page keeps the text, so the CryptoKey it uses need not be
    // extractable.
    return aesGcmRoom(await importKey(keyText), keyText);
  },
  async fromInvite(secret) {
    return aesGcmRoom(await importKey(secret), secret);
  },
  async restore(saved) {
    const keyText = /** @type {{key?: unknown}} */ (saved)?.key;
    if (typeof keyText !== 'string') throw new Error('no key');
    return aesGcmRoom(await importKey(keyText), keyText);
  },
  isSecret: isKeyText,
};
