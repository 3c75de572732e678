// What a citizen sent besides text, in Conversa: a photo shown, a voice note
// or audio with a player, a video, a document as a link with its name and
// size, a location as a map link; a file still on its way or that WhatsApp
// did not hand over said so (the service keeps trying).
import { el } from "./api.js";
import { formatNumber } from "./format.js";

const KIND = {
  image: "Foto", audio: "Áudio", video: "Vídeo", document: "Documento", sticker: "Figurinha",
};

export function formatSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${formatNumber(bytes)} B`;
  if (bytes < 1024 * 1024) return `${formatNumber(bytes / 1024)} KB`;
  return `${formatNumber(bytes / (1024 * 1024))} MB`;
}

function what(a) {
  return a.voice ? "Mensagem de voz" : KIND[a.kind] || "Arquivo";
}

function stored(a) {
  if (a.kind === "image" || a.kind === "sticker") {
    return el("a", { href: a.url, target: "_blank", rel: "noopener" },
      el("img", { class: "attachment-image", src: a.url, alt: what(a), loading: "lazy" }));
  }
  if (a.kind === "audio") return el("audio", { class: "attachment-audio", src: a.url, controls: "", preload: "metadata", "aria-label": what(a) });
  if (a.kind === "video") return el("video", { class: "attachment-video", src: a.url, controls: "", preload: "metadata", "aria-label": what(a) });
  const size = formatSize(a.size);
  return el("a", { class: "attachment-document", href: a.url, download: a.file_name || "" },
    `${a.file_name || what(a)}${size ? ` (${size})` : ""}`);
}

export function attachmentNode(a) {
  if (!a) return null;
  if (a.kind === "location") {
    return el("a", { class: "attachment-map", href: a.map_url, target: "_blank", rel: "noopener noreferrer" }, "Ver no mapa");
  }
  if (a.kind === "contacts") return null; // the names and phones are the message's text
  const box = el("div", { class: `attachment ${a.status}`, "data-attachment-status": a.status });
  if (a.status === "stored") box.append(stored(a));
  else if (a.status === "pending") box.append(`${what(a)}: carregando…`);
  else if (a.status === "erased") box.append(`${what(a)} apagado com os dados pessoais do titular.`);
  else if (a.status === "refused") box.append(`${what(a)} recusado: ${a.error || ""} (o cliente foi avisado)`);
  else box.append(`${what(a)}: Arquivo indisponível. O sistema tenta de novo sozinho.`);
  return box;
}
