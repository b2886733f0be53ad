// One live session over WebRTC (WHIP, RFC 9725): the studio's output → RTCPeerConnection →
// POST /whip (one HTTP exchange, our candidates gathered first: no trickle), the server's
// status polled from the session resource (GET Location, behind the same bearer), Stop =
// DELETE, a drop → the slate on the server and a new POST with the same key. The browser's own
// encoder and congestion control do what encoder.js and uplink.js do on the WebSocket.
//
// RTCPeerConnection and fetch directly, not a WHIP library: the page needs the HTTP status and
// the server's {"kind"} of a refusal (to tell the streamer, or to fall back to the WebSocket),
// the Location to poll, and H.264 first in the offer; that is all of WHIP it uses.

import { explainKind } from './error_kinds.js';
import { retryAfterDrop } from './reconnect.js';

export const WHIP_PATH = '/whip';
// ICE must connect this soon after the answer, else UDP is taken to be blocked.
export const ICE_CONNECT_MS = 5000;
// Our candidates are gathered before the offer is sent (at most this long).
const GATHER_MS = 2000;
const POLL_MS = 1000;
const POST_TIMEOUT_MS = 10000;

// Refusals only the streamer (or the operator) can change: never a reason to try the WebSocket.
const STREAMER_KINDS = ['key', 'token', 'origin', 'refused', 'banned', 'kicked'];

/** The WHIP endpoint of the server that serves this page. */
export function whipUrl() {
  return new URL(WHIP_PATH, location.href).href;
}

/** A WHIP failure: `fallback` when the WebSocket may still work (not the streamer's fault). */
class WhipError extends Error {
  constructor(message, { kind = '', status = 0, fallback = true } = {}) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.fallback = fallback;
  }
}

/** Puts H.264 (packetization-mode=1) first: the server passes it through untouched. */
function preferH264(transceiver) {
  if (!transceiver.setCodecPreferences || !RTCRtpSender.getCapabilities) return;
  const codecs = RTCRtpSender.getCapabilities('video')?.codecs || [];
  const h264 = codecs.filter((c) => /h264/i.test(c.mimeType) && /packetization-mode=1/.test(c.sdpFmtpLine || ''));
  if (!h264.length) return;
  transceiver.setCodecPreferences([...h264, ...codecs.filter((c) => !h264.includes(c))]);
}

/**
 * The handler interface and phases of LiveSession (session.js); `unreachable(reason)` (only with
 * opts.fallback) is called instead of an error when WebRTC could not start and the WebSocket
 * may: ICE did not connect in ICE_CONNECT_MS, or /whip answered what is not the streamer's fault.
 */
export class WhipSession {
  /**
   * @param {{stream: MediaStream, key: string, videoBitsPerSecond: number,
   *          audioBitsPerSecond?: number, fallback?: boolean, url?: string}} opts
   * @param {{phase: Function, stats: Function, warn: Function, format: Function,
   *          destinations: Function, unreachable?: (reason: string) => void}} handlers
   */
  constructor(opts, handlers) {
    this.opts = { audioBitsPerSecond: 128000, fallback: false, url: whipUrl(), ...opts };
    this.h = handlers;
    this.transport = 'webrtc';
    this.phase = 'idle';
    this.errorKind = '';
    this.errorField = '';
    this.stopping = false;
    this.finished = false;
    this.pc = null;          // the current peer connection
    this.resource = '';      // its session resource (Location)
    this.connectedAt = 0;    // the first connection's ICE connected
    this.recordedMs = 0;
    this.stopAfterMs = 0;
    this.continuityS = 0;    // the server's window (status), 0 = no resume
    this.lost = null;        // ReconnectWindow while the connection is lost
    this.retryTimer = 0;
    this.pollTimer = 0;
    this.drops = 0;
    this.resumes = 0;
    this.server = {};        // the last status
    this.clock = null;       // {durationS, at}
    this.rate = null;        // {t, bytes}: the last outbound sample
    this.localKbps = null;
    this.targetKbps = null;
  }

  _setPhase(p, text = '') {
    if (this.finished) return;
    if (p === this.phase && !text) return;
    this.phase = p;
    this.h.phase(p, text);
  }

  async start() {
    this._setPhase('connecting');
    this.pollTimer = setInterval(() => this._poll(), POLL_MS);
    await this._connect();
  }

