// Supervisão → Dados pessoais (LGPD arts. 18-19): find a person by CPF/CNPJ,
// phone or e-mail, export everything the desk holds about them, erase their
// personal data (records stay, masked), and see who saw or changed each
// customer's data. The identifier goes in the request body, never in a URL.
import { $, el, api, clearFieldErrors, confirmAction, download, isolate, showFieldError, CHANNELS } from "./api.js";
import { attendanceStatus, formatDocument, formatPhone, formatTime } from "./format.js";

const ACTIONS = {
  customer_viewed: "Viu o cadastro e o histórico",
  record_viewed: "Viu o protocolo",
  person_viewed: "Consultou em Dados pessoais",
  person_exported: "Exportou os dados pessoais",
  person_erased: "Apagou os dados pessoais",
  customer_created: "Cadastrou o cliente",
  customer_updated: "Alterou o cadastro",
  customer_linked: "Vinculou o cliente ao atendimento",
  queued: "Entrou na fila",
  taken: "Iniciou o atendimento",
  finished: "Finalizou o atendimento",
  cancelled: "Cancelou o atendimento",
  abandoned: "Atendimento abandonado",
  requeued: "Devolveu à fila",
  protocol: "Protocolo gerado",
  note_added: "Escreveu uma nota interna",
  registered: "Registrou uma informação",
};

export function createDataSubjects(fail) {
  const form = $("subject-form"), result = $("subject-result");
  let query = "";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    $("subject-done").textContent = "";
    query = form.elements.q.value.trim();
    try {
      const { person } = await api("/api/admin/data-subjects/find", { method: "POST", body: { q: query } });
      await render(person);
    } catch (error) {
      result.hidden = true;
      showFieldError(form, error.status === 404 || error.status === 400 ? "q" : "", error.message);
    }
  });

  async function render(person) {
    const logs = await Promise.all(person.customers.map((c) => api(`/api/admin/customers/${c.id}/audit`)));
    result.replaceChildren(
      el("h3", { text: "Titular" }),
      ...person.customers.map((c, i) => customerCard(c, logs[i].entries, protocols(person))),
      el("h3", { text: `Atendimentos (${person.attendances.length})` }),
      el("ul", { class: "plain subject-attendances" }, ...person.attendances.map((a) =>
        el("li", {}, ...isolate`${a.protocol ? `Protocolo ${a.protocol}` : "Sem protocolo"} · ${CHANNELS[a.channel] || a.channel} · ${attendanceStatus(a.status)} · ${formatTime(a.queued_at)}${a.contact_name ? ` · ${a.contact_name}` : ""}`))),
      el("div", { class: "form-actions" },
        el("button", { type: "button", class: "secondary", text: "Exportar dados", onclick: exportData }),
        el("button", { type: "button", class: "danger", text: "Apagar dados pessoais", onclick: erase })),
    );
    result.hidden = false;
  }

  const protocols = (person) => new Map(person.attendances.map((a) => [a.id, a.protocol]));

  function customerCard(customer, entries, protocolOf) {
    return el("section", { class: "subject-customer", "data-customer": String(customer.id) },
      el("p", {}, el("strong", { text: customer.name })),
      el("p", { class: "muted" }, ...isolate`CPF/CNPJ ${formatDocument(customer.document) || "—"} · telefone ${formatPhone(customer.phone) || "—"} · e-mail ${customer.email || "—"}`),
      el("h4", { text: "Quem acessou ou alterou" }),
      el("table", { class: "grid access-log" },
        el("thead", {}, el("tr", {}, ...["Quando", "Quem", "O quê", "Atendimento"].map((h) => el("th", { text: h })))),
        el("tbody", {}, ...entries.map((e) => el("tr", {},
          el("td", { text: formatTime(e.at) }),
          el("td", { text: e.operator_name || "Sistema" }),
          el("td", { text: ACTIONS[e.action] || e.action }),
          el("td", { text: attendanceLabel(e, protocolOf) }))))));
  }

  function attendanceLabel(entry, protocolOf) {
    if (!entry.attendance_id) return "—";
    const protocol = entry.details?.protocol || protocolOf.get(entry.attendance_id);
    return protocol ? `Protocolo ${protocol}` : "Sem protocolo";
  }

  async function exportData() {
    try {
      const data = await api("/api/admin/data-subjects/export", { method: "POST", body: { q: query } });
      download(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), `dados-pessoais-${data.generated_at.slice(0, 10)}.json`);
    } catch (error) { fail(error); }
  }

  async function erase() {
    const confirmed = await confirmAction(
      "Apagar os dados pessoais deste titular? Nome, CPF/CNPJ, telefone e e-mail saem do cadastro, dos atendimentos, das mensagens e das conversas do robô. Os registros dos atendimentos ficam, sem os dados pessoais. Não é possível desfazer.",
      "Apagar dados pessoais");
    if (!confirmed) return;
    try {
      const { erased } = await api("/api/admin/data-subjects/erase", { method: "POST", body: { q: query } });
      result.hidden = true;
      form.reset();
      $("subject-done").textContent = `Dados pessoais apagados. ${erased.attendances} atendimento(s) mantido(s) sem dados pessoais.`;
    } catch (error) { fail(error); }
  }
}
