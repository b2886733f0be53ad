// Glue: sources (camera, screen) → compositor (the studio) → recorder → socket, driven by the page's controls.

import { Ui } from './ui.js';
import { openCamera, openScreen, closeStream, listDevices, describeStream, cameraPermission, RESOLUTIONS } from './media.js';
import { chooseFormat, formatFromQuery, describeMimeType, isLiveUnfriendly, nextFormat, FORMAT_IDS } from './format.js';
import { validateKey } from './socket.js';
import { LevelMeter } from './meter.js';
import { Studio, SCENES, CORNERS } from './compositor.js';
import { LiveSession } from './session.js';

const store = {
  get(k, fallback = '') {
    try { return localStorage.getItem(`wsrtmp.${k}`) ?? fallback; } catch { return fallback; }
  },
  set(k, v) {
    try { localStorage.setItem(`wsrtmp.${k}`, v); } catch { /* private mode: not remembered */ }
  },
};

const ui = new Ui();
const meter = new LevelMeter(ui.meter);
const screenMeter = new LevelMeter(ui.screenMeter);
const studio = new Studio(ui.canvas, { fps: 30 });
// For tests and support: draw times, the method in use, the scene.
window.wsrtmpStudio = studio;
let screen = null;      // screen share MediaStream
let liveComposed = null; // while live: true = the studio's picture, false = the camera track itself

let source = null;      // camera MediaStream
let starting = null;    // pending openCamera promise
let session = null;     // LiveSession while connecting/live/ending
let format = null;      // chooseFormat() result

function restoreSettings() {
  ui.key.value = store.get('key');
  const br = store.get('bitrate');
  if (br && [...ui.bitrate.options].some((o) => o.value === br)) ui.bitrate.value = br;
  const res = store.get('resolution');
  if (res && [...ui.resolution.options].some((o) => o.value === res)) ui.resolution.value = res;
  const q = formatFromQuery();
  const f = q || store.get('format', 'auto');
  if ([...ui.formatSelect.options].some((o) => o.value === f)) ui.formatSelect.value = f;
  else if (q) ui.formatSelect.value = 'auto';
  updateFormat(q && !FORMAT_IDS.includes(q) ? q : ui.formatSelect.value);
  restoreStudio();
}

// ------------------------------------------------------------ studio
const STUDIO_KEYS = ['pipCorner', 'pipSize', 'titleName', 'titleSubtitle', 'logoCorner'];

function restoreStudio() {
  const r = RESOLUTIONS[ui.resolution.value] || RESOLUTIONS['720p'];
  studio.setSize(r.width, r.height);
  const st = {};
  for (const k of STUDIO_KEYS) st[k] = store.get(`studio.${k}`, studio.state[k]);
  if (!CORNERS.includes(st.pipCorner)) st.pipCorner = 'bottom-right';
  if (!CORNERS.includes(st.logoCorner)) st.logoCorner = 'top-right';
  if (!['small', 'medium'].includes(st.pipSize)) st.pipSize = 'small';
  st.titleShown = store.get('studio.titleShown') === '1';
  // The screen share does not survive a reload; a scene that needs it waits for it.
  const scene = store.get('studio.scene', 'camera');
  st.scene = SCENES.includes(scene) ? scene : 'camera';
  wantedScene = st.scene;
  if (st.scene === 'screen' || st.scene === 'pip') st.scene = 'camera';
  studio.set(st);
  ui.titleName.value = st.titleName;
  ui.titleSubtitle.value = st.titleSubtitle;
  ui.pipCorner.value = st.pipCorner;
  ui.pipSize.value = st.pipSize;
  ui.logoCorner.value = st.logoCorner;
  const logo = store.get('studio.logo');
  if (logo) loadLogo(logo).catch(() => store.set('studio.logo', ''));
  studioChanged();
}

let wantedScene = 'camera'; // the last scene chosen (a screen scene restored before sharing)

function saveStudio() {
  for (const k of STUDIO_KEYS) store.set(`studio.${k}`, String(studio.state[k]));
  store.set('studio.titleShown', studio.state.titleShown ? '1' : '');
  store.set('studio.scene', wantedScene);
}

