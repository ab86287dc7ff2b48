// Invite links: the one-time token and the room's secret, in the URL
// fragment, which browsers never send to a server.
//
//   https://chat.example/#join=<token>.<secret>

const PREFIX = '#join=';

/**
 * @typedef {object} Invite
 * @property {string} token the one-time invite token the server made
 * @property {string} secret what the room's scheme needs to join (for aes-gcm-v1, the room key)
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
  const value = text.slice(i + PREFIX.length).trim();
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return null;
  const token = value.slice(0, dot);
  const secret = value.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token) || !isSecret(secret)) return null;
  return { token, secret };
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
  return `${u.href}${PREFIX}${inv.token}.${inv.secret}`;
}
