// Ingest WebSocket: binary media out, JSON state/stats in, close codes in plain words.

export const KEY_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** ws(s)://host/ingest/{key} for the page's own origin. Never a destination URL. */
export function ingestUrl(key, loc = location) {
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${loc.host}/ingest/${encodeURIComponent(key)}`;
}

/** Check a stream key; returns an error text or '' when fine. */
export function validateKey(key) {
  if (!key) return 'Enter your stream key.';
  if (key.length > 128) return 'The stream key is too long (at most 128 characters).';
  if (!KEY_PATTERN.test(key)) return 'A stream key may only use letters, digits, \u201c-\u201d and \u201c_\u201d.';
  return '';
}

/**
 * What a close means for the streamer.
 * @param {number} code
 * @param {string} reason         close frame reason from the server
 * @param {string} serverMessage  last {"type":"error"} message, if any
 * @param {{opened: boolean, stopping: boolean}} ctx
 * @returns {{ok: boolean, text: string}}
 */
export function describeClose(code, reason = '', serverMessage = '', ctx = { opened: true, stopping: false }) {
  const detail = serverMessage || reason;
  const withDetail = (text) => (detail ? `${text} (Server said: ${detail})` : text);
  switch (code) {
    case 1000:
      return { ok: true, text: ctx.stopping ? 'Stream ended.' : 'The server ended the stream.' };
    case 1001:
      return ctx.stopping ? { ok: true, text: 'Stream ended.' }
        : { ok: false, text: withDetail('The server is shutting down or restarting. Try again in a minute.') };
    case 1003:
      return { ok: false, text: withDetail('The server could not read the video this browser produces. Choose another format under Settings and try again.') };
    case 1008:
      return { ok: false, text: withDetail('The stream key was refused. Check that you copied the whole key, then try again.') };
    case 1009:
      return { ok: false, text: withDetail('The browser sent a piece of video larger than the server accepts. Choose a lower quality and try again.') };
    case 1011: {
      const rtmp = /rtmp|publish|destination|upstream|connect/i.test(detail);
      return { ok: false, text: withDetail(rtmp
        ? 'The server could not deliver the stream to the streaming platform. Check the platform\u2019s status and your key, then try again.'
        : 'The server failed while processing the stream. Try again; if it keeps happening, choose another format under Settings.') };
    }
    case 1013:
      return { ok: false, text: withDetail('The server is full right now. Try again in a few minutes.') };
    case 1006:
    case 1005:
    default:
      if (!ctx.opened) {
        return { ok: false, text: withDetail('Could not connect to the streaming server. Check your internet connection and try again.') };
      }
      if (code === 1006 || code === 1005) {
        return { ok: false, text: withDetail('The connection to the server was lost. Check your internet connection and go live again.') };
      }
      return { ok: false, text: withDetail(`The connection closed unexpectedly (code ${code}).`) };
  }
}

/**
 * One ingest connection.
 * Events (callbacks in `handlers`): open(), state(state), stats(obj), error(message), close({code, reason, wasClean}).
 */
export class IngestSocket {
  constructor(url, handlers = {}) {
    this.url = url;
    this.h = handlers;
    this.ws = null;
    this.opened = false;
    this.bytesQueued = 0; // bytes handed to ws.send
    this.lastError = '';
    this.closeInfo = null;
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });
  }

  /** Resolves when open; rejects (with the close info) if it closes first. */
  connect() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        const info = { code: 1006, reason: err.message, wasClean: false };
        this.closeInfo = info;
        this._resolveClosed(info);
        reject(info);
        return;
      }
      this.ws = ws;
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        this.opened = true;
        this.h.open && this.h.open();
        resolve();
      };
      ws.onmessage = (ev) => this._message(ev.data);
      // The close event follows an error event and carries everything we need.
      ws.onerror = () => {};
      ws.onclose = (ev) => {
        const info = { code: ev.code, reason: ev.reason || '', wasClean: ev.wasClean };
        this.closeInfo = info;
        if (!this.opened) reject(info);
        this.h.close && this.h.close(info);
        this._resolveClosed(info);
      };
    });
  }

  _message(data) {
    if (typeof data !== 'string') return; // the server sends JSON text only
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'state' && typeof msg.state === 'string') this.h.state && this.h.state(msg.state, msg);
    else if (msg.type === 'stats') this.h.stats && this.h.stats(msg);
    else if (msg.type === 'error') {
      this.lastError = String(msg.message || '');
      this.h.error && this.h.error(this.lastError, msg);
    }
  }

  get isOpen() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

  get bufferedAmount() { return this.ws ? this.ws.bufferedAmount : 0; }

  /** Bytes that have actually left the browser. */
  get bytesSent() { return Math.max(0, this.bytesQueued - this.bufferedAmount); }

  /** Send one recorder Blob as one binary message. Returns false if the socket is not open. */
  send(blob) {
    if (!this.isOpen) return false;
    this.ws.send(blob);
    this.bytesQueued += blob.size;
    return true;
  }

  /** Wait until everything handed to send() has left the browser (or the timeout/close). */
  async drain(timeoutMs = 30000) {
    const until = performance.now() + timeoutMs;
    while (this.isOpen && this.ws.bufferedAmount > 0 && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return !this.isOpen || this.ws.bufferedAmount === 0;
  }

  close(code = 1000, reason = '') {
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) {
      this.ws.close(code, reason);
    }
  }
}
