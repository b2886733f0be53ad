// SPDX-License-Identifier: LGPL-2.1-or-later
// A TCP proxy between the page and wsrtmpd that the end-to-end test controls (continuity.mjs):
// cut() destroys both sockets of every connection (no close frame: the page sees 1006),
// freeze() silently stops forwarding on every connection but keeps it open (a half-open
// connection, as after a network switch: the page must notice by itself),
// refuseFor(ms) drops new connections at once for a while, throttle(bps) narrows the client →
// server direction to a rate (uplink.mjs) and unthrottle() opens it again, and each WebSocket
// connection's first binary message is looked at (a fresh recorder starts with a container header).
import net from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');
// Throttled: a client socket is paused while this much waits in the proxy, so TCP's backpressure
// reaches the browser (its socket buffers, then its WebSocket) as on a narrow link. One read
// brings at most 64 KB (libuv's read size), so the proxy holds at most that much more.
const THROTTLE_AHEAD = 16 * 1024;
const BUCKET_BYTES = 16 * 1024; // the token bucket's depth (a burst at most this long)
const PUMP_MS = 10;

/** The first bytes (up to 4) of the first client → server WebSocket frame in buf, or null. */
function firstPayload(buf) {
  if (buf.length < 2) return null;
  let len = buf[1] & 0x7f;
  let at = 2;
  if (len === 126) { if (buf.length < 4) return null; len = buf.readUInt16BE(2); at = 4; }
  else if (len === 127) { if (buf.length < 10) return null; len = Number(buf.readBigUInt64BE(2)); at = 10; }
  const masked = (buf[1] & 0x80) !== 0;
  const mask = masked ? buf.subarray(at, at + 4) : null;
  if (masked) at += 4;
  const n = Math.min(4, len);
  if (buf.length < at + n) return null;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = buf[at + i] ^ (mask ? mask[i % 4] : 0);
  return out;
}

/** An unmasked server → client text frame. */
function textFrame(text) {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('frame too long for this helper');
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/**
 * Listens on 127.0.0.1 (a free port) and forwards to targetPort.
 * @param {{targetPort: number, injectAfterUpgrade?: string}} opts  injectAfterUpgrade: a text
 *   message written to the page right after the server's 101 response (before its own frames)
 */
export async function startProxy({ targetPort, injectAfterUpgrade = '' }) {
  const live = new Set();
  const frozen = new Set();
  let refuseUntil = 0;
  // The narrowed link: one token bucket for every connection, as for one uplink.
  const link = { bps: 0, tokens: 0, at: 0, timer: null };
  const pump = () => {
    link.timer = null;
    const now = performance.now();
    if (link.bps > 0) {
      link.tokens = Math.min(BUCKET_BYTES, link.tokens + ((now - link.at) / 1000) * (link.bps / 8));
      link.at = now;
    }
    let waiting = false;
    for (const pair of live) {
      while (pair.queue.length && (link.bps === 0 || link.tokens >= 1)) {
        const head = pair.queue[0];
        const n = link.bps === 0 ? head.length : Math.min(head.length, Math.floor(link.tokens));
        pair.server.write(n === head.length ? head : head.subarray(0, n));
        if (n === head.length) pair.queue.shift();
        else pair.queue[0] = head.subarray(n);
        pair.queued -= n;
        proxy.upBytes += n;
        if (link.bps > 0) link.tokens -= n;
      }
      if (pair.paused && pair.queued < THROTTLE_AHEAD) { pair.paused = false; pair.client.resume(); }
      if (pair.queue.length) waiting = true;
    }
    if (waiting && !link.timer) link.timer = setTimeout(pump, PUMP_MS);
  };
  const proxy = {
    port: 0,
    refused: 0,
    upBytes: 0, // client → server bytes forwarded, all connections
    /** Client → server forwarding limited to bitsPerSecond (all connections together). */
    throttle(bitsPerSecond) {
      if (!(bitsPerSecond > 0)) throw new Error(`throttle: bad rate ${bitsPerSecond}`);
      if (link.bps === 0) { link.tokens = 0; link.at = performance.now(); }
      link.bps = bitsPerSecond;
    },
    /** Forwarding at full speed again (what waits goes at once). */
    unthrottle() {
      link.bps = 0;
      clearTimeout(link.timer);
      pump();
    },
    ingest: [], // per WebSocket connection: { at, firstBytes (hex, '' until seen) }
    /** Destroys both sockets of every open connection. */
    cut() {
      for (const pair of live) { pair.client.destroy(); pair.server.destroy(); }
      live.clear();
    },
    /** Every open connection stops forwarding (bytes read and dropped), nothing is closed. */
    freeze() {
      for (const pair of live) { pair.frozen = true; frozen.add(pair); }
      live.clear();
    },
    refuseFor(ms) { refuseUntil = Date.now() + ms; },
    close() {
      proxy.cut();
      for (const pair of frozen) { pair.client.destroy(); pair.server.destroy(); }
      return new Promise((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((client) => {
    if (Date.now() < refuseUntil) {
      proxy.refused += 1;
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    // queue/queued: client bytes waiting for the throttled link; paused: the client is, for it.
    const pair = { client, server: upstream, frozen: false, queue: [], queued: 0, paused: false };
    live.add(pair);
    // A frozen connection's end does not reach the other side either (until close()).
    const gone = () => {
      if (pair.frozen) return;
      live.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', gone).on('close', gone);
    upstream.on('error', gone).on('close', gone);

    let request = Buffer.alloc(0); // client bytes until the first frame has been seen
    let ws = null;
    client.on('data', (d) => {
      if (pair.frozen) return;
      if (link.bps === 0 && !pair.queue.length) {
        upstream.write(d);
        proxy.upBytes += d.length;
      } else {
        pair.queue.push(d);
        pair.queued += d.length;
        if (pair.queued >= THROTTLE_AHEAD && !pair.paused) { pair.paused = true; client.pause(); }
        if (!link.timer) pump();
      }
      if (request === null) return;
      request = Buffer.concat([request, d]);
      const end = request.indexOf(HEAD_END);
      if (end < 0) return;
      if (!ws) {
        if (!/^GET \/ingest\//.test(request.toString('latin1', 0, 16))) { request = null; return; }
        ws = { at: Date.now(), firstBytes: '' };
        proxy.ingest.push(ws);
      }
      const first = firstPayload(request.subarray(end + HEAD_END.length));
      if (first) { ws.firstBytes = first.toString('hex'); request = null; }
    });

    let response = injectAfterUpgrade ? Buffer.alloc(0) : null;
    upstream.on('data', (d) => {
      if (pair.frozen) return;
      if (response === null) { client.write(d); return; }
      response = Buffer.concat([response, d]);
      const end = response.indexOf(HEAD_END);
      if (end < 0) return;
      const head = response.subarray(0, end + HEAD_END.length);
      const rest = response.subarray(end + HEAD_END.length);
      response = null;
      client.write(head);
      if (/^HTTP\/1\.1 101/.test(head.toString('latin1', 0, 12))) client.write(textFrame(injectAfterUpgrade));
      client.write(rest);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.port = server.address().port;
  return proxy;
}
