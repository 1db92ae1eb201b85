// The page's status line (role=status), for the outcome of an action.
export function notice(text, kind = "info") {
  const el = document.querySelector("[data-notice]");
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
}