/** Render the controls from the studio's state; say what a plain broadcast cannot do. */
function studioChanged() {
  ui.setStudio({
    scene: studio.state.scene,
    sharing: studio.sharing,
    titleShown: studio.state.titleShown,
    hasLogo: !!studio.logo,
    locked: liveComposed === false,
    micMuted: studio.muted.mic,
    screenMuted: studio.muted.screen,
  });
  ui.status.dataset.scene = studio.state.scene;
  let hint = '';
  if (liveComposed === false) {
    hint = 'Live with the camera alone: to switch scenes or show a title while live, share your screen or turn on an overlay before going live.';
  } else if (!studio.sharing && (wantedScene === 'screen' || wantedScene === 'pip')) {
    hint = 'Share your screen to use this scene.';
  }
  ui.studioMessage(hint);
}

function chooseScene(scene) {
  if (!SCENES.includes(scene)) return;
  if (liveComposed === false && scene !== studio.state.scene) { studioChanged(); return; }
  wantedScene = scene;
  if ((scene === 'screen' || scene === 'pip') && !studio.sharing) {
    saveStudio();
    studioChanged();
    return;
  }
  studio.set({ scene });
  saveStudio();
  studioChanged();
}

async function toggleShare() {
  if (screen) { endShare(); return; }
  try {
    const s = await openScreen({ width: ui.canvas.width, height: ui.canvas.height });
    screen = s;
    studio.setScreen(s);
    screenMeter.attach(s);
    const v = s.getVideoTracks()[0];
    // Ended from the browser's own "Stop sharing" bar (or the shared window closed).
    v.addEventListener('ended', () => { if (screen === s) endShare(); });
    if (studio.state.scene === 'camera' && wantedScene === 'camera') wantedScene = 'pip';
    if (wantedScene === 'screen' || wantedScene === 'pip') studio.set({ scene: wantedScene });
    saveStudio();
    studioChanged();
  } catch (err) {
    ui.studioMessage(err.message || String(err));
  }
}

/** The share ended: back to the camera, same broadcast. */
function endShare() {
  const s = screen;
  screen = null;
  screenMeter.detach();
  studio.setScreen(null);
  closeStream(s);
  if (wantedScene === 'screen' || wantedScene === 'pip') wantedScene = 'camera';
  saveStudio();
  studioChanged();
}

/** A logo from disk, scaled down and kept in this browser (localStorage) as a data URL. */
async function loadLogo(src) {
  const blob = typeof src === 'string' ? await (await fetch(src)).blob() : src;
  const full = await createImageBitmap(blob);
  const scale = Math.min(1, 320 / Math.max(full.width, full.height));
  const c = document.createElement('canvas');
  c.width = Math.max(1, Math.round(full.width * scale));
  c.height = Math.max(1, Math.round(full.height * scale));
  c.getContext('2d').drawImage(full, 0, 0, c.width, c.height);
  full.close();
  studio.setLogo(await createImageBitmap(c));
  if (typeof src !== 'string') store.set('studio.logo', c.toDataURL('image/png'));
  studioChanged();
}

function initStudio() {
  for (const b of ui.sceneButtons) b.addEventListener('click', () => chooseScene(b.dataset.scene));
  document.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.repeat) return;
    const t = ev.target;
    if (t && (t.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName))) return;
    const n = '1234'.indexOf(ev.key);
    if (n >= 0) { ev.preventDefault(); chooseScene(SCENES[n]); }
  });
  ui.shareBtn.addEventListener('click', () => toggleShare());
  const text = () => {
    studio.set({ titleName: ui.titleName.value.trim(), titleSubtitle: ui.titleSubtitle.value.trim() });
    saveStudio();
  };
  ui.titleName.addEventListener('input', text);
  ui.titleSubtitle.addEventListener('input', text);
  ui.titleBtn.addEventListener('click', () => {
    if (liveComposed === false) { studioChanged(); return; }
    studio.set({ titleShown: !studio.state.titleShown });
    saveStudio();
    studioChanged();
  });
  ui.pipCorner.addEventListener('change', () => { studio.set({ pipCorner: ui.pipCorner.value }); saveStudio(); });
  ui.pipSize.addEventListener('change', () => { studio.set({ pipSize: ui.pipSize.value }); saveStudio(); });
  ui.logoCorner.addEventListener('change', () => { studio.set({ logoCorner: ui.logoCorner.value }); saveStudio(); });
  ui.logoFile.addEventListener('change', () => {
    const f = ui.logoFile.files && ui.logoFile.files[0];
    if (!f) return;
    if (liveComposed === false) { ui.logoFile.value = ''; studioChanged(); return; }
    loadLogo(f).catch(() => ui.studioMessage('That file is not an image this browser can show.'));
  });
  ui.logoRemove.addEventListener('click', () => {
    if (liveComposed === false) return;
    studio.setLogo(null);
    store.set('studio.logo', '');
    ui.logoFile.value = '';
    studioChanged();
    ui.logoFile.focus();
  });
  ui.muteMic.addEventListener('click', () => { studio.setMuted('mic', !studio.muted.mic); studioChanged(); });
  ui.muteScreen.addEventListener('click', () => { studio.setMuted('screen', !studio.muted.screen); studioChanged(); });
  studio.onSceneChange = (scene) => { ui.status.dataset.scene = scene; };
}

