// Recording format choice: the page's own WebCodecs encoder, or which MediaRecorder mimeType.
//
// Order of preference:
//   0. WebCodecs: H.264 (+ AAC where the browser encodes it, else Opus) encoded by the page
//      (encoder.js) into Matroska; keyframes on time, a bitrate that follows the uplink.
//   1. H.264 + Opus in Matroska (MediaRecorder): the server can pass the video through.
//   2. VP8 / VP9 + Opus in WebM: the server transcodes the video to H.264.
//   3. Fragmented MP4 (Safari's recorder).
//
// `?format=webcodecs|h264|vp8|vp9|mp4` (or the Format setting) forces one; `auto` (the
// default) walks the list above. Whether WebCodecs encodes H.264 here is asked at Go live
// (encoder.js probeEncoders); when it does not, Automatic goes on down the list.

import { hasWebCodecs } from './encoder.js';

export const FORMATS = [
  {
    id: 'webcodecs',
    label: 'H.264 (WebCodecs)',
    webcodecs: true,
    mimeTypes: ['video/x-matroska;codecs=avc1,opus'],
  },
  {
    id: 'h264',
    label: 'H.264 + Opus (Matroska)',
    // Chromium reports `video/x-matroska;codecs=avc1,opus` for both of these.
    mimeTypes: ['video/x-matroska;codecs=avc1,opus', 'video/webm;codecs=h264,opus'],
  },
  {
    id: 'vp8',
    label: 'VP8 + Opus (WebM)',
    mimeTypes: ['video/webm;codecs=vp8,opus'],
  },
  {
    id: 'vp9',
    label: 'VP9 + Opus (WebM)',
    mimeTypes: ['video/webm;codecs=vp9,opus'],
  },
  {
    id: 'mp4',
    label: 'H.264 (MP4)',
    mimeTypes: [
      'video/mp4;codecs=avc1,mp4a.40.2',
      'video/mp4;codecs=avc1,opus',
      'video/mp4;codecs=avc1',
      'video/mp4',
    ],
  },
];

export const FORMAT_IDS = ['auto', ...FORMATS.map((f) => f.id)];

function defaultIsSupported(type, format) {
  if (format && format.webcodecs) return hasWebCodecs();
  return typeof MediaRecorder !== 'undefined' &&
    typeof MediaRecorder.isTypeSupported === 'function' &&
    MediaRecorder.isTypeSupported(type);
}

/**
 * Pick a recording format.
 * @param {string} wanted  'auto' or one of the FORMATS ids
 * @param {(type: string) => boolean} [isSupported]
 * @returns {{ok: true, id: string, label: string, mimeType: string, forced: boolean}
 *          | {ok: false, id: string, reason: string}}
 */
export function chooseFormat(wanted = 'auto', isSupported = defaultIsSupported) {
  const forced = wanted !== 'auto';
  const candidates = forced ? FORMATS.filter((f) => f.id === wanted) : FORMATS;
  if (candidates.length === 0) {
    return { ok: false, id: wanted, reason: `Unknown format "${wanted}". Use one of: ${FORMAT_IDS.join(', ')}.` };
  }
  for (const f of candidates) {
    const mimeType = f.mimeTypes.find((t) => isSupported(t, f));
    if (mimeType) return { ok: true, id: f.id, label: f.label, mimeType, forced };
  }
  if (typeof MediaRecorder === 'undefined') {
    return { ok: false, id: wanted, reason: 'This browser cannot record video (no MediaRecorder). Try a current Chrome, Edge, Firefox or Safari.' };
  }
  return forced
    ? { ok: false, id: wanted, reason: `This browser cannot record ${candidates[0].label}. Choose another format.` }
    : { ok: false, id: wanted, reason: 'This browser cannot record any format the server accepts (H.264, VP8, VP9 or MP4).' };
}

/** True when `choice` (a chooseFormat result) is the page's own encoder. */
export function isWebCodecs(choice) {
  return !!choice && choice.id === 'webcodecs';
}

/** Format requested in the page's query string, or null. */
export function formatFromQuery(search = location.search) {
  const v = new URLSearchParams(search).get('format');
  return v ? v.trim().toLowerCase() : null;
}

/** True when this recorder is known to hold data back (Chromium's MP4 mode ignores the timeslice). */
export function isLiveUnfriendly(mimeType) {
  return /^video\/mp4/.test(mimeType) && /Chrom(e|ium)\//.test(navigator.userAgent);
}

/** Short human name for a reported mimeType: "H.264 + Opus · Matroska". */
export function describeMimeType(mimeType) {
  const m = /^([^;]+)(?:;\s*codecs=("?)([^"]*)\2)?/i.exec(mimeType || '');
  if (!m) return mimeType || '';
  const container = { 'video/x-matroska': 'Matroska', 'video/webm': 'WebM', 'video/mp4': 'MP4',
    'audio/webm': 'WebM', 'video/webrtc': 'WebRTC' }[m[1].toLowerCase()] || m[1];
  const names = (m[3] || '').split(',').map((c) => c.trim().toLowerCase()).filter(Boolean).map((c) => {
    if (c.startsWith('avc1') || c === 'h264') return 'H.264';
    if (c.startsWith('vp8')) return 'VP8';
    if (c.startsWith('vp9') || c.startsWith('vp09')) return 'VP9';
    if (c === 'opus') return 'Opus';
    if (c.startsWith('mp4a')) return 'AAC';
    return c;
  });
  return names.length ? `${names.join(' + ')} · ${container}` : container;
}

/**
 * Another format to try when the one in use produced nothing: the next supported one after
 * `currentId` in order of preference (then from the top), or null when there is none.
 * @param {string} currentId  one of the FORMATS ids
 * @param {(type: string) => boolean} [isSupported]
 */
export function nextFormat(currentId, isSupported = defaultIsSupported) {
  const at = FORMATS.findIndex((f) => f.id === currentId);
  const order = [...FORMATS.slice(at + 1), ...FORMATS.slice(0, Math.max(at, 0))];
  for (const f of order) {
    const choice = chooseFormat(f.id, isSupported);
    if (choice.ok) return choice;
  }
  return null;
}
