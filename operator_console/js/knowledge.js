// The tab Início (O9, O10): the knowledge base, filters, REGISTRAR.
import { $, el, api } from "./api.js";

export function createKnowledge(state) {
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
    // Paragraphs are separated by blank lines; single line breaks are just wrapping.
    $("kb-article-body").textContent = article.body.replace(/([^\n])\n(?!\n)/g, "$1 ");
    $("kb-status").textContent = article.registered ? "Informação já registrada neste atendimento." : "";
    $("kb-register").disabled = !state.mine.has(state.current);
    render();
  }

  $("kb-register").addEventListener("click", async () => {
    if (!selected) return;
    try {
      await api(`/api/attendances/${state.current}/registrations`, { method: "POST", body: { article_id: selected.id } });
      selected.registered = true;
      $("kb-status").textContent = "Informação registrada neste atendimento.";
      render();
    } catch (error) {
      $("kb-status").textContent = "";
      $("attendance-error").textContent = error.message;
    }
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
