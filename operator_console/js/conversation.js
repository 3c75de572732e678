// The tab Conversa (O3, O11): history, sending with Enter, delivery marks,
// retries without duplicates, a draft per attendance that survives a new login,
// private notes (never sent to the customer), the ready replies ("/") and
// files (files.js).
import { $, el, api, call } from "./api.js";
import { formatTime } from "./format.js";
import { attachmentNode } from "./attachments.js";
import { createReplyPicker } from "./replies.js";
import { createFileSender } from "./files.js";

// unknown: WhatsApp did not answer in time; its status report settles it, and
// until then (or for 15 minutes, see handoff/domain/views.py) no retry is offered.
const DELIVERY = {
  pending: "enviando…", unknown: "sem confirmação", sent: "enviada", delivered: "entregue", read: "lida", failed: "falhou",
};
// "falhou", with WhatsApp's reason when Meta gave one (a template it does not know...).
const deliveryText = (m) => [DELIVERY[m.delivery] || "", m.delivery === "failed" ? m.delivery_error : null].filter(Boolean).join(": ");
const AUTHOR = { customer: "Cliente", operator: "Você", bot: "Assistente", note: "Nota interna (o cliente não vê)" };

export function createConversation(state) {
  const draftKey = (id) => `draft:${state.me.id}:${id}`;
  const unsent = new Map(); // client id -> {attendance_id, text}: sends not acknowledged yet
  const picker = createReplyPicker(state);
  let lastOpened = null; // a new attendance on screen starts as a message, not a note

  function messageNode(m) {
    const meta = el("span", { class: "meta" }, `${AUTHOR[m.direction] || ""} · ${formatTime(m.created_at)}`);
    const item = el("li", { class: m.direction, "data-message-id": m.id ?? "", "data-client-id": m.client_id ?? "" },
      el("span", { class: "text", text: m.text }), attachmentNode(m.attachment), meta);
    if (m.direction === "operator") {
      const mark = el("span", { class: `delivery ${m.delivery}`, text: deliveryText(m) });
      meta.append(" · ", mark);
      if (m.retryable || m.delivery === "failed") meta.append(" ", retryButton(m));
    }
    return item;
  }

  function retryButton(m) {
    return el("button", {
      type: "button", class: "link retry", text: "Tentar novamente",
      onclick: async () => {
        try {
          if (m.id) await call(state.socket, "message:retry", { message_id: m.id });
          else await send(m.attendance_id, m.text, m.client_id);
        } catch (error) {
          $("attendance-error").textContent = error.message;
        }
      },
    });
  }

  // A message shown again (the answer to its send, which may come after its
  // delivery mark) never goes back from a later mark to "enviando…".
  const PROGRESS = { pending: 0, unknown: 1, sent: 2, delivered: 3, read: 4 };
  function put(m) {
    const list = $("messages");
    const existing = (m.id && list.querySelector(`[data-message-id="${m.id}"]`))
      || (m.client_id && list.querySelector(`[data-client-id="${m.client_id}"]`));
    const shown = existing?.querySelector(".delivery")?.classList[1];
    if (PROGRESS[shown] > (PROGRESS[m.delivery] ?? Infinity)) m = { ...m, delivery: shown, delivery_error: null };
    const node = messageNode(m);
    if (existing) existing.replaceWith(node);
    else list.append(node);
    list.scrollTop = list.scrollHeight;
  }

  async function send(attendanceId, text, clientId) {
    unsent.set(clientId, { attendance_id: attendanceId, text });
    if (state.current === attendanceId) {
      put({ client_id: clientId, attendance_id: attendanceId, direction: "operator", text, delivery: "pending", created_at: new Date().toISOString() });
    }
    try {
      const { message, protocol } = await call(state.socket, "message:send", { attendance_id: attendanceId, text, client_id: clientId });
      unsent.delete(clientId);
      if (state.current === attendanceId) put(message);
      return protocol;
    } catch (error) {
      if (error.status === 0) {
        if (state.current === attendanceId) {
          put({ client_id: clientId, attendance_id: attendanceId, direction: "operator", text, delivery: "failed", created_at: new Date().toISOString() });
        }
      } else {
        unsent.delete(clientId);
        const node = $("messages").querySelector(`[data-client-id="${clientId}"]`);
        if (node) node.remove();
        if (state.current === attendanceId) $("draft").value = text;
      }
      throw error;
    }
  }

  $("draft").addEventListener("keydown", (event) => {
    if (picker.handleKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  // The customer sees "digitando…" while the operator writes a message (not
  // a note): one signal every 2 s at most, no answer awaited.
  let typedAt = 0;
  function reportTyping() {
    if ($("note-mode").checked || !$("draft").value.trim() || !state.socket?.connected) return;
    if (Date.now() - typedAt < 2000) return;
    typedAt = Date.now();
    state.socket.emit("typing", { attendance_id: state.current });
  }
  $("draft").addEventListener("input", () => {
    if (state.current !== null) localStorage.setItem(draftKey(state.current), $("draft").value);
    if (state.current !== null) reportTyping();
    picker.update().catch((error) => { $("attendance-error").textContent = error.message; });
  });
  $("note-mode").addEventListener("change", showMode);
  function showMode() {
    const note = $("note-mode").checked;
    $("composer").classList.toggle("note-mode", note);
    $("send").textContent = note ? "Salvar nota" : "Enviar";
  }

  // A private note: stored for operators and supervisors, never delivered.
  async function saveNote(attendanceId, text) {
    const { note } = await api(`/api/attendances/${attendanceId}/notes`, {
      method: "POST", body: { text, client_id: crypto.randomUUID() },
    });
    if (state.current === attendanceId) put(note);
  }
  createFileSender(state, {
    put,
    clearDraft(id) {
      if (state.current === id) $("draft").value = "";
      localStorage.removeItem(draftKey(id));
    },
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("draft").value.trim();
    if (!text || state.current === null) return;
    const id = state.current;
    $("draft").value = "";
    localStorage.removeItem(draftKey(id));
    $("attendance-error").textContent = "";
    try {
      if ($("note-mode").checked) await saveNote(id, text);
      else await send(id, text, crypto.randomUUID());
    } catch (error) {
      if ($("note-mode").checked) $("draft").value = text;
      $("attendance-error").textContent = error.message;
    }
  });

  // Messages and delivery marks that arrive while the history is read: it
  // may have been read before them, so they are applied again over it.
  let arrivedDuringOpen = null;
  function live(apply) {
    return (event) => {
      if (event.attendance_id !== state.current) return;
      if (arrivedDuringOpen) arrivedDuringOpen.push(() => apply(event));
      apply(event);
    };
  }

  function showDelivery({ id, delivery, delivery_error }) {
    const node = $("messages").querySelector(`[data-message-id="${id}"]`);
    if (!node) return;
    const meta = node.querySelector(".meta");
    const old = meta.querySelector(".delivery");
    if (old) { old.className = `delivery ${delivery}`; old.textContent = deliveryText({ delivery, delivery_error }); }
    const retry = meta.querySelector(".retry");
    if (retry) retry.remove();
    if (delivery === "failed") meta.append(" ", retryButton({ id }));
  }

  return {
    async open(id) {
      $("draft").value = localStorage.getItem(draftKey(id)) || "";
      picker.close();
      if (id !== lastOpened) { $("note-mode").checked = false; showMode(); }
      lastOpened = id;
      arrivedDuringOpen = [];
      try {
        const { messages } = await call(state.socket, "attendance:messages", { attendance_id: id });
        if (state.current !== id) return;
        $("messages").replaceChildren(...messages.map(messageNode));
        for (const apply of arrivedDuringOpen) apply();
      } finally {
        arrivedDuringOpen = null;
      }
      for (const [clientId, m] of unsent) {
        if (m.attendance_id === id) put({ ...m, client_id: clientId, direction: "operator", delivery: "failed" });
      }
      $("messages").scrollTop = $("messages").scrollHeight;
    },
    onMessage: live(put),
    onDelivery: live(showDelivery),
    async resendUnsent() {
      // After a reconnection: the same client ids, so nothing is stored twice.
      for (const [clientId, m] of [...unsent]) {
        try { await send(m.attendance_id, m.text, clientId); } catch (_) { /* still failing */ }
      }
    },
    forget(id) { localStorage.removeItem(draftKey(id)); },
  };
}
