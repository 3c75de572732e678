// Operator console: login, availability, real time, the attendance on screen.
import { $, api, call, confirmAction, session, CHANNELS } from "./api.js";
import { askNotifications, chime, ring, showCounts } from "./alerts.js";
import { endedNotice, label, renderCalls } from "./calls.js";
import { createConversation } from "./conversation.js";
import { createAdmin } from "./admin.js";
import { createCustomers } from "./customers.js";
import { createKnowledge } from "./knowledge.js";
import { watchClosedRooms } from "./hours.js";
import { showSummary } from "./summary.js";
import { createTransfer } from "./transfer.js";
import { createTemplates } from "./templates.js";
import { keyboardTabs, markSelected } from "./tabs.js";

const state = {
  me: null,
  socket: null,
  queue: new Map(),   // attendance id -> attendance waiting in the operator's rooms
  mine: new Map(),    // attendance id -> the operator's active attendances
  unread: new Map(),   // attendance id -> customer messages not seen yet
  linked: new Map(),  // attendance id -> linked customer
  current: null,      // attendance on screen
  tab: "conversa",
  unseenHere: 0,      // customer messages of the attendance on screen while on Início or Resumo
};
let conversation, customers, knowledge, admin, transfer, refreshClosedRooms, templates;
const supervising = () => ["supervisor", "admin"].includes(state.me?.role);

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
  askNotifications();
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error.message);
    session.csrf = body.csrf_token;
    $("login-password").value = "";
    await enterDesk();
  } catch (error) {
    $("login-error").textContent = error.message === "Failed to fetch" ? "Sem conexão com o servidor." : error.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("/api/auth/logout", { method: "POST" }); } catch (_) { /* already gone */ }
  leaveDesk();
});

// --- the operator's own password: the other sessions end, this one goes on

$("password-open").addEventListener("click", () => {
  $("password-form").reset();
  $("password-message").textContent = "";
  $("password-dialog").showModal();
});
$("password-close").addEventListener("click", () => $("password-dialog").close());
$("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = $("password-form").elements;
  try {
    await api("/api/me/password", {
      method: "POST",
      body: { current_password: form.current_password.value, new_password: form.new_password.value },
    });
    $("password-form").reset();
    $("password-message").textContent = "Senha alterada. As outras sessões foram encerradas.";
  } catch (error) {
    $("password-message").textContent = error.message;
  }
});

session.onExpired = () => {
  leaveDesk();
  $("login-error").textContent = "Sua sessão expirou. Entre novamente; o texto digitado foi guardado.";
};

function leaveDesk() {
  if (state.socket) state.socket.disconnect();
  session.csrf = null;
  // Nothing of this session stays on screen for the next login.
  if (conversation) closeAttendance();
  $("calls-notice").textContent = "";
  Object.assign(state, { me: null, socket: null, current: null });
  state.queue.clear(); state.mine.clear(); state.unread.clear();
  renderCalls(state, openAttendance);
  showCounts(0);
  $("desk-view").hidden = true;
  $("admin").hidden = true;
  $("desk-view").classList.remove("supervising");
  $("login-view").hidden = false;
}

async function enterDesk() {
  const me = await api("/api/me");
  session.csrf = me.csrf_token;
  state.me = me;
  $("operator-name").textContent = me.name;
  $("pause-reason").replaceChildren(...me.pause_reasons.map((r) => new Option(r, r)));
  showAvailability(me);
  showChatAccess(me);
  $("login-view").hidden = true;
  $("desk-view").hidden = false;
  conversation = conversation || createConversation(state);
  customers = customers || createCustomers(state, (attendance) => { state.mine.set(attendance.id, { ...state.mine.get(attendance.id), ...attendance }); });
  knowledge = knowledge || createKnowledge(state, insertIntoReply);
  transfer = transfer || createTransfer(state, transferred);
  if (refreshClosedRooms) refreshClosedRooms(); else refreshClosedRooms = watchClosedRooms();
  templates = templates || createTemplates(state);
  $("admin-toggle").hidden = !supervising();
  if (supervising()) admin = admin || createAdmin();
  if (me.status === "offline") await setAvailability("available");
  connect();
}

