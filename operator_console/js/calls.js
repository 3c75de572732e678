// The call list on the left (O2): the room's queue and the operator's own attendances.
import { $, el, CHANNELS } from "./api.js";

function elapsed(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export function label(a) {
  return a.contact_name || a.contact_phone || `Cliente ${a.id}`;
}

// Why an attendance left the operator's list without their doing.
export function endedNotice(a) {
  if (a.status !== "abandoned") return "";
  return `${label(a)} não respondeu e o atendimento foi encerrado (protocolo ${a.protocol}).`;
}

function channelBadge(channel) {
  return el("span", { class: `channel ${channel}`, text: CHANNELS[channel] || channel });
}

export function renderCalls(state, open) {
  const entry = (a, side) =>
    el("li", {},
      el("button", { type: "button", "aria-current": String(a.id === state.current), onclick: () => open(a.id) },
        channelBadge(a.channel), el("span", { class: "name", text: label(a) }), side));
  $("queue").replaceChildren(...[...state.queue.values()].map((a) =>
    entry(a, el("span", { class: "waiting muted", "data-since": a.queued_at, text: elapsed(a.queued_at), title: "Tempo de espera" }))));
  $("mine").replaceChildren(...[...state.mine.values()].map((a) => {
    const unread = state.unread.get(a.id);
    return entry(a, unread ? el("span", { class: "badge", text: String(unread), "aria-label": `${unread} não lidas` }) : null);
  }));
  $("queue-empty").hidden = state.queue.size > 0;
}

setInterval(() => {
  for (const node of document.querySelectorAll(".waiting")) node.textContent = elapsed(node.dataset.since);
}, 1000);

// --- the new-call alert: a short synthesised tone, allowed by the login click

let audio = null;

export function unlockSound() {
  try {
    audio = audio || new AudioContext();
    audio.resume();
  } catch (_) { /* no audio device */ }
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

export function ring(attendance) {
  window.__rings = (window.__rings || 0) + 1;  // observable by the browser tests
  if (audio) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.6);
  }
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    new Notification("Novo cliente na fila", { body: label(attendance) });
  }
}
