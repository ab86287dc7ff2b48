// Errors of the epchat client.

/**
 * ProtocolError is how every request of the client fails: `code` is the
 * server's error code (PROTOCOL.md, "Errors and close codes") or one of the
 * client's own:
 *
 * - `offline`: no connection, or it dropped before the reply came;
 * - `timeout`: no reply within the request timeout;
 * - `stopped`: the client was stopped (disconnect, session ended);
 * - `invite_damaged`: an invite link that is incomplete or whose key is
 *   not one (nothing was sent);
 * - `not_found`: a request for a room this client does not hold;
 * - `bad_reply`: the server's reply was malformed;
 * - `too_large`: the text, sealed, would not fit in the server's limit
 *   (nothing was sent).
 */
export class ProtocolError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   */
  constructor(code, message) {
    super(message || code);
    this.name = 'ProtocolError';
    /** @type {string} */
    this.code = code;
  }
}

/**
 * isProtocolError reports whether e is a ProtocolError, with code when
 * given.
 * @param {unknown} e
 * @param {string} [code]
 * @returns {e is ProtocolError}
 */
export function isProtocolError(e, code) {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
