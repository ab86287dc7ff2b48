// The transport: one WebSocket at a time that speaks the epchat framing.
// Requests get a promise of their one reply (matched by id); every other
// frame is an event. After a drop it reconnects by itself, with exponential
// backoff and jitter, until stop. It knows nothing of rooms or crypto.

import { ProtocolError } from './errors.js';

/**
 * @typedef {object} Backoff
 * @property {number} [first] the longest wait before the first retry, in ms (500)
 * @property {number} [max] the longest wait of any retry, in ms (15000)
 */

/**
 * @typedef {object} TransportStatus
 * @property {'connecting'|'open'|'waiting'|'stopped'} state
 * @property {number} [attempt] how many retries came before this one
 * @property {number} [delay] for waiting: the wait, in ms
 * @property {number} [at] for waiting: when the next try starts (Date.now() time)
 */

/**
 * @typedef {object} TransportHandlers
 * @property {() => void} onOpen
 * @property {(msg: Record<string, unknown>) => void} onEvent
 * @property {(msg: Record<string, unknown>) => void} [onInvalid] a frame that is not a JSON object with a type
 * @property {(e: {code: number, reason: string, wasOpen: boolean}) => void} onClose
 * @property {(s: TransportStatus) => void} onStatus
 */

/**
 * @typedef {object} TransportOptions
 * @property {Backoff} [backoff]
 * @property {number} [requestTimeout] ms to wait for a reply (15000)
 * @property {() => number} [random] a number in [0, 1), for the jitter (Math.random)
 * @property {typeof WebSocket} [WebSocket] the WebSocket constructor (globalThis.WebSocket)
 */

export const REQUEST_TIMEOUT = 15000;
export const BACKOFF_FIRST = 500;
export const BACKOFF_MAX = 15000;

/**
 * backoffDelay is the wait before retry number attempt (0 for the first):
 * "equal jitter", a random time between half and all of
 * min(max, first * 2^attempt), so that clients dropped together do not
 * come back together.
 * @param {number} attempt
 * @param {number} first
 * @param {number} max
 * @param {number} random a number in [0, 1)
 */
export function backoffDelay(attempt, first, max, random) {
  const ceiling = Math.min(max, first * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random * ceiling) / 2);
}

/**
 * @typedef {object} Pending
 * @property {(msg: Record<string, unknown>) => void} resolve
 * @property {(e: Error) => void} reject
 * @property {ReturnType<typeof setTimeout>} timer
 */

export class Transport {
  /**
   * @param {string} url
   * @param {TransportHandlers} handlers
   * @param {TransportOptions} [opts]
   */
  constructor(url, handlers, opts = {}) {
    this.url = url;
    this.h = handlers;
    this.first = opts.backoff?.first ?? BACKOFF_FIRST;
    this.max = opts.backoff?.max ?? BACKOFF_MAX;
    this.timeout = opts.requestTimeout ?? REQUEST_TIMEOUT;
    this.random = opts.random ?? Math.random;
    this.WS = opts.WebSocket ?? globalThis.WebSocket;
    /** @type {WebSocket|null} */
    this.ws = null;
    this.stopped = true;
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.timer = undefined;
    this.nextId = 0;
    /** @type {Map<string, Pending>} */
    this.pending = new Map();
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === this.WS.OPEN;
  }

  get isActive() {
    return !this.stopped;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  /** @param {number} [code] */
  stop(code = 1000) {
    if (this.stopped && !this.ws) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    this.failPending('stopped');
    if (ws) {
      try {
        ws.close(code);
      } catch {
        ws.close();
      }
    }
    this.h.onStatus({ state: 'stopped' });
  }

  // healthy resets the backoff: call it once the server accepted the
  // connection (welcome), not merely opened it.
  healthy() {
    this.attempt = 0;
  }

  // retryNow skips the rest of a backoff wait, for example when the
  // browser says the network is back.
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.connect();
  }

  // restart closes the current connection as a failed one: the backoff
  // brings a new one.
  restart() {
    this.ws?.close(1000);
  }

