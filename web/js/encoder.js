// The page's own encoder (WebCodecs): the stream's picture and sound encoded here, muxed into
// live Matroska by mediabunny and handed out a frame at a time, so that the page (not the
// browser's MediaRecorder) decides the codec, the bitrate and where the keyframes fall.
//
//   video track → VideoFrame → VideoEncoder (H.264, avcC) ──┐
//   audio track → AudioWorklet (PCM) → AudioEncoder (AAC or Opus) ─┴→ mediabunny (append-only
//   Matroska) → chunk(bytes) → the socket
//
// The same interface as recorder.js's Recorder (start, stop, state, mimeType, bytes, chunks,
// handlers chunk/error), plus what only an encoder of our own can do: requestKeyframe(),
// setBitrate() and skipping frames while the upload is behind (`skipping`).
//
// Frames are read with MediaStreamTrackProcessor where the browser has it (Chromium), else
// from a <video> element on a Worker's clock (Firefox, Safari). Sound is read with an
// AudioWorklet in every browser (MediaStreamTrackProcessor for audio is Chromium's only).
// Both are stamped on one clock (performance.now() since start), so they stay together.

import { checkedAvcC } from './avcc.js';

const MEDIABUNNY = '../vendor/mediabunny.mjs';
const AUDIO_FRAMES = 960; // 20 ms at 48 kHz per AudioData (fewer at lower rates is fine)
const MAX_ENCODE_QUEUE = 2; // frames waiting in the encoder beyond this are dropped (CPU)
const ENCODER_STALL_MS = 300; // unless it has put nothing out for this long
const SKIP_KEEP = 4; // while the upload is behind, one frame in this many is encoded
const PENDING_MAX_MS = 100; // muxed bytes wait at most this long for a picture to go out with
const AUDIO_RESYNC_US = 80_000; // the sound's clock is re-anchored beyond this drift
const SILENCE_AFTER_US = 300_000; // no sound this long: silence is filled in

// The AudioWorklet: hands over the mix in AUDIO_FRAMES blocks, two channels.
const TAP_SRC = `
class WsrtmpTap extends AudioWorkletProcessor {
  constructor(o) {
    super();
    this.n = o.processorOptions.frames;
    this.bufs = [new Float32Array(this.n), new Float32Array(this.n)];
    this.at = 0;
    this.first = 0;
  }
  process(inputs) {
    const input = inputs[0] || [];
    const len = input.length ? input[0].length : 128;
    for (let i = 0; i < len; i += 1) {
      if (this.at === 0) this.first = currentFrame + i;
      for (let c = 0; c < 2; c += 1) {
        const ch = input[Math.min(c, input.length - 1)];
        this.bufs[c][this.at] = ch ? ch[i] : 0;
      }
      this.at += 1;
      if (this.at === this.n) {
        this.port.postMessage({ planes: this.bufs, frame: this.first }, this.bufs.map((b) => b.buffer));
        this.bufs = [new Float32Array(this.n), new Float32Array(this.n)];
        this.at = 0;
      }
    }
    return true;
  }
}
registerProcessor('wsrtmp-tap', WsrtmpTap);
`;

// A Worker's timer: not throttled in background tabs (as the studio's frame clock).
const CLOCK_SRC = 'let t = 0; onmessage = (e) => { clearInterval(t); ' +
  'if (e.data > 0) t = setInterval(() => postMessage(0), e.data); };';

// One AudioContext for every encoder of the page: browsers let a context run only after a user
// gesture (Firefox keeps one made later suspended), so Go live makes it (primeAudio).
let sharedAudio = null;
const tapLoaded = new WeakSet();

/** Call from the Go live gesture: the running AudioContext the encoder reads sound with. */
export function primeAudio() {
  const AC = typeof window !== 'undefined' && (window.AudioContext || window.webkitAudioContext);
  if (!AC) return null;
  if (!sharedAudio || sharedAudio.state === 'closed') {
    try { sharedAudio = new AC(); } catch { sharedAudio = null; }
  }
  if (sharedAudio && sharedAudio.state === 'suspended') sharedAudio.resume().catch(() => {});
  return sharedAudio;
}

