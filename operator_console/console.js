// Operator console: login, call list, conversation, protocol, finishing.
// Every text from customers is put in the page with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem("token"),
  me: null,
  socket: null,
  queue: new Map(),      // attendance id -> attendance
  mine: new Map(),
  unread: new Map(),
  drafts: new Map(),
  current: null,         // id of the attendance on screen
  audio: null,
};

const CHANNELS = { socketio: "Chat", whatsapp: "WhatsApp" };
const DELIVERY = { pending: "enviando…", sent: "enviada", delivered: "entregue", failed: "falhou" };

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` },
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 && state.me) expireSession();
  if (!response.ok) throw new Error(body.error ? body.error.message : `Erro ${response.status}`);
  return body;
}

// --- login and logout

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  if (!username || !password) {
    $("login-error").textContent = "Informe usuário e senha.";
    return;
  }
  unlockSound();
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error.message);
    state.token = body.token;
    sessionStorage.setItem("token", body.token);
    $("login-password").value = "";
    await enterDesk(body.operator);
  } catch (error) {
    $("login-error").textContent = error.message || "Não foi possível entrar.";
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("/api/auth/logout", { method: "POST" }); } catch (_) { /* already gone */ }
  leaveDesk();
});

function expireSession() {
  leaveDesk();
  $("login-error").textContent = "Sua sessão expirou. Entre novamente.";
}

function leaveDesk() {
  if (state.socket) state.socket.disconnect();
  sessionStorage.removeItem("token");
  Object.assign(state, { token: null, me: null, socket: null, current: null });
  state.queue.clear(); state.mine.clear();
  $("desk-view").hidden = true;
  $("login-view").hidden = false;
}

async function enterDesk(me) {
  state.me = me;
  $("operator-name").textContent = me.name;
  $("availability").value = me.status;
  $("login-view").hidden = true;
  $("desk-view").hidden = false;
  if (me.status === "offline") await setAvailability("available");
  connect();
}

// --- availability

async function setAvailability(status) {
  let reason = null;
  if (status === "paused") {
    reason = prompt("Motivo da pausa:");
    if (!reason) { $("availability").value = state.me.status; return; }
  }
  try {
    state.me = await api("/api/me/status", { method: "POST", body: JSON.stringify({ status, reason }) });
  } catch (error) {
    alert(error.message);
  }
  $("availability").value = state.me.status;
}
$("availability").addEventListener("change", (event) => setAvailability(event.target.value));

// --- real time

function connect() {
  const socket = io({ auth: { token: state.token }, transports: ["websocket"] });
  state.socket = socket;
  socket.on("connect", () => { setConnection(true); resync(); });
  socket.on("disconnect", () => setConnection(false));
  socket.on("connect_error", (error) => {
    setConnection(false);
    if (/expirada|unauthorized/i.test(error.message)) expireSession();
  });
  socket.on("attendance:queued", (a) => { state.queue.set(a.id, a); ring(a); renderLists(); });
  socket.on("attendance:taken", (a) => {
    state.queue.delete(a.id);
    if (a.operator_id === state.me.id) state.mine.set(a.id, a);
    renderLists();
  });
  socket.on("attendance:ended", (a) => {
    state.mine.delete(a.id);
    if (state.current === a.id) closeAttendance();
    renderLists();
  });
  socket.on("attendance:protocol", ({ attendance_id, protocol }) => {
    const a = state.mine.get(attendance_id);
    if (!a) return;
    a.protocol = protocol;
    if (state.current === attendance_id) {
      showHeader(a);
      $("protocol-number").textContent = protocol;
      $("protocol-dialog").showModal();
    }
  });
  socket.on("message:new", (m) => {
    if (m.attendance_id === state.current) appendMessage(m);
    else state.unread.set(m.attendance_id, (state.unread.get(m.attendance_id) || 0) + 1);
    renderLists();
  });
  socket.on("message:delivery", ({ id, delivery }) => {
    const meta = document.querySelector(`[data-message-id="${id}"] .meta`);
    if (meta) meta.textContent = DELIVERY[delivery] || "";
  });
}

function setConnection(online) {
  $("connection").textContent = online ? "" : "Sem conexão, tentando reconectar…";
  $("connection").classList.toggle("offline", !online);
}

function call(event, data) {
  return new Promise((resolve, reject) => {
    state.socket.timeout(15000).emit(event, data, (error, ack) => {
      if (error) reject(new Error("Sem resposta do servidor. Tente novamente."));
      else if (!ack.ok) reject(new Error(ack.error.message));
      else resolve(ack);
    });
  });
}

async function resync() {
  const lists = await call("attendances:list", {});
  state.queue = new Map(lists.queued.map((a) => [a.id, a]));
  state.mine = new Map(lists.active.map((a) => [a.id, a]));
  renderLists();
  if (state.current !== null) openAttendance(state.current);
}

// --- the call list

function elapsed(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

function label(a) {
  return a.contact_name || a.contact_phone || `Cliente ${a.id}`;
}

function renderLists() {
  for (const [listId, items] of [["queue", state.queue], ["mine", state.mine]]) {
    const list = $(listId);
    list.replaceChildren(...[...items.values()].map((a) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("aria-current", String(a.id === state.current));
      const name = document.createElement("span");
      name.textContent = `${CHANNELS[a.channel] || a.channel} · ${label(a)}`;
      const side = document.createElement("span");
      const unread = state.unread.get(a.id);
      if (listId === "mine" && unread) {
        side.className = "badge";
        side.textContent = unread;
      } else if (listId === "queue") {
        side.className = "muted waiting";
        side.dataset.since = a.queued_at;
        side.textContent = elapsed(a.queued_at);
      }
      button.append(name, side);
      button.addEventListener("click", () => openAttendance(a.id));
      item.append(button);
      return item;
    }));
  }
  $("queue-empty").hidden = state.queue.size > 0;
}
setInterval(() => {
  for (const node of document.querySelectorAll(".waiting")) node.textContent = elapsed(node.dataset.since);
}, 1000);

// --- the conversation

function attendanceById(id) { return state.mine.get(id) || state.queue.get(id); }

function showHeader(a) {
  $("attendance-title").textContent = label(a);
  $("attendance-protocol").textContent = a.protocol ? `Protocolo ${a.protocol}` : "";
  const mine = a.status === "active" && a.operator_id === state.me.id;
  $("take").hidden = mine;
  $("finish").hidden = $("cancel").hidden = !mine;
  $("composer").hidden = !mine;
}

async function openAttendance(id) {
  if (state.current !== null) state.drafts.set(state.current, $("draft").value);
  const a = attendanceById(id);
  if (!a) { closeAttendance(); return; }
  state.current = id;
  state.unread.delete(id);
  $("no-attendance").hidden = true;
  $("attendance").hidden = false;
  $("attendance-error").textContent = "";
  $("draft").value = state.drafts.get(id) || "";
  showHeader(a);
  renderLists();
  const { messages } = await call("attendance:messages", { attendance_id: id });
  if (state.current !== id) return;
  $("messages").replaceChildren();
  messages.forEach(appendMessage);
}

function closeAttendance() {
  state.current = null;
  $("attendance").hidden = true;
  $("no-attendance").hidden = false;
}

function appendMessage(m) {
  if (document.querySelector(`[data-message-id="${m.id}"]`)) return;
  const item = document.createElement("li");
  item.className = m.direction;
  item.dataset.messageId = m.id;
  item.textContent = m.text;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = m.direction === "operator" ? (DELIVERY[m.delivery] || "") : "";
  item.append(meta);
  $("messages").append(item);
  $("messages").scrollTop = $("messages").scrollHeight;
}

$("take").addEventListener("click", async () => {
  try {
    const { attendance } = await call("attendance:take", { attendance_id: state.current });
    state.queue.delete(attendance.id);
    state.mine.set(attendance.id, attendance);
    showHeader(attendance);
    renderLists();
    $("draft").focus();
  } catch (error) {
    $("attendance-error").textContent = error.message;
  }
});

$("draft").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("draft").value.trim();
  if (!text) return;
  const id = state.current;
  const clientId = crypto.randomUUID();
  $("draft").value = "";
  $("attendance-error").textContent = "";
  try {
    const { message } = await call("message:send", { attendance_id: id, text, client_id: clientId });
    if (state.current === id) appendMessage(message);
  } catch (error) {
    $("draft").value = text;
    $("attendance-error").textContent = error.message;
  }
});

function confirmAction(text, buttonLabel) {
  $("confirm-text").textContent = text;
  $("confirm-button").textContent = buttonLabel;
  $("confirm-dialog").showModal();
  return new Promise((resolve) => {
    $("confirm-dialog").addEventListener("close", () => resolve($("confirm-dialog").returnValue === "yes"), { once: true });
  });
}

for (const [buttonId, event, question, buttonLabel] of [
  ["finish", "attendance:finish", "Deseja finalizar este atendimento?", "Finalizar"],
  ["cancel", "attendance:cancel", "Deseja cancelar este atendimento?", "Cancelar"],
]) {
  $(buttonId).addEventListener("click", async () => {
    if (!(await confirmAction(question, buttonLabel))) return;
    try {
      const { attendance } = await call(event, { attendance_id: state.current });
      state.mine.delete(attendance.id);
      closeAttendance();
      renderLists();
    } catch (error) {
      $("attendance-error").textContent = error.message;
    }
  });
}

// --- the new-call alert: a short tone, allowed by the login click

function unlockSound() {
  try { state.audio = state.audio || new AudioContext(); state.audio.resume(); } catch (_) { /* no audio */ }
}

function ring(a) {
  if (!state.me || state.me.status !== "available") return;
  if (state.audio) {
    const oscillator = state.audio.createOscillator();
    const gain = state.audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, state.audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, state.audio.currentTime + 0.6);
    oscillator.connect(gain).connect(state.audio.destination);
    oscillator.start();
    oscillator.stop(state.audio.currentTime + 0.6);
  }
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    new Notification("Novo cliente na fila", { body: label(a) });
  }
}

// --- start

(async () => {
  if (!state.token) { $("login-view").hidden = false; return; }
  try {
    const me = await api("/api/me");
    await enterDesk(me);
  } catch (_) {
    leaveDesk();
  }
})();