  connect() {
    this.h.onStatus({ state: 'connecting', attempt: this.attempt });
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new this.WS(this.url);
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    let wasOpen = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      wasOpen = true;
      this.h.onStatus({ state: 'open' });
      this.h.onOpen();
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      this.receive(e.data);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending('offline');
      this.h.onClose({ code: e.code, reason: e.reason, wasOpen });
      if (!this.stopped) this.schedule();
    };
  }

  schedule() {
    const delay = backoffDelay(this.attempt, this.first, this.max, this.random());
    this.attempt++;
    this.h.onStatus({ state: 'waiting', attempt: this.attempt, delay, at: Date.now() + delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped && !this.ws) this.connect();
    }, delay);
  }

  /** @param {unknown} data */
  receive(data) {
    const m = decodeFrame(data);
    if (typeof m === 'string') {
      this.h.onInvalid?.({ type: m });
      return;
    }
    const p = typeof m.id === 'string' ? this.pending.get(m.id) : undefined;
    if (p) {
      this.pending.delete(/** @type {string} */ (m.id));
      clearTimeout(p.timer);
      if (m.type === 'error') p.reject(replyError(m));
      else p.resolve(m);
      return;
    }
    this.h.onEvent(m);
  }

  /** @param {string} code */
  failPending(code) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ProtocolError(code, code === 'stopped' ? 'the client was stopped' : 'not connected'));
    }
    this.pending.clear();
  }

  /**
   * request sends msg with a fresh id and resolves with its reply, or
   * rejects with a ProtocolError: the server's error code, or offline when
   * there is no connection or it dropped before the reply.
   * @param {Record<string, unknown>} msg
   * @returns {Promise<Record<string, unknown>>}
   */
  request(msg) {
    const ws = this.ws;
    if (!ws || !this.isOpen) return Promise.reject(new ProtocolError(this.stopped ? 'stopped' : 'offline', 'not connected'));
    const id = String(++this.nextId);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ProtocolError('timeout', 'no reply'));
      }, this.timeout);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...msg, id }));
    });
  }
}

/**
 * decodeFrame reads a frame from the server: an object with a string type,
 * or why it is none ('not_json', 'no_type').
 * @param {unknown} data
 * @returns {Record<string, unknown>|'not_json'|'no_type'}
 */
function decodeFrame(data) {
  /** @type {unknown} */
  let msg;
  try {
    msg = typeof data === 'string' ? JSON.parse(data) : null;
  } catch {
    msg = null;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return 'not_json';
  const m = /** @type {Record<string, unknown>} */ (msg);
  return typeof m.type === 'string' ? m : 'no_type';
}

/**
 * replyError is the ProtocolError an error reply carries.
 * @param {Record<string, unknown>} m
 */
function replyError(m) {
  const code = typeof m.code === 'string' && m.code !== '' ? m.code : 'bad_reply';
  return new ProtocolError(code, typeof m.message === 'string' ? m.message : code);
}

/**
 * once opens a WebSocket of its own to url, sends msg as the only request
 * on it, and closes it when the reply comes: for a request that needs no
 * session, such as check_invite before the page picks a nickname. Like
 * Transport.request it resolves with the reply, or rejects with a
 * ProtocolError: the server's code, `offline` if the connection failed or
 * closed first, `timeout`.
 * @param {string} url
 * @param {Record<string, unknown>} msg
 * @param {TransportOptions} [opts]
 * @returns {Promise<Record<string, unknown>>}
 */
export function once(url, msg, opts = {}) {
  const WS = opts.WebSocket ?? globalThis.WebSocket;
  return new Promise((resolve, reject) => {
    /** @type {WebSocket} */
    let ws;
    try {
      ws = new WS(url);
    } catch {
      reject(new ProtocolError('offline', 'could not connect'));
      return;
    }
    let done = false;
    /** @param {() => void} settle */
    const finish = (settle) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      settle();
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WS.CONNECTING || ws.readyState === WS.OPEN) ws.close(1000);
    };
    const timer = setTimeout(() => finish(() => reject(new ProtocolError('timeout', 'no reply'))), opts.requestTimeout ?? REQUEST_TIMEOUT);
    ws.onopen = () => ws.send(JSON.stringify({ ...msg, id: '1' }));
    ws.onmessage = (e) => {
      const r = decodeFrame(e.data);
      if (typeof r === 'string' || r.id !== '1') return; // not the reply
      if (r.type === 'error') finish(() => reject(replyError(r)));
      else finish(() => resolve(r));
    };
    ws.onclose = () => finish(() => reject(new ProtocolError('offline', 'not connected')));
  });
}
