// One row per destination of the broadcast (restream): its name, a
// coloured state dot, the bitrate it accepts, and what went wrong in words.
// The server sends {"type":"destinations","destinations":[{name, state,
// kbps, reconnects, error}]} about once a second and at every change;
// it comes the way of every server frame (socket.js → session.js) and
// the page hands it to Ui.setDestinations (ui.js), which renders it here.

const STATE_WORDS = {
  connecting: 'Connecting',
  live: 'Live',
  reconnecting: 'Reconnecting',
  stalled: 'Stalled',
  failed: 'Failed',
};

/** Renders the destinations into list (a <ul>); the section around it
 *  shows once there is something to show. */
export function renderDestinations(list, destinations) {
  const section = list.closest('[data-destinations]') || list;
  if (!Array.isArray(destinations) || destinations.length === 0) {
    section.hidden = true;
    list.replaceChildren();
    return;
  }
  const rows = destinations.map((dest) => {
    const state = STATE_WORDS[dest.state] ? dest.state : 'connecting';
    const row = document.createElement('li');
    row.className = 'destination';
    row.dataset.state = state;
    row.dataset.name = String(dest.name || '');

    const dot = document.createElement('span');
    dot.className = 'destination-dot';
    dot.setAttribute('aria-hidden', 'true');

    const name = document.createElement('span');
    name.className = 'destination-name';
    name.textContent = String(dest.name || '?');

    const status = document.createElement('span');
    status.className = 'destination-state';
    status.textContent = STATE_WORDS[state];

    const rate = document.createElement('span');
    rate.className = 'destination-rate';
    const kbps = Number(dest.kbps) || 0;
    rate.textContent = state === 'live' || state === 'stalled'
      ? (kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${kbps} kbps`) : '';

    row.append(dot, name, status, rate);
    const reconnects = Number(dest.reconnects) || 0;
    if (dest.error && state !== 'live') {
      const error = document.createElement('span');
      error.className = 'destination-error';
      error.textContent = String(dest.error);
      row.append(error);
    } else if (reconnects > 0) {
      const note = document.createElement('span');
      note.className = 'destination-note';
      note.textContent = reconnects === 1 ? 'reconnected once' : `reconnected ${reconnects} times`;
      row.append(note);
    }
    return row;
  });
  list.replaceChildren(...rows);
  section.hidden = false;
}
