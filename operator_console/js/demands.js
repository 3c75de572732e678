// Supervisão → Pendências (Decreto 11.034 art. 13): demands ended as
// "pendente", the earliest due first, the late ones marked; concluding one
// records the answer and tells the customer on their channel.
import { $, el, api } from "./api.js";
import { formatDate } from "./format.js";

export function createDemands(fail) {
  let concluding = null; // the attendance id of the demand being concluded

  async function load() {
    const { demands } = await api("/api/demands");
    $("demands-empty").hidden = demands.length > 0;
    $("demands-table").replaceChildren(...demands.map((d) => el("tr", { class: d.late ? "late" : "" },
      el("td", { text: d.protocol || "" }),
      el("td", { text: d.room || "" }),
      el("td", { text: d.contact_name || "" }),
      el("td", { text: formatDate(d.pending_until) }),
      el("td", { text: d.late ? "Atrasada" : "No prazo", class: d.late ? "error" : "" }),
      el("td", { text: d.pending_reason || "" }),
      el("td", {}, el("button", { type: "button", class: "secondary", text: "Concluir", onclick: () => start(d) })))));
  }

  function start(d) {
    concluding = d.attendance_id;
    $("demand-protocol").textContent = d.protocol || "";
    $("demand-answer").value = "";
    $("demand-form").hidden = false;
    $("demand-answer").focus();
  }

  $("demand-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/api/demands/${concluding}/conclude`, { method: "POST", body: { answer: $("demand-answer").value } });
      $("demand-form").hidden = true;
      $("demands-notice").textContent = `Demanda do protocolo ${$("demand-protocol").textContent} concluída; o cliente foi avisado.`;
      await load();
    } catch (error) { fail(error); }
  });
  $("demand-cancel").addEventListener("click", () => { $("demand-form").hidden = true; });

  return { load };
}
