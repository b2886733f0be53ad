// DOM access and rendering. No media or network logic here.

import { renderDestinations } from './destinations.js';

const $ = (id) => document.getElementById(id);

const STATE_TEXT = {
  idle: 'Not live',
  connecting: 'Connecting…',
  live: 'LIVE',
  // The server lost its RTMP destination and is retrying; the browser keeps
  // sending, nothing is lost while the server's buffer lasts.
  reconnecting: 'Reconnecting to the platform…',
  // The browser's own connection dropped; the server shows a slate while the page reconnects.
  lost: 'Connection lost · reconnecting…',
  ending: 'Ending…',
  ended: 'Ended',
  error: 'Error',
};

export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function formatBytes(n) {
  if (n == null) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export function formatKbps(k) {
  if (k == null || !isFinite(k)) return '–';
  return k >= 1000 ? `${(k / 1000).toFixed(2)} Mbps` : `${Math.round(k)} kbps`;
}

export class Ui {
  constructor() {
    this.status = $('status');
    this.statusText = $('status-text');
    this.statusTime = $('status-time');
    this.canvas = $('preview');
    this.previewBox = $('preview-box');
    this.badgeTime = $('badge-time');
    this.cameraMsg = $('camera-msg');
    this.cameraBtn = $('camera-btn');
    this.cameraSelect = $('camera-select');
    this.micSelect = $('mic-select');
    this.meter = $('meter');
    this.alert = $('alert');
    this.warning = $('warning');
    this.form = $('golive-form');
    this.key = $('key');
    this.keyToggle = $('key-toggle');
    this.keyHint = $('key-hint');
    this.keyHintDefault = this.keyHint.textContent;
    this.goLive = $('golive');
    this.bitrate = $('bitrate-select');
    this.resolution = $('resolution-select');
    this.formatSelect = $('format-select');
    this.transportSelect = $('transport-select');
    this.format = $('format');
    this.statElapsed = $('stat-elapsed');
    this.statBitrate = $('stat-bitrate');
    this.statOutput = $('stat-output');
    this.statSent = $('stat-sent');
    this.destinations = $('destinations');
    this.recordingsBox = $('recordings-box');
    this.recordings = $('recordings');
    this.recordingsNote = $('recordings-note');
    // Studio
    this.sceneButtons = [...document.querySelectorAll('#scenes [data-scene]')];
    this.shareBtn = $('share-btn');
    this.studioHint = $('studio-hint');
    this.screenMeter = $('screen-meter');
    this.muteMic = $('mute-mic');
    this.muteScreen = $('mute-screen');
    this.titleName = $('title-name');
    this.titleSubtitle = $('title-subtitle');
    this.titleBtn = $('title-btn');
    this.pipCorner = $('pip-corner');
    this.pipSize = $('pip-size');
    this.logoFile = $('logo-file');
    this.logoCorner = $('logo-corner');
    this.logoRemove = $('logo-remove');
  }

  /** The studio's controls: which scene is on, what can be chosen. */
  setStudio({ scene, sharing, titleShown, hasLogo, locked, micMuted, screenMuted }) {
    for (const b of this.sceneButtons) {
      b.setAttribute('aria-pressed', String(b.dataset.scene === scene));
      const needsScreen = b.dataset.scene === 'screen' || b.dataset.scene === 'pip';
      const off = locked ? b.dataset.scene !== scene : needsScreen && !sharing;
      if (off) b.setAttribute('aria-disabled', 'true'); else b.removeAttribute('aria-disabled');
    }
    this.shareBtn.setAttribute('aria-pressed', String(sharing));
    this.shareBtn.setAttribute('aria-describedby', 'studio-hint');
    this.titleBtn.setAttribute('aria-pressed', String(titleShown));
    this.logoRemove.hidden = !hasLogo;
    this.muteMic.setAttribute('aria-pressed', String(micMuted));
    this.muteScreen.setAttribute('aria-pressed', String(screenMuted));
    this.muteScreen.disabled = !sharing;
  }

  studioMessage(text) {
    if (this.studioHint.textContent !== text) this.studioHint.textContent = text;
  }

  /** Session state: idle | connecting | live | reconnecting | lost | ending | ended | error. */
  setState(state) {
    this.status.dataset.state = state;
    document.body.dataset.state = state;
    this.statusText.textContent = STATE_TEXT[state] || state;
    const busy = ['connecting', 'live', 'reconnecting', 'lost', 'ending'].includes(state);
    // The broadcast goes on while the connection is lost (on the slate): so does its time.
    this.statusTime.hidden = state !== 'live' && state !== 'lost';
    this.goLive.dataset.action = busy ? 'stop' : 'start';
    this.goLive.textContent = state === 'ending' ? 'Ending…' : busy ? (state === 'connecting' ? 'Cancel' : 'Stop') : 'Go live';
    this.goLive.disabled = state === 'ending';
    this.goLive.classList.toggle('primary', !busy);
    this.goLive.classList.toggle('stop', busy);
    for (const el of [this.key, this.keyToggle, this.bitrate, this.resolution, this.formatSelect,
      this.transportSelect, this.cameraSelect, this.micSelect]) {
      if (busy) el.dataset.lockedByLive = '1';
      else delete el.dataset.lockedByLive;
    }
    this._applyDisabled();
  }

  _applyDisabled() {
    for (const el of [this.key, this.keyToggle, this.bitrate, this.resolution, this.formatSelect,
      this.transportSelect]) {
      el.disabled = !!el.dataset.lockedByLive;
    }
    for (const el of [this.cameraSelect, this.micSelect]) {
      el.disabled = !!el.dataset.lockedByLive || el.options.length === 0 || !el.options[0].value;
    }
  }

  showAlert(text, kind = 'error') {
    this.alert.hidden = !text;
    this.alert.textContent = text || '';
    this.alert.dataset.kind = kind;
  }

  showWarning(text) {
    this.warning.hidden = !text;
    // Only touch the live region when the words change.
    if (this.warning.textContent !== (text || '')) this.warning.textContent = text || '';
  }

  keyError(text) {
    this.key.setAttribute('aria-invalid', text ? 'true' : 'false');
    this.keyHint.textContent = text || this.keyHintDefault;
    this.keyHint.classList.toggle('error', !!text);
  }

  toggleKeyVisible() {
    const show = this.key.type === 'password';
    this.key.type = show ? 'text' : 'password';
    this.keyToggle.textContent = show ? 'Hide' : 'Show';
    this.keyToggle.setAttribute('aria-pressed', String(show));
    this.keyToggle.setAttribute('aria-label', show ? 'Hide stream key' : 'Show stream key');
  }

  /** The preview canvas is drawn by the studio; this only says whether there is a camera. */
  setPreview(stream) {
    this.previewBox.dataset.camera = stream ? 'on' : 'off';
  }

  setCameraMessage(text, buttonText = 'Turn on camera', isError = false) {
    this.cameraMsg.textContent = text;
    this.cameraMsg.classList.toggle('error', isError);
    this.cameraBtn.textContent = buttonText;
  }

  fillDevices(select, devices, selectedId, emptyText) {
    select.replaceChildren();
    if (devices.length === 0) {
      select.append(new Option(emptyText, ''));
    } else {
      for (const d of devices) select.append(new Option(d.label, d.id, false, d.id === selectedId));
    }
    this._applyDisabled();
  }

  /** The recording format: a readable name, and the exact mimeType as a data attribute (tests read it). */
  setFormat({ id = '', mimeType = '', text = '', error = false }) {
    this.format.dataset.formatId = id;
    this.format.dataset.mimeType = mimeType;
    this.format.title = mimeType;
    this.format.textContent = text || mimeType || '–';
    this.format.classList.toggle('error', error);
  }

  setStats(st) {
    const time = st.elapsedMs ? formatDuration(st.elapsedMs) : '00:00';
    this.statElapsed.textContent = st.elapsedMs ? time : '–';
    this.statusTime.textContent = time;
    this.badgeTime.textContent = time;
    // What actually left the browser; the server's figure until we have our own.
    const kbps = st.localKbps != null ? st.localKbps : st.serverKbps;
    this.statBitrate.textContent = formatKbps(kbps) + (st.lowered ? ' (lowered for your upload)' : '');
    // For tests and support: the bitrate asked of the encoder now, and the backlog.
    if (st.targetKbps != null) this.status.dataset.targetKbps = String(st.targetKbps);
    this.status.dataset.behindS = String(Math.round((st.behindSec || 0) * 100) / 100);
    this.statOutput.textContent = st.output === 'passthrough' ? 'Passthrough'
      : st.output === 'transcode' ? 'Transcoding' : st.output || '–';
    this.statSent.textContent = formatBytes(st.bytesSent);
  }

  /** The server's destination rows (restream). */
  setDestinations(list) {
    renderDestinations(this.destinations, list);
  }

  /** The server's recording of the broadcast that ended (recordings.js): one row per segment
   *  with its size, duration and a download link; done: no more answers will come. */
  setRecordings(list, done) {
    this.recordingsBox.hidden = list.length === 0;
    const rows = list.map((r) => {
      const row = document.createElement('li');
      row.className = 'recording';
      row.dataset.finished = String(!!r.finished);
      const link = document.createElement('a');
      link.className = 'recording-name';
      link.href = String(r.url || '');
      link.download = String(r.name || '');
      link.textContent = String(r.name || '?');
      const size = document.createElement('span');
      size.className = 'recording-size';
      size.textContent = formatBytes(Number(r.size) || 0);
      const length = document.createElement('span');
      length.className = 'recording-duration';
      length.textContent = r.duration_s != null ? formatDuration(Number(r.duration_s) * 1000) : '';
      row.append(link, size, length);
      return row;
    });
    this.recordings.replaceChildren(...rows);
    const pending = list.some((r) => !r.finished);
    this.recordingsNote.textContent = pending
      ? (done ? 'Some parts are still being finished by the server; reload this list later.'
        : 'Finishing the files on the server…')
      : 'Kept on the server. Links download each part (MP4).';
  }

  resetStats() {
    for (const el of [this.statElapsed, this.statBitrate, this.statOutput, this.statSent]) el.textContent = '–';
  }
}
