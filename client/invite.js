// Invite links: the one-time token and the room's secret, in the URL
// fragment, which browsers never send to a server, and when the token
// expires (server time, Unix ms; not secret), so that a page can refuse
// a dead link before asking anything.
//
//   https://chat.example/#join=<token>.<secret>&exp=<expires>

const PREFIX = '#join=';

/**
 * @typedef {object} Invite
 * @property {string} token the one-time invite token the server made
 * @property {string} secret what the room's scheme needs to join (for aes-gcm-v1, the room key)
 * @property {number} [expires] when the token expires, server time in Unix ms, if the link tells
 */

/**
 * parseInvite takes an invite out of a link, or a bare fragment
 * ("#join=..."). It returns null when there is none, or when it is
 * incomplete or damaged: isSecret tells a well-formed secret (the room
 * scheme's isSecret).
 * @param {string} text
 * @param {(secret: string) => boolean} isSecret
 * @returns {Invite|null}
 */
export function parseInvite(text, isSecret) {
  if (typeof text !== 'string') return null;
  const i = text.indexOf(PREFIX);
  if (i < 0) return null;
  const [value, ...params] = text.slice(i + PREFIX.length).trim().split('&');
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return null;
  const token = value.slice(0, dot);
  const secret = value.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token) || !isSecret(secret)) return null;
  /** @type {Invite} */
  const inv = { token, secret };
  for (const p of params) {
    const m = /^exp=(\d{1,16})$/.exec(p);
    if (m && Number.isSafeInteger(Number(m[1]))) inv.expires = Number(m[1]);
  }
  return inv;
}

/**
 * hasInvite reports whether text holds an invite fragment at all, well
 * formed or not.
 * @param {string} text
 */
export function hasInvite(text) {
  return typeof text === 'string' && text.includes(PREFIX);
}

/**
 * inviteLink makes the link of an invite to the page at base (its own
 * fragment, if any, is replaced).
 * @param {string} base
 * @param {Invite} inv
 */
export function inviteLink(base, inv) {
  const u = new URL(base);
  u.hash = '';
  const exp = Number.isSafeInteger(inv.expires) ? `&exp=${inv.expires}` : '';
  return `${u.href}${PREFIX}${inv.token}.${inv.secret}${exp}`;
}
