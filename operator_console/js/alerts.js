// Alerts that reach an operator wherever they look: a short tone, the tab's
// title with what waits for them, and a system notification when the tab is
// hidden. What each did is kept on <body> (data-audio, data-rings,
// data-tones, data-notifications) for the browser tests.

const TITLE = "Atendimento";
let audio = null;
const counts = { rings: 0, tones: 0, notifications: 0 };

function show() {
  const body = document.body.dataset;
  body.audio = audio ? audio.state : "none";
  for (const [name, value] of Object.entries(counts)) body[name] = String(value);
}

// Browsers let a page start sound only after a gesture of the person on it.
// Every gesture, after any load (a reload keeps the session, not the sound),
// creates or resumes the audio context until it runs.
function resumeSound() {
  try {
    if (!audio) {
      audio = new AudioContext();
      audio.addEventListener("statechange", show);
    }
    if (audio.state !== "running") audio.resume().catch(() => {});
  } catch (_) { /* no audio device */ }
  show();
}
for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resumeSound, { capture: true });

// Asked from the login click (a gesture, as browsers require).
export function askNotifications() {
  resumeSound();
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

function tone(frequency) {
  if (!audio || audio.state !== "running") return;
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.2, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start();
  oscillator.stop(audio.currentTime + 0.6);
  counts.tones += 1;
}

function notify(title, body) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  try {
    new Notification(title, { body, tag: title });
    counts.notifications += 1;
  } catch (_) { /* the browser refused it */ }
}

// A call to answer: a new one, or calls already waiting at login or when
// the operator becomes available again.
export function ring(title, body) {
  counts.rings += 1;
  tone(880);
  notify(title, body);
  show();
}

// A customer's message the operator is not looking at.
export function chime(title, body) {
  tone(660);
  notify(title, body);
  show();
}

// "(3) Atendimento": calls waiting plus unread customer messages.
export function showCounts(waiting) {
  document.title = waiting > 0 ? `(${waiting}) ${TITLE}` : TITLE;
}

show();
