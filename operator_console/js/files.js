// Files from the operator in Conversa: a photo (JPEG, PNG) or a PDF chosen
// with "Anexar" or dropped on the composer goes to the customer with the
// draft as its caption, and shows with its delivery mark like a message.
// The service tells the type from the file's bytes and applies the size
// limit (HANDOFF_UPLOAD_MAX_BYTES); its pt-BR refusal is shown here.
import { $, api } from "./api.js";

const TYPES = ["image/jpeg", "image/png", "application/pdf"];
const REFUSED_TYPE = "Tipo de arquivo não aceito. Envie uma foto (JPEG ou PNG) ou um PDF.";

export function createFileSender(state, { put, clearDraft }) {
  async function send(file) {
    const id = state.current;
    $("attendance-error").textContent = "";
    if (id === null || !file) return;
    if ($("note-mode").checked) {
      $("attendance-error").textContent = "Notas internas não levam arquivos. Desmarque \"Nota interna\" para enviar o arquivo ao cliente.";
      return;
    }
    if (!TYPES.includes(file.type)) {
      $("attendance-error").textContent = REFUSED_TYPE;
      return;
    }
    const caption = $("draft").value.trim();
    try {
      const { message } = await api(`/api/attendances/${id}/files`, {
        method: "POST", file, params: { name: file.name, caption, client_id: crypto.randomUUID() },
      });
      clearDraft(id);
      if (state.current === id) put(message);
    } catch (error) {
      $("attendance-error").textContent = error.message;
    }
  }

  $("attach").addEventListener("click", () => $("attach-file").click());
  $("attach-file").addEventListener("change", async () => {
    const [file] = $("attach-file").files;
    $("attach-file").value = "";
    await send(file);
  });
  const composer = $("composer");
  const dragging = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  composer.addEventListener("dragover", (event) => {
    if (!dragging(event)) return;
    event.preventDefault();
    composer.classList.add("dropping");
  });
  composer.addEventListener("dragleave", () => composer.classList.remove("dropping"));
  composer.addEventListener("drop", async (event) => {
    if (!dragging(event)) return;
    event.preventDefault();
    composer.classList.remove("dropping");
    await send(event.dataTransfer.files[0]);
  });
}
