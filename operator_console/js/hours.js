// Opening hours (issue 20, item 2). In Supervisão → Salas: each room's hours
// (from the file horarios.md or set here; a supervisor's edit is kept until
// "Usar o horário do arquivo"), what happens outside hours, and the
// organisation's holidays. In Início: a notice while one of the operator's
// rooms is closed.
import { $, el, api, clearFieldErrors, showFieldError } from "./api.js";

const SOURCE = {
  arquivo: "Horário do arquivo horarios.md",
  supervisao: "Horário definido na Supervisão",
  nenhum: "Sem horário definido: sempre aberta",
};
const REFRESH_MS = 60_000;

export function openState(room) {
  if (room.open) return "Aberta agora";
  return room.opens ? `Fechada · abre ${room.opens}` : "Fechada";
}

function hoursForm(room, name, reload) {
  const id = `hours-${room.room_id}`;
  const form = el("form", { class: "admin-form hours-form", "data-room-id": room.room_id, novalidate: "novalidate" },
    el("h4", { text: name }),
    el("p", { class: "muted" }, el("span", { text: SOURCE[room.source] }), " · ",
      el("strong", { class: "open-state", text: openState(room) })),
    el("label", { for: `${id}-text` }, "Horários (um por linha, ex.: seg-sex 08:00-18:00)"),
    el("textarea", { id: `${id}-text`, name: "hours", rows: "3", "aria-describedby": `${id}-error-hours` }),
    el("span", { class: "error", id: `${id}-error-hours`, "data-field": "hours" }),
    el("label", {}, "Fora do horário ",
      el("select", { name: "outside_hours", "aria-describedby": `${id}-error-outside` },
        new Option("Manter na fila (atendida primeiro quando abrir)", "keep"),
        new Option("Pedir que deixe um recado com contato", "message"))),
    el("span", { class: "error", id: `${id}-error-outside`, "data-field": "outside_hours" }),
    el("p", { class: "error", "data-field": "" }),
    el("div", { class: "form-actions" },
      room.source === "supervisao" && room.file_hours !== null
        ? el("button", { type: "button", class: "secondary", onclick: () => save({ from_file: true }) }, "Usar o horário do arquivo")
        : null,
      el("button", { type: "submit" }, "SALVAR")));
  form.elements.hours.value = room.hours;
  form.elements.outside_hours.value = room.outside_hours;
  async function save(body) {
    clearFieldErrors(form);
    try {
      await api(`/api/admin/rooms/${room.room_id}/hours`, { method: "PUT", body });
      await reload();
    } catch (error) { showFieldError(form, error.field, error.message); }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save({ hours: form.elements.hours.value, outside_hours: form.elements.outside_hours.value });
  });
  return form;
}

export function createHoursAdmin(fail) {
  async function show(rooms) {
    const [{ rooms: hours }, { holidays }] = await Promise.all([api("/api/admin/hours"), api("/api/admin/holidays")]);
    const names = new Map(rooms.map((r) => [r.id, r.name]));
    $("hours-list").replaceChildren(...hours.map((h) => hoursForm(h, names.get(h.room_id) || "?", () => show(rooms))));
    $("holidays-list").replaceChildren(...holidays.map((h) =>
      el("li", {}, el("span", { text: h.day.split("-").reverse().join("/") }), el("span", { text: h.name }),
        h.source === "arquivo"
          ? el("span", { class: "muted", text: "arquivo feriados.md" })
          : el("button", { type: "button", class: "secondary", "aria-label": `Remover o feriado ${h.name}`,
            onclick: () => api(`/api/admin/holidays/${h.id}`, { method: "DELETE" }).then(() => show(rooms)).catch(fail) }, "Remover"))));
    const form = $("holiday-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      try {
        await api("/api/admin/holidays", { method: "POST", body: { day: form.elements.day.value, name: form.elements.name.value } });
        form.reset();
        await show(rooms);
      } catch (error) { showFieldError(form, error.field, error.message); }
    };
  }
  return { show };
}

// Início: "Sala X fechada · abre segunda-feira, 07/12, às 8h", refreshed.
export function watchClosedRooms() {
  async function refresh() {
    try {
      const { rooms } = await api("/api/rooms/hours");
      const closed = rooms.filter((r) => !r.open);
      $("rooms-closed").hidden = !closed.length;
      $("rooms-closed").replaceChildren(...closed.map((r) =>
        el("span", { class: "room-closed", text: `${r.name}: ${openState(r)}.` })));
    } catch (_) { /* the next refresh tries again */ }
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
  return refresh;
}
