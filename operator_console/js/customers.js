// The customer panel on the right (O5-O8): search, link, register, history.
import { $, el, api, clearFieldErrors, showFieldError, CHANNELS } from "./api.js";
import { attendanceStatus, formatDocument, formatPhone, formatTime } from "./format.js";
import { closingDetails, holdsList, recordMessages } from "./records.js";
import { recordRequestForm } from "./record-requests.js";

// Phone, e-mail, CPF/CNPJ, each kept on one line ("529.982.247-25" never
// breaks at its hyphen).
function contactLine(c) {
  const parts = [formatPhone(c.phone), c.email, formatDocument(c.document)].filter(Boolean);
  return parts.flatMap((part, i) => [i ? " · " : null, el("span", { class: "nowrap", text: part })]).filter(Boolean);
}

// Icons shipped with the console (no emoji font needed).
const icon = (name) => el("img", { class: "icon-image", src: `icons/${name}.svg`, alt: "", width: 16, height: 16 });

export function createCustomers(state, onLinked) {
  const form = $("customer-form");
  let lastResults = [];

  function show(view) {
    $("customer-results").hidden = view !== "results";
    form.hidden = view !== "form";
    $("customer-detail").hidden = view !== "detail";
  }

  function resultNode(c) {
    const canLink = state.current !== null && state.mine.has(state.current);
    return el("li", { class: "result" },
      el("div", {},
        el("strong", { text: c.name }),
        el("span", { class: "muted" }, ...contactLine(c))),
      el("div", { class: "result-actions" },
        canLink ? el("button", { type: "button", class: "icon", title: "Vincular ao atendimento", "aria-label": `Vincular ${c.name} ao atendimento`, onclick: () => link(c) }, icon("link")) : null,
        el("button", { type: "button", class: "icon", title: "Abrir cliente", "aria-label": `Abrir cliente ${c.name}`, onclick: () => openCustomer(c) }, icon("edit"))));
  }

  function renderResults(customers) {
    lastResults = customers;
    $("customer-results").replaceChildren(...customers.map(resultNode));
    if (!customers.length) {
      $("customer-results").replaceChildren(el("li", { class: "muted", text: "Nenhum cliente encontrado. Use + para cadastrar." }));
    }
    show("results");
  }

  $("customer-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("customer-search-error").textContent = "";
    try {
      const { customers } = await api("/api/customers", { params: { q: $("customer-query").value } });
      renderResults(customers);
    } catch (error) {
      $("customer-search-error").textContent = error.message;
    }
  });

  async function link(customer) {
    $("customer-search-error").textContent = "";
    try {
      const { attendance } = await api(`/api/attendances/${state.current}/customer`, { method: "POST", body: { customer_id: customer.id } });
      state.linked.set(attendance.id, customer);
      onLinked(attendance);
      showLinked();
    } catch (error) {
      $("customer-search-error").textContent = error.message;
    }
  }

  function showLinked() {
    const customer = state.current !== null ? state.linked.get(state.current) : null;
    $("customer-linked").textContent = customer ? `Cliente vinculado: ${customer.name}` : "Nenhum cliente vinculado.";
    $("customer-linked").classList.toggle("muted", !customer);
  }

  // --- (+) register a new customer (O7)

  $("customer-new").addEventListener("click", () => {
    form.reset();
    clearFieldErrors(form);
    const query = $("customer-query").value.trim();
    if (query && !/\d/.test(query) && !query.includes("@")) form.elements.name.value = query;
    show("form");
    form.elements.name.focus();
  });
  $("customer-form-back").addEventListener("click", () => show("results"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const body = Object.fromEntries(["name", "phone", "email", "document"].map((f) => [f, form.elements[f].value.trim()]));
    const missing = { name: "Informe o nome.", phone: "Informe o telefone." };
    let invalid = false;
    for (const [field, message] of Object.entries(missing)) {
      if (!body[field]) { showFieldError(form, field, message); invalid = true; }
    }
    if (invalid) return;
    try {
      const { customer } = await api("/api/customers", { method: "POST", body });
      $("customer-query").value = customer.name;
      renderResults([customer]);
    } catch (error) {
      showFieldError(form, error.field, error.message);
    }
  });

  // --- the pencil: the customer, Histórico > Atendimentos (O8)

  let current = null;
  function openCustomer(customer) {
    current = customer;
    $("customer-detail-name").textContent = customer.name;
    $("customer-detail-contact").replaceChildren(...contactLine(customer));
    $("menu-historico-items").hidden = true;
    $("menu-historico").setAttribute("aria-expanded", "false");
    $("customer-history").hidden = true;
    $("history-record").hidden = true;
    show("detail");
  }
  $("customer-detail-back").addEventListener("click", () => renderResults(lastResults));
  $("menu-historico").addEventListener("click", () => {
    const open = $("menu-historico-items").hidden;
    $("menu-historico-items").hidden = !open;
    $("menu-historico").setAttribute("aria-expanded", String(open));
  });
  $("menu-atendimentos").addEventListener("click", async () => {
    const { attendances } = await api(`/api/customers/${current.id}/history`);
    $("history-record").hidden = true;
    $("customer-history").hidden = false;
    $("customer-history").replaceChildren(...(attendances.length ? attendances.map((a) =>
      el("li", {}, el("button", { type: "button", class: "link", onclick: () => showRecord(a) },
        `${a.protocol || "sem protocolo"} · ${CHANNELS[a.channel] || a.channel} · ${formatTime(a.queued_at)} · ${attendanceStatus(a.status)}`)))
      : [el("li", { class: "muted", text: "Nenhum atendimento." })]));
  });

  function showRecord(a) {
    const record = $("history-record");
    record.replaceChildren(
      el("h4", { text: `Protocolo ${a.protocol || "—"}` }),
      el("p", { class: "muted", text: `${attendanceStatus(a.status)} · ${a.operator_name || "sem operador"} · ${formatTime(a.queued_at)} → ${formatTime(a.ended_at)}` }),
      closingDetails(a),
      holdsList(a.holds),
      recordMessages(a.messages),
      el("h5", { text: "Informações registradas" }),
      el("ul", {}, ...(a.registrations.length
        ? a.registrations.map((r) => el("li", { text: `${r.title} (${r.category})` }))
        : [el("li", { class: "muted", text: "Nenhuma." })])),
      a.protocol && a.ended_at ? recordRequestForm(a, current.email) : null,
    );
    record.hidden = false;
  }

  return {
    onAttendanceChanged() {
      showLinked();
      if (!$("customer-results").hidden && lastResults.length) renderResults(lastResults);
    },
    remember(attendance, customer) { if (customer) state.linked.set(attendance, customer); },
  };
}