// --- availability (O1): always visible

function showAvailability(me) {
  $("availability").value = me.status;
  $("pause-reason-label").hidden = me.status !== "paused";
  if (me.status_reason) $("pause-reason").value = me.status_reason;
}

// An operator not activated for chat sees the queue but may not answer: said
// at once, in the queue, not only when Atender is refused.
function showChatAccess(me) {
  $("chat-inactive").hidden = me.active_for_chat !== false;
}

// Back to Disponível (from a pause, offline, a new login): what the screen
// said while unavailable is stale, and the calls already waiting ring.
async function becameAvailable() {
  $("attendance-error").textContent = "";
  $("calls-notice").textContent = "";
  if (state.current !== null) await openAttendance(state.current);
  ringForWaiting();
}

function ringForWaiting() {
  if (state.me?.status !== "available" || state.me.active_for_chat === false || !state.queue.size) return;
  const first = state.queue.values().next().value;
  ring("Cliente na fila", `${label(first)} aguarda atendimento.`);
}

let statusChanges = Promise.resolve();

function setAvailability(status) {
  // One change at a time, in the order the operator made them.
  const body = { status };
  if (status === "paused") body.reason = $("pause-reason").value;
  statusChanges = statusChanges.then(async () => {
    const before = state.me.status;
    try {
      state.me = { ...state.me, ...(await api("/api/me/status", { method: "POST", body })) };
    } catch (error) {
      $("attendance-error").textContent = error.message;
    }
    showAvailability(state.me);
    if (before !== "available" && state.me.status === "available") await becameAvailable();
  });
  return statusChanges;
}
$("availability").addEventListener("change", (event) => {
  if (event.target.value === "paused") $("pause-reason-label").hidden = false;
  setAvailability(event.target.value);
});
$("pause-reason").addEventListener("change", () => setAvailability("paused"));

// --- real time

