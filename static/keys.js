// Keyboard shortcuts of the agent's pages (templates/web): a file, not an inline script, so the
// pages' Content-Security-Policy (script-src 'self', app/security_headers.py) allows it.
// They only follow the page's own links and submit its own forms: what a click would do.
//   n  next thread: the link marked data-next (the queue's most urgent, the thread after this)
//   a  approve: the reply's approve form (data-approve), as its button would
//   /  search: the field marked data-key-focus
"use strict";

document.addEventListener("keydown", (event) => {
  // Typing in a field, or a shortcut of the browser, is not for us.
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement &&
      (target.isContentEditable || target.closest("input, textarea, select"))) return;

  if (event.key === "n") {
    const next = document.querySelector("a[data-next]");
    if (next) { event.preventDefault(); next.click(); }
  } else if (event.key === "a") {
    const approve = document.querySelector("form[data-approve]");
    if (approve) { event.preventDefault(); approve.requestSubmit(); }
  } else if (event.key === "/") {
    const search = document.querySelector("[data-key-focus]");
    if (search) { event.preventDefault(); search.focus(); }
  }
});