/** The H.264 codec strings to try, best first, for a picture of this size and rate. */
export function avcCodecs(width, height, fps) {
  const mbps = Math.ceil(width / 16) * Math.ceil(height / 16) * fps;
  // The lowest level that carries it (H.264 table A-1, macroblocks per second).
  const level = mbps <= 108000 ? 0x1f : mbps <= 245760 ? 0x28 : mbps <= 522240 ? 0x2a : 0x33;
  const hex = level.toString(16).padStart(2, '0');
  // Constrained Baseline first: no B-frames, so nothing waits for a later picture (Firefox's
  // encoder uses them at High and then answers keyframe requests late), and every platform
  // takes it; High and Main where a browser offers nothing else.
  return [`avc1.42e0${hex}`, `avc1.6400${hex}`, `avc1.4d00${hex}`];
}

/** True when this browser has the WebCodecs parts the encoder needs (support is asked later). */
export function hasWebCodecs() {
  return typeof window !== 'undefined' && typeof window.VideoEncoder === 'function' &&
    typeof window.AudioEncoder === 'function' && typeof window.VideoFrame === 'function' &&
    typeof window.AudioData === 'function' && typeof window.AudioWorkletNode === 'function';
}

/**
 * What this browser encodes: {video: codec string, audio: 'aac'|'opus'} or null.
 * @param {{width: number, height: number, fps: number, videoBitsPerSecond: number,
 *          audioBitsPerSecond: number, sampleRate: number}} p
 */
export async function probeEncoders(p) {
  if (!hasWebCodecs()) return null;
  let video = null;
  for (const codec of avcCodecs(p.width, p.height, p.fps)) {
    try {
      const r = await VideoEncoder.isConfigSupported(videoConfig(codec, p.width, p.height, p.fps, p.videoBitsPerSecond));
      if (r.supported) { video = codec; break; }
    } catch { /* try the next */ }
  }
  if (!video) return null;
  let audio = null;
  for (const [name, codec] of [['aac', 'mp4a.40.2'], ['opus', 'opus']]) {
    try {
      const r = await AudioEncoder.isConfigSupported(audioConfig(codec, p.sampleRate, p.audioBitsPerSecond));
      if (r.supported) { audio = name; break; }
    } catch { /* try the next */ }
  }
  return audio ? { video, audio } : null;
}

function videoConfig(codec, width, height, fps, bitrate) {
  return {
    codec, width, height, bitrate, framerate: fps,
    latencyMode: 'realtime',
    avc: { format: 'avc' }, // length-prefixed NAL units and an avcC: what Matroska carries
  };
}

function audioConfig(codec, sampleRate, bitrate) {
  const c = { codec, sampleRate, numberOfChannels: 2, bitrate };
  if (codec === 'mp4a.40.2') c.aac = { format: 'aac' }; // raw AAC and an AudioSpecificConfig
  return c;
}

const even = (n) => Math.max(2, Math.round(n / 2) * 2);

export class WebCodecsRecorder {
  /**
   * @param {MediaStream} stream
   * @param {{videoBitsPerSecond: number, audioBitsPerSecond?: number, keyFrameIntervalMs?: number,
   *          fps?: number}} opts
   * @param {{chunk: (data: Uint8Array) => void, error: (err: Error) => void,
   *          started?: (mimeType: string) => void, keyframe?: (atMs: number) => void}} handlers
   *   keyframe: a keyframe left the encoder (its time on the stream's clock)
   */
  constructor(stream, opts, handlers) {
    this.stream = stream;
    this.h = handlers;
    this.fps = opts.fps || 30;
    this.frameUs = 1e6 / this.fps;
    this.videoBitsPerSecond = opts.videoBitsPerSecond;
    this.audioBitsPerSecond = opts.audioBitsPerSecond || 128000;
    this.keyIntervalUs = (opts.keyFrameIntervalMs || 2000) * 1000;
    this.chunks = 0;
    this.bytes = 0;
    this.written = 0;       // bytes the muxer wrote (its positions must follow on)
    this.pending = [];      // written since the last message
    this.pendingSince = 0;
    this.framesIn = 0;      // video frames offered
    this.framesSkipped = 0; // of which not encoded: the upload was behind, or the CPU
    this.keyframes = 0;
    this.skipping = false;  // set by the session while too much waits to be sent
    this._state = 'inactive';
    this.codecs = null;     // {video, audio} once started
    this.t0 = 0;
    this.lastKeyUs = -Infinity;
    this.forceKey = false;
    this.lastTs = -1;
    this.videoClock = new ClockMap();
    this.lastOwnTs = -Infinity;
    this.lastOutputAt = 0;   // performance.now() of the video encoder's last output
    this.width = 0;
    this.height = 0;
    this.cleanups = [];
    this.stopped = new Promise((resolve) => { this._resolveStopped = resolve; });
  }

