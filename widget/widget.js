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
  const KEY = "servicedesk-widget";
  const saved = JSON.parse(localStorage.getItem(KEY) || "null") || {};
  const store = () => localStorage.setItem(KEY, JSON.stringify(saved));
  // 128 random bits: the session id is the conversation's only secret.
  saved.sessionId = saved.sessionId || crypto.randomUUID().replace(/-/g, "");
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
      li.pending::after { content: " · aguardando conexão"; font-size: 11px; color: #6b7280; }
      .composer { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e5e7eb; }
      .composer input { flex: 1; }
      .status { font-size: 12px; color: #6b7280; padding: 0 10px; min-height: 1em; }
    </style>
    <div class="box" style="--color: ${config.color}">
      <button class="bar" type="button" aria-expanded="false"></button>
      <div class="panel" role="region" aria-label="Bate-papo" hidden>
        <form class="prechat" novalidate>
          <label>Nome <input name="name" autocomplete="name" required></label>
          <span class="error" data-for="name" role="alert"></span>
          <label>E-mail <input name="email" type="email" autocomplete="email" required></label>
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

  function show(text, mine) {
    const item = document.createElement("li");
    item.textContent = text;
    if (mine) item.className = "me";
    list.append(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }
  // The conversation as Rasa holds it: after a reload or a reconnection the
  // visitor sees everything, including what arrived while the page was closed.
  async function loadHistory() {
    try {
      const url = new URL(`/widget/api/history/${saved.sessionId}`, script.src);
      const response = await fetch(url);
      if (!response.ok) return;
      const { messages } = await response.json();
      list.replaceChildren();
      messages.forEach((m) => show(m.text, m.from === "visitor"));
      saved.outbox.forEach((text) => show(text, true).classList.add("pending"));
    } catch (_) { /* keep what is on screen */ }
  }

  let socket = null;
  function startChat() {
    prechat.hidden = true;
    list.hidden = composer.hidden = false;
    socket = io(config.rasaUrl);
    socket.on("connect", async () => {
      status.textContent = "";
      socket.emit("session_request", { session_id: saved.sessionId });
      await loadHistory();
      flushOutbox();
    });
    socket.on("disconnect", () => { status.textContent = "Reconectando…"; });
    socket.on("bot_uttered", (message) => { if (message.text) show(message.text, false); });
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

  // Messages typed while the connection is down wait in an outbox kept in
  // localStorage (it survives a reload) and leave once, when connected.
  function flushOutbox() {
    while (socket && socket.connected && saved.outbox.length) {
      const text = saved.outbox.shift();
      store();
      socket.emit("user_uttered", { message: text, session_id: saved.sessionId, metadata: saved.profile });
    }
    for (const node of list.querySelectorAll(".pending")) {
      if (!saved.outbox.length) node.classList.remove("pending");
    }
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = composer.elements.message.value.trim();
    if (!text || !socket) return;
    saved.outbox.push(text);
    store();
    const node = show(text, true);
    if (!socket.connected) node.classList.add("pending");
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
