// Supervisão → Pedidos de registro (Decreto 11.034/2022, art. 12): the
// requests for a demand's record, the open ones by deadline (5 calendar
// days; late ones marked), a request registered for a citizen who asked by
// another way, the check of a request from someone who may not be the
// demand's customer, and the requests already sent (when, how).
import { $, el, api, clearFieldErrors, isolate, showFieldError, CHANNELS } from "./api.js";
import { formatTime } from "./format.js";

const STATUS = {
  verification: "Aguardando verificação",
  pending: "Pendente",
  delivered: "Enviado",
  refused: "Recusado",
};

const means = (r) => (r.means === "email" ? `E-mail ${r.email || ""}` : `Canal do cidadão (${CHANNELS[r.channel] || r.channel || "—"})`);

export function createRecordRequests(fail) {
  const form = $("record-request-form");

  async function load() {
    const { open, done } = await api("/api/admin/record-requests");
    $("record-requests-open").replaceChildren(...open.map(openRow));
    $("record-requests-none").hidden = open.length > 0;
    $("record-requests-done").replaceChildren(...done.map((r) => el("tr", {},
      el("td", { text: r.protocol || "—" }),
      el("td", { text: formatTime(r.requested_at) }),
      el("td", { text: STATUS[r.status] || r.status }),
      el("td", { text: formatTime(r.delivered_at) }),
      el("td", { text: means(r) }))));
  }

  function openRow(r) {
    const actions = el("td", { class: "row-actions" });
    if (r.status === "verification") {
      actions.append(
        el("button", { type: "button", text: "Confirmar e enviar", onclick: () => decide(r, "approve") }),
        el("button", { type: "button", class: "secondary", text: "Recusar", onclick: () => decide(r, "refuse") }));
    }
    return el("tr", { class: r.late ? "late" : "", "data-request": String(r.id) },
      el("td", { text: r.protocol || "—" }),
      el("td", { text: formatTime(r.requested_at) }),
      el("td", {}, ...isolate`${formatTime(r.due_at)}`, ...(r.late ? [" ", el("strong", { class: "late-badge", text: "Atrasado" })] : [])),
      el("td", { text: STATUS[r.status] || r.status }),
      el("td", { text: means(r) }),
      el("td", { class: "dead-error", text: r.last_error || "" }),
      actions);
  }

  async function decide(request, action) {
    try {
      await api(`/api/admin/record-requests/${request.id}/${action}`, { method: "POST" });
      await load();
    } catch (error) { fail(error); }
  }

  form.elements.means.addEventListener("change", () => {
    form.elements.email.disabled = form.elements.means.value !== "email";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    $("record-request-done").textContent = "";
    const body = { protocol: form.elements.protocol.value.trim(), means: form.elements.means.value };
    if (body.means === "email") body.email = form.elements.email.value.trim();
    try {
      const { request } = await api("/api/admin/record-requests", { method: "POST", body });
      form.reset();
      form.elements.email.disabled = true;
      $("record-request-done").textContent = `Pedido do protocolo ${request.protocol} registrado. Prazo: ${formatTime(request.due_at)}.`;
      await load();
    } catch (error) {
      showFieldError(form, error.field, error.message);
    }
  });

  return { load };
}

// In a customer's Histórico (any operator of the attendance's room): the
// citizen asked the operator for this demand's record; it is sent on the
// attendance's own channel or by e-mail, within the same deadline.
export function recordRequestForm(attendance, email) {
  const id = `record-for-${attendance.id}`;
  const form = el("form", { class: "inline-form record-request", novalidate: true },
    el("label", {}, "Enviar o registro por ",
      el("select", { name: "means", "aria-describedby": `${id}-error` },
        el("option", { value: "channel", text: "Canal do cidadão" }),
        el("option", { value: "email", text: "E-mail" }))),
    el("label", {}, "E-mail do cidadão ",
      el("input", { name: "email", type: "email", autocomplete: "off", value: email || "", "aria-describedby": `${id}-error` })),
    el("button", { type: "submit", class: "secondary", text: "Pedir o registro" }),
    el("span", { id: `${id}-error`, class: "error", "data-field": "", role: "alert" }),
    el("span", { class: "notice", role: "status" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const body = { means: form.elements.means.value };
    if (body.means === "email") body.email = form.elements.email.value.trim();
    try {
      const { request } = await api(`/api/attendances/${attendance.id}/record-requests`, { method: "POST", body });
      form.querySelector(".notice").textContent = `Pedido registrado. Prazo: ${formatTime(request.due_at)}.`;
    } catch (error) {
      showFieldError(form, "", error.message);
    }
  });
  return form;
}
