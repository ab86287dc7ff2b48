// The epchat browser client library. See README.md.

export { Client, DEFAULT_LIMITS, webStorage } from './client.js';
export { ProtocolError, isProtocolError } from './errors.js';
export { hasInvite, inviteLink, parseInvite } from './invite.js';
export { aesGcmScheme } from './scheme.js';
export { EnvelopeError, SenderTracker, newIdentity, openEnvelope, restoreIdentity, signEnvelope } from './signed.js';
export { Transport, backoffDelay } from './transport.js';
export { hasCrypto } from './crypto.js';
export { SAFETY_WORDS, safetyWords } from './words.js';
