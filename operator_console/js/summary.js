// The tab Resumo (O12): customer, protocol, times and the information given.
import { $, el, api, CHANNELS, isolate } from "./api.js";
import { formatDuration, formatPhone, formatTime } from "./format.js";

export async function showSummary(attendanceId) {
  const s = await api(`/api/attendances/${attendanceId}/summary`);
  const a = s.attendance;
  const rows = [
    ["Cliente", s.customer ? isolate`${s.customer.name} (${formatPhone(s.customer.phone) || "sem telefone"})` : (a.contact_name || "Não vinculado")],
    ["Protocolo", a.protocol || "Ainda não gerado"],
    ["Canal", CHANNELS[a.channel] || a.channel],
    ["Operador", s.operator_name || "—"],
    ["Entrada na fila", formatTime(a.queued_at)],
    ["Espera", formatDuration(s.waiting_seconds)],
    ["Primeira resposta", formatDuration(s.first_response_seconds)],
    ["Duração", formatDuration(s.duration_seconds)],
    ["Mensagens", String(s.message_count)],
  ];
  $("summary").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), typeof v === "string" ? el("dd", { text: v }) : el("dd", {}, ...v)]));
  $("summary-registrations").replaceChildren(...(s.registrations.length
    ? s.registrations.map((r) => el("li", {}, ...isolate`${r.title} (${r.category}) · ${formatTime(r.at)}`))
    : [el("li", { class: "muted", text: "Nenhuma informação registrada." })]));
}
