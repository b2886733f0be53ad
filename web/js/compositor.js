// The optional stage between the capture sources and the recorder.
//
//   camera + microphone, screen share  →  compositor  →  recorder  →  socket
//
// A compositor takes the camera MediaStream and returns the MediaStream to record.
// `passthrough` records the camera as is (H.264 from the browser passes through the
// server untouched). `Studio` draws the sources and overlays on a <canvas> and hands the
// recorder ONE video track fed from that canvas and ONE audio track from its mixer
// (mixer.js); scenes and overlays change what is drawn, never the tracks, so a switch while
// live needs no new connection and no new recorder.
//
// Background tabs: browsers throttle requestAnimationFrame and timers there to about
// one per second. The frame clock is a dedicated Worker's timer (not throttled), the
// inputs are read with MediaStreamTrackProcessor where the browser has it (a <video>
// element is not updated in a hidden tab), and the output is a MediaStreamTrackGenerator
// fed a VideoFrame per tick (else canvas.captureStream(0) + requestFrame()).

import { AudioMixer } from './mixer.js';

/** @typedef {{output(source: MediaStream): MediaStream, dispose(): void}} Compositor */

/** @returns {Compositor} */
export function passthrough() {
  return {
    output(source) { return source; },
    dispose() {},
  };
}

export const SCENES = ['camera', 'screen', 'pip', 'brb'];
export const CORNERS = ['top-left', 'top-right', 'bottom-left', 'bottom-right'];
const PIP_WIDTH = { small: 0.22, medium: 0.32 }; // of the picture's width

// The frame clock: a Worker's setInterval, which background tabs do not throttle.
const CLOCK_SRC = 'let t = 0; onmessage = (e) => { clearInterval(t); ' +
  'if (e.data > 0) t = setInterval(() => postMessage(0), e.data); };';

/** The newest frame of a video track, for drawImage(). */
class FrameSource {
  constructor(track) {
    this.track = track;
    this.frame = null;
    this.video = null;
    this.reader = null;
    if (typeof window.MediaStreamTrackProcessor === 'function') {
      // eslint-disable-next-line no-undef
      const proc = new MediaStreamTrackProcessor({ track, maxBufferSize: 2 });
      this.reader = proc.readable.getReader();
      this._read();
    } else {
      this.video = document.createElement('video');
      this.video.muted = true;
      this.video.playsInline = true;
      this.video.srcObject = new MediaStream([track]);
      this.video.play().catch(() => {});
    }
  }

  async _read() {
    for (;;) {
      let r;
      try {
        r = await this.reader.read();
      } catch {
        return;
      }
      if (r.done) { this.reader = null; return; }
      if (this.closed) { r.value.close(); continue; }
      if (this.frame) this.frame.close();
      this.frame = r.value;
      this.readAt = performance.now();
    }
  }

  /** Something drawImage() accepts, with its size; null before the first frame. */
  get image() {
    if (this.frame) return { img: this.frame, w: this.frame.displayWidth, h: this.frame.displayHeight };
    if (this.video && this.video.videoWidth) return { img: this.video, w: this.video.videoWidth, h: this.video.videoHeight };
    return null;
  }

  close() {
    // Read on (closing each frame) until the track's end ends the stream: cancelling would
    // leave the frames queued in the processor to the garbage collector.
    this.closed = true;
    const r = this.reader;
    if (r) setTimeout(() => { if (this.reader === r) r.cancel().catch(() => {}); }, 2000);
    if (this.frame) { this.frame.close(); this.frame = null; }
    if (this.video) { this.video.srcObject = null; this.video = null; }
  }
}

