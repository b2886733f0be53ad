// Glue: source (camera) → compositor → recorder → socket, driven by the page's controls.

import { Ui } from './ui.js';
import { openCamera, closeStream, listDevices, describeStream, cameraPermission } from './media.js';
import { chooseFormat, formatFromQuery, describeMimeType, isLiveUnfriendly, nextFormat, FORMAT_IDS } from './format.js';
import { validateKey } from './socket.js';
import { LevelMeter } from './meter.js';
import { passthrough } from './compositor.js';
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
const compositor = passthrough();

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
    stream: compositor.output(cam),
    key,
    mimeType: format.mimeType,
    videoBitsPerSecond: Number(ui.bitrate.value),
  }, {
    phase: (p, text) => {
      if (session !== s) return;
      ui.setState(p);
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
        // For tests and support: how long the browser recorded.
        ui.status.dataset.recordedMs = String(s.recordedMs || 0);
        ui.status.dataset.stopAfterMs = String(s.stopAfterMs || 0);
      }
    },
    stats: (st) => { if (session === s) ui.setStats(st); },
    warn: (text) => { if (session === s) ui.showWarning(text); },
    format: (mimeType) => {
      // Called as the recorder starts. For tests and support: since when.
      ui.status.dataset.recordingSince = String(Date.now());
      ui.setFormat({ id: format.id, mimeType, text: describeMimeType(mimeType) });
    },
  });
  session = s;
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
  restoreSettings();
  ui.setState('idle');
  ui.form.addEventListener('submit', onSubmit);
  ui.keyToggle.addEventListener('click', () => ui.toggleKeyVisible());
  ui.key.addEventListener('input', () => ui.keyError(''));
  ui.cameraBtn.addEventListener('click', () => startCamera());
  ui.cameraSelect.addEventListener('change', () => { store.set('camera', ui.cameraSelect.value); if (!session) startCamera(); });
  ui.micSelect.addEventListener('change', () => { store.set('mic', ui.micSelect.value); if (!session) startCamera(); });
  ui.resolution.addEventListener('change', () => { store.set('resolution', ui.resolution.value); if (source && !session) startCamera(); });
  ui.bitrate.addEventListener('change', () => store.set('bitrate', ui.bitrate.value));
  ui.formatSelect.addEventListener('change', () => {
    store.set('format', ui.formatSelect.value);
    updateFormat(ui.formatSelect.value);
  });
  // Browsers keep an AudioContext suspended until the page is used.
  for (const t of ['pointerdown', 'keydown']) document.addEventListener(t, () => meter.resume(), { passive: true });
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
