// Ready replies ("respostas prontas"): "/" at the start of the composer opens
// a list of the room's replies (variables already filled in by the server),
// filtered by what follows the "/"; arrows and Enter or a click put one in
// the composer, where the operator edits it before sending.
import { $, el, api } from "./api.js";

const plain = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

export function createReplyPicker(state) {
  let replies = [];
  let shown = [];
  let active = 0;
  let open = false;
  let reads = 0; // the latest list read wins

  const query = () => {
    const value = $("draft").value;
    return value.startsWith("/") ? value.slice(1) : null;
  };

  function close() {
    open = false;
    $("reply-picker").hidden = true;
    $("draft").removeAttribute("aria-activedescendant");
  }

  function render() {
    $("reply-picker").replaceChildren(...(shown.length ? shown.map((r, i) =>
      el("li", { role: "option", id: `reply-${r.id}`, "aria-selected": String(i === active),
        onmousedown: (event) => { event.preventDefault(); choose(r); } },
      el("strong", { text: r.title }), el("span", { class: "reply-text", text: r.text })))
      : [el("li", { class: "muted", text: "Nenhuma resposta pronta encontrada." })]));
    $("reply-picker").hidden = false;
    if (shown[active]) {
      $("draft").setAttribute("aria-activedescendant", `reply-${shown[active].id}`);
      $(`reply-${shown[active].id}`).scrollIntoView({ block: "nearest" });
    }
  }

  function choose(reply) {
    close();
    const draft = $("draft");
    draft.value = reply.text;
    draft.dispatchEvent(new Event("input")); // keeps the draft
    draft.focus();
    draft.setSelectionRange(draft.value.length, draft.value.length);
  }

  async function update() {
    const text = query();
    if (text === null || !state.mine.has(state.current)) { close(); return; }
    if (!open) {
      // Read again on every opening: the variables (customer, protocol) change.
      const read = ++reads;
      const { replies: rows } = await api(`/api/attendances/${state.current}/replies`);
      if (read !== reads || query() === null) return;
      replies = rows;
      open = true;
      active = 0;
    }
    const key = plain(query());
    shown = replies.filter((r) => plain(`${r.title} ${r.text}`).includes(key));
    active = Math.min(active, Math.max(0, shown.length - 1));
    render();
  }

  // Keys the list takes while open; true when the composer must not act on it.
  function handleKey(event) {
    if (!open) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (shown.length) active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (!shown[active]) return event.key === "Enter";
      choose(shown[active]);
    } else if (event.key === "Escape") {
      close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  $("draft").addEventListener("blur", close);
  return { update, handleKey, close };
}
