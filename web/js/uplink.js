// The bitrate that fits the uplink: how far behind real time the stream is on its way to the
// server, and the encoder bitrate and frame skipping that keep it within bounds.
//
// The browser's WebSocket.bufferedAmount alone does not tell: the system's socket buffers (and
// every proxy's) take megabytes before it grows, which at 1 Mbit/s is half a minute. So the
// backlog is what the page handed to the socket minus what the server says it received (its
// `stats` frame, every second), in seconds at the rate the server receives now.
//
// Down fast (at once to what gets through, less a margin), up slowly (a step every few seconds
// while nothing waits), frames skipped while more than SKIP_S waits.

export const SKIP_S = 0.5;        // skip frames while more than this waits
const RESUME_S = 0.25;            // and encode again below this
const DOWN_S = 0.3;               // lower the bitrate when this much waits
const DOWN_EVERY_MS = 1000;       // at most this often
const UP_AFTER_MS = 3000;         // nothing waiting this long: one step up
const UP_STEP = 1.25;
const MARGIN = 0.8;               // of the measured throughput
export const MIN_VIDEO_BPS = 150_000;

export class UplinkControl {
  /**
   * @param {{videoBitsPerSecond: number, audioBitsPerSecond: number}} chosen  the streamer's choice
   */
  constructor({ videoBitsPerSecond, audioBitsPerSecond }) {
    this.chosen = videoBitsPerSecond;
    this.audio = audioBitsPerSecond;
    this.video = videoBitsPerSecond; // the target now
    this.skipping = false;
    this.behindS = 0;
    this.throughputBps = 0;          // measured while something waited (the link's rate)
    this.lastChangeAt = -Infinity;
    this.calmSince = null;           // when the backlog last went (and stayed) near zero
    this.server = null;              // {at, bytesIn} of the previous stats frame
    this.serverBps = 0;              // the server's receive rate between its last two frames
    this.lowered = false;            // below the chosen bitrate because of the uplink
  }

  /** A new connection: the server's count starts again. */
  reset() {
    this.server = null;
    this.serverBps = 0;
    this.skipping = false;
    this.behindS = 0;
  }

  /**
   * Called with each server stats frame and on the page's own ticks.
   * @param {{now: number, queuedBytes: number, serverBytesIn: number|null, bufferedBytes: number}} m
   *   queuedBytes: handed to this connection's socket so far; serverBytesIn: the server's count
   *   for this connection (its last stats frame), null before the first
   * @returns {{videoBitsPerSecond: number, skipping: boolean, changed: boolean}}
   */
  update({ now, queuedBytes, serverBytesIn, bufferedBytes }) {
    const prev = this.video;
    let inFlight = bufferedBytes;
    if (serverBytesIn != null) {
      if (!this.server || serverBytesIn !== this.server.bytesIn) {
        if (this.server && now > this.server.at) {
          this.serverBps = ((serverBytesIn - this.server.bytesIn) * 8 * 1000) / (now - this.server.at);
          // The link's rate shows only while data waits; else it is just our own rate.
          if (this.behindS > 0.1) this.throughputBps = this.serverBps;
        }
        this.server = { at: now, bytesIn: serverBytesIn };
      }
      // The server's count is a second old at most: what it has received since, at its rate.
      // (before two frames, at the rate we send: nothing is assumed to wait).
      const rate = this.serverBps || this.video + this.audio;
      const since = (rate / 8) * ((now - this.server.at) / 1000);
      inFlight = Math.max(bufferedBytes, queuedBytes - (serverBytesIn + since));
    }
    const sendingBps = this.throughputBps > 0 && this.behindS > 0.1 ? this.throughputBps : this.video + this.audio;
    this.behindS = (inFlight * 8) / Math.max(sendingBps, 64_000);

    if (this.skipping ? this.behindS > RESUME_S : this.behindS > SKIP_S) this.skipping = true;
    else this.skipping = false;

    if (this.behindS > DOWN_S && now - this.lastChangeAt >= DOWN_EVERY_MS) {
      const fits = this.throughputBps > 0 ? this.throughputBps * MARGIN - this.audio : this.video * 0.7;
      const next = Math.max(MIN_VIDEO_BPS, Math.min(this.video * 0.85, fits));
      if (next < this.video) {
        this.video = Math.round(next);
        this.lastChangeAt = now;
        this.lowered = true;
      }
      this.calmSince = null;
    } else if (this.behindS < 0.1) {
      if (this.calmSince == null) this.calmSince = now;
      if (this.video < this.chosen && now - this.calmSince >= UP_AFTER_MS && now - this.lastChangeAt >= UP_AFTER_MS) {
        this.video = Math.round(Math.min(this.chosen, this.video * UP_STEP));
        this.lastChangeAt = now;
        if (this.video >= this.chosen) this.lowered = false;
      }
    } else {
      this.calmSince = null;
    }
    return { videoBitsPerSecond: this.video, skipping: this.skipping, changed: this.video !== prev };
  }
}
