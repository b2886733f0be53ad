// The optional stage between the capture source and the recorder.
//
//   source (camera / later: screen share)  →  compositor  →  recorder  →  socket
//
// A compositor takes the source MediaStream and returns the MediaStream to record.
// Today the page records the camera as is (`passthrough`). A canvas compositor
// (screen share with a camera picture-in-picture, text and logo overlays) will
// implement the same two methods: draw the inputs on a <canvas> each frame and
// return `canvas.captureStream(fps)` plus the source's audio tracks.

/** @typedef {{output(source: MediaStream): MediaStream, dispose(): void}} Compositor */

/** @returns {Compositor} */
export function passthrough() {
  return {
    output(source) { return source; },
    dispose() {},
  };
}
