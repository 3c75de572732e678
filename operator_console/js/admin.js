// Supervision (supervisors and admins): live view, operators, rooms and
// routing, ready replies, reports with CSV and a chart, protocol lookup with export and
// print, a person's data (data-subjects.js), requests for a demand's record
// (record-requests.js), and the work the service set aside (dead
// letters) to retry or discard.
import { $, el, api, clearFieldErrors, confirmAction, download, isolate, showFieldError } from "./api.js";
import { createDataSubjects } from "./data-subjects.js";
import { createRecordRequests } from "./record-requests.js";
import { attendanceStatus, formatDate, formatDuration, formatNumber, formatPhone, formatTime, parseDate } from "./format.js";
import { drawReportChart } from "./report-chart.js";
import { createDemands } from "./demands.js";
import { keyboardTabs, markSelected } from "./tabs.js";
import { closingDetails, holdsList, recordMessages } from "./records.js";
import { createHoursAdmin, openState } from "./hours.js";

const STATUS = { available: "Disponível", paused: "Pausa", offline: "Indisponível" };
const ROLE = { operator: "Operador", supervisor: "Supervisor", admin: "Administrador" };
const DEAD_LETTER_KIND = {
  import_events: "Mensagens do cliente não gravadas",
  operator_message: "Mensagem do operador não entregue",
  closing: "Encerramento não enviado ao cliente",
  transfer: "Transferência não concluída",
  reconcile: "Conferência com o Rasa",
  channel_resend: "Mensagem do robô não entregue",
  fetch_media: "Arquivo do cliente não baixado do WhatsApp",
  record_delivery: "Registro do atendimento não enviado ao cidadão",
};
const PREVIEW_MESSAGES = 3, PREVIEW_CHARS = 140, ERROR_CHARS = 80;

const clip = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

