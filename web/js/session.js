// One live session: encoder (WebCodecs) or recorder (MediaRecorder) → ingest socket, with
// server state, stats, a bitrate that follows the uplink (uplink.js), keyframes when the server
// asks, reconnecting after a drop and a clean stop.

import { Recorder } from './recorder.js';
import { WebCodecsRecorder } from './encoder.js';
import { UplinkControl } from './uplink.js';
import { IngestSocket, describeClose, ingestUrl } from './socket.js';
import { retryAfterDrop, shouldReconnect } from './reconnect.js';

const CONNECT_TIMEOUT_MS = 15000;
const CLOSE_WAIT_MS = 15000;
const TIMESLICE_MS = 250;
// A recorder that has produced no data this long after it started is broken for this
// format (seen with WebKit): say so rather than wait for the server's idle timeout.
const NO_DATA_MS = 4000;
// While live the server sends stats every second. This long without a word from it, the
// connection is dead even if the browser has not noticed (a half-open TCP connection after a
// network switch): treat it as dropped. Only with a server that resumes (continuity on).
const SERVER_SILENT_MS = 10000;
// Stop while the connection is lost: how long to try one connection that tells the server
// the show is over (else the viewers see the slate until the server's window runs out).
const END_CONNECT_MS = 3000;

/**
 * Phases reported to `onPhase(phase, text)`:
 *   connecting → live ⇄ reconnecting → ending → ended   (or error from any of them)
 *   live → lost → live: the page's own connection dropped and is being restored (the server
 *   shows a slate meanwhile); `reconnecting` is the server's RTMP side.
 */
export class LiveSession {
  /**
   * @param {{stream: MediaStream, key: string, mimeType: string, videoBitsPerSecond: number,
   *          audioBitsPerSecond?: number, encoder?: 'webcodecs'|'mediarecorder', fps?: number}} opts
   *   encoder: the page's own (WebCodecs) or the browser's MediaRecorder (mimeType)
   * @param {{phase: (p: string, text?: string) => void, stats: (s: object) => void,
   *          warn: (text: string) => void, format: (mimeType: string) => void,
   *          destinations: (list: object[]) => void}} handlers
   *   destinations: the server's rows, one per destination (restream), as they come
   */
  constructor(opts, handlers) {
    this.opts = { audioBitsPerSecond: 128000, encoder: 'mediarecorder', fps: 30, ...opts };
    this.uplink = new UplinkControl(this.opts);
    this.keyFrameIntervalMs = 2000; // the server's keyframe interval (welcome)
    this.lowQualityShown = false;   // the "upload is slow" note is on the page
    this.h = handlers;
    this.phase = 'idle';
    this.closeCode = 0;     // the WebSocket close code, once closed
    this.errorKind = '';    // why it failed: the server's kind, 'recorder_silent' or 'lost'
    this.errorField = '';   // the control the error is about ('key' or '')
    this.lastDataAt = 0;    // when the recorder last produced data
    this.recordStartedAt = 0; // the first recorder's start
    this.recorderStartedAt = 0; // the current recorder's start
    this.recordedMs = 0;    // recorder start → stop event, after a clean stop
    this.stopAfterMs = 0;   // recorder start → Stop pressed
    this.stopping = false;
    this.finished = false;
    this.liveSince = 0;
    this.server = {};       // last stats message
    this.rateSamples = [];  // [t, bytesSent]
    this.timer = 0;
    this.socket = null;
    this.recorder = null;
    this.sentBefore = 0;    // bytes sent by earlier connections of this session
    // Continuity (issue 14): the server's window from its last welcome; 0 = no reconnect.
    this.continuityS = 0;
    this.lost = null;       // ReconnectWindow while the connection is lost
    this.retryTimer = 0;
    this.drops = 0;         // connections lost
    this.resumes = 0;       // of which restored
    this.clock = null;      // {durationS, at}: the broadcast's duration as last told by the server
  }

  _setPhase(p, text = '') {
    if (this.finished) return;
    if (p === this.phase && !text) return;
    this.phase = p;
    if (p === 'live' && !this.liveSince) this.liveSince = performance.now();
    this.h.phase(p, text);
  }

  async start() {
    this._setPhase('connecting');
    this.timer = setInterval(() => this._watch(), 500);
    await this._connect();
  }

