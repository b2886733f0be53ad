// When the page reconnects by itself after its ingest connection dropped, and how often (issue 14).
// No DOM, no network: session.js asks, and tests/e2e/reconnect.test.mjs checks it in node.
//
// The server keeps a broadcast on a "be right back" slate for `continuity_timeout_s` seconds
// (its welcome frame) after a connection ends without a clean Stop; a new connection with the
// same key in that window resumes it. So the page tries again on any close that may be
// transient, and gives up on one that would only be refused again.

import { ERROR_KINDS, KINDS } from './error_kinds.js';

/** Error kinds after which a new connection is worth a try within the window (error_kinds.js says why). */
export const RETRY_KINDS = Object.freeze(ERROR_KINDS.filter((kind) => KINDS[kind].retry));

/** Error kinds after which a new connection would meet the same answer, or must not be tried. */
export const FATAL_KINDS = Object.freeze(ERROR_KINDS.filter((kind) => !KINDS[kind].retry));

// kicked and banned (the operator ended the stream, or keeps the key out) are fatal like the
// other refusals: a page that came back by itself would undo the operator's decision.

// Close codes without a kind that mean "refused" or "over": 1000 the server ended the stream,
// 1003 unreadable data, 1007/1009/1010 protocol refusals, 1008 policy (key, origin, replaced),
// 1011 a server failure. Everything else (1001 going away, 1005/1006 no close frame, 1012
// restart, 1013 try later, 1014 bad gateway, a failed connection attempt) is worth a retry.
const FATAL_CODES = Object.freeze([1000, 1003, 1007, 1008, 1009, 1010, 1011]);

/**
 * Whether an unexpected close (no Stop pressed) should start or continue reconnecting.
 * @param {{code: number, kind?: string}} close  the close code and the last error frame's kind
 */
export function shouldReconnect({ code, kind = '' }) {
  if (kind && FATAL_KINDS.includes(kind)) return false;
  if (kind && RETRY_KINDS.includes(kind)) return true;
  // No kind, or one this page does not know yet (a newer server): the close code decides.
  return !FATAL_CODES.includes(code);
}

export const FIRST_DELAY_MS = 500;
export const MAX_DELAY_MS = 5000;
export const LAST_CHANCE_MS = 500;

/** Delay before reconnect attempt n (0-based): 0.5 s, 1 s, 2 s, 4 s, then 5 s each. */
export function backoffMs(attempt) {
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, Math.min(attempt, 16)));
}

/**
 * The reconnect window after one drop: attempts with backoff for as long as the server keeps
 * the broadcast (windowS, measured from the drop).
 */
export class ReconnectWindow {
  /**
   * @param {number} windowS  the server's continuity_timeout_s (0: no reconnect)
   * @param {number} droppedAt  when the connection dropped (ms, same clock as `now` below)
   */
  constructor(windowS, droppedAt) {
    this.windowMs = Math.max(0, Number(windowS) || 0) * 1000;
    this.droppedAt = droppedAt;
    this.attempts = 0;
  }

  /** Time left in the window at `now` (ms, never negative). */
  leftMs(now) {
    return Math.max(0, this.droppedAt + this.windowMs - now);
  }

  /**
   * The delay before the next attempt, counted as made; -1 when less than LAST_CHANCE_MS of
   * the window is left (give up). The last attempt is made LAST_CHANCE_MS / 2 before the
   * window ends rather than not at all.
   */
  next(now) {
    const left = this.leftMs(now);
    if (left < LAST_CHANCE_MS) return -1;
    this.attempts += 1;
    return Math.min(backoffMs(this.attempts - 1), left - LAST_CHANCE_MS / 2);
  }
}

export const LOST_TEXT = 'Connection lost \u2014 viewers see your \u2018be right back\u2019 screen. Reconnecting\u2026';

/**
 * After a drop, or a failed attempt to restore it: the next attempt within the server's window
 * (the session's _connect after the window's backoff), or the end of the broadcast once the
 * window is over. The WebSocket (session.js) and WebRTC (whip_session.js) sessions share it.
 * @param {object} session  its lost window, continuityS, drops, phase, stopping, finished,
 *   retryTimer and handlers (h.warn), and its _setPhase, _finish and _connect
 */
export function retryAfterDrop(session) {
  const now = performance.now();
  if (!session.lost) {
    session.lost = new ReconnectWindow(session.continuityS, now);
    session.drops += 1;
    session.h.warn('');
  }
  const delay = session.lost.next(now);
  if (delay < 0) {
    session.errorKind = 'lost';
    session._finish('error', `The connection to the server was lost and did not come back within ${session.continuityS} s, ` +
      'so the broadcast ended. Check your internet connection, then go live again.');
    return;
  }
  if (session.phase !== 'lost') session._setPhase('lost', LOST_TEXT);
  session.retryTimer = setTimeout(() => {
    session.retryTimer = 0;
    if (!session.stopping && !session.finished) session._connect();
  }, delay);
}
