// The primitives of the "aes-gcm-v1" room scheme (scheme.js), with the Web
// Crypto API only. They moved here unchanged from the demo page.
//
// Each room has one AES-GCM 256 key, made by the owner's browser. It leaves
// the browser only inside invite links, in the URL fragment, which browsers
// never send to a server. A sealed payload is base64url(iv || ciphertext):
// a fresh random 96-bit IV per payload, and additional data that binds it
// to its room, its sender and its purpose, so that the server cannot replay
// a ciphertext into another room, under another sender, or as history.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

// hasCrypto reports whether the browser offers crypto.subtle, which it does
// only in a secure context (HTTPS, or localhost).
export function hasCrypto() {
  return globalThis.isSecureContext === true && !!globalThis.crypto?.subtle;
}

// nativeBase64: Uint8Array.prototype.toBase64 and Uint8Array.fromBase64
// (Chromium 140 on), several times faster than the fallback below, which
// older browsers take.
const nativeBase64 =
  typeof (/** @type {any} */ (Uint8Array.prototype).toBase64) === 'function' &&
  typeof (/** @type {any} */ (Uint8Array).fromBase64) === 'function';

/**
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function b64urlEncode(bytes) {
  if (nativeBase64) return /** @type {any} */ (bytes).toBase64({ alphabet: 'base64url', omitPadding: true });
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * @param {unknown} text
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function b64urlDecode(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new Error('not base64url');
  }
  if (nativeBase64) return /** @type {any} */ (Uint8Array).fromBase64(text, { alphabet: 'base64url', lastChunkHandling: 'loose' });
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// newRoomKey makes a room key. It is extractable: it must go in links.
/** @returns {Promise<CryptoKey>} */
export function newRoomKey() {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
}

// exportKey returns the raw key in base64url, as it goes in invite links.
/**
 * @param {CryptoKey} key
 * @returns {Promise<string>}
 */
export async function exportKey(key) {
  return b64urlEncode(new Uint8Array(await crypto.subtle.exportKey('raw', key)));
}

// isKeyText reports whether text looks like an exported room key.
/**
 * @param {unknown} text
 * @returns {boolean}
 */
export function isKeyText(text) {
  try {
    return b64urlDecode(text).length === KEY_BYTES;
  } catch {
    return false;
  }
}

// importKey turns the base64url text of a room key into a CryptoKey. The
// page keeps the text itself (to restore the room after a reload), so the
// CryptoKey need not be extractable.
/**
 * @param {string} text
 * @returns {Promise<CryptoKey>}
 */
export function importKey(text) {
  const raw = b64urlDecode(text);
  if (raw.length !== KEY_BYTES) throw new Error('a room key is 32 bytes');
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

// Additional data for each kind of payload. The sender's member id is the
// one the server states in `from`, so a member cannot pass off a message as
// someone else's, and the server cannot either.
/**
 * @param {string} room
 * @param {string} from
 */
export function messageAD(room, from) {
  return `epchat/v1 message ${room} ${from}`;
}

/**
 * @param {string} room
 * @param {string} from
 * @param {string} to
 */
export function historyAD(room, from, to) {
  return `epchat/v1 history ${room} ${from} ${to}`;
}

// sealedLength is the length of the wire text that seal makes from a
// plaintext of n UTF-8 bytes.
/** @param {number} n */
export function sealedLength(n) {
  return Math.ceil(((IV_BYTES + n + TAG_BYTES) * 4) / 3);
}

// plainBudget is the largest plaintext, in UTF-8 bytes, whose sealed text
// fits in max bytes.
/** @param {number} max */
export function plainBudget(max) {
  return Math.floor((max * 3) / 4) - IV_BYTES - TAG_BYTES;
}

/** @param {string} text */
export function utf8Length(text) {
  return encoder.encode(text).length;
}

// seal encrypts the JSON of value under key with additional data ad.
/**
 * @param {CryptoKey} key
 * @param {string} ad
 * @param {unknown} value
 * @returns {Promise<string>}
 */
export async function seal(key, ad, value) {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plain = encoder.encode(JSON.stringify(value));
  const ct = new Uint8Array(await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(ad), tagLength: TAG_BYTES * 8 },
    key,
    plain,
  ));
  const out = new Uint8Array(IV_BYTES + ct.length);
  out.set(iv);
  out.set(ct, IV_BYTES);
  return b64urlEncode(out);
}

// open decrypts what seal made. It throws if the key or the additional data
// differ, or if a single bit was changed.
/**
 * @param {CryptoKey} key
 * @param {string} ad
 * @param {string} text
 * @returns {Promise<unknown>}
 */
export async function open(key, ad, text) {
  const buf = b64urlDecode(text);
  if (buf.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: buf.subarray(0, IV_BYTES), additionalData: encoder.encode(ad), tagLength: TAG_BYTES * 8 },
    key,
    buf.subarray(IV_BYTES),
  );
  return JSON.parse(decoder.decode(plain));
}

// safetyCode derives from the key text five groups of four digits that
// every member of the room sees alike, to compare out of band. It hashes
// the raw key under a label of its own, so the code says nothing usable
// about the key.
/**
 * @param {string} keyText
 * @returns {Promise<string>}
 */
export async function safetyCode(keyText) {
  const raw = b64urlDecode(keyText);
  const label = encoder.encode('epchat safety code v1\n');
  const input = new Uint8Array(label.length + raw.length);
  input.set(label);
  input.set(raw, label.length);
  const digest = new DataView(await crypto.subtle.digest('SHA-256', input));
  const groups = [];
  for (let i = 0; i < 5; i++) {
    groups.push(String(digest.getUint32(i * 4) % 10000).padStart(4, '0'));
  }
  return groups.join(' ');
}

// randomId returns n random bytes in base64url.
/** @param {number} [n] */
export function randomId(n = 9) {
  return b64urlEncode(crypto.getRandomValues(new Uint8Array(n)));
}
