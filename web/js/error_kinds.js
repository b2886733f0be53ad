// The error kinds the server names in its {"type":"error","kind":…} frame, in one table: for
// each, whether the page tries again within the server's continuity window (reconnect.js asks)
// and what it tells the streamer (socket.js). README.md's table lists the same kinds with
// their close codes; tests/e2e/error_kinds.test.mjs checks that the two lists agree.
// No DOM, no network: node imports it too.

const AGAIN = 'Choose another format under Settings and try again.';

/**
 * retry: a new connection may be let in (the page tries again while the server keeps the
 *        broadcast); false: it would meet the same answer, or must not be tried.
 * text:  the streamer's words (a function of the close's context where they depend on it).
 * field: the control the error is about ('key' marks the key box).
 * The page decides on the kind, never on the server's English.
 */
export const KINDS = Object.freeze({
  // The key or the page is refused: only the streamer can fix it.
  key: { retry: false, field: 'key', text: 'The stream key was refused. Check that you copied the whole key, then try again.' },
  token: { retry: false, text: 'This streaming link is no longer valid (it expired, or it was made for another key). Open the streaming page again from where you got it.' },
  origin: { retry: false, text: 'This page may not stream to this server. Open the streaming page from the address your broadcaster gave you.' },
  // The operator's own service (--on-publish) said no, or did not answer in time: asking again
  // at once would meet the same answer. Its reason, if it gave one, is the error's message.
  refused: { retry: false, text: 'The streaming service did not allow this stream.' },
  // Another tab or device took the key over: retrying would take it back.
  replaced: { retry: false, text: 'Another window or device started streaming with this key, so this one stopped.' },
  // The server heard no media while the connection was up: this browser's recorder, not the
  // network (a dead network is a 1006).
  idle: { retry: false, text: (ctx) => `No media arrived from your browser${ctx.silentSec ? ` for ${ctx.silentSec} s` : ''}, so the server stopped the stream. The key is fine: this browser\u2019s recorder may not work with this format. ${AGAIN}` },
  // The server is restarting: it may be back within the window (a restarted server starts a
  // new broadcast, but the streamer is live again by itself).
  shutdown: { retry: true, text: 'The server is shutting down or restarting. Try again in a minute.' },
  // The server (or this network's share of it) is full: right after a drop the old
  // connection may still count until the server notices it is gone.
  capacity: { retry: true, text: 'The server is full right now. Try again in a few minutes.' },
  per_ip: { retry: true, text: 'Too many streams are running from your network. Stop one of them, or try again in a few minutes.' },
  // The same recorder and settings would fail again.
  input: { retry: false, text: `The server could not read the video this browser produces. ${AGAIN}` },
  codec: { retry: false, text: `The server does not support the codec this browser records. ${AGAIN}` },
  text: { retry: false, text: 'The page sent something the server does not understand. Reload the page and try again.' },
  too_big: { retry: false, text: 'The browser sent a piece of video larger than the server accepts. Choose a lower quality and try again.' },
  too_slow: { retry: false, text: 'The server could not keep up with the stream. Choose a lower quality and try again.' },
  // The platform side failed after the server's own retries.
  rtmp_connect: { retry: false, text: 'The server could not reach the streaming platform. Check the platform\u2019s status, then try again.' },
  rtmp_refused: { retry: false, text: 'The streaming platform refused the stream. Check your stream key at the platform, then try again.' },
  rtmp: { retry: false, text: 'The connection to the streaming platform was lost and could not be restored. Try again.' },
  // The server failed and ended the broadcast.
  recording: { retry: false, text: 'The server could not save the recording. Tell whoever runs the server.' },
  encoder: { retry: false, text: 'The server failed while encoding the stream. Try again; if it keeps happening, choose another format under Settings.' },
  pipeline: { retry: false, text: 'The server failed while processing the stream. Try again; if it keeps happening, choose another format under Settings.' },
  drain_timeout: { retry: false, text: 'The server took too long to finish the stream, so its end may be missing.' },
  // The operator ended the stream (the admin API's kick), perhaps keeping the key out for a
  // while: coming back by itself is exactly what must not happen. The server's message is the
  // operator's reason (banned: the time left), shown after these words.
  kicked: { retry: false, text: 'The operator of this server ended your stream.' },
  banned: { retry: false, text: 'The operator of this server has blocked this stream key for now. Try again later.' },
});

/** The error kinds the page knows. */
export const ERROR_KINDS = Object.freeze(Object.keys(KINDS));

/** What `kind` means for the streamer: {text, field}, or null for a kind this page does not know. */
export function explainKind(kind, ctx) {
  const k = Object.hasOwn(KINDS, kind) ? KINDS[kind] : null;
  if (!k) return null;
  return { text: typeof k.text === 'function' ? k.text(ctx) : k.text, field: k.field || '' };
}