function updateFormat(wanted) {
  format = chooseFormat(wanted);
  if (!format.ok) {
    ui.setFormat({ id: '', mimeType: '', text: format.reason, error: true });
    return;
  }
  ui.setFormat({ id: format.id, mimeType: format.mimeType, text: describeMimeType(format.mimeType) });
}

/** After a recorder produced nothing: select the next format this browser can record. */
function offerOtherFormat() {
  const next = format && format.ok ? nextFormat(format.id) : null;
  if (!next) return 'This browser offers no other format.';
  ui.formatSelect.value = next.id;
  store.set('format', next.id);
  updateFormat(next.id);
  return `The format is now ${next.label}: press Go live to try it.`;
}

async function refreshDevices() {
  try {
    const { cameras, microphones } = await listDevices();
    const cur = source ? describeStream(source) : { videoId: store.get('camera'), audioId: store.get('mic') };
    ui.fillDevices(ui.cameraSelect, cameras, cur.videoId, 'No camera found');
    ui.fillDevices(ui.micSelect, microphones, cur.audioId, 'No microphone found');
  } catch {
    /* enumerateDevices unavailable: keep the pickers as they are */
  }
}

/** Open (or reopen) the camera with the chosen devices and resolution. */
async function startCamera() {
  if (starting) return starting;
  starting = (async () => {
    meter.resume();
    ui.setCameraMessage('Waiting for camera and microphone permission…', 'Turn on camera');
    ui.cameraBtn.disabled = true;
    const old = source;
    source = null;
    meter.detach();
    closeStream(old);
    try {
      const s = await openCamera({
        videoId: ui.cameraSelect.value || store.get('camera'),
        audioId: ui.micSelect.value || store.get('mic'),
        resolution: ui.resolution.value,
      });
      source = s;
      studio.setCamera(s);
      ui.setPreview(s);
      meter.attach(s);
      const d = describeStream(s);
      store.set('camera', d.videoId);
      store.set('mic', d.audioId);
      for (const t of s.getTracks()) t.addEventListener('ended', () => onTrackEnded(t));
      await refreshDevices();
      ui.setCameraMessage('', 'Turn on camera');
      if (!session) ui.showAlert('');
      return s;
    } catch (err) {
      ui.setPreview(null);
      const text = err.message || String(err);
      ui.setCameraMessage(text, 'Try again', true);
      return null;
    } finally {
      ui.cameraBtn.disabled = false;
    }
  })();
  try {
    return await starting;
  } finally {
    starting = null;
  }
}

function onTrackEnded(track) {
  if (!source || !source.getTracks().includes(track)) return;
  const what = track.kind === 'video' ? 'camera' : 'microphone';
  ui.setPreview(null);
  meter.detach();
  closeStream(source);
  source = null;
  studio.setCamera(null);
  ui.setCameraMessage(`The ${what} was disconnected or turned off.`, 'Turn on camera', true);
  if (session) {
    ui.showAlert(`The ${what} was disconnected, so the stream was stopped.`);
    session.stop();
  }
}

