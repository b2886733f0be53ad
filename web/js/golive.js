// Going live and stopping: the Go live form (stream key, Show/Hide, Go live/Stop), the checks
// before a broadcast (key, format, camera), one session at a time on the studio's output (a
// LiveSession over the WebSocket or a WhipSession over WebRTC, as the Connection setting says;
// Automatic falls back from WebRTC to the WebSocket), and its phases, stats, warnings and
// destinations on the page.

import { describeMimeType, isLiveUnfriendly, isWebCodecs, nextFormat } from './format.js';
import { primeAudio, probeEncoders } from './encoder.js';
import { validateKey } from './socket.js';
import { LiveSession } from './session.js';
import { RecordingWatch } from './recordings.js';
import { WhipSession } from './whip_session.js';

export class GoLive {
  /**
   * @param {{ui: import('./ui.js').Ui, settings: import('./settings.js').Settings,
   *          camera: import('./camera.js').CameraControl,
   *          controls: import('./studio_controls.js').StudioControls,
   *          meter: import('./meter.js').LevelMeter}} parts
   */
  constructor({ ui, settings, camera, controls, meter }) {
    this.ui = ui;
    this.settings = settings;
    this.camera = camera;
    this.controls = controls;
    this.meter = meter;
    this.session = null; // LiveSession or WhipSession while connecting/live/ending
    // After the end: the server's recording of this broadcast, as it is finalised.
    this.recordings = new RecordingWatch((list, done) => ui.setRecordings(list, done));
    this.startedAt = 0; // Date.now() at Go live
  }

  get live() { return !!this.session; }

