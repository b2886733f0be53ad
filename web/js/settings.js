// What the page keeps in this browser (localStorage, names under "wsrtmp.") and the form's
// values: the stream key, quality, resolution, recording format and connection (transport), the camera and microphone
// last used, the studio's scene, title, corners and logo. Also the recording format chosen
// from the Format setting (or ?format=). Nothing here opens media or a connection.

import { chooseFormat, describeMimeType, formatFromQuery, nextFormat, FORMAT_IDS } from './format.js';
import { SCENES, CORNERS } from './compositor.js';

/** localStorage under the page's prefix; a browser that keeps nothing (private mode) remembers nothing. */
const store = {
  get(k, fallback = '') {
    try { return localStorage.getItem(`wsrtmp.${k}`) ?? fallback; } catch { return fallback; }
  },
  set(k, v) {
    try { localStorage.setItem(`wsrtmp.${k}`, v); } catch { /* private mode: not remembered */ }
  },
};

// The studio's state kept as it is (studio.<name>); titleShown and the scene are kept beside.
const STUDIO_KEYS = ['pipCorner', 'pipSize', 'titleName', 'titleSubtitle', 'logoCorner'];

const hasOption = (select, value) => [...select.options].some((o) => o.value === value);

export class Settings {
  /** @param {import('./ui.js').Ui} ui */
  constructor(ui) {
    this.ui = ui;
    this.format = null; // chooseFormat() result for the Format setting
  }

  /** Fill the form from what was kept; ?format= wins over the kept format. */
  restore() {
    const { ui } = this;
    ui.key.value = store.get('key');
    const br = store.get('bitrate');
    if (br && hasOption(ui.bitrate, br)) ui.bitrate.value = br;
    const res = store.get('resolution');
    if (res && hasOption(ui.resolution, res)) ui.resolution.value = res;
    const q = formatFromQuery();
    const f = q || store.get('format', 'auto');
    if (hasOption(ui.formatSelect, f)) ui.formatSelect.value = f;
    else if (q) ui.formatSelect.value = 'auto';
    this.updateFormat(q && !FORMAT_IDS.includes(q) ? q : ui.formatSelect.value);
    const t = new URLSearchParams(location.search).get('transport') || store.get('transport');
    if (t && hasOption(ui.transportSelect, t)) ui.transportSelect.value = t;
  }

  /** Keep the form's values as they change (what a change sets off is bound elsewhere). */
  bind() {
    const { ui } = this;
    ui.cameraSelect.addEventListener('change', () => store.set('camera', ui.cameraSelect.value));
    ui.micSelect.addEventListener('change', () => store.set('mic', ui.micSelect.value));
    ui.resolution.addEventListener('change', () => store.set('resolution', ui.resolution.value));
    ui.bitrate.addEventListener('change', () => store.set('bitrate', ui.bitrate.value));
    ui.transportSelect.addEventListener('change', () => store.set('transport', ui.transportSelect.value));
    ui.formatSelect.addEventListener('change', () => {
      store.set('format', ui.formatSelect.value);
      this.updateFormat(ui.formatSelect.value);
    });
  }

  // ------------------------------------------------------------ recording format
  /** Choose the format `wanted` ('auto' or a format id) and show it. */
  updateFormat(wanted) {
    const f = chooseFormat(wanted);
    this.format = f;
    if (!f.ok) this.ui.setFormat({ id: '', mimeType: '', text: f.reason, error: true });
    else this.ui.setFormat({ id: f.id, mimeType: f.mimeType, text: describeMimeType(f.mimeType) });
  }

  /**
   * The format to record with, chosen again as the form says now (an unknown ?format= stays
   * wanted while the setting is Automatic, so its error shows).
   */
  formatToRecord() {
    const q = formatFromQuery();
    this.updateFormat(this.ui.formatSelect.value === 'auto' && q && !FORMAT_IDS.includes(q)
      ? q : this.ui.formatSelect.value);
    return this.format;
  }

  /** After a recorder produced nothing: select the next format this browser can record. */
  offerOtherFormat() {
    const next = this.format && this.format.ok ? nextFormat(this.format.id) : null;
    if (!next) return 'This browser offers no other format.';
    this.ui.formatSelect.value = next.id;
    store.set('format', next.id);
    this.updateFormat(next.id);
    return `The format is now ${next.label}: press Go live to try it.`;
  }

  // ------------------------------------------------------------ connection
  /** How to reach the server: 'websocket', 'webrtc' (WHIP) or 'auto' (WebRTC, else WebSocket). */
  get transport() { return this.ui.transportSelect.value; }

  // ------------------------------------------------------------ key and devices
  rememberKey(key) { store.set('key', key); }

  /** The camera and microphone last used (device ids; '' for none). */
  get cameraId() { return store.get('camera'); }

  get micId() { return store.get('mic'); }

  rememberDevices({ videoId, audioId }) {
    store.set('camera', videoId);
    store.set('mic', audioId);
  }

  // ------------------------------------------------------------ studio
  /**
   * The studio's kept state over `defaults` (its state now), each value checked; the scene is
   * the one last chosen, even one that needs a screen share.
   */
  studio(defaults) {
    const st = {};
    for (const k of STUDIO_KEYS) st[k] = store.get(`studio.${k}`, defaults[k]);
    if (!CORNERS.includes(st.pipCorner)) st.pipCorner = 'bottom-right';
    if (!CORNERS.includes(st.logoCorner)) st.logoCorner = 'top-right';
    if (!['small', 'medium'].includes(st.pipSize)) st.pipSize = 'small';
    st.titleShown = store.get('studio.titleShown') === '1';
    const scene = store.get('studio.scene', 'camera');
    st.scene = SCENES.includes(scene) ? scene : 'camera';
    return st;
  }

  /** Keep the studio's `state`, with `scene` as the scene chosen. */
  keepStudio(state, scene) {
    for (const k of STUDIO_KEYS) store.set(`studio.${k}`, String(state[k]));
    store.set('studio.titleShown', state.titleShown ? '1' : '');
    store.set('studio.scene', scene);
  }

  /** The logo as a data URL ('' for none). */
  get logo() { return store.get('studio.logo'); }

  set logo(dataUrl) { store.set('studio.logo', dataUrl); }
}
