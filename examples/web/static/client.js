// A WebSocket connection that speaks the epchat protocol: requests with an
// id get a promise of their one reply; everything else is an event. After a
// drop it reconnects by itself, with exponential backoff and jitter, until
// stop is called.

export class ProtocolError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

const REQUEST_TIMEOUT = 15000;
const BACKOFF_FIRST = 500;
const BACKOFF_MAX = 15000;

export class Connection {
  // handlers: onOpen(), onEvent(msg), onClose({code, reason, wasOpen}),
  // onStatus({state, at}) where state is connecting, open, waiting or stopped.
  constructor(url, handlers) {
    this.url = url;
    this.h = handlers;
    this.ws = null;
    this.stopped = true;
    this.attempt = 0;
    this.timer = 0;
    this.nextId = 0;
    this.pending = new Map();
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
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

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    this.failPending();
    if (ws) ws.close(1000);
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

  connect() {
    this.h.onStatus({ state: 'connecting' });
    let ws;
    try {
      ws = new WebSocket(this.url);
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
      this.failPending();
      this.h.onClose({ code: e.code, reason: e.reason, wasOpen });
      if (!this.stopped) this.schedule();
    };
  }

  schedule() {
    const ceiling = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.attempt++;
    this.h.onStatus({ state: 'waiting', at: Date.now() + delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped && !this.ws) this.connect();
    }, delay);
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    if (typeof msg.id === 'string' && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.type === 'error') p.reject(new ProtocolError(msg.code, msg.message));
      else p.resolve(msg);
      return;
    }
    this.h.onEvent(msg);
  }

  failPending() {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ProtocolError('offline', 'not connected'));
    }
    this.pending.clear();
  }

  // request sends msg with a fresh id and resolves with its reply, or
  // rejects with a ProtocolError: the server's error code, or 'offline'
  // when there is no connection or it dropped before the reply.
  request(msg) {
    if (!this.isOpen) return Promise.reject(new ProtocolError('offline', 'not connected'));
    const id = String(++this.nextId);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ProtocolError('timeout', 'no reply'));
      }, REQUEST_TIMEOUT);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }
}
