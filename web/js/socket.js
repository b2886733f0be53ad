// Ingest WebSocket: binary media out, JSON state/stats/destinations in, close codes in plain words.

import { KINDS, explainKind } from './error_kinds.js';

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
 * @param {{code: number, reason?: string, kind?: string, message?: string}} close
 *   code and reason of the close frame; kind and message of the server's last
 *   {"type":"error"} frame, if any
 * @param {{opened: boolean, stopping: boolean, silentSec?: number}} ctx
 *   silentSec: seconds the browser had sent nothing when the close came
 * @returns {{ok: boolean, text: string, field: string}}  field: '' or 'key' (the control to mark)
 */
export function describeClose({ code, reason = '', kind = '', message = '' },
  ctx = { opened: true, stopping: false }) {
  const detail = message || reason;
  const withDetail = (text) => (detail ? `${text} (Server said: ${detail})` : text);
  const fail = (text, field = '') => ({ ok: false, text: withDetail(text), field });
  const known = kind && !(ctx.stopping && kind === 'shutdown') ? explainKind(kind, ctx) : null;
  if (known) return fail(known.text, known.field);
  // No kind (an older server, or a close without an error frame): the close code alone.
  switch (code) {
    case 1000:
      return { ok: true, text: ctx.stopping ? 'Stream ended.' : 'The server ended the stream.', field: '' };
    case 1001:
      return ctx.stopping ? { ok: true, text: 'Stream ended.', field: '' }
        : fail(KINDS.shutdown.text);
    case 1003:
      return fail(KINDS.input.text);
    case 1008:
      return fail('The server refused the stream. Check your stream key and the page\u2019s address, then try again.');
    case 1009:
      return fail(KINDS.too_big.text);
    case 1011:
      return fail('The server failed while processing or delivering the stream. Try again; if it keeps happening, choose another format under Settings.');
    case 1013:
      return fail(KINDS.capacity.text);
    case 1006:
    case 1005:
    default:
      if (!ctx.opened) {
        return fail('Could not connect to the streaming server. Check your internet connection and try again.');
      }
      if (code === 1006 || code === 1005) {
        return fail('The connection to the server was lost. Check your internet connection and go live again.');
      }
      return fail(`The connection closed unexpectedly (code ${code}).`);
  }
}

/**
 * One ingest connection.
 * Events (callbacks in `handlers`): open(), welcome(msg), state(state), stats(obj),
 * destinations(list), keyframe(reason), error(message, msg), close({code, reason, wasClean}).
 * welcome: {"type":"welcome","continuity_timeout_s":N,"resumed":bool,"broadcast_duration_s":X,
 * "keyframe_interval_s":K}, sent by the server right after it accepted the connection (none from
 * an older server).
 */
export class IngestSocket {
  constructor(url, handlers = {}) {
    this.url = url;
    this.h = handlers;
    this.ws = null;
    this.opened = false;
    this.bytesQueued = 0; // bytes handed to ws.send
    this.lastError = '';     // message of the last {"type":"error"} frame
    this.lastErrorKind = ''; // and its kind
    this.closeInfo = null;
    this.lastMessageAt = 0;  // performance.now() of the server's last frame
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
    this.lastMessageAt = performance.now();
    if (msg.type === 'welcome') this.h.welcome && this.h.welcome(msg);
    else if (msg.type === 'state' && typeof msg.state === 'string') this.h.state && this.h.state(msg.state, msg);
    else if (msg.type === 'stats') this.h.stats && this.h.stats(msg);
    // Restream: one row per destination (destinations.js).
    else if (msg.type === 'destinations') this.h.destinations && this.h.destinations(msg.destinations);
    // A destination (re)connected or a takeover waits: the next frame should be a keyframe.
    else if (msg.type === 'keyframe') this.h.keyframe && this.h.keyframe(msg.reason || '');
    else if (msg.type === 'error') {
      this.lastError = String(msg.message || '');
      this.lastErrorKind = typeof msg.kind === 'string' ? msg.kind : '';
      this.h.error && this.h.error(this.lastError, msg);
    }
  }

  get isOpen() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

  get bufferedAmount() { return this.ws ? this.ws.bufferedAmount : 0; }

  /** Bytes that have actually left the browser. */
  get bytesSent() { return Math.max(0, this.bytesQueued - this.bufferedAmount); }

  /** Send one recorder Blob (or encoder bytes) as one binary message; false if not open. */
  send(data) {
    if (!this.isOpen) return false;
    this.ws.send(data);
    this.bytesQueued += data.size ?? data.byteLength;
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