function connect() {
  // The handshake carries the session cookie (same origin); no token in script.
  const socket = io({ transports: ["websocket"] });
  state.socket = socket;
  socket.on("connect", async () => {
    setConnection(true);
    // Dead letters set aside while disconnected: the list is read again.
    if (supervising()) admin.onConnected();
    await refreshMe();
    if (!state.me) return; // the session ended meanwhile
    await resync();
    ringForWaiting();
    await conversation.resendUnsent();
  });
  socket.on("disconnect", () => setConnection(false));
  socket.on("connect_error", (error) => {
    setConnection(false);
    if (/expirada|unauthorized/i.test(error.message)) session.onExpired();
  });
  // Logout elsewhere, a new password, deactivation: the server ends the session.
  socket.on("session:ended", () => session.onExpired());
  onCallEvent(socket, "attendance:queued", (a) => {
    state.queue.set(a.id, { last_message: attendanceById(a.id)?.last_message, ...a });
    state.mine.delete(a.id);
    state.unread.delete(a.id);
  }, (a) => {
    if (state.me.status === "available" && state.me.active_for_chat !== false) ring("Cliente na fila", label(a));
  });
  onCallEvent(socket, "attendance:taken", (a) => {
    const previewed = state.queue.get(a.id);
    state.queue.delete(a.id);
    if (a.operator_id === state.me.id) state.mine.set(a.id, { ...previewed, ...a });
    else if (state.current === a.id) {
      closeAttendance();
      $("center-notice").textContent = `O atendimento de ${label(a)} foi assumido por outro operador.`;
    }
  });
  // Given to this operator: transferred to them, or by a room's automatic
  // assignment. It is theirs already, and rings.
  onCallEvent(socket, "attendance:assigned", (a) => {
    state.queue.delete(a.id);
    state.mine.set(a.id, { ...attendanceById(a.id), ...a });
  }, (a) => {
    ring("Novo atendimento para você", `${label(a)} aguarda sua resposta.`);
    if (state.current === a.id) openAttendance(a.id);
  });
  // Passed on from another of this operator's sessions (or by REST).
  onCallEvent(socket, "attendance:transferred", (a) => {
    state.mine.delete(a.id);
    if (state.current === a.id) closeAttendance();
  });
  onCallEvent(socket, "attendance:requeued", (a) => {
    state.mine.delete(a.id);
    if (state.current === a.id) closeAttendance();
  });
  // Positions and estimates of a room's queue, after each change to it.
  onCallEvent(socket, "queue:positions", ({ positions }) => {
    for (const { id, position, estimated_minutes } of positions) {
      const a = state.queue.get(id);
      if (a) Object.assign(a, { position, estimated_minutes });
    }
  });
  onCallEvent(socket, "attendance:ended", (a) => {
    if (state.mine.has(a.id)) $("calls-notice").textContent = endedNotice(a);
    state.mine.delete(a.id);
    state.queue.delete(a.id);
    conversation.forget(a.id);
    if (state.current === a.id) closeAttendance();
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
    const a = attendanceById(m.attendance_id);
    if (a && (m.direction === "customer" || m.direction === "operator")) a.last_message = m.text;
    if (m.attendance_id === state.current) conversation.onMessage(m);
    if (m.direction === "customer" && state.mine.has(m.attendance_id)) noticeCustomerMessage(m, a);
    if (m.direction === "customer" && m.attendance_id === state.current && !$("template-composer").hidden) {
      templates.show(a, true, true).catch((error) => { $("attendance-error").textContent = error.message; });
    }
    renderCalls(state, openAttendance);
    showUnread();
  });
  socket.on("message:delivery", (d) => conversation.onDelivery(d));
  // An attachment fetched, refused or unavailable: the message again, in place.
  socket.on("message:updated", (m) => conversation.onMessage(m));
  socket.on("live:changed", () => admin && admin.onLiveChanged());
  socket.on("dead_letter:new", (d) => admin && admin.onDeadLetter(d));
  socket.on("dead_letter:gone", (d) => admin && admin.onDeadLetterGone(d));
  socket.on("operator:status", (me) => {
    state.me = { ...state.me, ...me };
    showAvailability(state.me);
    showChatAccess(state.me);
  });
}

// The operator's own state may have changed while disconnected (gone past
// the grace period: offline).
async function refreshMe() {
  try {
    const me = await api("/api/me");
    if (state.me && state.me.status !== "offline" && me.status === "offline") {
      $("calls-notice").textContent = "Você ficou Indisponível enquanto estava desconectado. Escolha Disponível para atender.";
    }
    state.me = { ...state.me, ...me };
    showAvailability(state.me);
    showChatAccess(state.me);
  } catch (_) { /* the socket's own errors say it */ }
}

// A customer message in one of the operator's attendances: counted where it
// is not seen (another attendance, or this one while on Início or Resumo).
function noticeCustomerMessage(m, a) {
  const seen = m.attendance_id === state.current && state.tab === "conversa" && !document.hidden;
  if (seen) return;
  if (m.attendance_id === state.current && state.tab !== "conversa") state.unseenHere += 1;
  else if (m.attendance_id !== state.current) state.unread.set(m.attendance_id, (state.unread.get(m.attendance_id) || 0) + 1);
  chime(`Nova mensagem de ${a ? label(a) : "cliente"}`, m.text);
}

// The unread mark on the Conversa tab, and the counts in the tab's title.
function showUnread() {
  const here = state.unseenHere;
  $("conversa-unread").textContent = here ? String(here) : "";
  $("conversa-unread").setAttribute("aria-label", here ? `${here} não lidas` : "");
  let unread = here;
  for (const count of state.unread.values()) unread += count;
  showCounts(state.queue.size + unread);
}

function setConnection(online) {
  $("connection").textContent = online ? "" : "Sem conexão, tentando reconectar…";
  $("connection").classList.toggle("offline", !online);
  $("connection").dataset.state = online ? "online" : "offline";
}

// Call-list events that arrive while the lists are read again: the lists
// may have been read before them, so they are applied again over the lists.
let arrivedDuringResync = null;

