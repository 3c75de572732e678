// An ended attendance as its record shows it (Supervisão → Protocolo, the
// customer's Histórico): the conversation with the private notes marked and
// the citizen's files,
// and the closing subject and comment.
import { el, isolate } from "./api.js";
import { attachmentNode } from "./attachments.js";

export function recordMessages(messages) {
  return el("ol", { class: "record-messages" }, ...messages.map((m) => el("li", { class: m.direction },
    m.direction === "note" ? el("span", { class: "note-label", text: "Nota interna: " }) : null,
    el("span", { class: "text", text: m.text }), attachmentNode(m.attachment))));
}

// Nothing while the attendance is open: it has not been classified yet.
export function closingDetails(a) {
  if (!a.ended_at) return null;
  return el("p", { class: "closing" },
    ...isolate`Assunto: ${a.subject || "—"}`,
    ...(a.closing_comment ? [" · ", ...isolate`Comentário: ${a.closing_comment}`] : []));
}
