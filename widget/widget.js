// Visitor chat widget (W0-W2): one <script> tag on the organisation's site.
//   <script src="https://desk.example/widget/widget.js" data-title="Converse conosco"
//           data-color="#c62828" data-position="right" data-rasa-url="https://bot.example"></script>
// It draws inside a Shadow DOM, so the host page's CSS neither reaches it nor is touched.
(() => {
  "use strict";
  const script = document.currentScript;
  const config = {
    title: script.dataset.title || "Converse conosco",
    color: script.dataset.color || "#c62828",
    position: script.dataset.position === "left" ? "left" : "right",
    rasaUrl: script.dataset.rasaUrl || `${location.protocol}//${location.hostname}:5005`,
    // Routes this site's visitors to a room (set by a supervisor).
    key: script.dataset.key || "",
  };
  const KEY = "servicedesk-widget:v2";
  const saved = JSON.parse(localStorage.getItem(KEY) || "null") || {};
  const store = () => localStorage.setItem(KEY, JSON.stringify(saved));
  const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  // 128 random bits: the conversation's token, its only secret (never shown,
  // never in a URL). Rasa derives the conversation id from it.
  saved.token = saved.token || randomHex();
  // Messages not yet acknowledged (stored by Rasa): {client_id, text}.
  saved.outbox = saved.outbox || [];
  store();

  const host = document.createElement("div");
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      [hidden] { display: none !important; }
      .box { position: fixed; bottom: 0; ${config.position}: 16px; width: min(340px, calc(100vw - 32px));
             font: 15px/1.4 system-ui, sans-serif; color: #1f2933; z-index: 2147483000; }
      .bar { all: unset; box-sizing: border-box; display: block; width: 100%; padding: 10px 14px; color: #fff;
             background: var(--color); border-radius: 8px 8px 0 0; cursor: pointer; font-weight: 600; }
      .panel { background: #fff; border: 1px solid #d9dde3; border-top: 0; height: 380px; display: flex; flex-direction: column; }
      .panel[hidden] { display: none; }
      form { display: grid; gap: 8px; padding: 14px; }
      label { display: grid; gap: 2px; font-size: 14px; }
      input { font: inherit; padding: 6px; border: 1px solid #c4c9d0; border-radius: 4px; }
      .error { color: #b91c1c; font-size: 13px; min-height: 1em; }
      button.primary { font: inherit; padding: 8px; border: 0; border-radius: 4px; background: var(--color); color: #fff; cursor: pointer; }
      ol { flex: 1; overflow-y: auto; list-style: none; margin: 0; padding: 10px; display: flex; flex-direction: column; gap: 6px; }
      li { max-width: 80%; padding: 6px 10px; border-radius: 8px; background: #eef0f3; white-space: pre-wrap; word-wrap: break-word; }
      li.me { align-self: flex-end; background: #fde2e2; }
      li.pending::after { content: " · enviando…"; font-size: 11px; color: #6b7280; }
      .composer { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e5e7eb; }
      .composer input { flex: 1; }
      .status { font-size: 12px; color: #6b7280; padding: 0 10px; min-height: 1em; }
    </style>
    <div class="box" style="--color: ${config.color}">
      <button class="bar" type="button" aria-expanded="false"></button>
      <div class="panel" role="region" aria-label="Bate-papo" hidden>
        <form class="prechat" novalidate>
          <label>Nome <input name="name" autocomplete="name" maxlength="200" required></label>
          <span class="error" data-for="name" role="alert"></span>
          <label>E-mail <input name="email" type="email" autocomplete="email" maxlength="254" required></label>
          <span class="error" data-for="email" role="alert"></span>
          <button class="primary" type="submit">INICIAR BATE-PAPO</button>
        </form>
        <ol class="messages" aria-live="polite" hidden></ol>
        <div class="status" role="status"></div>
        <form class="composer" hidden>
          <label style="display:contents"><span hidden>Mensagem</span>
            <input name="message" aria-label="Mensagem" autocomplete="off" maxlength="4096"></label>
          <button class="primary" type="submit" aria-label="Enviar">Enviar</button>
        </form>
      </div>
    </div>`;
  document.body.append(host);

  const $ = (selector) => root.querySelector(selector);
  const bar = $(".bar"), panel = $(".panel"), prechat = $(".prechat");
  const list = $(".messages"), composer = $(".composer"), status = $(".status");
  bar.textContent = config.title;
  bar.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    bar.setAttribute("aria-expanded", String(!panel.hidden));
  });

  function show(text, mine, pendingId) {
    const item = document.createElement("li");
    item.textContent = text;
    if (mine) item.className = "me";
    if (pendingId) { item.classList.add("pending"); item.dataset.clientId = pendingId; }
    list.append(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }
  // Operator messages carry their id (live in the message's metadata, in the
  // history beside its text): one that arrives twice shows once.
  let shownIds = new Set(), loading = null, arrived = [];
  const operatorId = (m) => (m.metadata && m.metadata.handoff_message_id) ?? m.handoff_message_id;
  function showBot(message) {
    const id = operatorId(message);
    if (!message.text || (id != null && shownIds.has(id))) return;
    if (id != null) shownIds.add(id);
    show(message.text, false);
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
      const response = await fetch(new URL("/widget/api/history", script.src),
        { headers: { "X-Conversation-Token": saved.token }, signal: AbortSignal.timeout(10000) });
      if (!response.ok) return false;
      const { messages } = await response.json();
      const stored = new Set(messages.map((m) => m.client_id).filter(Boolean));
      saved.outbox = saved.outbox.filter((m) => !stored.has(m.client_id));
      store();
      list.replaceChildren();
      shownIds = new Set();
      messages.forEach((m) => (m.from === "visitor" ? show(m.text, true) : showBot(m)));
      saved.outbox.forEach((m) => show(m.text, true, m.client_id));
      const recent = messages.slice(-3).map((m) => m.text);
      arrived.filter((m) => operatorId(m) != null || !recent.includes(m.text)).forEach(showBot);
      return true;
    } catch (_) {
      return false; // keep what is on screen
    }
  }

  let socket = null, sending = false;
  function startChat() {
    prechat.hidden = true;
    list.hidden = composer.hidden = false;
    socket = io(config.rasaUrl);
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
  }
  prechat.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = prechat.elements.name.value.trim();
    const email = prechat.elements.email.value.trim();
    const errors = {
      name: name ? "" : "Informe seu nome.",
      email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? "" : "Informe um e-mail válido.",
    };
    for (const [field, message] of Object.entries(errors)) {
      root.querySelector(`[data-for="${field}"]`).textContent = message;
    }
    if (errors.name || errors.email) return;
    saved.profile = { name, email, widget_key: config.key };
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
      client_id: message.client_id, metadata: saved.profile }, (timedOut, ack) => {
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

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = composer.elements.message.value.trim();
    if (!text || !socket) return;
    const message = { client_id: randomHex(), text };
    saved.outbox.push(message);
    store();
    show(text, true, message.client_id);
    composer.elements.message.value = "";
    flushOutbox();
  });

  function loadClient(then) {
    if (window.io) return then();
    const tag = document.createElement("script");
    tag.src = new URL("/vendor/socket.io.min.js", script.src).href;
    tag.onload = then;
    document.head.append(tag);
  }
  loadClient(() => { if (saved.profile) startChat(); });
})();
