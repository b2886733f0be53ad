// The studio's sound: the microphone and the screen share's audio mixed with WebAudio into ONE
// track for the recorder, each through its own gain (mute), behind one delay that keeps the
// sound with the composed picture (the compositor tells it how late the picture is).
//
//   microphone ─ gain ─┐
//                      ├─ delay ─ MediaStreamDestination → the recorder's audio track
//   screen     ─ gain ─┘

const INPUTS = ['mic', 'screen'];
const MAX_DELAY_S = 1;
const DELAY_TIME_CONSTANT_S = 0.3; // how smoothly a new delay is taken up

export class AudioMixer {
  constructor() {
    this.ctx = null;        // AudioContext, made by start()
    this.dest = null;       // MediaStreamAudioDestinationNode
    this.delay = null;      // DelayNode in front of dest
    this.wanted = { mic: null, screen: null };  // the input tracks (kept before start())
    this.inputs = { mic: null, screen: null };  // {track, src, gain} while connected
    this.muted = { mic: false, screen: false };
  }

  /** Make the audio graph (once); false when this browser has no WebAudio. */
  start() {
    if (this.ctx) return true;
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return false;
    this.ctx = new AC();
    this.dest = this.ctx.createMediaStreamDestination();
    this.delay = this.ctx.createDelay(MAX_DELAY_S);
    this.delay.connect(this.dest);
    this._connect();
    return true;
  }

  get running() { return !!this.ctx; }

  /** The mixed track (null before start()). */
  get track() { return this.dest ? this.dest.stream.getAudioTracks()[0] : null; }

  /** Browsers keep an AudioContext suspended until the page is used: call from a user gesture. */
  resume() {
    if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
  }

  /** The audio track of input `name` ('mic' or 'screen'), or null for none. */
  setInput(name, track) {
    this.wanted[name] = track || null;
    this._connect();
  }

  setMuted(name, muted) {
    this.muted[name] = !!muted;
    const input = this.inputs[name];
    if (input) input.gain.gain.value = this.muted[name] ? 0 : 1;
  }

  /** Delay the sound by `seconds` (taken up smoothly). */
  delayBy(seconds) {
    if (this.delay) this.delay.delayTime.setTargetAtTime(seconds, this.ctx.currentTime, DELAY_TIME_CONSTANT_S);
  }

  _connect() {
    if (!this.ctx) return;
    for (const name of INPUTS) {
      const track = this.wanted[name];
      const input = this.inputs[name];
      if (input && input.track === track) continue;
      if (input) { input.src.disconnect(); input.gain.disconnect(); this.inputs[name] = null; }
      if (!track) continue;
      const src = this.ctx.createMediaStreamSource(new MediaStream([track]));
      const gain = this.ctx.createGain();
      gain.gain.value = this.muted[name] ? 0 : 1;
      src.connect(gain).connect(this.delay);
      this.inputs[name] = { track, src, gain };
    }
  }

  close() {
    if (this.ctx) this.ctx.close().catch(() => {});
  }
}