  /** One peer connection and its POST: the first, or one resuming after a drop. */
  async _connect() {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    try {
      for (const track of this.opts.stream.getTracks()) {
        const t = pc.addTransceiver(track, { direction: 'sendonly' });
        if (track.kind !== 'video') continue;
        preferH264(t);
        const p = t.sender.getParameters();
        p.encodings = p.encodings && p.encodings.length ? p.encodings : [{}];
        p.encodings[0].maxBitrate = this.opts.videoBitsPerSecond;
        // Passthrough needs the output's size: a narrow link lowers the frame rate instead.
        p.degradationPreference = 'maintain-resolution';
        await t.sender.setParameters(p).catch(() => {});
      }
      await pc.setLocalDescription(await pc.createOffer());
      await this._gathered(pc);
      if (this.pc !== pc || this.finished) return;
      const { answer, resource } = await this._post(pc.localDescription.sdp);
      if (this.pc !== pc || this.finished) {
        this._delete(resource);
        return;
      }
      this.resource = resource;
      pc.addEventListener('connectionstatechange', () => this._pcState(pc));
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      if (!(await this._connected(pc))) {
        throw new WhipError(`WebRTC did not connect within ${ICE_CONNECT_MS / 1000} s (UDP blocked?)`);
      }
    } catch (err) {
      if (this.pc === pc) this._failed(pc, err);
      return;
    }
    if (!this.connectedAt) {
      this.connectedAt = performance.now();
      const codec = await this._videoCodec(pc);
      this.h.format(`video/webrtc;codecs="${codec},opus"`);
    }
    if (this.stopping) return;
    if (this.lost) {
      this.lost = null;
      this.resumes += 1;
    }
    this._poll();
  }