  get state() { return this._state; }

  /** Matroska with what this encoder writes (known once started). */
  get mimeType() {
    const a = this.codecs && this.codecs.audio === 'aac' ? 'mp4a.40.2' : 'opus';
    return `video/x-matroska;codecs=avc1,${a}`;
  }

  /** The next frame becomes a keyframe (the server asked: a destination or a takeover waits). */
  requestKeyframe() { this.forceKey = true; }

  /** A new target bitrate (bit/s) for the picture, from the next frame on. */
  setBitrate(bps) {
    bps = Math.round(bps);
    if (bps === this.videoBitsPerSecond) return;
    this.videoBitsPerSecond = bps;
    if (this.venc && this.venc.state === 'configured') {
      try {
        this.venc.configure(videoConfig(this.codecs.video, this.width, this.height, this.fps, bps));
      } catch (err) {
        this._error(err);
      }
    }
  }

  start() {
    this._state = 'recording';
    this._start().catch((err) => this._error(err));
  }

  async _start() {
    const vtrack = this.stream.getVideoTracks()[0];
    const atrack = this.stream.getAudioTracks()[0];
    if (!vtrack) throw new Error('there is no picture to send');
    const settings = vtrack.getSettings ? vtrack.getSettings() : {};
    this.width = even(settings.width || 1280);
    this.height = even(settings.height || 720);
    this.actx = atrack ? primeAudio() : null;
    const rate = this.actx ? this.actx.sampleRate : 48000;
    this.codecs = await probeEncoders({
      width: this.width, height: this.height, fps: this.fps,
      videoBitsPerSecond: this.videoBitsPerSecond, audioBitsPerSecond: this.audioBitsPerSecond,
      sampleRate: rate,
    });
    if (!this.codecs) throw new Error('this browser cannot encode H.264 with WebCodecs');
    const mb = await import(MEDIABUNNY);
    if (this._state !== 'recording') return;

    // The muxer: every write follows the last (append-only), so each goes out as it is.
    const target = new mb.StreamTarget(new WritableStream({
      write: (c) => {
        if (c.position !== this.written) {
          throw new Error(`the muxer went back to byte ${c.position} (wrote ${this.written})`);
        }
        this.written += c.data.byteLength;
        this.bytes += c.data.byteLength;
        if (!this.pending.length) this.pendingSince = performance.now();
        this.pending.push(c.data.slice());
      },
    }));
    this.output = new mb.Output({
      format: new mb.MkvOutputFormat({ appendOnly: true, minimumClusterDuration: 1 }),
      target,
    });
    this.videoSource = new mb.EncodedVideoPacketSource('avc');
    this.output.addVideoTrack(this.videoSource, { frameRate: this.fps });
    if (atrack) {
      this.audioSource = new mb.EncodedAudioPacketSource(this.codecs.audio);
      this.output.addAudioTrack(this.audioSource);
    }
    await this.output.start();
    this.EncodedPacket = mb.EncodedPacket;
    this.videoChain = Promise.resolve();
    this.audioChain = Promise.resolve();

    let firstVideoMeta = true;
    this.venc = new VideoEncoder({
      output: (chunk, meta) => {
        this.lastOutputAt = performance.now();
        const d = meta && meta.decoderConfig && meta.decoderConfig.description;
        if (chunk.type === 'key') {
          this.keyframes += 1;
          if (this.h.keyframe) this.h.keyframe(chunk.timestamp / 1000);
        }
        const packet = this.EncodedPacket.fromEncodedChunk(chunk);
        let m;
        if (firstVideoMeta && meta && meta.decoderConfig && d) {
          // The record checked against the keyframe's own parameter sets (Firefox's is broken).
          const checked = checkedAvcC(d, packet.data);
          this.avccRepaired = checked.repaired;
          m = { ...meta, decoderConfig: { ...meta.decoderConfig, description: checked.description } };
        } else if (firstVideoMeta) {
          m = meta;
        }
        firstVideoMeta = false;
        // Out with the picture: one message a frame, the sound written meanwhile with it.
        this.videoChain = this.videoChain.then(() => this.videoSource.add(packet, m))
          .then(() => this._send())
          .catch((err) => this._error(err));
      },
      error: (err) => this._error(err),
    });
    this.venc.configure(videoConfig(this.codecs.video, this.width, this.height, this.fps, this.videoBitsPerSecond));

    if (atrack) await this._startAudio(atrack);
    this.t0 = performance.now();
    // The stream's clock starts now: for the page (and tests), the recording starts here.
    if (this.h.started) this.h.started(this.mimeType);
    const clock = makeClock(100, () => this._tick());
    this.cleanups.push(() => clock.terminate());
    this._startVideo(vtrack);
  }

