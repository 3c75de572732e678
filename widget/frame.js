// The widget's conversation (W2), in frame.html: an <iframe> that widget.js
// puts on the organisation's page, served from the service's own origin.
// The conversation token and the outbox live in this origin's localStorage
// and the socket.io client is this window's own, so no script of the host
// page can read or replace them. The host page (`host`, checked against the
// frame's real parent) only hears "ready" (with the panel's state as the
// visitor left it) and "close", and only tells whether the panel is open.
(() => {
  "use strict";
  const params = new URLSearchParams(location.search);
  const host = params.get("host") || "";
  const parent = window.parent;
  // The page that framed us, as the browser says (ancestorOrigins; else the
  // referrer, which a page may withhold); a frame named for another page,
  // or not framed at all, stays blank.
  const framer = location.ancestorOrigins?.[0] || (document.referrer && new URL(document.referrer).origin) || host;
  if (parent === window || !/^https?:\/\/[^/]+$/.test(host) || framer !== host) return;
  const TAG = "servicedesk-widget";
  const tell = (message) => parent.postMessage({ [TAG]: true, ...message }, host);

  const config = {
    rasaUrl: params.get("rasa") || "",
    key: params.get("key") || "",
  };
  // The brand colour (the bar, the button, the visitor's bubbles), set through
  // the CSSOM (the page's CSP has no inline style); anything the browser does
  // not read as a colour gets the default.
  const color = params.get("color") || "";
  document.documentElement.style.setProperty("--color", CSS.supports("color", color) ? color : "#c62828");
  // One conversation per site and Rasa, even where the browser does not
  // partition a frame's storage by the site that frames it.
  const KEY = `${TAG}:v3 ${host} ${config.rasaUrl}`;
  // A browser that refuses a third-party frame any storage (third-party
  // cookies blocked, as in a private window) gets a conversation that lasts
  // as long as the page.
  const storage = (() => {
    try { return localStorage.length >= 0 ? localStorage : null; } catch (_) { return null; }
  })();
  const saved = JSON.parse(storage?.getItem(KEY) || "null") || {};
  const store = () => storage?.setItem(KEY, JSON.stringify(saved));
  const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  // 128 random bits: the conversation's token, its only secret (never shown,
  // never in a URL). Rasa derives the conversation id from it.
  saved.token = saved.token || randomHex();
  // Messages not yet acknowledged (stored by Rasa): {client_id, text,
  // timestamp, marks?} (marks: metadata of its own, "Encerrar conversa").
  saved.outbox = saved.outbox || [];
  store();

  const $ = (selector) => document.querySelector(selector);
  const prechat = $(".prechat"), list = $(".messages"), composer = $(".composer"), status = $(".status");
  const typing = $(".typing");
  $(".chat").hidden = false;

  // The panel's state, told by the host page and kept for this tab (session
  // storage: a reload opens it as the visitor left it, a new tab starts
  // closed); Escape or "Minimizar" asks it to close.
  const tab = (() => {
    try { return sessionStorage; } catch (_) { return null; }
  })();
  let open = false;
  window.addEventListener("message", (event) => {
    if (event.origin !== host || event.source !== parent) return;
    const message = event.data;
    if (!message || message[TAG] !== true || message.type !== "state") return;
    open = message.open === true;
    tab?.setItem(`${KEY} open`, String(open));
    if (open) list.scrollTop = list.scrollHeight; // a hidden frame cannot scroll
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && open) tell({ type: "close" });
  });
  $(".minimise").addEventListener("click", () => tell({ type: "close" }));
  tell({ type: "ready", open: tab?.getItem(`${KEY} open`) === "true" });

  // Who wrote and when, above each message: "Você", the assistant (the bot),
  // or the operator's first name (or "Atendente"), and the time as HH:MM.
  const clock = new Intl.DateTimeFormat("pt-BR", { hour: "2-digit", minute: "2-digit" });
  const AUTHOR = { me: "Você", bot: "Assistente virtual", operator: "Atendente" };
  function show(text, from, { pendingId, name, timestamp, attachment } = {}) {
    // A bot message's buttons answer it only until the next message.
    list.querySelectorAll(".choices").forEach((node) => node.remove());
    const item = document.createElement("li");
    item.className = from;
    const who = document.createElement("span");
    who.className = "who";
    const when = timestamp ? new Date(timestamp * 1000) : new Date();
    who.textContent = `${name || AUTHOR[from]} · ${clock.format(when)}`;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.append(who, body);
    if (attachment) item.append(fileLine(attachment));
    if (pendingId) { item.classList.add("pending"); item.dataset.clientId = pendingId; }
    list.append(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }
  // Files: shown by name and size; an operator's fetched with the token
  // (never in a URL), then a photo shown or a PDF linked.
  function fileLine(a) {
    const line = document.createElement("span");
    line.className = "file";
    const kb = typeof a.size === "number" ? ` (${Math.max(1, Math.round(a.size / 1024)).toLocaleString("pt-BR")} KB)` : "";
    line.textContent = `${a.file_name || "arquivo"}${kb}`;
    return line;
  }
  async function showOperatorFile(line, a, id) {
    try {
      const response = await fetch(`api/files/${id}`, { headers: { "X-Conversation-Token": saved.token } });
      if (!response.ok) throw response;
      const url = URL.createObjectURL(await response.blob());
      const node = document.createElement(a.kind === "image" ? "img" : "a");
      if (a.kind === "image") Object.assign(node, { src: url, alt: `Foto: ${a.file_name}` });
      else Object.assign(node, { href: url, download: a.file_name, textContent: line.textContent });
      line.replaceChildren(node);
    } catch (_) { line.append(" · Arquivo indisponível."); }
  }
  // Operator messages and the service's notices (the queue position) carry
  // their id (live in the message's metadata, in the history beside its
  // text): one that arrives twice shows once.
  let shownIds = new Set(), loading = null, arrived = [];
  const idOf = (m, key) => (m.metadata && m.metadata[key]) ?? m[key];
  const operatorId = (m) => idOf(m, "handoff_message_id");
  const messageKey = (m) => (operatorId(m) != null ? `m${operatorId(m)}`
    : idOf(m, "handoff_notice") != null ? `n${idOf(m, "handoff_notice")}` : null);
  function showBot(message) {
    const id = operatorId(message), key = messageKey(message);
    const attachment = idOf(message, "attachment");
    if ((!message.text && !attachment) || (key && shownIds.has(key))) return;
    if (key) shownIds.add(key);
    const details = { ...message, ...message.metadata };
    if (id == null) {
      const item = show(message.text, "bot", details);
      if (key) item.classList.add("notice");
      showChoices(item, message.quick_replies || message.buttons || []);
      return;
    }
    stopTyping();
    const item = show(message.text, "operator", { name: details.operator_name, timestamp: details.timestamp, attachment });
    if (attachment) showOperatorFile(item.lastChild, attachment, id);
  }
  // A bot message's buttons (Rasa's quick replies live, its buttons in the
  // history): a tap sends the button's payload and shows its title. The
  // satisfaction survey's five ratings are shown as stars.
  const RATING = /^\/survey_rating\{"rating": ?([1-5])\}$/;
  function showChoices(item, choices) {
    const usable = choices.filter((c) => typeof c.title === "string" && typeof c.payload === "string");
    if (!usable.length) return;
    const stars = usable.every((c) => RATING.test(c.payload));
    const group = document.createElement("div");
    group.className = stars ? "choices stars" : "choices";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", stars ? "Sua nota para o atendimento" : "Opções");
    for (const choice of usable) {
      const button = document.createElement("button");
      button.type = "button";
      if (stars) {
        const rating = choice.payload.match(RATING)[1];
        button.className = "star";
        button.textContent = "★";
        button.setAttribute("aria-label", `${rating} de 5 estrelas: ${choice.title.replace(/^\d+\s*-\s*/, "")}`);
        button.dataset.rating = rating;
      } else {
        button.textContent = choice.title;
      }
      button.addEventListener("click", () => {
        group.remove();
        const shown = stars ? `${"★".repeat(Number(button.dataset.rating))} ${choice.title}` : choice.title;
        queueMessage(choice.payload, { button_title: choice.title }, shown);
      });
      group.append(button);
    }
    item.append(group);
    list.scrollTop = list.scrollHeight;
  }
  // "digitando…" while the operator writes: each signal shows it a while.
  let typingTimer = null;
  function stopTyping() {
    clearTimeout(typingTimer);
    typing.hidden = true;
  }
  function startTyping() {
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 5000);
  }
  // The conversation as Rasa holds it: after a reload or a reconnection the
  // visitor sees everything, including what arrived while the page was away.
  // Until it is read (the service or its database may be away), it is asked
  // again every second while connected.
  async function loadHistory() {
    arrived = [];
    while (!(await readHistory()) && socket && socket.connected) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  async function readHistory() {
    try {
      const response = await fetch(new URL("api/history", location.href),
        { headers: { "X-Conversation-Token": saved.token }, signal: AbortSignal.timeout(10000) });
      if (!response.ok) return false;
      const { messages } = await response.json();
      const stored = new Set(messages.map((m) => m.client_id).filter(Boolean));
      saved.outbox = saved.outbox.filter((m) => !stored.has(m.client_id));
      store();
      list.replaceChildren();
      shownIds = new Set();
      messages.forEach((m) => (m.from === "visitor" ? show(m.text, "me", m) : showBot(m)));
      saved.outbox.forEach((m) => show(m.shown || m.text, "me", { pendingId: m.client_id, timestamp: m.timestamp, attachment: m.marks?.attachment }));
      const recent = messages.slice(-3).map((m) => m.text);
      arrived.filter((m) => messageKey(m) != null || !recent.includes(m.text)).forEach(showBot);
      return true;
    } catch (_) {
      return false; // keep what is on screen
    }
  }

  // "Encerrar conversa", confirmed: a message marked for the handoff service,
  // which takes the visitor out of the queue (or ends the attendance).
  const leave = $(".leave"), confirmLeave = $(".confirm-leave");
  const askToLeave = (asking) => {
    confirmLeave.hidden = !asking;
    leave.hidden = asking;
    (asking ? $(".leave-no") : leave).focus();
  };
  leave.addEventListener("click", () => askToLeave(true));
  $(".leave-no").addEventListener("click", () => askToLeave(false));
  $(".leave-yes").addEventListener("click", () => {
    askToLeave(false);
    queueMessage("Encerrar conversa", { leave_conversation: true });
  });

  // Rasa may be served under a path (the cluster's front door serves it at
  // https://host/rasa): its socket.io is then at that path + /socket.io.
  function rasaSocket(url) {
    const address = new URL(url || location.origin);
    return io(address.origin, { path: `${address.pathname.replace(/\/+$/, "")}/socket.io` });
  }

  let socket = null, sending = false;
  function startChat() {
    prechat.hidden = recado.hidden = closedNotice.hidden = true;
    leave.hidden = false;
    list.hidden = composer.hidden = false;
    socket = rasaSocket(config.rasaUrl);
    const requestSession = () => socket.connected && socket.emit("session_request", { session_id: saved.token });
    socket.on("connect", () => {
      status.textContent = "";
      requestSession();
    });
    socket.on("session_confirm", async (token) => {
      status.textContent = "";
      saved.token = token;
      store();
      loading = loadHistory();
      await loading;
      loading = null;
      flushOutbox();
    });
    socket.on("session_refused", (refusal) => {
      status.textContent = refusal.message;
      if (refusal.retry) setTimeout(requestSession, 1000);
    });
    socket.on("disconnect", () => { status.textContent = "Reconectando…"; });
    // Rasa unreachable (refused, timed out): said plainly while socket.io
    // keeps trying; the outbox is sent once it connects.
    socket.on("connect_error", () => {
      status.textContent = "Não foi possível conectar ao atendimento. Suas mensagens serão enviadas quando a conexão voltar. Reconectando…";
    });
    socket.on("bot_uttered", (message) => (loading ? arrived.push(message) : showBot(message)));
    socket.on("operator_typing", startTyping);
  }
  // The room may make name and e-mail optional (a supervisor's setting).
  // While it is closed (its opening hours) the visitor reads when it opens
  // first; a room that takes messages then offers the leave-a-message form.
  let prechatOptional = false;
  // The form is in the page only while it may be used (a template until then).
  const recado = $(".recado-template").content.firstElementChild, closedNotice = $(".closed-notice");
  async function readPrechatSetting() {
    try {
      const response = await fetch(`api/prechat?key=${encodeURIComponent(config.key)}`);
      const setting = response.ok ? await response.json() : {};
      prechatOptional = setting.optional === true;
      if (setting.closed) {
        closedNotice.textContent = setting.closed.notice;
        closedNotice.hidden = false;
        if (setting.closed.leave_message) prechat.before(recado);
        prechat.hidden = setting.closed.leave_message;
      }
    } catch (_) { /* required */ }
    prechat.querySelectorAll(".optional").forEach((node) => (node.hidden = !prechatOptional));
    prechat.querySelectorAll("input").forEach((node) => (node.required = !prechatOptional));
  }
  // The message left while closed: the conversation's first message (the
  // bot hands it to the queue, where an operator finds it on opening), with
  // a phone in its text (the e-mail goes with the name, as the pre-chat's).
  const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  recado.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = recado.elements.name.value.trim();
    const contact = recado.elements.contact.value.trim();
    const text = recado.elements.message.value.trim();
    const email = EMAIL.test(contact);
    const errors = {
      "recado-name": name ? "" : "Informe seu nome.",
      "recado-contact": email || contact.replace(/\D/g, "").length >= 10 ? "" : "Informe um e-mail ou um telefone com DDD.",
      "recado-message": text ? "" : "Escreva sua mensagem.",
    };
    for (const [field, message] of Object.entries(errors)) {
      $(`[data-for="${field}"]`).textContent = message;
    }
    if (Object.values(errors).some(Boolean)) return;
    saved.profile = { widget_key: config.key, name, ...(email && { email: contact }) };
    store();
    startChat();
    queueMessage(email ? text : `${text}\n\nTelefone para contato: ${contact}`, { left_message: true });
  });
  prechat.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = prechat.elements.name.value.trim();
    const email = prechat.elements.email.value.trim();
    const errors = {
      name: name || prechatOptional ? "" : "Informe seu nome.",
      email: (!email && prechatOptional) || EMAIL.test(email) ? "" : "Informe um e-mail válido.",
    };
    for (const [field, message] of Object.entries(errors)) {
      $(`[data-for="${field}"]`).textContent = message;
    }
    if (errors.name || errors.email) return;
    saved.profile = { widget_key: config.key, ...(name && { name }), ...(email && { email }) };
    store();
    startChat();
    composer.elements.message.focus();
  });

  // Messages wait in an outbox kept in localStorage (it survives a reload)
  // until Rasa acknowledges them, stored; each is sent in order with its
  // client id, so a copy sent again after a reconnection is stored once.
  function flushOutbox() {
    if (sending || loading || !socket || !socket.connected || !saved.outbox.length) return;
    const message = saved.outbox[0];
    sending = true;
    socket.timeout(10000).emit("user_uttered", { message: message.text, session_id: saved.token,
      client_id: message.client_id, metadata: { ...saved.profile, ...message.marks } }, (timedOut, ack) => {
      sending = false;
      const error = timedOut ? null : ack && ack.error;
      if (error) status.textContent = error.message;
      // Refused for what it is (too long): dropped. Otherwise tried again.
      const final = error && ["too_long", "invalid"].includes(error.code);
      if (!final && !(ack && ack.ok)) return void setTimeout(flushOutbox, 2000);
      saved.outbox = saved.outbox.filter((m) => m.client_id !== message.client_id);
      store();
      const node = list.querySelector(`[data-client-id="${message.client_id}"]`);
      if (node) node.classList.remove("pending");
      flushOutbox();
    });
  }

  // ``shown``: what the visitor sees for a button's payload (its title).
  function queueMessage(text, marks, shown) {
    const message = { client_id: randomHex(), text, shown, timestamp: Date.now() / 1000, marks };
    saved.outbox.push(message);
    store();
    show(shown || text, "me", { pendingId: message.client_id, timestamp: message.timestamp, attachment: marks?.attachment });
    flushOutbox();
  }

  // "Anexar": a photo or PDF, uploaded with the token (the service checks
  // it), then a message naming it, with the typed text or "Foto"/"Documento".
  const fileInput = composer.querySelector(".file");
  composer.querySelector(".attach").addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", async () => {
    const [file] = fileInput.files;
    fileInput.value = "";
    if (!file || !socket) return;
    status.textContent = "Enviando arquivo…";
    try {
      const response = await fetch(`api/files?name=${encodeURIComponent(file.name)}`,
        { method: "POST", body: file, headers: { "X-Conversation-Token": saved.token } });
      const answer = await response.json();
      status.textContent = answer.error?.message || "";
      if (!response.ok) return;
      const text = composer.elements.message.value.trim() || (answer.kind === "image" ? "Foto" : "Documento");
      composer.elements.message.value = "";
      queueMessage(text, { attachment: answer });
    } catch (_) {
      status.textContent = "Não foi possível enviar o arquivo. Tente novamente.";
    }
  });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = composer.elements.message.value.trim();
    if (!text || !socket) return;
    composer.elements.message.value = "";
    queueMessage(text);
  });

  if (saved.profile) startChat();
  else readPrechatSetting();
})();
