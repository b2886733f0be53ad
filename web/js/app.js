// The page's wiring: sources (camera, screen) → compositor (the studio) → recorder → socket,
// each job in its own module, put together and started here.
//
//   settings.js         what the browser keeps, the form's values, the recording format
//   studio_controls.js  scenes, screen share, title, logo, mutes
//   camera.js           camera and microphone, device pickers
//   golive.js           the Go live form and the LiveSession (session.js) it runs

import { Ui } from './ui.js';
import { LevelMeter } from './meter.js';
import { Studio } from './compositor.js';
import { Settings } from './settings.js';
import { StudioControls } from './studio_controls.js';
import { CameraControl } from './camera.js';
import { GoLive } from './golive.js';

const ui = new Ui();
const meter = new LevelMeter(ui.meter);
const screenMeter = new LevelMeter(ui.screenMeter);
const studio = new Studio(ui.canvas, { fps: 30 });
// For tests and support: draw times, the method in use, the scene.
window.wsrtmpStudio = studio;

const settings = new Settings(ui);
const controls = new StudioControls({ ui, studio, settings, screenMeter });
const camera = new CameraControl({ ui, studio, meter, settings }, {
  live: () => goLive.live,
  ended: (what) => goLive.cameraEnded(what),
});
const goLive = new GoLive({ ui, settings, camera, controls, meter });
// For tests and support: the session and its encoder (frames, skipped, keyframes).
window.wsrtmpLive = goLive;

controls.bind();
settings.restore();
controls.restore();
ui.setState('idle');
settings.bind();
camera.bind();
goLive.bind();
// Browsers keep an AudioContext suspended until the page is used.
for (const t of ['pointerdown', 'keydown']) {
  document.addEventListener(t, () => { meter.resume(); screenMeter.resume(); studio.resumeAudio(); }, { passive: true });
}
camera.startIfAllowed();