  async _startAudio(track) {
    const ctx = this.actx;
    const codec = this.codecs.audio === 'aac' ? 'mp4a.40.2' : 'opus';
    let firstMeta = true;
    this.aenc = new AudioEncoder({
      output: (chunk, meta) => {
        const packet = this.EncodedPacket.fromEncodedChunk(chunk);
        const m = firstMeta ? meta : undefined;
        firstMeta = false;
        this.audioChain = this.audioChain.then(() => this.audioSource.add(packet, m))
          .catch((err) => this._error(err));
      },
      error: (err) => this._error(err),
    });
    this.aenc.configure(audioConfig(codec, ctx.sampleRate, this.audioBitsPerSecond));

    if (!tapLoaded.has(ctx)) {
      const url = URL.createObjectURL(new Blob([TAP_SRC], { type: 'text/javascript' }));
      try {
        await ctx.audioWorklet.addModule(url);
        tapLoaded.add(ctx);
      } finally {
        URL.revokeObjectURL(url);
      }
    }
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const tap = new AudioWorkletNode(ctx, 'wsrtmp-tap', {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
      channelCount: 2, channelCountMode: 'explicit', channelInterpretation: 'speakers',
      processorOptions: { frames: AUDIO_FRAMES },
    });
    // Pulled by the graph only when it leads to the output: through a silent gain.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(tap);
    tap.connect(mute);
    mute.connect(ctx.destination);
    this.audioRate = ctx.sampleRate;
    this.audioNextUs = null; // where the next block of sound goes on the stream's clock
    const clock = new ClockMap();
    tap.port.onmessage = (ev) => {
      if (this._state !== 'recording' || !this.t0) return;
      const { planes, frame } = ev.data;
      const n = planes[0].length;
      const blockUs = (n * 1e6) / ctx.sampleRate;
      // The block's start on the context's sample clock, moved onto the stream's clock by the
      // shortest way any block took to get here lately (a busy page delays some a lot).
      const arrivedUs = (performance.now() - this.t0) * 1000;
      const startUs = clock.map((frame * 1e6) / ctx.sampleRate, arrivedUs - blockUs);
      if (this.audioNextUs === null) this.audioNextUs = Math.max(0, startUs);
      // Blocks follow on; after a gap (a suspended context, silence filled in) the sound takes
      // up where it really is; what would overlap what went out already is dropped.
      if (startUs < this.audioNextUs - blockUs / 2) return;
      if (startUs - this.audioNextUs > AUDIO_RESYNC_US) this.audioNextUs = startUs;
      const data = new Float32Array(n * 2);
      data.set(planes[0], 0);
      data.set(planes[1], n);
      this._encodeAudio(data, n);
    };
    // Not awaited: a context the browser keeps suspended (no gesture) would hang here.
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    this.cleanups.push(() => {
      tap.port.onmessage = null;
      source.disconnect();
      tap.disconnect();
      mute.disconnect();
    });
  }

  /** One block of planar stereo sound at audioNextUs. */
  _encodeAudio(data, frames) {
    const audio = new AudioData({
      format: 'f32-planar', sampleRate: this.audioRate, numberOfFrames: frames, numberOfChannels: 2,
      timestamp: Math.round(this.audioNextUs), data,
    });
    this.audioNextUs += (frames * 1e6) / this.audioRate;
    try {
      this.aenc.encode(audio);
    } finally {
      audio.close();
    }
  }

