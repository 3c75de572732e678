// Talking to the handoff service: REST with the session cookie (HttpOnly: this
// script never sees the session token) plus the session's CSRF token on every
// request, socket.io calls with acks.

export const session = {
  csrf: null, // from the login answer or GET /api/me; kept in memory only
  onExpired: () => {},
};

export class ApiError extends Error {
  constructor(message, status, field) {
    super(message);
    this.status = status;
    this.field = field || null;
  }
}

// ``file`` (a File) is sent as the body itself, with its own type.
export async function api(path, { method = "GET", body, params, file } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        "Content-Type": file ? file.type || "application/octet-stream" : "application/json",
        "X-CSRF-Token": session.csrf || "",
      },
      body: file || (body === undefined ? undefined : JSON.stringify(body)),
    });
  } catch (_) {
    throw new ApiError("Sem conexão com o servidor. Tente novamente.", 0);
  }
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && session.csrf) session.onExpired();
  if (!response.ok) {
    const error = data.error || {};
    throw new ApiError(error.message || `Erro ${response.status}`, response.status, error.field);
  }
  return data;
}

export function call(socket, event, data = {}) {
  return new Promise((resolve, reject) => {
    if (!socket || !socket.connected) {
      reject(new ApiError("Sem conexão com o servidor. Tente novamente.", 0));
      return;
    }
    socket.timeout(15000).emit(event, data, (timeout, ack) => {
      if (timeout) reject(new ApiError("Sem resposta do servidor. Tente novamente.", 0));
      else if (!ack.ok) reject(new ApiError(ack.error.message, 400, ack.error.field));
      else resolve(ack);
    });
  });
}

export function el(tag, props = {}, ...children) {
  // Builds DOM nodes; text always goes in as text, never as HTML.
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") { node.textContent = value; node.dir = "auto"; }
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// A sentence of ours with values in it, as nodes for el(): each value in its
// own <bdi>, so right-to-left text in a name cannot reorder the words and
// dates around it (issue 16, finding 10). Usage: isolate`Cliente: ${name}`.
export function isolate(strings, ...values) {
  const nodes = [strings[0]];
  values.forEach((value, i) => nodes.push(el("bdi", { text: String(value ?? "") }), strings[i + 1]));
  return nodes.filter((node) => node !== "");
}

export const $ = (id) => document.getElementById(id);

// A form's errors: each in the form's [data-field="<field>"] node, which the
// field names in its aria-describedby (index.html); "" is the form's own
// place for an error of no field (or of a field it does not have).
export function clearFieldErrors(form) {
  for (const node of form.querySelectorAll("[data-field]")) node.textContent = "";
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
}

export function showFieldError(form, field, message) {
  const place = form.querySelector(`[data-field="${field || ""}"]`) || form.querySelector('[data-field=""]');
  place.textContent = message;
  if (field && form.elements[field] instanceof HTMLElement) form.elements[field].setAttribute("aria-invalid", "true");
}

export function confirmAction(text, buttonLabel) {
  // The console's one confirmation dialog; resolves true when confirmed.
  $("confirm-text").textContent = text;
  $("confirm-button").textContent = buttonLabel;
  $("confirm-dialog").returnValue = "";
  $("confirm-dialog").showModal();
  return new Promise((resolve) => {
    $("confirm-dialog").addEventListener("close", () => resolve($("confirm-dialog").returnValue === "yes"), { once: true });
  });
}

// Saves ``blob`` as the file ``name`` (an export, a report).
export function download(blob, name) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

export const CHANNELS = { socketio: "Chat", whatsapp: "WhatsApp" };