  bind() {
    const { ui } = this;
    ui.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (this.session) this.session.stop();
      else this.start();
    });
    ui.keyToggle.addEventListener('click', () => ui.toggleKeyVisible());
    ui.key.addEventListener('input', () => ui.keyError(''));
    window.addEventListener('beforeunload', (ev) => {
      if (this.session) {
        ev.preventDefault();
        ev.returnValue = '';
      }
    });
    window.addEventListener('pagehide', () => { if (this.session) this.session.abort(); });
  }

  async start() {
    const { ui, settings } = this;
    this.meter.resume();
    primeAudio(); // while the click counts as the user's: the encoder's sound may start
    ui.showAlert('');
    const key = ui.key.value.trim();
    const keyErr = validateKey(key);
    ui.keyError(keyErr);
    if (keyErr) {
      ui.key.focus();
      return;
    }
    const transport = settings.transport;
    let format = transport === 'webrtc' ? { ok: true } : settings.formatToRecord();
    if (!format.ok) {
      ui.showAlert(format.reason);
      return;
    }
    settings.rememberKey(key);
    const cam = this.camera.stream || (await this.camera.start());
    if (!cam) {
      ui.showAlert('You can\u2019t go live until the camera and microphone are on: see the message in the preview.');
      return;
    }
    if (transport !== 'websocket') {
      this._startWhip(cam, key, transport === 'auto');
      return;
    }
    await this._startWebSocket(cam, key, format);
  }

  /** Over WebRTC (WHIP); with fallback, over the WebSocket when WebRTC cannot start. */
  _startWhip(cam, key, fallback) {
    const { ui } = this;
    ui.showWarning('');
    const stream = this.controls.startOutput(cam);
    const s = new WhipSession({
      stream, key, fallback, videoBitsPerSecond: Number(ui.bitrate.value),
    }, {
      ...this._handlers(() => s, () => ({ id: 'webrtc', text: '' })),
      unreachable: (reason) => {
        if (this.session !== s) return;
        ui.showWarning(`Could not stream over WebRTC here (${reason}), so the stream goes over the WebSocket.`);
        this.session = null;
        this.controls.endOutput();
        const format = this.settings.formatToRecord();
        if (!format.ok) {
          ui.showAlert(format.reason);
          ui.setState('idle');
          return;
        }
        this._startWebSocket(cam, key, format, { keepWarning: true }).then(() => {
          if (!this.session) ui.setState('idle'); // the WebSocket could not start either
        });
      },
    });
    this._run(s);
  }

  /** The session's handlers for the page; `suffix()` describes the transport after the format. */
  _handlers(session, suffix) {
    const { ui } = this;
    return {
      phase: (p, text) => { if (this.session === session()) this._phase(session(), p, text); },
      stats: (st) => { if (this.session === session()) ui.setStats(st); },
      warn: (text) => { if (this.session === session()) ui.showWarning(text); },
      // As the server last sent them, also after the end.
      destinations: (list) => ui.setDestinations(list),
      format: (mimeType) => {
        // Called as the recorder starts. For tests and support: since when.
        ui.status.dataset.recordingSince = String(Date.now());
        const { id, text } = suffix();
        ui.setFormat({ id, mimeType, text: describeMimeType(mimeType) + text });
      },
    };
  }

  _run(s) {
    this.recordings.cancel();
    this.ui.setRecordings([], true);
    this.startedAt = Date.now();
    this.session = s;
    this.ui.resetStats();
    this.ui.setState('connecting');
    s.start();
  }

  async _startWebSocket(cam, key, format, { keepWarning = false } = {}) {
    const { ui } = this;
    // The page's own encoder when this browser encodes H.264 at this size; else Automatic goes
    // on to the browser's recorder.
    let encoder = 'mediarecorder';
    if (isWebCodecs(format)) {
      const v = cam.getVideoTracks()[0];
      const size = v && v.getSettings ? v.getSettings() : {};
      const can = await probeEncoders({
        width: size.width || 1280, height: size.height || 720, fps: 30,
        videoBitsPerSecond: Number(ui.bitrate.value), audioBitsPerSecond: 128000, sampleRate: 48000,
      });
      if (can) {
        encoder = 'webcodecs';
      } else if (format.forced) {
        ui.showAlert('This browser cannot encode H.264 in the page (WebCodecs). Choose another format under Settings.');
        return;
      } else {
        format = nextFormat('webcodecs');
        if (!format) {
          ui.showAlert('This browser cannot record any format the server accepts (H.264, VP8, VP9 or MP4).');
          return;
        }
      }
    }
    if (isLiveUnfriendly(format.mimeType)) {
      ui.showWarning('This browser\u2019s MP4 recorder holds video back until you stop, so viewers will see nothing for a long time. Choose “Automatic” under Settings.');
    } else if (!keepWarning) {
      ui.showWarning('');
    }

    const s = new LiveSession({
      stream: this.controls.startOutput(cam),
      key,
      mimeType: format.mimeType,
      videoBitsPerSecond: Number(ui.bitrate.value),
      encoder,
      fps: 30,
    }, this._handlers(() => s, () => ({
      id: format.id, text: encoder === 'webcodecs' ? ' \u00b7 encoded by the page' : '' })));
    this._run(s);
  }

  /** The camera or microphone went away: a broadcast cannot go on without it. */
  cameraEnded(what) {
    if (!this.session) return;
    this.ui.showAlert(`The ${what} was disconnected, so the stream was stopped.`);
    this.session.stop();
  }

  _phase(s, p, text) {
    const { ui } = this;
    ui.setState(p);
    if (p === 'lost') {
      ui.showAlert(text, 'warn');
    } else if (p === 'live' && s.drops) {
      ui.showAlert(''); // back on air: the "connection lost" note is over
    }
    if (p === 'error') {
      let alert = text || 'The stream stopped because of an error.';
      if (s.errorKind === 'recorder_silent') alert += ` ${this.settings.offerOtherFormat()}`;
      ui.showAlert(alert);
      ui.showWarning('');
      if (s.errorField === 'key') ui.keyError('This key was refused by the server.');
    } else if (p === 'ended') {
      ui.showAlert(text, 'info');
      ui.showWarning('');
    }
    if (p === 'ended' || p === 'error') {
      this.session = null;
      this.controls.endOutput();
      // For tests and support: how long the browser recorded.
      ui.status.dataset.recordedMs = String(s.recordedMs || 0);
      ui.status.dataset.stopAfterMs = String(s.stopAfterMs || 0);
      this.recordings.watch(s.opts.key, this.startedAt);
    }
  }
}
