// After Stop: the server's recording of the broadcast that just ended. wsrtmpd lists a key's
// recordings at GET /recordings/KEY (the stream key is the credential, as for the WebSocket;
// with the page's ?token= when it was opened with one): each segment's name, size, duration,
// whether it is finished (a segment is finalised into a regular MP4 just after it closes) and
// its download URL. The page asks until every segment of this broadcast is finished and hands
// each answer to a render function (Ui.setRecordings). No DOM here.

/** How often, and for how long, the page asks after the end. */
export const POLL_MS = 2000;
export const GIVE_UP_MS = 60000;
/** The server's clock and the browser's may differ: segments that started this long before
 *  Go live still count as this broadcast's. */
export const CLOCK_SLACK_MS = 30000;

/** The listing's URL for key (and token, if any), on the page's own server. */
export function recordingsUrl(key, token = '', loc = location) {
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${loc.protocol}//${loc.host}/recordings/${encodeURIComponent(key)}${query}`;
}

/** The token the page was opened with (?token=…), or ''. */
export function pageToken(search = location.search) {
  return new URLSearchParams(search).get('token') || '';
}

/**
 * This broadcast's segments out of the key's recordings: those that started at most
 * CLOCK_SLACK_MS before sinceMs (when Go live was pressed), oldest first.
 * @param {Array<{name: string, started: string}>} recordings
 */
export function recordingsSince(recordings, sinceMs) {
  if (!Array.isArray(recordings)) return [];
  return recordings
    .filter((r) => r && typeof r.name === 'string' && Date.parse(r.started) >= sinceMs - CLOCK_SLACK_MS)
    .sort((a, b) => Date.parse(a.started) - Date.parse(b.started) ||
      a.name.localeCompare(b.name, undefined, { numeric: true }));
}

/**
 * Asks for key's recordings every POLL_MS until this broadcast's are all finished (or
 * GIVE_UP_MS passed), giving render each list (an empty list hides it: no recording, or
 * recordings are off for this server).
 */
export class RecordingWatch {
  /**
   * @param {(list: Array<object>, done: boolean) => void} render
   * @param {{fetch?: typeof fetch, setTimeout?: typeof setTimeout,
   *          clearTimeout?: typeof clearTimeout, now?: () => number}} [env]
   */
  constructor(render, env = {}) {
    this.render = render;
    this.fetch = env.fetch || ((...a) => fetch(...a));
    this.setTimeout = env.setTimeout || ((...a) => setTimeout(...a));
    this.clearTimeout = env.clearTimeout || ((t) => clearTimeout(t));
    this.now = env.now || (() => Date.now());
    this.timer = null;
    this.generation = 0;
  }

  /** Starts watching key's recordings of a broadcast that began at sinceMs. */
  watch(key, sinceMs, token = pageToken(), url = recordingsUrl(key, token)) {
    this.cancel();
    const generation = this.generation;
    const until = this.now() + GIVE_UP_MS;
    const ask = async () => {
      this.timer = null;
      let list = [];
      try {
        const response = await this.fetch(url, { cache: 'no-store' });
        if (response.ok) list = recordingsSince((await response.json()).recordings, sinceMs);
      } catch {
        // Unreachable for now: asked again below.
      }
      if (generation !== this.generation) return;
      const finished = list.length > 0 && list.every((r) => r.finished);
      const late = this.now() >= until;
      this.render(list, finished || late);
      if (!finished && !late) this.timer = this.setTimeout(ask, POLL_MS);
    };
    this.timer = this.setTimeout(ask, 0);
  }

  /** Stops asking and forgets what was shown (a new broadcast starts). */
  cancel() {
    this.generation++;
    if (this.timer !== null) this.clearTimeout(this.timer);
    this.timer = null;
  }
}