/** Draw `src` into the box, whole, centred (letterbox); or cover it (crop) when `cover`. */
function drawFit(ctx, src, x, y, w, h, cover = false) {
  const s = cover ? Math.max(w / src.w, h / src.h) : Math.min(w / src.w, h / src.h);
  const dw = src.w * s;
  const dh = src.h * s;
  ctx.save();
  ctx.beginPath();
  ctx.rect(x, y, w, h);
  ctx.clip();
  ctx.drawImage(src.img, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
  ctx.restore();
}

function cornerBox(corner, W, H, w, h, margin) {
  const x = corner.endsWith('left') ? margin : W - w - margin;
  const y = corner.startsWith('top') ? margin : H - h - margin;
  return { x, y };
}

/**
 * The studio: scenes and overlays drawn on `canvas`; the microphone and screen audio mixed
 * (AudioMixer), the sound kept with the picture.
 * State (all plain data, saved by the page): scene, pipCorner, pipSize, titleName,
 * titleSubtitle, titleShown, logoCorner; logo is an image set with setLogo().
 */
export class Studio {
  constructor(canvas, { fps = 30 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false, desynchronized: false });
    this.fps = fps;
    this.state = {
      scene: 'camera', pipCorner: 'bottom-right', pipSize: 'small',
      titleName: '', titleSubtitle: '', titleShown: false, logoCorner: 'top-right',
    };
    this.logo = null;       // ImageBitmap
    this.camera = null;     // FrameSource
    this.screen = null;     // FrameSource
    this.screenStream = null;
    this.micStream = null;
    this.mixer = new AudioMixer(); // started when the composed stream is first asked for
    this.muted = { mic: false, screen: false };
    this.drawMs = [];       // recent draw times (for the README's figures and support)
    this.frames = 0;
    this.generator = null;
    this.writer = null;
    this.writing = false;
    this.captureTrack = null;
    this.clock = null;
    this.onSceneChange = null;
    this.sceneLog = [];     // [{scene, at}] at: wall-clock ms (for tests and support)
  }

  /** Picture size (follows the resolution setting). */
  setSize(width, height) {
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
  }

  setCamera(stream) {
    if (this.camera) this.camera.close();
    this.camera = null;
    const v = stream && stream.getVideoTracks()[0];
    if (v) this.camera = new FrameSource(v);
    this.micStream = stream && stream.getAudioTracks().length ? stream : null;
    this._connectAudio();
    this._applyMicMute();
    if (v) this.start(); else this.stop();
  }

  /** The screen share (null when it ended). Ending it while showing the screen goes back to Camera. */
  setScreen(stream) {
    if (this.screen) this.screen.close();
    this.screen = null;
    this.screenStream = stream || null;
    const v = stream && stream.getVideoTracks()[0];
    if (v) this.screen = new FrameSource(v);
    if (!v && (this.state.scene === 'screen' || this.state.scene === 'pip')) this.set({ scene: 'camera' });
    this._connectAudio();
  }

  get sharing() { return !!this.screen; }

  /** Change scene/overlay state; takes effect at the next frame. */
  set(patch) {
    const sceneBefore = this.state.scene;
    Object.assign(this.state, patch);
    if (this.state.scene !== sceneBefore) {
      this._applyMicMute();
      this.sceneLog.push({ scene: this.state.scene, at: performance.timeOrigin + performance.now() });
      if (this.sceneLog.length > 100) this.sceneLog.shift();
      if (this.onSceneChange) this.onSceneChange(this.state.scene);
    }
  }

  setLogo(bitmap) {
    if (this.logo && this.logo.close) this.logo.close();
    this.logo = bitmap || null;
  }

  /** Nothing to compose: the camera alone, no overlay, no screen share. */
  get plain() {
    return this.state.scene === 'camera' && !this.state.titleShown && !this.logo && !this.screen;
  }

  // ------------------------------------------------------------ audio
  resumeAudio() {
    this.mixer.resume();
  }

  _connectAudio() {
    for (const [name, stream] of [['mic', this.micStream], ['screen', this.screenStream]]) {
      this.mixer.setInput(name, stream && stream.getAudioTracks()[0]);
    }
    this._applyMicMute();
  }

  /** Mute a source ('mic' or 'screen'). "Be right back" mutes the microphone as well. */
  setMuted(name, muted) {
    this.muted[name] = !!muted;
    this._applyMicMute();
  }

  _applyMicMute() {
    const micOff = this.muted.mic || this.state.scene === 'brb';
    this.mixer.setMuted('mic', micOff);
    this.mixer.setMuted('screen', this.muted.screen);
    // The plain path records the microphone track itself.
    if (this.micStream && !this.composing) {
      for (const t of this.micStream.getAudioTracks()) t.enabled = !micOff;
    } else if (this.micStream) {
      for (const t of this.micStream.getAudioTracks()) t.enabled = true;
    }
  }

  // ------------------------------------------------------------ output
  /**
   * The stream to record: the camera itself when there is nothing to compose (`forcePlain`
   * unset and plain), else the canvas track and the mixed audio track.
   */
  output(camera) {
    if (this.plain) { this.composing = false; this._applyMicMute(); return camera; }
    this.composing = true;
    const mixing = this.mixer.start();
    this._connectAudio();
    this.resumeAudio();
    let video;
    if (typeof window.MediaStreamTrackGenerator === 'function') {
      if (!this.generator || this.generator.readyState === 'ended') {
        // eslint-disable-next-line no-undef
        this.generator = new MediaStreamTrackGenerator({ kind: 'video' });
        this.writer = this.generator.writable.getWriter();
      }
      video = this.generator;
    } else {
      if (!this.captureTrack || this.captureTrack.readyState === 'ended') {
        this.captureTrack = this.canvas.captureStream(0).getVideoTracks()[0];
      }
      video = this.captureTrack;
    }
    const tracks = [video];
    if (mixing) tracks.push(this.mixer.track);
    return new MediaStream(tracks);
  }

  /** After the broadcast: back to drawing the preview only. */
  endOutput() {
    this.composing = false;
    this._applyMicMute();
  }

  /** How the output is produced (for tests and support). */
  get method() {
    return `clock: worker; input: ${typeof window.MediaStreamTrackProcessor === 'function' ? 'MediaStreamTrackProcessor' : 'video element'}; ` +
      `output: ${typeof window.MediaStreamTrackGenerator === 'function' ? 'MediaStreamTrackGenerator' : 'canvas.captureStream'}`;
  }

  // ------------------------------------------------------------ frame clock
  start() {
    if (this.clock) return;
    const url = URL.createObjectURL(new Blob([CLOCK_SRC], { type: 'text/javascript' }));
    this.clock = new Worker(url);
    URL.revokeObjectURL(url);
    this.clock.onmessage = () => this._tick();
    this.clock.postMessage(1000 / this.fps);
  }

  stop() {
    if (this.clock) { this.clock.terminate(); this.clock = null; }
  }

  _tick() {
    const t0 = performance.now();
    this.draw();
    if (this.composing) {
      this._emit();
      this._followLag();
    }
    const dt = performance.now() - t0;
    this.drawMs.push(dt);
    if (this.drawMs.length > 600) this.drawMs.shift();
    this.frames += 1;
  }

  _emit() {
    if (this.writer) {
      if (this.writing || this.generator.readyState === 'ended') return; // the recorder is behind: drop
      // eslint-disable-next-line no-undef
      // (Chromium's MediaRecorder times frames by their arrival, whatever this says.)
      const frame = new VideoFrame(this.canvas, { timestamp: Math.round(performance.now() * 1000) });
      this.writing = true;
      // The generator takes the picture; closing our handle afterwards is harmless (a no-op
      // when the sink closed it already) and never leaves a frame to the garbage collector.
      this.writer.write(frame).catch(() => {}).finally(() => { frame.close(); this.writing = false; });
    } else if (this.captureTrack && this.captureTrack.requestFrame) {
      this.captureTrack.requestFrame();
    }
  }

  /**
   * Keep the sound with the picture. A composed picture reaches the recorder later than the
   * camera frame it shows reached the page (up to a frame of the clock, plus however late a
   * busy page draws); the mixed sound is not held up by that, so delay it by the same, smoothed.
   */
  _followLag() {
    const now = performance.now();
    const scene = this.state.scene;
    const cam = (scene === 'camera' || scene === 'pip') && this.camera;
    // Only a frame's first drawing counts: a camera slower than the clock repeats frames.
    if (!cam || !cam.readAt || cam.readAt === this.lagFrom || now - cam.readAt > 250) return;
    this.lagFrom = cam.readAt;
    const lag = now - cam.readAt;
    this.lagMs = this.lagMs === undefined ? lag : this.lagMs + 0.05 * (lag - this.lagMs);
    if (this.mixer.running && now - (this.lagSetAt || 0) > 500) {
      this.lagSetAt = now;
      this.mixer.delayBy(Math.min(0.25, this.lagMs / 1000));
    }
  }

  /** p50/p95 of the last draw times, ms. */
  drawStats() {
    const s = [...this.drawMs].sort((a, b) => a - b);
    const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : 0);
    return { n: s.length, p50: q(0.5), p95: q(0.95), width: this.canvas.width, height: this.canvas.height };
  }

  // ------------------------------------------------------------ drawing
  draw() {
    const { ctx } = this;
    const W = this.canvas.width;
    const H = this.canvas.height;
    const st = this.state;
    const cam = this.camera && this.camera.image;
    const scr = this.screen && this.screen.image;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, W, H);
    let scene = st.scene;
    if ((scene === 'screen' || scene === 'pip') && !scr) scene = 'camera';
    if (scene === 'camera') {
      if (cam) drawFit(ctx, cam, 0, 0, W, H);
    } else if (scene === 'screen') {
      drawFit(ctx, scr, 0, 0, W, H);
    } else if (scene === 'pip') {
      drawFit(ctx, scr, 0, 0, W, H);
      if (cam) {
        const w = Math.round(W * (PIP_WIDTH[st.pipSize] || PIP_WIDTH.small));
        const h = Math.round((w * 9) / 16);
        const { x, y } = cornerBox(st.pipCorner, W, H, w, h, Math.round(H * 0.03));
        ctx.fillStyle = '#fff';
        ctx.fillRect(x - 2, y - 2, w + 4, h + 4);
        drawFit(ctx, cam, x, y, w, h, true);
      }
    } else if (scene === 'brb') {
      ctx.fillStyle = '#23306b';
      ctx.fillRect(0, 0, W, H);
      ctx.fillStyle = '#fff';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.font = `700 ${Math.round(H * 0.09)}px system-ui, sans-serif`;
      ctx.fillText('Be right back', W / 2, H / 2);
    }
    if (this.logo) {
      const h = Math.round(H * 0.12);
      const w = Math.round((h * this.logo.width) / this.logo.height);
      const { x, y } = cornerBox(st.logoCorner, W, H, w, h, Math.round(H * 0.03));
      ctx.drawImage(this.logo, x, y, w, h);
    }
    if (st.titleShown && (st.titleName || st.titleSubtitle)) this._drawTitle(W, H);
  }

  _drawTitle(W, H) {
    const { ctx } = this;
    const st = this.state;
    const nameSize = Math.round(H * 0.055);
    const subSize = Math.round(H * 0.035);
    const pad = Math.round(H * 0.02);
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.font = `700 ${nameSize}px system-ui, sans-serif`;
    const nameW = st.titleName ? ctx.measureText(st.titleName).width : 0;
    ctx.font = `400 ${subSize}px system-ui, sans-serif`;
    const subW = st.titleSubtitle ? ctx.measureText(st.titleSubtitle).width : 0;
    const boxW = Math.min(W * 0.8, Math.max(nameW, subW) + 2 * pad);
    const boxH = pad * 2 + (st.titleName ? nameSize * 1.15 : 0) + (st.titleSubtitle ? subSize * 1.2 : 0);
    const x = Math.round(W * 0.04);
    const y = Math.round(H * 0.94 - boxH);
    ctx.fillStyle = 'rgba(10, 12, 20, 0.85)';
    ctx.fillRect(x, y, boxW, boxH);
    ctx.fillStyle = '#e5484d';
    ctx.fillRect(x, y, Math.max(4, Math.round(H * 0.006)), boxH);
    let ty = y + pad;
    if (st.titleName) {
      ctx.fillStyle = '#fff';
      ctx.font = `700 ${nameSize}px system-ui, sans-serif`;
      ctx.fillText(st.titleName, x + pad, ty, boxW - 2 * pad);
      ty += nameSize * 1.15;
    }
    if (st.titleSubtitle) {
      ctx.fillStyle = '#d6dbe6';
      ctx.font = `400 ${subSize}px system-ui, sans-serif`;
      ctx.fillText(st.titleSubtitle, x + pad, ty, boxW - 2 * pad);
    }
  }

  dispose() {
    this.stop();
    if (this.camera) this.camera.close();
    if (this.screen) this.screen.close();
    this.mixer.close();
  }
}
