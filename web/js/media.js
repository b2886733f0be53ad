// Capture source: camera + microphone, device lists, and plain-words errors.

export const RESOLUTIONS = {
  '480p': { width: 854, height: 480 },
  '720p': { width: 1280, height: 720 },
  '1080p': { width: 1920, height: 1080 },
};

/** A getUserMedia failure explained for a person. */
export class MediaAccessError extends Error {
  constructor(kind, message, cause) {
    super(message);
    this.name = 'MediaAccessError';
    this.kind = kind; // denied | nodevice | inuse | constraints | insecure | unsupported | unknown
    this.cause = cause;
  }
}

function videoConstraints(videoId, resolution, frameRate) {
  const r = RESOLUTIONS[resolution] || RESOLUTIONS['720p'];
  const c = { width: { ideal: r.width }, height: { ideal: r.height }, frameRate: { ideal: frameRate } };
  if (videoId) c.deviceId = { exact: videoId };
  return c;
}

function audioConstraints(audioId) {
  const c = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (audioId) c.deviceId = { exact: audioId };
  return c;
}

async function which(kind) {
  // After a NotFoundError: find out which of the two is missing.
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    return devices.some((d) => d.kind === kind);
  } catch {
    return true;
  }
}

async function explain(err) {
  const name = err && err.name;
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return new MediaAccessError('denied',
        'Camera and microphone access is blocked. Allow both in your browser\u2019s site settings ' +
        '(the icon to the left of the address bar), then press \u201cTry again\u201d.', err);
    case 'NotFoundError':
    case 'DevicesNotFoundError': {
      const [cam, mic] = await Promise.all([which('videoinput'), which('audioinput')]);
      const missing = !cam && !mic ? 'No camera and no microphone were found'
        : !cam ? 'No camera was found' : !mic ? 'No microphone was found'
        : 'The selected camera or microphone is no longer connected';
      return new MediaAccessError('nodevice', `${missing}. Connect one, then press \u201cTry again\u201d.`, err);
    }
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return new MediaAccessError('inuse',
        'Your camera or microphone is in use by another app or browser tab, or the system blocked it. ' +
        'Close the other app (video calls, other streaming tools) and try again.', err);
    case 'OverconstrainedError':
    case 'ConstraintNotSatisfiedError':
      return new MediaAccessError('constraints',
        'The selected camera cannot provide that picture size. Choose another resolution or camera.', err);
    case 'TypeError':
      if (!window.isSecureContext) break;
      return new MediaAccessError('unknown', `The browser refused the camera request (${err.message}).`, err);
    default:
      break;
  }
  if (!window.isSecureContext) {
    return new MediaAccessError('insecure',
      'The camera only works on a secure page. Open this page over https:// (or on localhost).', err);
  }
  return new MediaAccessError('unknown',
    `The camera and microphone could not be started${err && err.message ? ` (${err.message})` : ''}.`, err);
}

/**
 * Open camera + microphone.
 * @returns {Promise<MediaStream>}
 * @throws {MediaAccessError}
 */
export async function openCamera({ videoId = '', audioId = '', resolution = '720p', frameRate = 30 } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    if (!window.isSecureContext) {
      throw new MediaAccessError('insecure',
        'The camera only works on a secure page. Open this page over https:// (or on localhost).');
    }
    throw new MediaAccessError('unsupported', 'This browser cannot use a camera. Try a current Chrome, Edge, Firefox or Safari.');
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: videoConstraints(videoId, resolution, frameRate),
      audio: audioConstraints(audioId),
    });
  } catch (err) {
    // A device id from last time may be gone: retry once with any device.
    if ((err.name === 'OverconstrainedError' || err.name === 'NotFoundError') && (videoId || audioId)) {
      try {
        return await navigator.mediaDevices.getUserMedia({
          video: videoConstraints('', resolution, frameRate),
          audio: audioConstraints(''),
        });
      } catch (err2) {
        throw await explain(err2);
      }
    }
    throw await explain(err);
  }
}

/**
 * Share a screen, window or tab, with its audio when the browser offers it.
 * @returns {Promise<MediaStream>}
 * @throws {Error} with a message for a person (nothing thrown when the streamer cancels: null)
 */
export async function openScreen({ frameRate = 30, width = 1920, height = 1080 } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    throw new Error('This browser cannot share the screen. Try a current Chrome, Edge or Firefox on a computer.');
  }
  try {
    return await navigator.mediaDevices.getDisplayMedia({
      // No bigger than the broadcast: scaling a 4K screen down each frame costs draw time.
      video: { frameRate: { ideal: frameRate }, width: { max: width }, height: { max: height } },
      // Echo cancellation would eat the shared tab's sound: it is not the room.
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      systemAudio: 'include',
      selfBrowserSurface: 'exclude',
    });
  } catch (err) {
    if (err && err.name === 'NotAllowedError') {
      throw new Error('Screen sharing was cancelled or is blocked for this site.');
    }
    throw new Error(`The screen could not be shared${err && err.message ? ` (${err.message})` : ''}.`);
  }
}

/** Stop every track of a stream. */
export function closeStream(stream) {
  if (stream) for (const t of stream.getTracks()) t.stop();
}

/** Cameras and microphones, with readable labels. */
export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const pick = (kind, word) => devices.filter((d) => d.kind === kind && d.deviceId)
    .map((d, i) => ({ id: d.deviceId, label: d.label || `${word} ${i + 1}` }));
  return { cameras: pick('videoinput', 'Camera'), microphones: pick('audioinput', 'Microphone') };
}

/** Device ids and picture size actually in use by a stream. */
export function describeStream(stream) {
  const v = stream.getVideoTracks()[0];
  const a = stream.getAudioTracks()[0];
  const vs = v ? v.getSettings() : {};
  const as = a ? a.getSettings() : {};
  return {
    videoId: vs.deviceId || '', audioId: as.deviceId || '',
    width: vs.width || 0, height: vs.height || 0, frameRate: vs.frameRate || 0,
    videoLabel: v ? v.label : '', audioLabel: a ? a.label : '',
  };
}

/** Whether the browser already has camera permission (so the preview can start without a prompt). */
export async function cameraPermission() {
  try {
    const [cam, mic] = await Promise.all([
      navigator.permissions.query({ name: 'camera' }),
      navigator.permissions.query({ name: 'microphone' }),
    ]);
    if (cam.state === 'granted' && mic.state === 'granted') return 'granted';
    if (cam.state === 'denied' || mic.state === 'denied') return 'denied';
    return 'prompt';
  } catch {
    return 'unknown';
  }
}