  /**
   * No sound has come for a while (the browser keeps the AudioContext suspended, or the
   * device stalled): silence in its place, or the muxer, which interleaves, would hold the
   * picture back too. The sound takes over again where it comes back.
   */
  /** What the muxer wrote since the last message, as one message. */
  _send() {
    if (!this.pending.length) return;
    const parts = this.pending;
    this.pending = [];
    let data = parts[0];
    if (parts.length > 1) {
      data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) { data.set(p, at); at += p.length; }
    }
    this.chunks += 1;
    this.h.chunk(data);
  }

  /** Every 100 ms: what waits without a picture to go with it (none came) goes alone. */
  _tick() {
    if (this.pending.length && performance.now() - this.pendingSince >= PENDING_MAX_MS) this._send();
    this._fillSilence();
  }

  _fillSilence() {
    if (!this.aenc || this.aenc.state !== 'configured' || !this.t0) return;
    const nowUs = (performance.now() - this.t0) * 1000;
    if (this.audioNextUs === null) this.audioNextUs = 0;
    if (nowUs - this.audioNextUs < SILENCE_AFTER_US) return;
    this.silenceFilled = (this.silenceFilled || 0) + 1;
    while (nowUs - this.audioNextUs > SILENCE_AFTER_US / 2) {
      this._encodeAudio(new Float32Array(AUDIO_FRAMES * 2), AUDIO_FRAMES);
    }
  }

  _startVideo(track) {
    if (typeof window.MediaStreamTrackProcessor === 'function') {
      const clone = track.clone();
      // eslint-disable-next-line no-undef
      const reader = new MediaStreamTrackProcessor({ track: clone, maxBufferSize: 2 }).readable.getReader();
      // Stopping the track ends the stream after the frames it holds, which the loop below
      // reads and closes (a cancelled reader would leave them to the garbage collector).
      this.cleanups.push(() => {
        clone.stop();
        setTimeout(() => reader.cancel().catch(() => {}), 1000);
      });
      (async () => {
        for (;;) {
          let r;
          try { r = await reader.read(); } catch { return; }
          if (r.done) return;
          this._frame(r.value, true);
        }
      })();
      return;
    }
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {});
    const clock = makeClock(1000 / this.fps, () => {
      if (video.readyState < 2 || !video.videoWidth) return;
      let frame;
      try { frame = new VideoFrame(video, { timestamp: 0 }); } catch { return; }
      this._frame(frame);
    });
    this.cleanups.push(() => { clock.terminate(); video.srcObject = null; });
  }

  /** One picture: stamped on the stream's clock, scaled to the encoder's size, encoded or skipped. */
  _frame(frame, ownTime = false) {
    if (this._state !== 'recording' || !this.venc || this.venc.state !== 'configured') {
      frame.close();
      return;
    }
    this.framesIn += 1;
    // On the frame rate's grid, one frame per slot: Firefox's encoder puts its chunks there
    // whatever the frame said (two frames in one slot came out with one timestamp), and a late
    // timer catches up with ticks close together.
    // A frame's own capture time where it has one (MediaStreamTrackProcessor), moved onto the
    // stream's clock as the sound is; else when it was read.
    const nowUs = (performance.now() - this.t0) * 1000;
    const own = ownTime && frame.timestamp > this.lastOwnTs; // a source without times: when read
    if (own) this.lastOwnTs = frame.timestamp;
    const atUs = own ? this.videoClock.map(frame.timestamp, nowUs) : nowUs;
    const ts = Math.round(Math.round(atUs / this.frameUs) * this.frameUs);
    if (ts <= this.lastTs) { frame.close(); return; }
    // Skipped frames are never encoded, so nothing refers to them. While the upload is behind,
    // one frame in SKIP_KEEP still goes out (a picture that stops for seconds reads as a stalled
    // input to the server), and so does a keyframe that is due: the platforms need them on time.
    const keyDue = this.forceKey || ts - this.lastKeyUs >= this.keyIntervalUs - this.frameUs / 2;
    const thinned = this.skipping && ts - this.lastTs < this.frameUs * (SKIP_KEEP - 0.5);
    // The encoder behind (CPU): drop, but only while it still puts frames out; some hold a few
    // until more come in (Firefox's), and starving them would stall the picture.
    const busy = this.venc.encodeQueueSize > MAX_ENCODE_QUEUE &&
      performance.now() - this.lastOutputAt < ENCODER_STALL_MS;
    if (!keyDue && (thinned || busy)) {
      this.framesSkipped += 1;
      frame.close();
      return;
    }
    this.lastTs = ts;
    let out;
    try {
      out = this._fit(frame, ts);
    } finally {
      frame.close();
    }
    const key = keyDue;
    if (key) {
      this.lastKeyUs = ts;
      this.forceKey = false;
    }
    try {
      this.venc.encode(out, { keyFrame: key });
    } finally {
      out.close();
    }
  }

  /** The frame as the encoder takes it: this size (a camera may change its size mid-stream). */
  _fit(frame, ts) {
    const init = { timestamp: ts, duration: Math.round(this.frameUs) };
    if (frame.displayWidth === this.width && frame.displayHeight === this.height) {
      return new VideoFrame(frame, init);
    }
    if (!this.canvas) {
      this.canvas = new OffscreenCanvas(this.width, this.height);
      this.ctx2d = this.canvas.getContext('2d');
    }
    const s = Math.min(this.width / frame.displayWidth, this.height / frame.displayHeight);
    const w = frame.displayWidth * s;
    const h = frame.displayHeight * s;
    this.ctx2d.fillStyle = '#000';
    this.ctx2d.fillRect(0, 0, this.width, this.height);
    this.ctx2d.drawImage(frame, (this.width - w) / 2, (this.height - h) / 2, w, h);
    return new VideoFrame(this.canvas, init);
  }

  _error(err) {
    if (this._state === 'inactive') return;
    this._teardown();
    this.h.error && this.h.error(err instanceof Error ? err : new Error(String(err && err.message || err)));
  }

  _teardown() {
    this._state = 'inactive';
    for (const f of this.cleanups.splice(0)) {
      try { f(); } catch { /* going anyway */ }
    }
    for (const enc of [this.venc, this.aenc]) {
      if (enc && enc.state !== 'closed') {
        try { enc.close(); } catch { /* closed */ }
      }
    }
    this._resolveStopped();
  }

  /** Stop: what was captured is encoded and written out, then resolves (bounded). */
  async stop(timeoutMs = 5000) {
    if (this._state === 'inactive') return;
    this._state = 'stopping';
    for (const f of this.cleanups.splice(0)) {
      try { f(); } catch { /* going anyway */ }
    }
    const finish = (async () => {
      if (this.venc && this.venc.state === 'configured') await this.venc.flush();
      if (this.aenc && this.aenc.state === 'configured') await this.aenc.flush();
      await this.videoChain;
      await this.audioChain;
      if (this.output && this.output.state === 'started') await this.output.finalize();
      this._send();
    })().catch(() => {});
    let timer;
    await Promise.race([finish, new Promise((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
    this._teardown();
  }
}

/**
 * A source's own clock (a camera's capture times, a sound card's samples) moved onto the
 * stream's: by the smallest delay (arrival − own time) seen in the last WINDOW_S seconds. A
 * busy page delivers some late, never early, so the smallest is the true one; the window lets
 * a slow drift between the two clocks through.
 */
class ClockMap {
  constructor(windowS = 10) {
    this.windowS = windowS;
    this.buckets = []; // [second of arrival, smallest delay in it]
  }

  map(ownUs, arrivedUs) {
    const delay = arrivedUs - ownUs;
    const sec = Math.floor(arrivedUs / 1e6);
    const last = this.buckets[this.buckets.length - 1];
    if (last && last[0] === sec) last[1] = Math.min(last[1], delay);
    else this.buckets.push([sec, delay]);
    while (this.buckets.length && this.buckets[0][0] <= sec - this.windowS) this.buckets.shift();
    let best = Infinity;
    for (const [, d] of this.buckets) best = Math.min(best, d);
    return ownUs + best;
  }
}

/** A Worker's timer calling `tick` every `ms` (not throttled in background tabs). */
function makeClock(ms, tick) {
  const url = URL.createObjectURL(new Blob([CLOCK_SRC], { type: 'text/javascript' }));
  const clock = new Worker(url);
  URL.revokeObjectURL(url);
  clock.onmessage = tick;
  clock.postMessage(ms);
  return clock;
}
