// The studio's controls: the scene buttons (and keys 1 to 4), Share screen, the title, the logo
// and the mutes. They drive the Studio (compositor.js), keep its settings (settings.js), and say
// what cannot change while live: a broadcast that went live with the camera alone records the
// camera track itself, so its scene and overlays stay as they were until it ends.

import { openScreen, closeStream, RESOLUTIONS } from './media.js';
import { SCENES } from './compositor.js';

const needsScreen = (scene) => scene === 'screen' || scene === 'pip';

export class StudioControls {
  /**
   * @param {{ui: import('./ui.js').Ui, studio: import('./compositor.js').Studio,
   *          settings: import('./settings.js').Settings,
   *          screenMeter: import('./meter.js').LevelMeter}} parts
   */
  constructor({ ui, studio, settings, screenMeter }) {
    this.ui = ui;
    this.studio = studio;
    this.settings = settings;
    this.screenMeter = screenMeter;
    this.screen = null;          // screen share MediaStream
    this.wantedScene = 'camera'; // the last scene chosen (a screen scene restored before sharing)
    this.liveComposed = null;    // while live: true = the studio's picture, false = the camera track itself
  }

  bind() {
    const { ui, studio } = this;
    for (const b of ui.sceneButtons) b.addEventListener('click', () => this.chooseScene(b.dataset.scene));
    document.addEventListener('keydown', (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.repeat) return;
      const t = ev.target;
      if (t && (t.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName))) return;
      const n = '1234'.indexOf(ev.key);
      if (n >= 0) { ev.preventDefault(); this.chooseScene(SCENES[n]); }
    });
    ui.shareBtn.addEventListener('click', () => this.toggleShare());
    const text = () => {
      studio.set({ titleName: ui.titleName.value.trim(), titleSubtitle: ui.titleSubtitle.value.trim() });
      this.save();
    };
    ui.titleName.addEventListener('input', text);
    ui.titleSubtitle.addEventListener('input', text);
    ui.titleBtn.addEventListener('click', () => {
      if (this.liveComposed === false) { this.changed(); return; }
      studio.set({ titleShown: !studio.state.titleShown });
      this.save();
      this.changed();
    });
    for (const [select, name] of [[ui.pipCorner, 'pipCorner'], [ui.pipSize, 'pipSize'], [ui.logoCorner, 'logoCorner']]) {
      select.addEventListener('change', () => { studio.set({ [name]: select.value }); this.save(); });
    }
    ui.logoFile.addEventListener('change', () => {
      const f = ui.logoFile.files && ui.logoFile.files[0];
      if (!f) return;
      if (this.liveComposed === false) { ui.logoFile.value = ''; this.changed(); return; }
      this.loadLogo(f).catch(() => ui.studioMessage('That file is not an image this browser can show.'));
    });
    ui.logoRemove.addEventListener('click', () => {
      if (this.liveComposed === false) return;
      studio.setLogo(null);
      this.settings.logo = '';
      ui.logoFile.value = '';
      this.changed();
      ui.logoFile.focus();
    });
    ui.muteMic.addEventListener('click', () => { studio.setMuted('mic', !studio.muted.mic); this.changed(); });
    ui.muteScreen.addEventListener('click', () => { studio.setMuted('screen', !studio.muted.screen); this.changed(); });
    studio.onSceneChange = (scene) => { ui.status.dataset.scene = scene; };
  }

  /** The studio as kept in this browser, at the picture size of the Resolution setting. */
  restore() {
    const { ui, studio } = this;
    const r = RESOLUTIONS[ui.resolution.value] || RESOLUTIONS['720p'];
    studio.setSize(r.width, r.height);
    const st = this.settings.studio(studio.state);
    // The screen share does not survive a reload; a scene that needs it waits for it.
    this.wantedScene = st.scene;
    if (needsScreen(st.scene)) st.scene = 'camera';
    studio.set(st);
    ui.titleName.value = st.titleName;
    ui.titleSubtitle.value = st.titleSubtitle;
    ui.pipCorner.value = st.pipCorner;
    ui.pipSize.value = st.pipSize;
    ui.logoCorner.value = st.logoCorner;
    const logo = this.settings.logo;
    if (logo) this.loadLogo(logo).catch(() => { this.settings.logo = ''; });
    this.changed();
  }

  save() {
    this.settings.keepStudio(this.studio.state, this.wantedScene);
  }

  /** Render the controls from the studio's state; say what a plain broadcast cannot do. */
  changed() {
    const { ui, studio } = this;
    ui.setStudio({
      scene: studio.state.scene,
      sharing: studio.sharing,
      titleShown: studio.state.titleShown,
      hasLogo: !!studio.logo,
      locked: this.liveComposed === false,
      micMuted: studio.muted.mic,
      screenMuted: studio.muted.screen,
    });
    ui.status.dataset.scene = studio.state.scene;
    let hint = '';
    if (this.liveComposed === false) {
      hint = 'Live with the camera alone: to switch scenes or show a title while live, share your screen or turn on an overlay before going live.';
    } else if (!studio.sharing && needsScreen(this.wantedScene)) {
      hint = 'Share your screen to use this scene.';
    }
    ui.studioMessage(hint);
  }

  chooseScene(scene) {
    if (!SCENES.includes(scene)) return;
    if (this.liveComposed === false && scene !== this.studio.state.scene) { this.changed(); return; }
    this.wantedScene = scene;
    if (needsScreen(scene) && !this.studio.sharing) {
      this.save();
      this.changed();
      return;
    }
    this.studio.set({ scene });
    this.save();
    this.changed();
  }

  async toggleShare() {
    if (this.screen) { this.endShare(); return; }
    try {
      const s = await openScreen({ width: this.ui.canvas.width, height: this.ui.canvas.height });
      this.screen = s;
      this.studio.setScreen(s);
      this.screenMeter.attach(s);
      const v = s.getVideoTracks()[0];
      // Ended from the browser's own "Stop sharing" bar (or the shared window closed).
      v.addEventListener('ended', () => { if (this.screen === s) this.endShare(); });
      if (this.studio.state.scene === 'camera' && this.wantedScene === 'camera') this.wantedScene = 'pip';
      if (needsScreen(this.wantedScene)) this.studio.set({ scene: this.wantedScene });
      this.save();
      this.changed();
    } catch (err) {
      this.ui.studioMessage(err.message || String(err));
    }
  }

  /** The share ended: back to the camera, same broadcast. */
  endShare() {
    const s = this.screen;
    this.screen = null;
    this.screenMeter.detach();
    this.studio.setScreen(null);
    closeStream(s);
    if (needsScreen(this.wantedScene)) this.wantedScene = 'camera';
    this.save();
    this.changed();
  }

  /** A logo from disk, scaled down and kept in this browser (localStorage) as a data URL. */
  async loadLogo(src) {
    const blob = typeof src === 'string' ? await (await fetch(src)).blob() : src;
    const full = await createImageBitmap(blob);
    const scale = Math.min(1, 320 / Math.max(full.width, full.height));
    const c = document.createElement('canvas');
    c.width = Math.max(1, Math.round(full.width * scale));
    c.height = Math.max(1, Math.round(full.height * scale));
    c.getContext('2d').drawImage(full, 0, 0, c.width, c.height);
    full.close();
    this.studio.setLogo(await createImageBitmap(c));
    if (typeof src !== 'string') this.settings.logo = c.toDataURL('image/png');
    this.changed();
  }

  // ------------------------------------------------------------ a broadcast
  /** Going live from `camera`: the stream to record (the studio's picture, or the camera itself). */
  startOutput(camera) {
    const stream = this.studio.output(camera);
    this.liveComposed = this.studio.composing;
    this.ui.status.dataset.composed = String(this.liveComposed);
    this.changed();
    return stream;
  }

  /** The broadcast ended: everything can be chosen again. */
  endOutput() {
    this.liveComposed = null;
    this.studio.endOutput();
    this.changed();
  }
}
