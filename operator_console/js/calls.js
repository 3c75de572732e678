// The call list on the left (O2): the room's queue and the operator's own
// attendances, each with its last message.
import { $, el, CHANNELS } from "./api.js";
import { formatPhone } from "./format.js";

const PREVIEW_CHARS = 80;

function elapsed(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export function label(a) {
  return a.contact_name || formatPhone(a.contact_phone) || (a.contact_username && `@${a.contact_username}`) || `Cliente ${a.id}`;
}

// Why an attendance left the operator's list without their doing.
export function endedNotice(a) {
  if (a.status !== "abandoned") return "";
  if (a.reason === "customer_left") return `${label(a)} encerrou a conversa.`;
  return `${label(a)} não respondeu e o atendimento foi encerrado (protocolo ${a.protocol}).`;
}

function channelBadge(channel) {
  return el("span", { class: `channel ${channel}`, text: CHANNELS[channel] || channel });
}

function preview(a) {
  const text = (a.last_message || "").replace(/\s+/g, " ").trim();
  if (!text) return null;
  return el("span", { class: "preview muted", text: text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text });
}

// Where the customer is in the queue, as they were told ("2º · ~5 min").
function place(a) {
  if (!a.position) return null;
  const estimate = a.estimated_minutes ? ` · ~${a.estimated_minutes} min` : "";
  return el("span", { class: "place muted", text: `${a.position}º${estimate}`, title: "Posição na fila e tempo estimado" });
}

// It arrived while its room was closed (outside hours or on a holiday).
function outsideHours(a) {
  return a.queued_outside_hours ? el("span", { class: "outside-hours", text: "fora do horário", title: "Chegou com a sala fechada" }) : null;
}

export function renderCalls(state, open) {
  const entry = (a, side) =>
    el("li", {},
      el("button", { type: "button", "aria-current": String(a.id === state.current), title: label(a), onclick: () => open(a.id) },
        channelBadge(a.channel),
        el("span", { class: "who" }, el("span", { class: "name", text: label(a) }), preview(a)),
        side));
  $("queue").replaceChildren(...[...state.queue.values()].map((a) =>
    entry(a, el("span", { class: "side" }, outsideHours(a), place(a),
      el("span", { class: "waiting muted", "data-since": a.queued_at, text: elapsed(a.queued_at), title: "Tempo de espera" })))));
  $("mine").replaceChildren(...[...state.mine.values()].map((a) => {
    const unread = state.unread.get(a.id);
    return entry(a, unread ? el("span", { class: "badge", text: String(unread), "aria-label": `${unread} não lidas` }) : null);
  }));
  $("queue-empty").hidden = state.queue.size > 0;
}

setInterval(() => {
  for (const node of document.querySelectorAll(".waiting")) node.textContent = elapsed(node.dataset.since);
}, 1000);