function onCallEvent(socket, name, apply, announce = () => {}) {
  socket.on(name, (a) => {
    if (arrivedDuringResync) arrivedDuringResync.push(() => apply(a));
    apply(a);
    announce(a);
    renderCalls(state, openAttendance);
    showUnread();
  });
}

async function resync() {
  arrivedDuringResync = [];
  try {
    const lists = await call(state.socket, "attendances:list");
    state.queue = new Map(lists.queued.map((a) => [a.id, a]));
    state.mine = new Map(lists.active.map((a) => [a.id, a]));
    for (const id of [...state.unread.keys()]) if (!state.mine.has(id)) state.unread.delete(id);
    for (const apply of arrivedDuringResync) apply();
  } finally {
    arrivedDuringResync = null;
  }
  renderCalls(state, openAttendance);
  showUnread();
  if (state.current !== null) await openAttendance(state.current);
}

// --- the attendance on screen

function attendanceById(id) { return state.mine.get(id) || state.queue.get(id); }

function showHeader(a) {
  $("attendance-title").textContent = label(a);
  $("attendance-channel").textContent = CHANNELS[a.channel] || a.channel;
  $("attendance-protocol").textContent = a.protocol ? `Protocolo ${a.protocol}` : "";
  const mine = state.mine.has(a.id);
  $("take").hidden = mine || state.me.active_for_chat === false;
  $("finish").hidden = $("pending").hidden = $("cancel").hidden = $("transfer").hidden = !mine;
  $("composer").hidden = !mine;
  templates.show(a, mine).catch((error) => { $("attendance-error").textContent = error.message; });
}

async function openAttendance(id) {
  const a = attendanceById(id);
  if (!a) { closeAttendance(); return; }
  if (state.current !== id) state.unseenHere = 0;
  state.current = id;
  state.unread.delete(id);
  $("center-notice").textContent = "";
  $("no-attendance").hidden = true;
  $("attendance").hidden = false;
  $("attendance-error").textContent = "";
  showHeader(a);
  renderCalls(state, openAttendance);
  showUnread();
  if (a.customer_id && !state.linked.has(id)) {
    const summary = await api(`/api/attendances/${id}/summary`);
    customers.remember(id, summary.customer);
  }
  customers.onAttendanceChanged();
  await showTab(state.tab);
}

function closeAttendance() {
  state.current = null;
  state.unseenHere = 0;
  showUnread();
  $("attendance-error").textContent = "";
  $("attendance").hidden = true;
  $("no-attendance").hidden = false;
  customers.onAttendanceChanged();
}

async function showTab(name) {
  state.tab = name;
  if (name === "conversa") { state.unseenHere = 0; showUnread(); }
  for (const tab of ["inicio", "conversa", "resumo"]) {
    $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
    $(`panel-${tab}`).hidden = tab !== name;
  }
  markSelected($("attendance-tabs"));
  try {
    if (name === "conversa") await conversation.open(state.current);
    if (name === "inicio") await knowledge.show();
    if (name === "resumo") await showSummary(state.current);
  } catch (error) {
    $("attendance-error").textContent = error.message;
  }
}
for (const tab of ["inicio", "conversa", "resumo"]) {
  $(`tab-${tab}`).addEventListener("click", () => showTab(tab));
}
keyboardTabs($("attendance-tabs"), (tab) => showTab(tab.id.slice("tab-".length)));

// An article from Início into the composer, after what is already there.
async function insertIntoReply(text) {
  await showTab("conversa");
  const draft = $("draft");
  draft.value = draft.value.trim() ? `${draft.value.trimEnd()}\n\n${text}` : text;
  draft.dispatchEvent(new Event("input")); // keeps the draft
  draft.focus();
}