  /** One connection: the first, or an attempt to restore a lost one. */
  async _connect() {
    const s = new IngestSocket(ingestUrl(this.opts.key), {
      welcome: (msg) => { if (this.socket === s) this._welcome(msg); },
      state: (state) => { if (this.socket === s) this._serverState(state); },
      stats: (msg) => { if (this.socket === s) this._stats(msg); },
      destinations: (list) => { if (this.socket === s) this.h.destinations(list); },
      keyframe: () => { if (this.socket === s && this.recorder && this.recorder.requestKeyframe) this.recorder.requestKeyframe(); },
      error: () => {},
      close: (info) => { if (this.socket === s) this._closed(s, info); },
    });
    this.socket = s;
    const timeoutMs = this.lost
      ? Math.max(1000, Math.min(CONNECT_TIMEOUT_MS, this.lost.leftMs(performance.now())))
      : CONNECT_TIMEOUT_MS;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject({ code: 1006, reason: 'timed out', wasClean: false }), timeoutMs);
    });
    try {
      await Promise.race([s.connect(), timeout]);
    } catch {
      s.close(1000);
      // _closed() reports the error, or tries again; called here if no WebSocket was made.
      if (!s.ws && this.socket === s) this._closed(s, s.closeInfo);
      return;
    } finally {
      clearTimeout(timer);
    }
    if (this.stopping || this.finished || this.socket !== s) return;
    this._startRecorder(s);
  }

  /** A fresh recorder per connection, so each one starts with a container header. */
  _startRecorder(s) {
    let rec;
    const handlers = {
      chunk: (data) => {
        // A stopped recorder's last data belongs to its own (lost) connection, never the next.
        if (this.recorder !== rec) return;
        this.lastDataAt = performance.now();
        s.send(data);
      },
      // The encoder knows its codecs once it has started (the recorder at once).
      started: (mimeType) => {
        if (this.recorder === rec && !this.formatTold) {
          this.formatTold = true;
          this.h.format(mimeType);
        }
      },
      error: (err) => {
        if (this.recorder === rec) this._fail(`The browser\u2019s encoder failed (${err.message || err.name}). Go live again, or choose another format under Settings.`);
      },
    };
    try {
      this.uplink.reset();
      if (this.opts.encoder === 'webcodecs') {
        rec = new WebCodecsRecorder(this.opts.stream, {
          videoBitsPerSecond: this.uplink.video,
          audioBitsPerSecond: this.opts.audioBitsPerSecond,
          keyFrameIntervalMs: this.keyFrameIntervalMs,
          fps: this.opts.fps,
        }, handlers);
      } else {
        rec = new Recorder(this.opts.stream, {
          mimeType: this.opts.mimeType,
          videoBitsPerSecond: this.uplink.video,
          audioBitsPerSecond: this.opts.audioBitsPerSecond,
          keyFrameIntervalMs: this.keyFrameIntervalMs,
        }, handlers);
      }
      this.recorder = rec;
      rec.start(TIMESLICE_MS);
      this.recorderStartedAt = performance.now();
      if (!this.recordStartedAt) {
        this.recordStartedAt = this.recorderStartedAt;
        if (this.opts.encoder !== 'webcodecs') handlers.started(rec.mimeType || this.opts.mimeType);
      }
    } catch (err) {
      this._fail(`The browser could not start encoding (${err.message || err.name}). Choose another format under Settings.`);
    }
  }

  _stopRecorder() {
    const rec = this.recorder;
    this.recorder = null;
    if (rec && rec.state !== 'inactive') {
      try { rec.rec.stop(); } catch { /* ignore */ }
    }
  }

  _welcome(msg) {
    const n = Number(msg.continuity_timeout_s);
    this.continuityS = Number.isFinite(n) && n > 0 ? n : 0;
    const k = Number(msg.keyframe_interval_s);
    if (Number.isFinite(k) && k > 0) {
      this.keyFrameIntervalMs = k * 1000;
      if (this.recorder && 'keyIntervalUs' in this.recorder) this.recorder.keyIntervalUs = k * 1e6;
    }
    if (typeof msg.broadcast_duration_s === 'number') this._clockAt(msg.broadcast_duration_s);
  }

  _stats(msg) {
    this.server = msg;
    this.serverBytesIn = typeof msg.bytes_in === 'number' ? msg.bytes_in : null;
    this._followUplink(true);
    if (typeof msg.duration_s === 'number') this._clockAt(msg.duration_s);
  }

  _clockAt(durationS) {
    if (Number.isFinite(durationS) && durationS >= 0) this.clock = { durationS, at: performance.now() };
  }

  /** The broadcast's running time: the server's, across reconnects; ours without it. */
  _elapsedMs(now) {
    if (!this.liveSince) return 0;
    if (this.clock) return this.clock.durationS * 1000 + (now - this.clock.at);
    return now - this.liveSince;
  }

  _serverState(state) {
    if (this.finished) return;
    if (state === 'error') return; // the close that follows says what went wrong
    if (this.stopping && ['connecting', 'live', 'reconnecting', 'resumed'].includes(state)) return;
    if (this.lost) {
      // Restored: our picture is on air again (resumed), or a new broadcast went live.
      if (state !== 'resumed' && state !== 'live') return;
      this.lost = null;
      this.resumes += 1;
      this._setPhase('live');
      return;
    }
    if (state === 'resumed') state = 'live';
    if (['connecting', 'live', 'reconnecting', 'ending', 'ended'].includes(state)) this._setPhase(state);
  }

  /** Every 500 ms while recording. */
  _watch() {
    const now = performance.now();
    if (!this.stopping && !this.finished && this.recorder && this.recorder.bytes === 0 &&
        this.recorderStartedAt && now - this.recorderStartedAt > NO_DATA_MS) {
      this.errorKind = 'recorder_silent';
      this._fail(`Your browser\u2019s recorder produced no video in ${Math.round(NO_DATA_MS / 1000)} s ` +
        'with this format, so nothing could be sent.');
      return;
    }
    const s = this.socket;
    if (!this.stopping && !this.lost && this.continuityS > 0 && this.phase === 'live' && s && s.isOpen &&
        s.lastMessageAt && now - s.lastMessageAt > SERVER_SILENT_MS) {
      // Closing a dead connection may take the browser minutes: drop it now and reconnect.
      this.socket = null;
      s.close(4000, 'no word from the server');
      this._closed(s, { code: 1006, reason: 'no word from the server', wasClean: false });
      return;
    }
    this._tick();
  }

  _tick() {
    const s = this.socket;
    const now = performance.now();
    const sent = this.sentBefore + (s ? s.bytesSent : 0);
    const buffered = s ? s.bufferedAmount : 0;
    this.rateSamples.push([now, sent]);
    while (this.rateSamples.length > 2 && now - this.rateSamples[0][0] > 3000) this.rateSamples.shift();
    const [t0, b0] = this.rateSamples[0];
    const localKbps = now - t0 > 900 ? ((sent - b0) * 8) / (now - t0) : null;

    const behindSec = this._followUplink();
    this.h.stats({
      elapsedMs: this._elapsedMs(now),
      localKbps,
      serverKbps: typeof this.server.bitrate_kbps === 'number' ? this.server.bitrate_kbps : null,
      bytesIn: typeof this.server.bytes_in === 'number' ? this.server.bytes_in : null,
      bytesSent: sent,
      buffered,
      behindSec,
      output: this.server.output || '',
      // What the encoder is asked for now (the uplink may have lowered it), and frames skipped.
      targetKbps: Math.round((this.uplink.video + this.opts.audioBitsPerSecond) / 1000),
      lowered: this.uplink.lowered,
    });
  }

  /**
   * The bitrate and frame skipping that fit the uplink now (uplink.js), told to the encoder;
   * a MediaRecorder cannot change its bitrate, so a long backlog restarts it lower. Returns
   * how many seconds of media wait on the way to the server.
   */
  _followUplink(fromStats = false) {
    const s = this.socket;
    if (!s || !this.recorder || this.stopping || this.lost) return 0;
    const now = performance.now();
    const r = this.uplink.update({
      now,
      queuedBytes: s.bytesQueued,
      serverBytesIn: this.serverBytesIn ?? null,
      bufferedBytes: s.bufferedAmount,
      fromStats,
    });
    const rec = this.recorder;
    if (rec.setBitrate) {
      if (r.changed) rec.setBitrate(r.videoBitsPerSecond);
      rec.skipping = r.skipping;
    } else if (this.uplink.behindS > 2) {
      this.backlogSince = this.backlogSince || now;
      if (now - this.backlogSince > 3000 && r.videoBitsPerSecond < this.opts.videoBitsPerSecond * 0.9) {
        this.backlogSince = 0;
        this._restartLower(r.videoBitsPerSecond);
      }
    } else {
      this.backlogSince = 0;
    }
    const lowered = this.uplink.lowered;
    if (lowered !== this.lowQualityShown) {
      this.lowQualityShown = lowered;
      clearTimeout(this.backNoteTimer);
      if (lowered) {
        this.h.warn('Your upload is slow, so the picture quality was lowered to keep the stream in real time. It goes back up by itself when the upload allows.');
      } else {
        this.h.warn('Your upload keeps up again: the picture is back to the quality you chose.');
        this.backNoteTimer = setTimeout(() => { if (!this.lowQualityShown && !this.finished) this.h.warn(''); }, 8000);
      }
    }
    return this.uplink.behindS;
  }

  /**
   * MediaRecorder only: too much waits and its bitrate cannot change. A fresh connection with a
   * new recorder at `bps` takes over the broadcast (one publish; what waited on the old one is
   * dropped with it).
   */
  _restartLower(bps) {
    const old = this.socket;
    this.uplink.video = bps;
    this._stopRecorder();
    this.sentBefore += old ? old.bytesSent : 0;
    this.socket = null;
    this._connect().then(() => {
      if (old) old.close(4000, 'restarted at a lower bitrate');
    });
  }

  /** Clean stop: last Blob out, socket drained, close 1000, wait for the server's close. */
  async stop() {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    this.h.warn('');
    clearTimeout(this.retryTimer);
    const s = this.socket;
    if (this.lost && !(s && s.isOpen && this.recorder)) {
      await this._endWhileLost();
      return;
    }
    if (!s || !s.opened) {
      // Still connecting: nothing was sent.
      if (s) s.close(1000, 'cancelled');
      this._finish('ended', 'Cancelled before going live.');
      return;
    }
    this._setPhase('ending');
    if (this.recordStartedAt) this.stopAfterMs = Math.round(performance.now() - this.recordStartedAt);
    if (this.recorder) await this.recorder.stop();
    if (this.recordStartedAt) this.recordedMs = Math.round(performance.now() - this.recordStartedAt);
    await s.drain(30000);
    s.close(1000, 'stream ended');
    let timer;
    await Promise.race([s.closed, new Promise((r) => { timer = setTimeout(r, CLOSE_WAIT_MS); })]);
    clearTimeout(timer);
    if (!this.finished) this._finish('ended', 'Stream ended. (The server did not confirm the close.)');
  }

  /**
   * Stop pressed while the connection is lost: one short connection that sends nothing and
   * closes with 1000 tells the server the show is over, so the slate ends now.
   */
  async _endWhileLost() {
    const old = this.socket;
    this.socket = null;
    if (old) old.close(1000, 'stream ended');
    this._setPhase('ending');
    const s = new IngestSocket(ingestUrl(this.opts.key), {});
    let timer;
    const told = await Promise.race([
      s.connect().then(() => true, () => false),
      new Promise((r) => { timer = setTimeout(() => r(false), END_CONNECT_MS); }),
    ]);
    clearTimeout(timer);
    if (told) {
      s.close(1000, 'stream ended');
      await Promise.race([s.closed, new Promise((r) => { timer = setTimeout(r, CLOSE_WAIT_MS); })]);
      clearTimeout(timer);
      this._finish('ended', 'Stream ended.');
      return;
    }
    s.close(1000, 'stream ended');
    this._finish('ended', `Stream ended. The server could not be reached, so viewers see the \u2018be right back\u2019 screen until it gives up (${this.continuityS} s after the connection was lost).`);
  }

  /** Tear down at once (page closing). The server keeps the broadcast for its window (1001). */
  abort() {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    this._stopRecorder();
    if (this.socket) this.socket.close(1001, 'page closed');
    this._finish('ended', '');
  }

  _closed(s, info) {
    if (this.finished) return;
    this._stopRecorder(); // its data has nowhere to go; a new connection gets a new recorder
    if (this.socket === s) this.socket = null;
    this.sentBefore += s.bytesSent;
    const kind = s.lastErrorKind;
    if (!this.stopping && this.continuityS > 0 && shouldReconnect({ code: info.code, kind })) {
      this._retry();
      return;
    }
    const since = this.lastDataAt || this.recordStartedAt;
    const d = describeClose({
      code: info.code, reason: info.reason, kind, message: s.lastError,
    }, {
      opened: s.opened || this.drops > 0,
      stopping: this.stopping,
      silentSec: since ? Math.round((performance.now() - since) / 1000) : 0,
    });
    this.errorKind = kind;
    this.errorField = d.field;
    this.closeCode = info.code;
    this._finish(d.ok ? 'ended' : 'error', d.text);
  }

  /** The connection dropped (or an attempt to restore it failed): try again within the window. */
  _retry() {
    retryAfterDrop(this);
  }

  _fail(text) {
    if (this.finished) return;
    this._stopRecorder();
    if (this.socket) this.socket.close(1000, 'client error');
    this._finish('error', text);
  }

  _finish(phase, text) {
    if (this.finished) return;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this._tick();
    this.phase = phase;
    this.h.phase(phase, text);
    this.finished = true;
  }
}
