// An ended attendance as its record shows it (Supervisão → Protocolo, the
// customer's Histórico): the conversation with the private notes marked and
// the citizen's files,
// and the closing subject and comment, and the customer's survey answers.
import { el, isolate } from "./api.js";
import { attachmentNode } from "./attachments.js";
import { formatDate, formatTime } from "./format.js";

const HOLD_OUTCOMES = {
  transferred: "transferido", requeued: "voltou para a fila", finished: "finalizado",
  cancelled: "cancelado", abandoned: "abandonado",
};

// Who held the attendance when: one line per operator's part (transfers, requeues).
export function holdsList(holds) {
  if (!holds || !holds.length) return null;
  return el("div", { class: "holds" }, el("h4", { text: "Quem atendeu" }),
    el("ol", {}, ...holds.map((h) => el("li", {},
      ...isolate`${h.operator_name} · ${h.room_name} · ${formatTime(h.from)} → ${h.to ? formatTime(h.to) : "agora"}`,
      h.outcome ? ` · ${HOLD_OUTCOMES[h.outcome] || h.outcome}` : "",
      ...(h.transfer_note ? [" · ", ...isolate`Nota: ${h.transfer_note}`] : [])))));
}

export function recordMessages(messages) {
  return el("ol", { class: "record-messages" }, ...messages.map((m) => el("li", { class: m.direction },
    m.direction === "note" ? el("span", { class: "note-label", text: "Nota interna: " }) : null,
    el("span", { class: "text", text: m.text }), attachmentNode(m.attachment))));
}

// Nothing while the attendance is open: it has not been classified yet. A
// demand ended as pending shows its due date, what was pending and, once
// concluded, when, by whom and the answer (Decreto 11.034 art. 13).
export function closingDetails(a) {
  if (!a.ended_at) return null;
  return el("p", { class: "closing" },
    ...isolate`Assunto: ${a.subject || "—"}`,
    ...(a.closing_comment ? [" · ", ...isolate`Comentário: ${a.closing_comment}`] : []),
    ...(a.pending_until ? [" · ", ...isolate`Pendente até ${formatDate(a.pending_until)}: ${a.pending_reason || ""}`] : []),
    ...(a.concluded_at ? [" · ", ...isolate`Concluída em ${formatTime(a.concluded_at)} por ${a.concluded_by || "—"}: ${a.conclusion || ""}`] : []),
    ...surveyDetails(a.survey));
}

// The customer's satisfaction survey, when the room asked for it.
function surveyDetails(survey) {
  if (!survey) return [];
  if (survey.rating == null) return [" · Pesquisa de satisfação: sem resposta"];
  return [" · ", ...isolate`Avaliação do cliente: ${String(survey.rating)} de 5`,
    ...(survey.comment ? [" · ", ...isolate`Comentário do cliente: ${survey.comment}`] : [])];
}
