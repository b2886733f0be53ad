// MediaRecorder wrapper: one Blob every timeslice, a stop() that resolves after the last Blob.

export class Recorder {
  /**
   * @param {MediaStream} stream
   * @param {{mimeType: string, videoBitsPerSecond: number, audioBitsPerSecond?: number,
   *          keyFrameIntervalMs?: number}} opts
   * @param {{chunk: (blob: Blob) => void, error: (err: Error) => void}} handlers
   */
  constructor(stream, opts, handlers) {
    this.h = handlers;
    this.chunks = 0;
    this.bytes = 0;
    const options = {
      mimeType: opts.mimeType,
      videoBitsPerSecond: opts.videoBitsPerSecond,
      audioBitsPerSecond: opts.audioBitsPerSecond || 128000,
      // Keyframes every 2 s (Chromium honours this; other browsers ignore unknown members).
      videoKeyFrameIntervalDuration: opts.keyFrameIntervalMs || 2000,
    };
    this.rec = new MediaRecorder(stream, options);
    this.stopped = new Promise((resolve) => { this._resolveStopped = resolve; });
    this.rec.ondataavailable = (ev) => {
      if (!ev.data || ev.data.size === 0) return;
      this.chunks += 1;
      this.bytes += ev.data.size;
      this.h.chunk(ev.data);
    };
    this.rec.onstop = () => this._resolveStopped();
    this.rec.onerror = (ev) => {
      const err = ev.error || new Error('The recorder stopped with an error.');
      this.h.error && this.h.error(err);
    };
  }

  /** The type the browser actually records (may differ in detail from the one asked for). */
  get mimeType() { return this.rec.mimeType; }

  get state() { return this.rec.state; }

  start(timesliceMs = 250) {
    this.rec.start(timesliceMs);
  }

  /** Stop; resolves after the final dataavailable and the stop event (bounded). */
  async stop(timeoutMs = 5000) {
    if (this.rec.state !== 'inactive') {
      try {
        this.rec.stop();
      } catch {
        /* already stopping */
      }
    } else {
      this._resolveStopped();
    }
    let timer;
    await Promise.race([this.stopped, new Promise((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
  }
}
