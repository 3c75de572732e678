// The tab Início (O9, O10): the knowledge base, filters, REGISTRAR, and the
// article into the reply ("Inserir na resposta", "Inserir e registrar").
import { $, el, api } from "./api.js";

// Paragraphs are separated by blank lines; single line breaks are just wrapping.
const articleText = (article) => article.body.replace(/([^\n])\n(?!\n)/g, "$1 ");

// insertIntoReply(text): the Conversa tab with the text in the composer.
export function createKnowledge(state, insertIntoReply) {
  let articles = [];
  let selected = null;

  async function load() {
    const params = { category: $("kb-category").value, q: $("kb-text").value, attendance_id: state.current };
    const data = await api("/api/kb/articles", { params });
    const chosen = $("kb-category").value;
    $("kb-category").replaceChildren(el("option", { value: "", text: "Todas" }),
      ...data.categories.map((c) => el("option", { value: c, text: c })));
    $("kb-category").value = chosen;
    articles = data.articles;
    render();
  }

  function render() {
    $("kb-list").replaceChildren(...articles.map((a) =>
      el("li", {}, el("button", { type: "button", class: "link", "aria-current": String(selected?.id === a.id), onclick: () => openArticle(a) },
        el("span", { text: a.title }), el("span", { class: "muted", text: ` · ${a.category}` }),
        a.registered ? el("span", { class: "registered", text: " ✓ Registrado" }) : null))));
    if (!articles.length) $("kb-list").replaceChildren(el("li", { class: "muted", text: "Nenhuma informação encontrada." }));
  }

  function openArticle(article) {
    selected = article;
    $("kb-article").hidden = false;
    $("kb-article-category").textContent = article.category;
    $("kb-article-title").textContent = article.title;
    $("kb-article-body").textContent = articleText(article);
    $("kb-status").textContent = article.registered ? "Informação já registrada neste atendimento." : "";
    for (const id of ["kb-register", "kb-insert", "kb-insert-register"]) $(id).disabled = !state.mine.has(state.current);
    render();
  }

  // Whether the article is registered now.
  async function register() {
    try {
      await api(`/api/attendances/${state.current}/registrations`, { method: "POST", body: { article_id: selected.id } });
      selected.registered = true;
      $("kb-status").textContent = "Informação registrada neste atendimento.";
      render();
      return true;
    } catch (error) {
      $("kb-status").textContent = "";
      $("attendance-error").textContent = error.message;
      return false;
    }
  }

  $("kb-register").addEventListener("click", () => selected && register());
  $("kb-insert").addEventListener("click", () => selected && insertIntoReply(articleText(selected)));
  $("kb-insert-register").addEventListener("click", async () => {
    if (selected && await register()) await insertIntoReply(articleText(selected));
  });
  $("kb-category").addEventListener("change", load);
  let timer = null;
  $("kb-text").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 250); });

  return {
    async show() {
      selected = null;
      $("kb-article").hidden = true;
      await load();
    },
  };
}
