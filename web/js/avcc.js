// The H.264 decoder configuration record (avcC) a VideoEncoder hands out, checked against the
// parameter sets in its first keyframe. Firefox 153 writes each SPS and PPS into its avcC with
// the NAL header byte twice (and lengths to match), which no decoder reads: the server could not
// parse the stream's parameters and stopped finding its keyframes. Where the keyframe carries
// its own SPS/PPS (Firefox's do), the record is rebuilt from those; else it is kept as it is.

/** The NAL units of length-prefixed H.264 (`lengthSize` bytes per length). */
export function nalUnits(data, lengthSize = 4) {
  const out = [];
  let at = 0;
  while (at + lengthSize <= data.length) {
    let len = 0;
    for (let i = 0; i < lengthSize; i += 1) len = len * 256 + data[at + i];
    at += lengthSize;
    if (len === 0 || at + len > data.length) break;
    out.push(data.subarray(at, at + len));
    at += len;
  }
  return out;
}

/** The SPS and PPS lists of an avcC, with its NAL length size; null if it is not one. */
export function parseAvcC(avcc) {
  if (avcc.length < 7 || avcc[0] !== 1) return null;
  const lengthSize = (avcc[4] & 3) + 1;
  const sps = [];
  const pps = [];
  let at = 6;
  const read = (n, into) => {
    for (let i = 0; i < n; i += 1) {
      if (at + 2 > avcc.length) return false;
      const len = (avcc[at] << 8) | avcc[at + 1];
      at += 2;
      if (at + len > avcc.length) return false;
      into.push(avcc.subarray(at, at + len));
      at += len;
    }
    return true;
  };
  if (!read(avcc[5] & 0x1f, sps)) return null;
  if (at >= avcc.length) return null;
  const nPps = avcc[at];
  at += 1;
  if (!read(nPps, pps)) return null;
  return { lengthSize, sps, pps };
}

/** An avcC for these parameter sets (the extension for High profiles is left out: optional). */
export function buildAvcC(sps, pps, lengthSize = 4) {
  const size = 7 + sps.reduce((n, s) => n + 2 + s.length, 0) + pps.reduce((n, p) => n + 2 + p.length, 0);
  const out = new Uint8Array(size);
  out.set([1, sps[0][1], sps[0][2], sps[0][3], 0xfc | (lengthSize - 1), 0xe0 | sps.length]);
  let at = 6;
  for (const s of sps) { out[at] = s.length >> 8; out[at + 1] = s.length & 0xff; out.set(s, at + 2); at += 2 + s.length; }
  out[at] = pps.length;
  at += 1;
  for (const p of pps) { out[at] = p.length >> 8; out[at + 1] = p.length & 0xff; out.set(p, at + 2); at += 2 + p.length; }
  return out;
}

/**
 * The avcC to write: `description` as the encoder gave it, or rebuilt from the SPS/PPS in
 * `keyframe` (the first keyframe's bytes) when those differ from the record's.
 * @returns {{description: Uint8Array, repaired: boolean}}
 */
export function checkedAvcC(description, keyframe) {
  const given = description instanceof Uint8Array ? description
    : ArrayBuffer.isView(description) ? new Uint8Array(description.buffer, description.byteOffset, description.byteLength)
      : new Uint8Array(description);
  const rec = parseAvcC(given);
  const lengthSize = rec ? rec.lengthSize : 4;
  const nals = nalUnits(keyframe, lengthSize);
  const sps = nals.filter((n) => (n[0] & 0x1f) === 7);
  const pps = nals.filter((n) => (n[0] & 0x1f) === 8);
  if (!sps.length || !pps.length || sps[0].length < 4) return { description: given, repaired: false };
  const same = rec && rec.sps.length === sps.length && rec.pps.length === pps.length &&
    rec.sps.every((s, i) => equal(s, sps[i])) && rec.pps.every((p, i) => equal(p, pps[i]));
  if (same) return { description: given, repaired: false };
  return { description: buildAvcC(sps, pps, lengthSize), repaired: true };
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