  _gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, GATHER_MS);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  _connected(pc) {
    return new Promise((resolve) => {
      const check = () => {
        if (pc.connectionState === 'connected') resolve(true);
        else if (['failed', 'closed'].includes(pc.connectionState)) resolve(false);
        else return false;
        return true;
      };
      if (check()) return;
      const timer = setTimeout(() => resolve(false), ICE_CONNECT_MS);
      pc.addEventListener('connectionstatechange', () => { if (check()) clearTimeout(timer); });
    });
  }

  async _post(offer) {
    let res;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${this.opts.key}` },
        body: offer,
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new WhipError(`the server could not be reached over WHIP (${err.name})`, { kind: 'network' });
    }
    const body = await res.text();
    if (res.status !== 201) {
      let kind = '';
      let message = body.trim();
      try { ({ kind = '', message = '' } = JSON.parse(body)); } catch { /* not JSON */ }
      throw new WhipError(message || `HTTP ${res.status}`, {
        kind, status: res.status, fallback: !STREAMER_KINDS.includes(kind),
      });
    }
    const loc = res.headers.get('Location');
    return { answer: body, resource: loc ? new URL(loc, this.opts.url).href : '' };
  }

  async _videoCodec(pc) {
    try {
      const stats = await pc.getStats();
      let id = '';
      stats.forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') id = s.codecId; });
      const codec = id && stats.get(id);
      return codec ? codec.mimeType.replace(/^video\//, '').toLowerCase() : 'h264';
    } catch {
      return 'h264';
    }
  }

  /** The peer connection went down after it was up: a drop, as a lost WebSocket. */
  _pcState(pc) {
    if (this.pc !== pc || this.stopping || this.finished || !this.connectedAt) return;
    if (pc.connectionState !== 'failed' && pc.connectionState !== 'disconnected') return;
    this._drop('the WebRTC connection was lost');
  }

  _drop(why) {
    const old = this.pc;
    this.pc = null;
    this.resource = ''; // the server ends it by itself (ICE failed, no media): no DELETE, no Stop
    if (old) old.close();
    if (this.continuityS <= 0) {
      this.errorKind = 'lost';
      this._finish('error', `The connection to the server was lost (${why}), so the broadcast ended. Go live again.`);
      return;
    }
    this._retry();
  }

  _retry() {
    retryAfterDrop(this);
  }

  _failed(pc, err) {
    this.pc = null;
    pc.close();
    if (this.resource) this._delete(this.resource);
    this.resource = '';
    if (this.stopping || this.finished) return;
    if (this.lost && err.fallback) {
      this._retry(); // still within the window: try again
      return;
    }
    if (err.fallback && this.opts.fallback && !this.connectedAt && this.h.unreachable) {
      this._finish(null);
      this.h.unreachable(err.message);
      return;
    }
    this.errorKind = err.kind || 'webrtc';
    const known = explainKind(err.kind, {});
    this.errorField = known ? known.field : '';
    const text = known ? known.text : `Could not stream over WebRTC: ${err.message}.`;
    this._finish('error', known && err.message && ['refused', 'kicked', 'banned'].includes(err.kind) ? `${text} (${err.message})` : text);
  }

  /** The server's status (GET Location): state, clock, bitrates, destinations. */
  async _poll() {
    const pc = this.pc;
    await this._sampleLocal(pc);
    const url = this.resource;
    if (url && !this.finished) {
      let res;
      try {
        res = await fetch(url, { headers: { Authorization: `Bearer ${this.opts.key}` }, cache: 'no-store' });
      } catch { res = null; /* a drop shows as the peer connection's state */ }
      if (res && res.ok && this.resource === url) this._status(await res.json().catch(() => ({})));
      if (res && res.status === 404 && this.resource === url && !this.stopping) {
        // The server ended this session while our connection is up: a newer one took the key
        // over (coming back would take it back), or the operator ended it.
        this._gone();
        return;
      }
    }
    this._tick();
  }

  _status(st) {
    this.server = st;
    const n = Number(st.continuity_timeout_s);
    this.continuityS = Number.isFinite(n) && n > 0 ? n : 0;
    if (typeof st.duration_s === 'number') this.clock = { durationS: st.duration_s, at: performance.now() };
    if (Array.isArray(st.destinations)) this.h.destinations(st.destinations);
    if (this.stopping || this.finished) return;
    const state = st.state;
    if (state === 'live' || state === 'reconnecting') this._setPhase(state);
  }

  async _sampleLocal(pc) {
    if (!pc || pc.connectionState !== 'connected') return;
    try {
      const stats = await pc.getStats();
      let bytes = 0;
      let target = 0;
      stats.forEach((s) => {
        if (s.type !== 'outbound-rtp') return;
        bytes += s.bytesSent || 0;
        if (s.kind === 'video') target += s.targetBitrate || 0;
      });
      const now = performance.now();
      if (this.rate && this.rate.pc === pc && now > this.rate.t) {
        this.localKbps = Math.round(((bytes - this.rate.bytes) * 8) / (now - this.rate.t));
      }
      this.rate = { pc, t: now, bytes };
      this.targetKbps = Math.round((target + this.opts.audioBitsPerSecond) / 1000);
    } catch { /* closed meanwhile */ }
  }

  _tick() {
    if (this.finished) return;
    const now = performance.now();
    const st = this.server;
    this.h.stats({
      elapsedMs: this.clock ? this.clock.durationS * 1000 + (now - this.clock.at) : 0,
      localKbps: this.localKbps,
      serverKbps: typeof st.bitrate_kbps === 'number' ? st.bitrate_kbps : null,
      bytesIn: typeof st.bytes_in === 'number' ? st.bytes_in : null,
      bytesSent: this.rate ? this.rate.bytes : 0,
      buffered: 0,
      behindSec: 0,
      output: st.output || '',
      targetKbps: this.targetKbps,
      lowered: false,
    });
  }

  _gone() {
    const pc = this.pc;
    this.pc = null;
    this.resource = '';
    if (pc) pc.close();
    this.errorKind = 'replaced';
    this._finish('error', 'The server ended this stream: another window or device started streaming with this key, or the operator ended it.');
  }

  _delete(url) {
    if (!url) return Promise.resolve(false);
    return fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${this.opts.key}` } })
      .then((r) => r.ok, () => false);
  }

  /** Stop: DELETE (the server delivers what it received and unpublishes), then close. */
  async stop() {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    this.h.warn('');
    clearTimeout(this.retryTimer);
    if (!this.connectedAt) {
      const pc = this.pc;
      this.pc = null;
      if (pc) pc.close();
      if (this.resource) await this._delete(this.resource);
      this._finish('ended', 'Cancelled before going live.');
      return;
    }
    this._setPhase('ending');
    this.stopAfterMs = Math.round(performance.now() - this.connectedAt);
    this.recordedMs = this.stopAfterMs;
    const pc = this.pc;
    const url = this.resource;
    this.resource = ''; // no more status polls: the session is over
    const told = url ? await this._delete(url) : false;
    this.pc = null;
    if (pc) pc.close();
    this._finish('ended', told || !this.lost ? 'Stream ended.'
      : `Stream ended. The server could not be reached, so viewers see the \u2018be right back\u2019 screen until it gives up (${this.continuityS} s after the connection was lost).`);
  }

  /** Page closing: the connection goes; the server keeps the broadcast for its window. */
  abort() {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    if (this.pc) this.pc.close();
    this.pc = null;
    this._finish('ended', '');
  }

  /** phase null: end quietly (the page falls back to the WebSocket). */
  _finish(phase, text) {
    if (this.finished) return;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    if (phase) this._tick();
    this.finished = true;
    this.phase = phase || 'ended';
    if (phase) this.h.phase(phase, text);
  }
}
