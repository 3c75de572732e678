// Visitor chat widget (W0-W2): one <script> tag on the organisation's site.
//   <script src="https://desk.example/widget/widget.js" data-title="Converse conosco"
//           data-color="#c62828" data-position="right" data-rasa-url="https://bot.example"></script>
// This loader draws only the bar and the panel's frame (in a Shadow DOM, so
// the host page's CSS neither reaches it nor is touched). The conversation
// runs in an <iframe> on the service's own origin (frame.html): its token,
// outbox and socket.io client live there, out of the host page's reach. The
// two talk by postMessage about whether the panel is open, and nothing else
// (the frame keeps that state, so the host page's storage stays untouched).
(() => {
  "use strict";
  const script = document.currentScript;
  const service = new URL(script.src).origin;
  const data = script.dataset;
  const TAG = "servicedesk-widget";
  // Before the frame, the token lived here: it is removed, and that
  // conversation is not carried over (the visitor starts a new one).
  try { localStorage.removeItem(`${TAG}:v2`); } catch (_) { /* storage blocked */ }

  // The brand colour, if the browser reads it as one (set through the CSSOM).
  const color = CSS.supports("color", data.color || "") ? data.color : "#c62828";
  const frameUrl = new URL("frame.html", script.src);
  frameUrl.search = new URLSearchParams({
    host: location.origin,
    color,
    rasa: data.rasaUrl || `${location.protocol}//${location.hostname}:5005`,
    // Routes this site's visitors to a room (set by a supervisor).
    key: data.key || "",
  }).toString();

  const container = document.createElement("div");
  const root = container.attachShadow({ mode: "open" });
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = new URL("widget.css", script.src).href;
  const box = document.createElement("div");
  box.className = `box ${data.position === "left" ? "left" : "right"}`;
  box.style.setProperty("--color", color);
  const bar = document.createElement("button");
  bar.className = "bar";
  bar.type = "button";
  bar.textContent = data.title || "Converse conosco";
  bar.setAttribute("aria-expanded", "false");
  const panel = document.createElement("div");
  panel.className = "panel";
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", "Bate-papo");
  panel.hidden = true;
  const frame = document.createElement("iframe");
  frame.title = "Bate-papo";
  frame.src = frameUrl.href;
  panel.append(frame);
  box.append(bar, panel);

  // Only to the frame's window, only on the service's origin.
  const tell = (message) => frame.contentWindow.postMessage({ [TAG]: true, ...message }, service);
  function setOpen(open) {
    panel.hidden = !open;
    bar.setAttribute("aria-expanded", String(open));
    tell({ type: "state", open });
  }
  bar.addEventListener("click", () => setOpen(panel.hidden));
  window.addEventListener("message", (event) => {
    if (event.origin !== service || event.source !== frame.contentWindow) return;
    const message = event.data;
    if (!message || message[TAG] !== true) return;
    // The frame keeps whether the visitor left the panel open (a reload opens it).
    if (message.type === "ready" && message.open === true && panel.hidden) setOpen(true);
    else if (message.type === "ready") tell({ type: "state", open: !panel.hidden });
    if (message.type === "close" && !panel.hidden) {
      setOpen(false);
      bar.focus();
    }
  });

  // Drawn once its stylesheet is there (never an unstyled bar).
  const draw = () => root.append(box);
  sheet.addEventListener("load", draw, { once: true });
  sheet.addEventListener("error", draw, { once: true });
  root.append(sheet);
  document.body.append(container);
})();
