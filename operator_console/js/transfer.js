// Transferir: pass the attendance on screen to another room's queue or to a
// named operator (available, of that room, within their limit), with a note
// the next operator sees. The customer is told by the service.
import { $, api, call, clearFieldErrors, showFieldError } from "./api.js";

export function createTransfer(state, onTransferred) {
  const form = $("transfer-form");
  let targets = null; // {room_id, rooms: [{id, name, operators: [{id, name}]}]}

  function showOperators() {
    const room = targets.rooms.find((r) => String(r.id) === $("transfer-room").value);
    const anyone = room.id === targets.room_id ? "Escolha o operador" : "Qualquer operador da sala (fila)";
    $("transfer-operator").replaceChildren(new Option(anyone, ""),
      ...room.operators.map((o) => new Option(o.name, o.id)));
  }
  $("transfer-room").addEventListener("change", showOperators);
  $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const attendanceId = state.current;
    const body = { attendance_id: attendanceId, room_id: Number($("transfer-room").value) };
    if ($("transfer-operator").value) body.operator_id = Number($("transfer-operator").value);
    const note = $("transfer-note").value.trim();
    if (note) body.note = note;
    try {
      const { attendance } = await call(state.socket, "attendance:transfer", body);
      $("transfer-dialog").close();
      onTransferred(attendance, $("transfer-operator").selectedOptions[0]?.value
        ? $("transfer-operator").selectedOptions[0].text
        : $("transfer-room").selectedOptions[0].text);
    } catch (error) {
      showFieldError(form, error.field, error.message);
    }
  });

  return {
    async open() {
      $("attendance-error").textContent = "";
      try {
        targets = await api(`/api/attendances/${state.current}/transfer-targets`);
      } catch (error) {
        $("attendance-error").textContent = error.message;
        return;
      }
      form.reset();
      clearFieldErrors(form);
      $("transfer-room").replaceChildren(...targets.rooms.map((r) => new Option(r.name, r.id)));
      $("transfer-room").value = String(targets.room_id);
      showOperators();
      $("transfer-dialog").showModal();
    },
  };
}
