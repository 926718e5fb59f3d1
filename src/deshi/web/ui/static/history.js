// The history pages: a form marked data-busy shows its progress bar and disables its buttons
// once submitted, while the server imports (or retrains) and the browser waits for the answer.
document.querySelectorAll("form[data-busy]").forEach((form) => {
  form.addEventListener("submit", () => {
    form.querySelectorAll("[data-progress]").forEach((el) => { el.hidden = false; });
    setTimeout(() => form.querySelectorAll("button").forEach((b) => { b.disabled = true; }), 0);
  });
});
