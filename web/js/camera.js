// The camera and microphone: opened (again) with the chosen devices and resolution, the device
// pickers, a device that goes away. The stream goes to the studio (the preview) and the level
// meter; while live, the devices and the resolution stay as they are.

import { openCamera, closeStream, listDevices, describeStream, cameraPermission, RESOLUTIONS } from './media.js';

export class CameraControl {
  /**
   * @param {{ui: import('./ui.js').Ui, studio: import('./compositor.js').Studio,
   *          meter: import('./meter.js').LevelMeter, settings: import('./settings.js').Settings}} parts
   * @param {{live: () => boolean, ended: (what: string) => void}} handlers
   *   live: whether a broadcast is on; ended: a device ('camera' or 'microphone') went away
   */
  constructor({ ui, studio, meter, settings }, handlers) {
    this.ui = ui;
    this.studio = studio;
    this.meter = meter;
    this.settings = settings;
    this.h = handlers;
    this.stream = null;   // camera MediaStream
    this.starting = null; // pending start() promise
  }

  bind() {
    const { ui } = this;
    ui.cameraBtn.addEventListener('click', () => this.start());
    ui.cameraSelect.addEventListener('change', () => { if (!this.h.live()) this.start(); });
    ui.micSelect.addEventListener('change', () => { if (!this.h.live()) this.start(); });
    ui.resolution.addEventListener('change', () => {
      if (this.h.live()) return;
      const r = RESOLUTIONS[ui.resolution.value];
      this.studio.setSize(r.width, r.height);
      if (this.stream) this.start();
    });
    if (navigator.mediaDevices && 'ondevicechange' in navigator.mediaDevices) {
      navigator.mediaDevices.addEventListener('devicechange', () => this.refreshDevices());
    }
  }

  /** Open the camera at once where the browser already allows it; say so where it is blocked. */
  startIfAllowed() {
    cameraPermission().then((p) => {
      if (p === 'granted') this.start();
      else if (p === 'denied') {
        this.ui.setCameraMessage('Camera and microphone access is blocked for this site. Allow both in the browser\u2019s site settings, then press “Try again”.', 'Try again', true);
      }
    });
  }

  async refreshDevices() {
    const { ui } = this;
    try {
      const { cameras, microphones } = await listDevices();
      const cur = this.stream ? describeStream(this.stream)
        : { videoId: this.settings.cameraId, audioId: this.settings.micId };
      ui.fillDevices(ui.cameraSelect, cameras, cur.videoId, 'No camera found');
      ui.fillDevices(ui.micSelect, microphones, cur.audioId, 'No microphone found');
    } catch {
      /* enumerateDevices unavailable: keep the pickers as they are */
    }
  }

  /** Open (or reopen) the camera with the chosen devices and resolution; null when it failed. */
  async start() {
    if (this.starting) return this.starting;
    this.starting = this._open();
    try {
      return await this.starting;
    } finally {
      this.starting = null;
    }
  }

  async _open() {
    const { ui } = this;
    this.meter.resume();
    ui.setCameraMessage('Waiting for camera and microphone permission…', 'Turn on camera');
    ui.cameraBtn.disabled = true;
    const old = this.stream;
    this.stream = null;
    this.meter.detach();
    closeStream(old);
    try {
      const s = await openCamera({
        videoId: ui.cameraSelect.value || this.settings.cameraId,
        audioId: ui.micSelect.value || this.settings.micId,
        resolution: ui.resolution.value,
      });
      this.stream = s;
      this.studio.setCamera(s);
      ui.setPreview(s);
      this.meter.attach(s);
      this.settings.rememberDevices(describeStream(s));
      for (const t of s.getTracks()) t.addEventListener('ended', () => this._trackEnded(t));
      await this.refreshDevices();
      ui.setCameraMessage('', 'Turn on camera');
      if (!this.h.live()) ui.showAlert('');
      return s;
    } catch (err) {
      ui.setPreview(null);
      const text = err.message || String(err);
      ui.setCameraMessage(text, 'Try again', true);
      return null;
    } finally {
      ui.cameraBtn.disabled = false;
    }
  }

  _trackEnded(track) {
    if (!this.stream || !this.stream.getTracks().includes(track)) return;
    const what = track.kind === 'video' ? 'camera' : 'microphone';
    this.ui.setPreview(null);
    this.meter.detach();
    closeStream(this.stream);
    this.stream = null;
    this.studio.setCamera(null);
    this.ui.setCameraMessage(`The ${what} was disconnected or turned off.`, 'Turn on camera', true);
    this.h.ended(what);
  }
}
