// The bitrate that fits the uplink: how far behind real time the stream is on its way to the
// server, and the encoder bitrate and frame skipping that keep it within bounds.
//
// The browser's WebSocket.bufferedAmount alone does not tell: the system's socket buffers (and
// every proxy's) take megabytes before it grows, which at 1 Mbit/s is half a minute. So the
// backlog is what the page handed to the socket minus what the server says it received (its
// `stats` frame, every second), in seconds at the rate it drains: the server's receive rate
// while data waits, else the rate the page really sends (an encoder can overshoot its target
// by far on a detailed picture at a low bitrate).
//
// Down fast (to what gets through, less a margin) at once when the server receives clearly less
// than is sent, or when a backlog lasted over the server's last two counts (a keyframe's burst,
// sent just before a count, is not a narrow link: at a low bitrate one keyframe is a second of
// media); up slowly (×1.3 every 2 s without a lasting backlog); frames thinned out at once
// while more than SKIP_S waits.

export const SKIP_S = 0.5;        // thin out frames while more than this waits
const RESUME_S = 0.25;            // and encode all again below this
const DOWN_S = 0.3;               // lower the bitrate when this much waited at two counts
const NARROWER_S = 0.15;          // or this much with the server receiving < 80 % of what is sent
const LASTING_WINDOW_MS = 2100;   // the server's last two counts (one a second)
const DOWN_EVERY_MS = 1000;       // at most this often
const CALM_S = 0.25;              // "nothing waits" for the step up
const UP_AFTER_MS = 2000;         // calm this long: one step up
const UP_STEP = 1.3;
const MARGIN = 0.8;               // of the measured throughput
const RATE_WINDOW_MS = 2000;      // the page's own sending rate, over this
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
    this.behindS = 0;                // the last reading
    this.readings = [];              // [at, behindS] read when a new server count came
    this.queued = [];                // [at, queuedBytes]: the page's own sending rate
    this.throughputBps = 0;          // the link's rate, measured while something waited
    this.lastChangeAt = -Infinity;
    this.calmSince = null;           // since when every reading was calm
    this.server = null;              // {at, bytesIn} of the newest stats frame
    this.serverBps = 0;              // the server's receive rate between its last two frames
    this.sentBps = 0;                // the page's send rate between the same two frames
    this.rated = false;              // serverBps is known (two counts came; it may be 0)
    this.lowered = false;            // below the chosen bitrate because of the uplink
  }

  /** A new connection: the server's count starts again. */
  reset() {
    this.server = null;
    this.serverBps = 0;
    this.rated = false;
    this.skipping = false;
    this.behindS = 0;
    this.readings = [];
    this.queued = [];
  }

  /** The page's own sending rate (bit/s) over the last RATE_WINDOW_MS; 0 before it is known. */
  _ownBps(now, queuedBytes) {
    this.queued.push([now, queuedBytes]);
    while (this.queued.length > 2 && now - this.queued[1][0] >= RATE_WINDOW_MS) this.queued.shift();
    const [t0, b0] = this.queued[0];
    return now - t0 >= 500 ? ((queuedBytes - b0) * 8 * 1000) / (now - t0) : 0;
  }

  /**
   * Called with each server stats frame and on the page's own ticks.
   * @param {{now: number, queuedBytes: number, serverBytesIn: number|null, bufferedBytes: number,
   *          fromStats?: boolean}} m
   *   queuedBytes: handed to this connection's socket so far; serverBytesIn: the server's count
   *   for this connection (its last stats frame), null before the first; fromStats: called for
   *   a stats frame that just came (a count, even an unchanged one: a link that passes nothing)
   * @returns {{videoBitsPerSecond: number, skipping: boolean, changed: boolean}}
   */
  update({ now, queuedBytes, serverBytesIn, bufferedBytes, fromStats = false }) {
    const prev = this.video;
    const ownBps = this._ownBps(now, queuedBytes);
    const congested = this.behindS > 0.1;
    let inFlight = bufferedBytes;
    let fresh = false; // a count just came: no guess in this reading
    if (serverBytesIn != null) {
      fresh = fromStats || !this.server || serverBytesIn !== this.server.bytesIn;
      if (fresh) {
        if (this.server && now > this.server.at) {
          this.rated = true;
          // What the server received since its last count (nothing: a link that passes nothing).
          this.serverBps = Math.max(0, serverBytesIn - this.server.bytesIn) * 8 * 1000 / (now - this.server.at);
          // What the page sent over the same second: the two compare without a keyframe in one
          // and not the other.
          this.sentBps = Math.max(0, queuedBytes - this.server.queued) * 8 * 1000 / (now - this.server.at);
          // The link's rate shows only while data waits; else it is just our own rate.
          if (congested) this.throughputBps = this.serverBps;
        }
        this.server = { at: now, bytesIn: serverBytesIn, queued: queuedBytes };
      }
      // Between counts (a second apart): what the server has received since, at its rate
      // (before two counts, at the rate we send: nothing is assumed to wait).
      const rate = this.rated ? this.serverBps : ownBps || this.video + this.audio;
      const since = (rate / 8) * ((now - this.server.at) / 1000);
      inFlight = Math.max(bufferedBytes, queuedBytes - (serverBytesIn + since));
    }
    // It drains at the rate the server receives when that is less than what is sent.
    const sendBps = ownBps || this.video + this.audio;
    const drainBps = congested && this.throughputBps > 0 ? this.throughputBps
      : this.rated ? Math.min(sendBps, this.serverBps) : sendBps;
    this.behindS = (inFlight * 8) / Math.max(drainBps, 64_000);
    if (fresh) this.readings.push([now, this.behindS]);
    while (this.readings.length && now - this.readings[0][0] > LASTING_WINDOW_MS) this.readings.shift();
    const lasting = this.readings.length >= 2 ? Math.min(...this.readings.map(([, b]) => b)) : 0;

    // A new count with the server receiving clearly less than is sent and something waiting: a
    // narrower link for sure (a keyframe's burst leaves the rate alone). Its rate is the link's
    // from now; frames are thinned out at once, before the backlog shows in full (it is a
    // second behind the count), and the bitrate goes down now.
    const narrower = fresh && this.serverBps > 0 && this.serverBps < 0.8 * this.sentBps &&
      this.behindS > NARROWER_S;
    if (narrower) this.throughputBps = this.serverBps;
    this.skipping = narrower || (this.skipping ? this.behindS > RESUME_S : this.behindS > SKIP_S);

    // Or a backlog that lasted over the server's last two counts.
    if ((lasting > DOWN_S || narrower) && now - this.lastChangeAt >= DOWN_EVERY_MS) {
      let fits = this.throughputBps > 0 ? this.throughputBps * MARGIN - this.audio : this.video * 0.7;
      // An encoder sending well over its target: ask for less by as much.
      const sentVideo = ownBps - this.audio;
      if (sentVideo > this.video * 1.3) fits *= this.video / sentVideo;
      const next = Math.max(MIN_VIDEO_BPS, Math.min(this.video * 0.85, fits));
      if (next < this.video) {
        this.video = Math.round(next);
        this.lastChangeAt = now;
        this.lowered = true;
      }
    }
    if (lasting < CALM_S) {
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