export function createAdmin() {
  let section = "painel";
  let rooms = [];
  let editing = null; // operator being edited, or null for a new one

  const fail = (error) => { $("admin-error").textContent = error.message; };
  createDataSubjects(fail);
  const hours = createHoursAdmin(fail);
  const demands = createDemands(fail);
  const recordRequests = createRecordRequests(fail);

  async function show(name) {
    section = name;
    $("admin-error").textContent = "";
    for (const tab of document.querySelectorAll("[data-admin]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.admin === name));
      $(`admin-${tab.dataset.admin}`).hidden = tab.dataset.admin !== name;
    }
    markSelected($("admin-tabs"));
    try {
      if (name === "painel") await showLive();
      if (name === "operadores") await showOperators();
      if (name === "salas") await showRooms();
      if (name === "respostas") await showReplies();
      if (name === "relatorios" && !reportForm.elements.start.value) setDefaultPeriod();
      if (name === "registros") await recordRequests.load();
      if (name === "falhas") await loadDeadLetters();
      if (name === "pendencias") await demands.load();
    } catch (error) { fail(error); }
  }
  for (const tab of document.querySelectorAll("[data-admin]")) {
    tab.addEventListener("click", () => show(tab.dataset.admin));
  }
  keyboardTabs($("admin-tabs"), (tab) => show(tab.dataset.admin));

  // --- Painel: per room, the queue and the operators, refreshed live

  async function showLive() {
    const [{ rooms: live }, { rooms: hours }] = await Promise.all([api("/api/admin/live"), api("/api/admin/hours")]);
    const state = new Map(hours.map((h) => [h.room_id, h]));
    $("admin-painel").replaceChildren(...live.map((r) =>
      el("section", { class: "room-card", "data-room": r.room.slug },
        el("h3", { text: r.room.name }),
        state.get(r.room.id)?.summary
          ? el("p", { class: state.get(r.room.id).open ? "muted open-state" : "notice open-state", text: openState(state.get(r.room.id)) })
          : null,
        el("p", {}, el("span", { class: "big waiting-count", text: String(r.waiting.length) }), " aguardando · maior espera ",
          el("strong", { text: formatDuration(r.longest_wait_seconds) })),
        el("ol", { class: "plain queue-places" }, ...r.waiting.map((a) =>
          el("li", { text: `${a.position}º ${a.contact_name || formatPhone(a.contact_phone) || `Cliente ${a.id}`}`
            + (a.estimated_minutes ? ` · cerca de ${a.estimated_minutes} min` : " · sem estimativa")
            + (a.queued_outside_hours ? " · fora do horário" : "") }))),
        el("ul", { class: "plain" }, ...(r.operators.length ? r.operators.map((o) =>
          el("li", {}, el("span", { text: o.name }),
            el("span", { class: `status-${o.status}`, text: STATUS[o.status] + (o.status_reason ? ` (${o.status_reason})` : "") }),
            el("span", { class: "muted", text: `${o.attendances.length} em atendimento` })))
          : [el("li", { class: "muted", text: "Nenhum operador nesta sala." })])))));
  }

  // --- Operadores

  async function showOperators() {
    const [{ operators }, data] = await Promise.all([api("/api/admin/operators"), api("/api/admin/rooms")]);
    rooms = data.rooms;
    const roomName = (id) => rooms.find((r) => r.id === id)?.name || "?";
    $("operators-table").replaceChildren(...operators.map((o) =>
      el("tr", { "data-username": o.username },
        el("td", { text: o.name }), el("td", { text: o.username }), el("td", { text: ROLE[o.role] }),
        el("td", { text: o.rooms.map(roomName).join(", ") || "—" }),
        el("td", { class: `status-${o.status}`, text: STATUS[o.status] }),
        el("td", { text: o.active_for_chat ? "sim" : "não" }), el("td", { text: o.active ? "sim" : "não" }),
        el("td", { text: String(o.max_concurrent) }),
        el("td", {},
          el("button", { type: "button", class: "link", text: "Editar", onclick: () => openForm(o) }), " ",
          o.status !== "offline" ? el("button", { type: "button", class: "link", text: "Deixar indisponível",
            onclick: () => api(`/api/admin/operators/${o.id}/status`, { method: "POST", body: { status: "offline" } }).then(showOperators, fail) }) : null))));
  }

  function openForm(operator) {
    editing = operator;
    const form = $("operator-form");
    form.reset();
    clearFieldErrors(form);
    $("operator-form-title").textContent = operator ? `Editar ${operator.name}` : "Novo operador";
    form.elements.username.disabled = Boolean(operator);
    form.elements.name.value = operator?.name || "";
    form.elements.username.value = operator?.username || "";
    form.elements.role.value = operator?.role || "operator";
    form.elements.active_for_chat.checked = operator ? operator.active_for_chat : true;
    form.elements.active.checked = operator ? operator.active : true;
    form.elements.max_concurrent.value = operator?.max_concurrent || 5;
    form.elements.password.placeholder = operator ? "deixe em branco para manter" : "mínimo 8 caracteres";
    $("operator-form-rooms").replaceChildren(...rooms.map((r) =>
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "rooms", value: r.id,
        checked: operator?.rooms.includes(r.id) ? "checked" : null }), r.name)));
    form.hidden = false;
    form.elements.name.focus();
  }
  $("operator-new").addEventListener("click", () => openForm(null));
  $("operator-form-cancel").addEventListener("click", () => { $("operator-form").hidden = true; });
  $("operator-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    clearFieldErrors(form);
    const body = {
      name: form.elements.name.value.trim(),
      role: form.elements.role.value,
      rooms: [...form.querySelectorAll('input[name="rooms"]:checked')].map((i) => Number(i.value)),
      active_for_chat: form.elements.active_for_chat.checked,
      active: form.elements.active.checked,
      max_concurrent: Number(form.elements.max_concurrent.value),
    };
    if (form.elements.password.value) body.password = form.elements.password.value;
    if (!editing) body.username = form.elements.username.value.trim();
    try {
      if (editing) await api(`/api/admin/operators/${editing.id}`, { method: "PUT", body });
      else await api("/api/admin/operators", { method: "POST", body });
      form.hidden = true;
      await showOperators();
    } catch (error) {
      showFieldError(form, error.field, error.message);
    }
  });

  // --- Salas, entradas e motivos de pausa

  async function showRooms() {
    const data = await api("/api/admin/rooms");
    rooms = data.rooms;
    $("rooms-list").replaceChildren(...rooms.map((r) =>
      el("li", { "data-room": r.slug }, el("strong", { text: r.name }), el("span", { class: "muted", text: r.slug }),
        assignmentChoice(r),
        el("label", { class: "check" }, el("input", { type: "checkbox", checked: r.prechat_optional ? "checked" : null,
          onchange: (event) => api(`/api/admin/rooms/${r.id}`, { method: "PUT", body: { prechat_optional: event.target.checked } }).catch(fail) }),
          "Chat sem identificação obrigatória (nome e e-mail opcionais)"),
        el("label", { class: "check" }, el("input", { type: "checkbox", checked: r.survey_enabled ? "checked" : null,
          onchange: (event) => api(`/api/admin/rooms/${r.id}`, { method: "PUT", body: { survey_enabled: event.target.checked } }).catch(fail) }),
          "Pesquisa de satisfação ao finalizar (nota de 1 a 5 e comentário)"))));
    $("entry-room").replaceChildren(...rooms.map((r) => new Option(r.name, r.id)));
    await hours.show(rooms);
    const roomName = (id) => rooms.find((r) => r.id === id)?.name || "?";
    $("entry-list").replaceChildren(...data.entry_points.map((e) =>
      el("li", {}, el("span", { text: e.kind === "whatsapp" ? "WhatsApp" : "Chat do site" }),
        el("code", { text: e.key }), el("span", { text: `→ ${roomName(e.room_id)}` }))));
    $("reasons-list").replaceChildren(...data.pause_reasons.map((p) =>
      el("li", {}, el("label", { class: "check" }, el("input", { type: "checkbox", checked: p.active ? "checked" : null,
        onchange: (event) => api("/api/admin/pause-reasons", { method: "POST", body: { label: p.label, active: event.target.checked } }).catch(fail) }),
        p.label))));
  }
  // Manual: operators take calls from the queue; automática: each call goes
  // to the least-busy available operator of the room.
  function assignmentChoice(room) {
    const select = el("select", { "aria-label": `Distribuição da sala ${room.name}`,
      onchange: async (event) => {
        try {
          await api(`/api/admin/rooms/${room.id}`, { method: "PUT", body: { assignment: event.target.value } });
          $("admin-error").textContent = "";
        } catch (error) { event.target.value = room.assignment; fail(error); }
      } },
    new Option("Manual (o operador escolhe na fila)", "manual"),
    new Option("Automática (ao operador menos ocupado)", "automatic"));
    select.value = room.assignment;
    return el("label", {}, "Distribuição ", select);
  }
  for (const [formId, path] of [["room-form", "/api/admin/rooms"], ["entry-form", "/api/admin/entry-points"], ["reason-form", "/api/admin/pause-reasons"]]) {
    $(formId).addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(new FormData(event.target));
      if (body.room_id) body.room_id = Number(body.room_id);
      try {
        await api(path, { method: "POST", body });
        event.target.reset();
        $("admin-error").textContent = "";
        await showRooms();
      } catch (error) { fail(error); }
    });
  }

  // --- Respostas prontas: those from files are changed in the file

  let replyEditing = null; // reply being changed, or null for a new one
  async function showReplies() {
    const [{ ready_replies: replies }, { rooms: all }] = await Promise.all([api("/api/admin/ready-replies"), api("/api/admin/rooms")]);
    const roomName = (id) => (id === null ? "Todas as salas" : all.find((r) => r.id === id)?.name || "?");
    $("reply-room").replaceChildren(new Option("Todas as salas", ""), ...all.map((r) => new Option(r.name, r.id)));
    $("replies-table").replaceChildren(...replies.map((r) => el("tr", {},
      el("td", { text: r.title }), el("td", { text: roomName(r.room_id) }), el("td", { class: "reply-text", text: r.text }),
      el("td", {}, r.from_file ? el("span", { class: "muted", text: `arquivo ${r.key}.md` }) : el("span", { class: "row-actions" },
        el("button", { type: "button", class: "secondary", text: "Alterar", onclick: () => editReply(r) }),
        el("button", { type: "button", class: "secondary", text: "Excluir", onclick: () => deleteReply(r) }))))));
    editReply(null);
  }
  function editReply(reply) {
    replyEditing = reply;
    const form = $("reply-form").elements;
    $("reply-form-title").textContent = reply ? "Alterar resposta pronta" : "Nova resposta pronta";
    form.title.value = reply?.title || "";
    form.text.value = reply?.text || "";
    form.room_id.value = reply?.room_id ?? "";
    $("reply-form-cancel").hidden = !reply;
    for (const node of $("reply-form").querySelectorAll(".error")) node.textContent = "";
  }
  async function deleteReply(reply) {
    if (!(await confirmAction(`Excluir a resposta pronta "${reply.title}"?`, "Excluir"))) return;
    try { await api(`/api/admin/ready-replies/${reply.id}`, { method: "DELETE" }); await showReplies(); } catch (error) { fail(error); }
  }
  $("reply-form-cancel").addEventListener("click", () => editReply(null));
  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target.elements;
    const body = { title: form.title.value, text: form.text.value, room_id: form.room_id.value ? Number(form.room_id.value) : null };
    for (const node of $("reply-form").querySelectorAll(".error")) node.textContent = "";
    try {
      if (replyEditing) await api(`/api/admin/ready-replies/${replyEditing.id}`, { method: "PUT", body });
      else await api("/api/admin/ready-replies", { method: "POST", body });
      $("admin-error").textContent = "";
      await showReplies();
    } catch (error) {
      const slot = error.field && $("reply-form").querySelector(`.error[data-field="${error.field}"]`);
      if (slot) slot.textContent = error.message; else fail(error);
    }
  });

  // --- Relatórios

  // The period is typed as dd/mm/aaaa: a date field would show the browser's
  // own format (12/01/2026 in an English browser), not the pt-BR one.
  const reportForm = $("report-form");
  const localDay = (date) => [date.getFullYear(), date.getMonth() + 1, date.getDate()]
    .map((part) => String(part).padStart(2, "0")).join("-");
  function setDefaultPeriod() {
    const today = new Date();
    reportForm.elements.start.value = formatDate(localDay(new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6)));
    reportForm.elements.end.value = formatDate(localDay(today));
  }
  // The period typed, as the service reads it; null (each error said at its field) unless both are days.
  function readPeriod() {
    clearFieldErrors(reportForm);
    const period = {};
    for (const field of ["start", "end"]) {
      period[field] = parseDate(reportForm.elements[field].value);
      if (!period[field]) showFieldError(reportForm, field, "Informe uma data no formato dd/mm/aaaa, por exemplo 01/12/2026.");
    }
    return period.start && period.end ? period : null;
  }
  reportForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const period = readPeriod();
    if (!period) return;
    try {
      const data = await api("/api/admin/reports", { params: period });
      $("admin-error").textContent = "";
      $("report-table").replaceChildren(...data.rows.map((r) => el("tr", {},
        ...[formatDate(r.day), r.room, r.operator, ...[r.received, r.answered, r.finished, r.cancelled, r.abandoned, r.transferred].map(formatNumber),
          ...[r.wait_avg, r.wait_p90, r.first_response_avg, r.handling_avg].map(formatDuration),
          ...[r.survey_answers, r.rating_avg].map(formatNumber)]
          .map((v) => el("td", { text: v })))));
      $("report-articles").replaceChildren(...data.top_articles.map((a) => el("li", { text: `${a.title} (${formatNumber(a.count)})` })));
      $("report-subjects").replaceChildren(...(data.totals.subjects.length
        ? data.totals.subjects.map((s) => el("li", { text: `${s.subject} (${formatNumber(s.count)})` }))
        : [el("li", { class: "muted", text: "Nenhum assunto registrado." })]));
      drawReportChart($("report-chart"), data.daily);
    } catch (error) { showFieldError(reportForm, error.field, error.message); }
  });
  $("report-csv").addEventListener("click", async () => {
    const period = readPeriod();
    if (!period) return;
    const url = new URL("/api/admin/reports", location.origin);
    for (const [k, v] of Object.entries({ ...period, format: "csv" })) url.searchParams.set(k, v);
    const response = await fetch(url); // the session cookie authenticates it
    if (!response.ok) { fail(new Error("Não foi possível exportar.")); return; }
    download(await response.blob(), `relatorio-${period.start}-${period.end}.csv`);
  });

  // --- Protocolo

  let record = null;
  $("protocol-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      record = await api(`/api/admin/protocols/${encodeURIComponent(event.target.elements.protocol.value.trim())}`);
      $("admin-error").textContent = "";
      renderRecord();
    } catch (error) { $("protocol-record").hidden = true; fail(error); }
  });

  function renderRecord() {
    const r = record;
    $("protocol-record").replaceChildren(
      el("h3", { text: `Protocolo ${r.protocol}` }),
      el("p", {}, ...isolate`${attendanceStatus(r.status)} · ${r.channel === "whatsapp" ? "WhatsApp" : "Chat"} · ${r.operator_name || "sem operador"}`),
      el("p", { class: "muted" }, ...isolate`Cliente: ${r.contact_name || formatPhone(r.contact_phone) || "—"} · entrada ${formatTime(r.queued_at)} · início ${formatTime(r.taken_at)} · fim ${formatTime(r.ended_at)}`),
      closingDetails(r),
      holdsList(r.holds),
      recordMessages(r.messages),
      el("h4", { text: "Informações registradas" }),
      el("ul", {}, ...(r.registrations.length ? r.registrations.map((g) => el("li", { text: `${g.title} (${g.category})` })) : [el("li", { class: "muted", text: "Nenhuma." })])),
      el("div", { class: "form-actions no-print" },
        el("button", { type: "button", class: "secondary", text: "Exportar JSON",
          onclick: () => download(new Blob([JSON.stringify(r, null, 2)], { type: "application/json" }), `protocolo-${r.protocol}.json`) }),
        el("button", { type: "button", text: "Imprimir", onclick: () => window.print() })),
    );
    $("protocol-record").hidden = false;
  }

  // --- Falhas: dead letters, kept up to date by the server's events

  const deadRows = new Map(); // dead letter id -> its table row
  const loads = new Set(); // per list load under way, the live changes to apply again after it

  function live(change) {
    change();
    for (const changes of loads) changes.push(change);
  }

  async function loadDeadLetters() {
    const changes = [];
    loads.add(changes);
    try {
      const { dead_letters } = await api("/api/admin/dead-letters");
      deadRows.clear();
      $("dead-letters-table").replaceChildren();
      for (const d of dead_letters) showDeadLetter(d);
      for (const change of changes) change();
    } finally { loads.delete(changes); }
  }

  function showDeadLetter(d) {
    const row = deadLetterRow(d);
    const old = deadRows.get(d.id);
    if (old) old.replaceWith(row);
    else {
      const next = [...deadRows.keys()].filter((id) => id > d.id).sort((a, b) => a - b)[0];
      $("dead-letters-table").insertBefore(row, deadRows.get(next) || null);
    }
    deadRows.set(d.id, row);
    countDeadLetters();
  }

  function dropDeadLetter(id) {
    deadRows.get(id)?.remove();
    deadRows.delete(id);
    countDeadLetters();
  }

  function countDeadLetters() {
    $("dead-letters-count").textContent = deadRows.size ? ` (${deadRows.size})` : "";
    $("dead-letters-empty").hidden = deadRows.size > 0;
  }

  function deadLetterRow(d) {
    const error = el("p", { class: "error", role: "alert" });
    const buttons = [
      el("button", { type: "button", text: "Tentar novamente", onclick: () => act("retry") }),
      el("button", { type: "button", class: "secondary", text: "Descartar", onclick: () => act("discard") }),
    ];
    async function act(action) {
      if (action === "discard" && !(await confirmAction(
        "Descartar esta falha? O que ela faria não será mais tentado (fica registrado na auditoria).", "Descartar"))) return;
      error.textContent = "";
      for (const button of buttons) button.disabled = true;
      try {
        await api(`/api/admin/dead-letters/${d.id}/${action}`, { method: "POST" });
        dropDeadLetter(d.id);
      } catch (failure) {
        error.textContent = failure.message;
        for (const button of buttons) button.disabled = false;
      }
    }
    return el("tr", { "data-dead-letter": d.id },
      el("td", { text: formatTime(d.created_at) }),
      el("td", {}, el("strong", { text: DEAD_LETTER_KIND[d.kind] || d.kind }), customerTexts(d)),
      el("td", {}, el("code", { text: d.key.replace(/^(to|from):/, "") })),
      el("td", { text: String(d.attempts) }),
      el("td", {}, lastError(d.last_error)),
      el("td", {}, el("div", { class: "row-actions" }, ...buttons), error));
  }

  function customerTexts(d) {
    // What the customer wrote, for messages that could not be stored.
    const events = d.kind === "import_events" && Array.isArray(d.payload?.events) ? d.payload.events : [];
    const texts = events.filter((e) => e?.event === "user" && typeof e.text === "string" && e.text).map((e) => e.text);
    if (!texts.length) return null;
    const more = texts.length - PREVIEW_MESSAGES;
    return el("ul", { class: "plain dead-preview", "aria-label": "Mensagens do cliente" },
      ...texts.slice(0, PREVIEW_MESSAGES).map((t) => el("li", { text: `“${clip(t, PREVIEW_CHARS)}”` })),
      more > 0 ? el("li", { class: "muted", text: `e mais ${more} mensage${more > 1 ? "ns" : "m"}` }) : null);
  }

  function lastError(text) {
    if (!text) return "—";
    if (text.length <= ERROR_CHARS) return el("span", { class: "dead-error", text });
    return el("details", {}, el("summary", { class: "dead-error", text: clip(text, ERROR_CHARS) }),
      el("p", { class: "dead-error-full", text }));
  }

  return {
    show,
    onLiveChanged() { if (!$("admin").hidden && section === "painel") showLive().catch(fail); },
    onConnected() { loadDeadLetters().catch(fail); },
    onDeadLetter(d) { live(() => showDeadLetter(d)); },
    onDeadLetterGone({ id }) { live(() => dropDeadLetter(id)); },
  };
}
