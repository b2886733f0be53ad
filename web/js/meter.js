// Audio level meter: Web Audio analyser → dBFS → a bar.

export class LevelMeter {
  /**
   * @param {HTMLElement} el     element with a child `.meter-fill` (and optionally `.meter-peak`)
   */
  constructor(el) {
    this.el = el;
    this.fill = el.querySelector('.meter-fill');
    this.peakEl = el.querySelector('.meter-peak');
    this.ctx = null;
    this.src = null;
    this.analyser = null;
    this.raf = 0;
    this.peak = 0;
    this.peakAt = 0;
    this.lastAria = 0;
  }

  /** Make sure the AudioContext can run: call from a user gesture. */
  resume() {
    if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
  }

  attach(stream) {
    this.detach();
    if (!stream || stream.getAudioTracks().length === 0) return;
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    if (!this.ctx) this.ctx = new AC();
    this.resume();
    this.src = this.ctx.createMediaStreamSource(stream);
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.analyser.smoothingTimeConstant = 0.2;
    this.src.connect(this.analyser);
    const buf = new Float32Array(this.analyser.fftSize);
    const analyser = this.analyser;
    const tick = () => {
      if (this.analyser !== analyser) return; // detached (or attached again) since
      this.raf = requestAnimationFrame(tick);
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      const rms = Math.sqrt(sum / buf.length);
      const db = rms > 0 ? 20 * Math.log10(rms) : -100;
      this.render(db);
    };
    this.raf = requestAnimationFrame(tick);
  }

  /** dBFS → 0..1 over a -60..0 dB scale. */
  static level(db) {
    return Math.min(1, Math.max(0, (db + 60) / 60));
  }

  render(db) {
    const lvl = LevelMeter.level(db);
    const now = performance.now();
    if (lvl >= this.peak || now - this.peakAt > 1500) {
      this.peak = lvl;
      this.peakAt = now;
    }
    this.fill.style.clipPath = `inset(0 ${((1 - lvl) * 100).toFixed(1)}% 0 0)`;
    if (this.peakEl) this.peakEl.style.left = `${(this.peak * 100).toFixed(1)}%`;
    this.el.classList.toggle('hot', db > -3);
    this.el.classList.toggle('active', this.peak > 0.01);
    if (now - this.lastAria > 1000) {
      this.lastAria = now;
      this.el.setAttribute('aria-valuenow', String(Math.round(Math.max(-60, db))));
    }
  }

  detach() {
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    if (this.src) this.src.disconnect();
    this.src = null;
    this.analyser = null;
    this.fill.style.clipPath = '';
    this.el.classList.remove('active', 'hot');
    this.peak = 0;
  }
}
