#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
// Makes an H.264 + AAC recording of the page's WebCodecs output (what Chrome on Windows/macOS and
// Safari send: their AudioEncoder has AAC) from an H.264 + Opus one recorded through the page
// (record-fixture.mjs --page): the same H.264 packets, the audio decoded and encoded to AAC-LC
// (GStreamer: opusdec ! avenc_aac, 128 kbit/s, the source's rate and channels), muxed again the way
// the page muxes (mediabunny 1.61 from web/node_modules: live append-only Matroska,
// minimumClusterDuration 1, A_AAC) and cut into messages as the page cuts them (web/js/encoder.js):
// one message per picture, holding everything the muxer wrote since the last message (the sound
// muxed meanwhile goes with the next picture); bytes that waited 100 ms without a picture go alone
// at the page's next 100 ms tick.
//
// Send times: every H.264 packet is added to the muxer at the send time of the source message that
// held its last byte; every AAC packet at that of the first source Opus packet whose end reaches
// the AAC packet's end (its samples had been captured by then). A picture's message goes at the
// time its packet was added.
//
//   node bench/make-aac-fixture.mjs [--from tests/data/chrome-webcodecs-h264-opus-20s]
//        [--name chrome-webcodecs-h264-aac-20s] [--out DIR] [--bitrate 128000]
//
// Needs ffprobe, gst-launch-1.0 with avenc_aac (gstreamer1.0-libav) and `npm ci --prefix web`.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const { values: o } = parseArgs({ options: {
  from: { type: 'string', default: join(root, 'tests/data/chrome-webcodecs-h264-opus-20s') },
  name: { type: 'string' },
  out: { type: 'string' },
  bitrate: { type: 'string', default: '128000' },
} });
const from = resolve(o.from);
const name = o.name ?? basename(from).replace('-opus', '-aac');
const outDir = resolve(o.out ?? join(root, 'tests/data', name));
const mb = createRequire(join(root, 'web/package.json'))('mediabunny');

const meta = JSON.parse(readFileSync(join(from, 'meta.json'), 'utf8'));
const files = readdirSync(from).filter((f) => /^chunk-\d+\.bin$/.test(f)).sort();
const bufs = files.map((f) => readFileSync(join(from, f)));
const ends = [];
bufs.reduce((acc, b) => { ends.push(acc + b.length); return acc + b.length; }, 0);
const times = meta.chunk_list.map((c) => c.t_ms);
const tmp = mkdtempSync(join(os.tmpdir(), 'aac-fixture-'));
const joined = join(tmp, 'source.mkv');
writeFileSync(joined, Buffer.concat(bufs));

// Where every source packet ends in the byte stream -> the message that completed it.
const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pos,size,pts_time,duration_time:stream=index,codec_type',
  '-of', 'json', joined], { maxBuffer: 64 << 20 }).toString());
const typeOf = Object.fromEntries(probe.streams.map((s) => [s.index, s.codec_type]));
const msgOf = (end) => { const k = ends.findIndex((e) => e >= end); return k < 0 ? ends.length - 1 : k; };
const srcPackets = { video: [], audio: [] };
for (const p of probe.packets) srcPackets[typeOf[p.stream_index]]?.push({ msg: msgOf(Number(p.pos) + Number(p.size)) });

// AAC-LC from the source's audio.
const aacFile = join(tmp, 'aac.mkv');
execFileSync('gst-launch-1.0', ['-q', 'filesrc', `location=${joined}`, '!', 'matroskademux', 'name=d', 'd.audio_0', '!', 'queue', '!',
  'opusparse', '!', 'opusdec', '!', 'audioconvert', '!', 'audioresample', '!', `avenc_aac`, `bitrate=${o.bitrate}`, '!', 'aacparse', '!',
  'matroskamux', '!', 'filesink', `location=${aacFile}`]);

const readAll = async (file, kind) => {
  const input = new mb.Input({ source: new mb.BufferSource(readFileSync(file)), formats: mb.ALL_FORMATS });
  const track = kind === 'video' ? await input.getPrimaryVideoTrack() : await input.getPrimaryAudioTrack();
  const packets = [];
  for await (const p of new mb.EncodedPacketSink(track).packets()) packets.push(p);
  return { track, packets, config: await track.getDecoderConfig() };
};
const video = await readAll(joined, 'video');
const opus = await readAll(joined, 'audio');
const aac = await readAll(aacFile, 'audio');
if (video.packets.length !== srcPackets.video.length || opus.packets.length !== srcPackets.audio.length) {
  throw new Error(`packets: mediabunny ${video.packets.length}/${opus.packets.length}, ffprobe ${srcPackets.video.length}/${srcPackets.audio.length}`);
}
const shift = opus.packets[0].timestamp - aac.packets[0].timestamp;
const opusEnds = opus.packets.map((p, i) => ({ end: p.timestamp + p.duration, t: times[srcPackets.audio[i].msg] }));
const queue = [
  ...video.packets.map((p, i) => ({ kind: 'video', p, t: times[srcPackets.video[i].msg], order: i })),
  ...aac.packets.map((p, i) => {
    const ts = p.timestamp + shift;
    const end = ts + p.duration;
    const by = opusEnds.find((x) => x.end >= end - 1e-6) ?? opusEnds.at(-1);
    return { kind: 'audio', p: p.clone({ timestamp: Math.max(0, ts) }), t: by.t, order: i };
  }),
].sort((a, b) => a.t - b.t || (a.kind === b.kind ? a.order - b.order : a.p.timestamp - b.p.timestamp));