$("take").addEventListener("click", async () => {
  const focused = document.activeElement;
  try {
    const { attendance } = await call(state.socket, "attendance:take", { attendance_id: state.current });
    state.mine.set(attendance.id, { ...attendanceById(attendance.id), ...attendance });
    state.queue.delete(attendance.id);
    showHeader(attendance);
    renderCalls(state, openAttendance);
    customers.onAttendanceChanged();
    await showTab("conversa");
    // Into the composer, unless the operator went on elsewhere meanwhile
    // (the customer search): what they type never lands in another field.
    if ([focused, document.body, null].includes(document.activeElement)) $("draft").focus();
  } catch (error) {
    $("attendance-error").textContent = error.message;
  }
});

$("transfer").addEventListener("click", () => transfer.open());

function transferred(a, to) {
  state.mine.delete(a.id);
  conversation.forget(a.id);
  closeAttendance();
  renderCalls(state, openAttendance);
  $("calls-notice").textContent = `Atendimento de ${label(a)} transferido para ${to}.`;
}

// Finalizar asks for the closing subject (the organisation's list, required
// when there is one) and an optional comment, in the confirmation itself.
// Pendente is a Finalizar with a due date (today + 7 calendar days, Decreto
// 11.034 art. 13, editable, never in the past) and what is pending.
async function askClosing(pending = false) {
  let subjects;
  try { ({ subjects } = await api("/api/subjects")); } catch (error) { $("attendance-error").textContent = error.message; return null; }
  $("closing-subject").replaceChildren(new Option("Escolha o assunto", ""), ...subjects.map((s) => new Option(s, s)));
  $("closing-subject").required = subjects.length > 0;
  $("closing-comment").value = "";
  $("closing-fields").hidden = false;
  const today = localDay(new Date());
  Object.assign($("pending-until"), { value: localDay(new Date(Date.now() + 7 * 86400000)), min: today, required: pending });
  Object.assign($("pending-reason"), { value: "", required: pending });
  $("pending-fields").hidden = !pending;
  const confirmed = await confirmAction(pending
    ? "Encerrar como pendente? O cliente receberá o número do protocolo e o prazo da resposta."
    : "Deseja finalizar este atendimento? O cliente receberá o número do protocolo.", pending ? "Encerrar como pendente" : "Finalizar");
  $("closing-fields").hidden = $("pending-fields").hidden = true;
  $("closing-subject").required = $("pending-until").required = $("pending-reason").required = false;
  if (!confirmed) return null;
  const chosen = { subject: $("closing-subject").value || null, comment: $("closing-comment").value.trim() || null };
  return pending ? { ...chosen, pending_until: $("pending-until").value, pending_reason: $("pending-reason").value.trim() } : chosen;
}
const localDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
const askCancel = async () => ((await confirmAction("Deseja cancelar este atendimento?", "Cancelar")) ? {} : null);

const closingSteps = [
  ["finish", "attendance:finish", () => askClosing()],
  ["pending", "attendance:finish", () => askClosing(true)],
  ["cancel", "attendance:cancel", askCancel],
];
for (const [buttonId, event, ask] of closingSteps) {
  $(buttonId).addEventListener("click", async () => {
    const details = await ask();
    if (!details) return;
    try {
      const { attendance } = await call(state.socket, event, { attendance_id: state.current, ...details });
      state.mine.delete(attendance.id);
      conversation.forget(attendance.id);
      closeAttendance();
      renderCalls(state, openAttendance);
      $("calls-notice").textContent = closedNotice(attendance);
    } catch (error) {
      $("attendance-error").textContent = error.message;
    }
  });
}

function closedNotice(a) {
  const what = a.pending_until ? "encerrado como pendente" : a.status === "finished" ? "finalizado" : "cancelado";
  return `Atendimento de ${label(a)} ${what}${a.protocol ? ` (protocolo ${a.protocol})` : ""}.`;
}

// --- supervision

$("admin-toggle").addEventListener("click", async () => {
  const open = $("admin").hidden;
  $("admin").hidden = !open;
  $("desk-view").classList.toggle("supervising", open);
  $("admin-toggle").setAttribute("aria-pressed", String(open));
  if (open) await admin.show("painel");
});

// --- start

(async () => {
  // A reload keeps the session: the cookie authenticates GET /api/me.
  try {
    await enterDesk();
  } catch (_) {
    leaveDesk();
  }
})();
