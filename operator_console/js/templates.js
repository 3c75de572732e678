// WhatsApp outside the 24-hour window (issue 18 item 3): the composer offers
// only the organisation's approved templates, their parameters filled in
// (customer's name, protocol) and editable; the send goes as Meta's template.
import { $, el, api, call } from "./api.js";

const SOURCES = { cliente: "Nome do cliente", protocolo: "Protocolo", texto: "Texto" };

export function createTemplates(state) {
  let offered = [];
  let shown = null; // "<attendance>:<protocol>" whose templates are on screen

  function showParameters() {
    const chosen = offered.find((t) => t.name === $("template-name").value);
    $("template-preview").textContent = chosen ? chosen.body : "";
    $("template-parameters").replaceChildren(...(chosen ? chosen.parameters : []).map((source, i) =>
      el("label", {}, `{{${i + 1}}} ${SOURCES[source] || source} `,
        el("input", { type: "text", required: "", maxlength: "1024", value: chosen.values[i] || "", "data-parameter": i }))));
  }
  $("template-name").addEventListener("change", showParameters);

  $("template-composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const parameters = [...$("template-parameters").querySelectorAll("input")].map((input) => input.value);
    $("attendance-error").textContent = "";
    try {
      await call(state.socket, "message:send", {
        attendance_id: state.current, template: $("template-name").value, parameters, client_id: crypto.randomUUID(),
      });
    } catch (error) {
      $("attendance-error").textContent = error.message;
    }
  });

  return {
    // Which composer the operator's WhatsApp attendance ``a`` gets; the
    // parameters being edited stay unless ``again`` (the citizen wrote: the
    // window may be open again).
    async show(a, mine, again = false) {
      const key = `${a.id}:${a.protocol}`;
      if (!again && key === shown && !$("template-composer").hidden) {
        $("composer").hidden = true; // showHeader showed it again
        return;
      }
      shown = null;
      $("template-composer").hidden = true;
      if (!mine || a.channel !== "whatsapp") return;
      const offer = await api(`/api/attendances/${a.id}/whatsapp-templates`);
      if (state.current !== a.id) return;
      $("composer").hidden = !offer.window_open;
      if (offer.window_open) return;
      shown = key;
      offered = offer.templates;
      $("template-composer").hidden = false;
      $("template-name").replaceChildren(...offered.map((t) => new Option(t.name, t.name)));
      $("template-empty").hidden = offered.length > 0;
      $("template-send").disabled = offered.length === 0;
      showParameters();
    },
  };
}