// Mux as the page does: the writes collect until a picture has been added, then go as one message
// (encoder.js _send); every 100 ms (its clock, from the first message) what waited that long goes
// alone (_tick); what is left after finalize() goes last.
const PENDING_MAX_MS = 100;
const out = [];
let now = times[0]; // the header: written at start(), goes with the first picture
let written = 0;
let pending = [];
let pendingSince = 0;
const send = (t) => {
  if (!pending.length) return;
  out.push({ t, data: Buffer.concat(pending) });
  pending = [];
};
let nextTick = times[0] + PENDING_MAX_MS;
const ticksUntil = (t) => {
  for (; nextTick <= t; nextTick += PENDING_MAX_MS) if (pending.length && nextTick - pendingSince >= PENDING_MAX_MS) send(nextTick);
};
const target = new mb.StreamTarget(new WritableStream({
  write: (c) => {
    if (c.position !== written) throw new Error(`the muxer went back to byte ${c.position}`);
    written += c.data.byteLength;
    if (!pending.length) pendingSince = now;
    pending.push(Buffer.from(c.data));
  },
}));
const output = new mb.Output({ format: new mb.MkvOutputFormat({ appendOnly: true, minimumClusterDuration: 1 }), target });
const vsrc = new mb.EncodedVideoPacketSource('avc');
output.addVideoTrack(vsrc, { frameRate: video.track.frameRate ?? 30 });
const asrc = new mb.EncodedAudioPacketSource('aac');
output.addAudioTrack(asrc);
await output.start();
let firstV = true;
let firstA = true;
for (const q of queue) {
  ticksUntil(q.t);
  now = q.t;
  if (q.kind === 'video') { await vsrc.add(q.p, firstV ? { decoderConfig: video.config } : undefined); firstV = false; send(now); }
  else { await asrc.add(q.p, firstA ? { decoderConfig: aac.config } : undefined); firstA = false; }
}
await output.finalize();
send(now);

if (existsSync(outDir)) for (const f of readdirSync(outDir)) if (/^chunk-\d+\.bin$|^meta\.json$/.test(f)) rmSync(join(outDir, f));
mkdirSync(outDir, { recursive: true });
out.forEach((m, i) => writeFileSync(join(outDir, `chunk-${String(i).padStart(5, '0')}.bin`), m.data));
const newJoined = join(tmp, 'out.mkv');
writeFileSync(newJoined, Buffer.concat(out.map((m) => m.data)));
const streams = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,profile,width,height,sample_rate,channels,nb_read_packets',
  '-count_packets', '-of', 'json', newJoined]).toString()).streams;
const newMeta = {
  ...Object.fromEntries(Object.entries(meta).filter(([k]) => !['chunk_list', 'ffprobe_streams', 'ffprobe_codecs', 'concatenated_file'].includes(k))),
  mimeType: 'video/x-matroska;codecs=avc1,mp4a.40.2', name, chunks: out.length, bytes: written,
  concatenated_file: `${name}.mkv`, ffprobe_codecs: streams.map((s) => s.codec_name), ffprobe_streams: streams,
  made_from: `${basename(from)}: its H.264 packets as they are; its Opus decoded and encoded to AAC-LC (GStreamer avenc_aac ${o.bitrate} bit/s);`
    + ' muxed again as the page muxes (mediabunny live Matroska); one message per picture with what the muxer wrote since the last one'
    + ' (bytes that waited 100 ms without a picture alone, at the page\'s 100 ms tick), as web/js/encoder.js sends; packets added at the send time'
    + ' of the source message that completed them (AAC: the Opus packet whose end reaches the AAC packet\'s end); bench/make-aac-fixture.mjs',
  chunk_list: out.map((m, i) => ({ index: i, size: m.data.length, t_ms: Math.round(m.t * 10) / 10 })),
};
writeFileSync(join(outDir, 'meta.json'), JSON.stringify(newMeta, null, 2) + '\n');
rmSync(tmp, { recursive: true });
console.log(`${outDir}: ${out.length} messages, ${written} bytes, ${streams.map((s) => `${s.codec_name}${s.profile ? ` ${s.profile}` : ''} ${s.nb_read_packets} packets`).join(' + ')}`);
