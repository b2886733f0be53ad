// One live session: recorder → ingest socket, with server state, stats,
// upload back-pressure watching and a clean stop.

import { Recorder } from './recorder.js';
import { IngestSocket, describeClose, ingestUrl } from './socket.js';

const CONNECT_TIMEOUT_MS = 15000;
const CLOSE_WAIT_MS = 15000;
const TIMESLICE_MS = 250;
// A recorder that has produced no data this long after it started is broken for this
// format (seen with WebKit): say so rather than wait for the server's idle timeout.
const NO_DATA_MS = 4000;

/**
 * Phases reported to `onPhase(phase, text)`:
 *   connecting → live ⇄ reconnecting → ending → ended   (or error from any of them)
 */
export class LiveSession {
  /**
   * @param {{stream: MediaStream, key: string, mimeType: string, videoBitsPerSecond: number,
   *          audioBitsPerSecond?: number}} opts
   * @param {{phase: (p: string, text?: string) => void, stats: (s: object) => void,
   *          warn: (text: string) => void, format: (mimeType: string) => void}} handlers
   */
  constructor(opts, handlers) {
    this.opts = { audioBitsPerSecond: 128000, ...opts };
    this.h = handlers;
    this.phase = 'idle';
    this.closeCode = 0;     // the WebSocket close code, once closed
    this.errorKind = '';    // why it failed: the server's kind, or 'recorder_silent'
    this.errorField = '';   // the control the error is about ('key' or '')
    this.lastDataAt = 0;    // when the recorder last produced data
    this.recordStartedAt = 0;
    this.recordedMs = 0;    // recorder start → stop event, after a clean stop
    this.stopAfterMs = 0;   // recorder start → Stop pressed
    this.stopping = false;
    this.finished = false;
    this.liveSince = 0;
    this.server = {};       // last stats message
    this.rateSamples = [];  // [t, bytesSent]
    this.timer = 0;
    this.warned = false;
    this.socket = null;
    this.recorder = null;
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
    const s = new IngestSocket(ingestUrl(this.opts.key), {
      state: (state) => this._serverState(state),
      stats: (msg) => { this.server = msg; },
      error: () => {},
      close: (info) => this._closed(info),
    });
    this.socket = s;
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject({ code: 1006, reason: 'timed out', wasClean: false }), CONNECT_TIMEOUT_MS);
    });
    try {
      await Promise.race([s.connect(), timeout]);
    } catch {
      clearTimeout(timer);
      s.close(1000);
      return; // _closed() reports the error (or the timeout below)
    } finally {
      clearTimeout(timer);
    }
    if (this.stopping || this.finished) return;
    try {
      this.recorder = new Recorder(this.opts.stream, {
        mimeType: this.opts.mimeType,
        videoBitsPerSecond: this.opts.videoBitsPerSecond,
        audioBitsPerSecond: this.opts.audioBitsPerSecond,
        keyFrameIntervalMs: 2000,
      }, {
        chunk: (blob) => {
          this.lastDataAt = performance.now();
          this.socket.send(blob);
        },
        error: (err) => this._fail(`The browser\u2019s recorder failed (${err.message || err.name}). Go live again, or choose another format under Settings.`),
      });
      this.recorder.start(TIMESLICE_MS);
      this.recordStartedAt = performance.now();
      this.h.format(this.recorder.mimeType || this.opts.mimeType);
    } catch (err) {
      this._fail(`The browser could not start recording (${err.message || err.name}). Choose another format under Settings.`);
      return;
    }
    this.timer = setInterval(() => this._watch(), 500);
  }

  _serverState(state) {
    if (this.finished) return;
    if (state === 'error') return; // the close that follows says what went wrong
    if (this.stopping && ['connecting', 'live', 'reconnecting'].includes(state)) return;
    if (['connecting', 'live', 'reconnecting', 'ending', 'ended'].includes(state)) this._setPhase(state);
  }

  /** Every 500 ms while recording. */
  _watch() {
    if (!this.stopping && !this.finished && this.recorder && this.recorder.bytes === 0 &&
        this.recordStartedAt && performance.now() - this.recordStartedAt > NO_DATA_MS) {
      this.errorKind = 'recorder_silent';
      this._fail(`Your browser\u2019s recorder produced no video in ${Math.round(NO_DATA_MS / 1000)} s ` +
        'with this format, so nothing could be sent.');
      return;
    }
    this._tick();
  }

  _tick() {
    const s = this.socket;
    if (!s) return;
    const now = performance.now();
    this.rateSamples.push([now, s.bytesSent]);
    while (this.rateSamples.length > 2 && now - this.rateSamples[0][0] > 3000) this.rateSamples.shift();
    const [t0, b0] = this.rateSamples[0];
    const localKbps = now - t0 > 900 ? ((s.bytesSent - b0) * 8) / (now - t0) : null;

    // Back-pressure: how many seconds of media are waiting in the browser.
    const bytesPerSec = (this.opts.videoBitsPerSecond + this.opts.audioBitsPerSecond) / 8;
    const behindSec = s.bufferedAmount / bytesPerSec;
    if (!this.stopping) {
      if (behindSec > 2) {
        this.warned = true;
        this.h.warn(`Your upload can\u2019t keep up: ${Math.round(behindSec)} s of video is waiting to be sent. ` +
          'Choose a lower quality, or close other apps using the network.');
      } else if (this.warned && behindSec < 0.5) {
        this.warned = false;
        this.h.warn('');
      }
    }

    this.h.stats({
      elapsedMs: this.liveSince ? now - this.liveSince : 0,
      localKbps,
      serverKbps: typeof this.server.bitrate_kbps === 'number' ? this.server.bitrate_kbps : null,
      bytesIn: typeof this.server.bytes_in === 'number' ? this.server.bytes_in : null,
      bytesSent: s.bytesSent,
      buffered: s.bufferedAmount,
      behindSec,
      output: this.server.output || '',
    });
  }

  /** Clean stop: last Blob out, socket drained, close 1000, wait for the server's close. */
  async stop() {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    this.h.warn('');
    const s = this.socket;
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

  /** Tear down at once (page closing). */
  abort() {
    this.stopping = true;
    if (this.recorder && this.recorder.state !== 'inactive') this.recorder.rec.stop();
    if (this.socket) this.socket.close(1001, 'page closed');
    this._finish('ended', '');
  }

  _closed(info) {
    if (this.finished) return;
    const s = this.socket;
    const since = this.lastDataAt || this.recordStartedAt;
    const d = describeClose({
      code: info.code, reason: info.reason, kind: s ? s.lastErrorKind : '', message: s ? s.lastError : '',
    }, {
      opened: !!(s && s.opened),
      stopping: this.stopping,
      silentSec: since ? Math.round((performance.now() - since) / 1000) : 0,
    });
    this.errorKind = s ? s.lastErrorKind : '';
    this.errorField = d.field;
    if (this.recorder && this.recorder.state !== 'inactive') {
      try { this.recorder.rec.stop(); } catch { /* ignore */ }
    }
    this.closeCode = info.code;
    this._finish(d.ok ? 'ended' : 'error', d.text);
  }

  _fail(text) {
    if (this.finished) return;
    if (this.recorder && this.recorder.state !== 'inactive') {
      try { this.recorder.rec.stop(); } catch { /* ignore */ }
    }
    if (this.socket) this.socket.close(1000, 'client error');
    this._finish('error', text);
  }

  _finish(phase, text) {
    if (this.finished) return;
    clearInterval(this.timer);
    this._tick();
    this.phase = phase;
    this.h.phase(phase, text);
    this.finished = true;
  }
}