async function goLive() {
  meter.resume();
  ui.showAlert('');
  const key = ui.key.value.trim();
  const keyErr = validateKey(key);
  ui.keyError(keyErr);
  if (keyErr) {
    ui.key.focus();
    return;
  }
  updateFormat(ui.formatSelect.value === 'auto' && formatFromQuery() && !FORMAT_IDS.includes(formatFromQuery())
    ? formatFromQuery() : ui.formatSelect.value);
  if (!format.ok) {
    ui.showAlert(format.reason);
    return;
  }
  store.set('key', key);
  const cam = source || (await startCamera());
  if (!cam) {
    ui.showAlert('You can\u2019t go live until the camera and microphone are on: see the message in the preview.');
    return;
  }
  if (isLiveUnfriendly(format.mimeType)) {
    ui.showWarning('This browser\u2019s MP4 recorder holds video back until you stop, so viewers will see nothing for a long time. Choose “Automatic” under Settings.');
  } else {
    ui.showWarning('');
  }

  const s = new LiveSession({
    stream: studio.output(cam),
    key,
    mimeType: format.mimeType,
    videoBitsPerSecond: Number(ui.bitrate.value),
  }, {
    phase: (p, text) => {
      if (session !== s) return;
      ui.setState(p);
      if (p === 'lost') {
        ui.showAlert(text, 'warn');
      } else if (p === 'live' && s.drops) {
        ui.showAlert(''); // back on air: the "connection lost" note is over
      }
      if (p === 'error') {
        let alert = text || 'The stream stopped because of an error.';
        if (s.errorKind === 'recorder_silent') alert += ` ${offerOtherFormat()}`;
        ui.showAlert(alert);
        ui.showWarning('');
        if (s.errorField === 'key') ui.keyError('This key was refused by the server.');
      } else if (p === 'ended') {
        ui.showAlert(text, 'info');
        ui.showWarning('');
      }
      if (p === 'ended' || p === 'error') {
        session = null;
        liveComposed = null;
        studio.endOutput();
        studioChanged();
        // For tests and support: how long the browser recorded.
        ui.status.dataset.recordedMs = String(s.recordedMs || 0);
        ui.status.dataset.stopAfterMs = String(s.stopAfterMs || 0);
      }
    },
    stats: (st) => { if (session === s) ui.setStats(st); },
    warn: (text) => { if (session === s) ui.showWarning(text); },
    // As the server last sent them, also after the end.
    destinations: (list) => ui.setDestinations(list),
    format: (mimeType) => {
      // Called as the recorder starts. For tests and support: since when.
      ui.status.dataset.recordingSince = String(Date.now());
      ui.setFormat({ id: format.id, mimeType, text: describeMimeType(mimeType) });
    },
  });
  session = s;
  liveComposed = studio.composing;
  ui.status.dataset.composed = String(liveComposed);
  studioChanged();
  ui.resetStats();
  ui.setState('connecting');
  s.start();
}

function onSubmit(ev) {
  ev.preventDefault();
  if (session) session.stop();
  else goLive();
}

function init() {
  initStudio();
  restoreSettings();
  ui.setState('idle');
  ui.form.addEventListener('submit', onSubmit);
  ui.keyToggle.addEventListener('click', () => ui.toggleKeyVisible());
  ui.key.addEventListener('input', () => ui.keyError(''));
  ui.cameraBtn.addEventListener('click', () => startCamera());
  ui.cameraSelect.addEventListener('change', () => { store.set('camera', ui.cameraSelect.value); if (!session) startCamera(); });
  ui.micSelect.addEventListener('change', () => { store.set('mic', ui.micSelect.value); if (!session) startCamera(); });
  ui.resolution.addEventListener('change', () => {
    store.set('resolution', ui.resolution.value);
    const r = RESOLUTIONS[ui.resolution.value];
    if (!session) studio.setSize(r.width, r.height);
    if (source && !session) startCamera();
  });
  ui.bitrate.addEventListener('change', () => store.set('bitrate', ui.bitrate.value));
  ui.formatSelect.addEventListener('change', () => {
    store.set('format', ui.formatSelect.value);
    updateFormat(ui.formatSelect.value);
  });
  // Browsers keep an AudioContext suspended until the page is used.
  for (const t of ['pointerdown', 'keydown']) {
    document.addEventListener(t, () => { meter.resume(); screenMeter.resume(); studio.resumeAudio(); }, { passive: true });
  }
  if (navigator.mediaDevices && 'ondevicechange' in navigator.mediaDevices) {
    navigator.mediaDevices.addEventListener('devicechange', () => refreshDevices());
  }
  window.addEventListener('beforeunload', (ev) => {
    if (session) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  });
  window.addEventListener('pagehide', () => { if (session) session.abort(); });

  cameraPermission().then((p) => {
    if (p === 'granted') startCamera();
    else if (p === 'denied') {
      ui.setCameraMessage('Camera and microphone access is blocked for this site. Allow both in the browser\u2019s site settings, then press “Try again”.', 'Try again', true);
    }
  });
}

init();
