// SPDX-License-Identifier: LGPL-2.1-or-later
// A/V sync read back from a recording, and the camera that makes it measurable: the
// flash-and-beep method of tests/plugin/test_av_sync.cpp, shared by studio.mjs and run.mjs.
//
// flashAndBeepCamera (a page init script): getUserMedia answered with a canvas picture and an
// oscillator on one clock (the AudioContext's): a white flash and a 1 kHz beep in the first
// 100 ms of every second, magenta otherwise. flashesAndBeeps (node): the flash and beep onsets
// in an FLV and their offsets (beep − flash, s).

import { spawn } from 'node:child_process';
import { run } from './support.mjs';

export const AW = 160;
export const AH = 90;

export /** A command's stdout as one Buffer (decoded frames and samples are large). */
function runBinary(cmd, args, { timeout = 90_000 } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr: err }); });
  });
}

export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

/** Every video frame of `flv` at AWxAH RGB, with its time in seconds. */
export async function frames(flv) {
  const r = await runBinary('ffmpeg', ['-v', 'info', '-i', flv, '-an', '-fps_mode', 'passthrough',
    '-vf', `scale=${AW}:${AH},showinfo`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
  const times = [...r.stderr.matchAll(/pts_time:\s*([-\d.]+)/g)].map((m) => Number(m[1]));
  const size = AW * AH * 3;
  const n = Math.min(times.length, Math.floor(r.stdout.length / size));
  const out = [];
  for (let i = 0; i < n; i++) out.push({ t: times[i], px: r.stdout.subarray(i * size, (i + 1) * size) });
  return out;
}

/** Mean colour of a box given in fractions of the picture. */
export function meanRgb(px, x0, y0, x1, y1) {
  let r = 0; let g = 0; let b = 0; let n = 0;
  for (let y = Math.floor(y0 * AH); y < Math.ceil(y1 * AH); y++) {
    for (let x = Math.floor(x0 * AW); x < Math.ceil(x1 * AW); x++) {
      const i = (y * AW + x) * 3;
      r += px[i]; g += px[i + 1]; b += px[i + 2]; n++;
    }
  }
  return [r / n, g / n, b / n];
}

/** Flash onsets (s) from the frames' centre brightness; beep onsets (s) from the audio. */
export async function flashesAndBeeps(flv) {
  const fr = await frames(flv);
  const flashes = [];
  let prev = false;
  for (const f of fr) {
    const [r, g, b] = meanRgb(f.px, 0.4, 0.2, 0.6, 0.45);
    const on = g > 180 && r > 180 && b > 180;
    if (on && !prev) flashes.push(f.t);
    prev = on;
  }
  // Audio start: the first audio packet's time (the decoded PCM starts there).
  const ap = await run('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=pts_time',
    '-read_intervals', '%+#1', '-of', 'csv=p=0', flv]);
  const aStart = Number(ap.stdout.trim().split('\n')[0]) || 0;
  const pcm = await runBinary('ffmpeg', ['-v', 'error', '-i', flv, '-vn', '-ac', '1', '-ar', '48000', '-f', 's16le', '-']);
  const s = new Int16Array(pcm.stdout.buffer, pcm.stdout.byteOffset, Math.floor(pcm.stdout.length / 2));
  const win = 48; // 1 ms
  const env = [];
  for (let i = 0; i + win <= s.length; i += win) {
    let m = 0;
    for (let j = i; j < i + win; j++) m = Math.max(m, Math.abs(s[j]));
    env.push(m);
  }
  const peak = Math.max(1, ...env);
  const beeps = [];
  let quietFor = 1000;
  for (let i = 0; i < env.length; i++) {
    if (env[i] > peak * 0.3) {
      if (quietFor >= 300) beeps.push(aStart + i / 1000);
      quietFor = 0;
    } else {
      quietFor++;
    }
  }
  const offsets = [];
  for (const f of flashes) {
    const near = beeps.reduce((best, b) => (Math.abs(b - f) < Math.abs(best - f) ? b : best), Infinity);
    if (Math.abs(near - f) < 0.5) offsets.push(near - f);
  }
  return { flashes: flashes.length, beeps: beeps.length, offsets };
}

// The camera and microphone: one clock (the AudioContext's) makes a white flash in the
// picture and a 1 kHz beep in the sound during the first 100 ms of every second; the rest
// of the picture is magenta. (Chromium's file-backed fake devices run on two clocks that
// drift apart under load, too much for a 40 ms comparison.)
export const flashAndBeepCamera = () => {
  // Firefox also runs init scripts in a first document without mediaDevices.
  if (!navigator.mediaDevices) return;
  navigator.mediaDevices.getUserMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const g = canvas.getContext('2d');
    const ac = new AudioContext();
    await ac.resume().catch(() => {});
    const osc = ac.createOscillator();
    osc.frequency.value = 1000;
    const gate = ac.createGain();
    gate.gain.value = 0;
    const dest = ac.createMediaStreamDestination();
    osc.connect(gate).connect(dest);
    const start = Math.ceil(ac.currentTime) + 1;
    for (let k = 0; k < 600; k++) {
      gate.gain.setValueAtTime(0.5, start + k);
      gate.gain.setValueAtTime(0, start + k + 0.1);
    }
    osc.start();
    let last = '';
    const stream = canvas.captureStream(0);
    const track = stream.getVideoTracks()[0];
    const paint = () => {
      const t = ac.currentTime - start;
      const colour = t >= 0 && t % 1 < 0.1 ? '#ffffff' : '#ff00ff';
      if (colour !== last || performance.now() - paint.at > 30) {
        g.fillStyle = colour;
        g.fillRect(0, 0, canvas.width, canvas.height);
        track.requestFrame();
        last = colour;
        paint.at = performance.now();
      }
    };
    paint.at = 0;
    const iv = setInterval(paint, 4);
    track.addEventListener('ended', () => clearInterval(iv));
    const audio = dest.stream.getAudioTracks()[0];
    return new MediaStream([track, audio]);
  };
};
