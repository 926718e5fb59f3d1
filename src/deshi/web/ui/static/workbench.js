// The reviewer workbench: keyboard first, no page reloads. Items arrive as server-rendered
// HTML fragments; answers go back as JSON with the session's CSRF token.
(() => {
  "use strict";
  const root = document.getElementById("workbench");
  if (!root) return;
  const status = document.getElementById("workbench-status");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const processId = root.dataset.processId;
  let shownAt = 0;
  let busy = false;

  const item = () => root.querySelector("[data-item-id]");
  const search = () => root.querySelector("#label-search");

  function post(url, body) {
    const headers = { "X-CSRF-Token": csrf, "Accept": "text/html" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: "POST", headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  function fail(code) {
    const key = code === 403 ? "msgForbidden" : code === 401 ? "msgSignin" : "msgError";
    status.textContent = root.dataset[key];
    status.hidden = false;
  }

  async function show(response) {
    if (!response.ok) { fail(response.status); return; }
    status.hidden = true;
    root.innerHTML = await response.text();
    shownAt = performance.now();
  }

  async function run(task) {
    if (busy) return;
    busy = true;
    try { await task(); } catch (err) { fail(0); } finally { busy = false; }
  }

  const loadNext = () => run(async () => show(await post(`/ui/processes/${processId}/next`)));

  function answer(action, label) {
    const current = item();
    if (!current) return;
    const seconds = Math.round((performance.now() - shownAt) / 10) / 100;
    const answered = {
      id: current.dataset.itemId, action, name: labelName(label || current.dataset.suggested),
    };
    run(async () => {
      const body = { action, seconds };
      if (label) body.label = label;
      const done = await post(`/ui/items/${current.dataset.itemId}/answer`, body);
      if (!done.ok) { fail(done.status); return; }
      offerUndo(answered);
      await show(await post(`/ui/processes/${processId}/next`));
    });
  }

  // After each answer a notice names it and offers to take it back (u, or its button) for the
  // undo window; the item then comes back, held by this reviewer, to answer again. The server
  // decides: a late undo is refused (409) and the answer stands.
  const notice = document.getElementById("undo-notice");
  let undoable = null;  // { id, timer } of the last answer while it may be undone

  function labelName(label) {
    const named = [...root.querySelectorAll("#label-list button")]
      .find((b) => b.dataset.label === label);
    return named ? named.textContent.trim() : (label || "");
  }

  function forgetUndo() {
    if (undoable) clearTimeout(undoable.timer);
    undoable = null;
    if (notice) notice.hidden = true;
  }

  function offerUndo(answered) {
    if (!notice) return;
    forgetUndo();
    const template = answered.action === "escalate"
      ? notice.dataset.msgEscalated : notice.dataset.msgAnswered;
    notice.querySelector("#undo-text").textContent =
      template.replace("{id}", answered.id).replace("{label}", answered.name);
    notice.hidden = false;
    const timer = setTimeout(forgetUndo, Number(notice.dataset.undoSeconds) * 1000);
    undoable = { id: answered.id, timer };
  }

  function undo() {
    if (!undoable) return;
    const id = undoable.id;
    run(async () => {
      const response = await post(`/ui/items/${id}/undo`);
      forgetUndo();
      if (response.status === 409) {
        status.textContent = notice.dataset.msgTooLate;
        status.hidden = false;
        return;
      }
      await show(response);
    });
  }
  if (notice) notice.querySelector("#undo-button").addEventListener("click", undo);

  function pick(label) {
    const suggested = item() && item().dataset.suggested;
    answer(label === suggested ? "accept" : "correct", label);
  }

  function accept() {
    const current = item();
    if (!current) return;
    if (current.dataset.suggested) answer("accept");
    else if (search()) search().focus();
  }

  function skip() {
    const current = item();
    if (!current) return;
    run(async () => show(await post(
      `/ui/processes/${processId}/items/${current.dataset.itemId}/skip`)));
  }

  // A reply drafted from the department's documents, shown under the item; the item stays.
  // With a field's name, that drafting field's value is drafted instead, in the same slot.
  function draftReply(field) {
    const current = item();
    const slot = root.querySelector("#draft-slot");
    if (!current || !slot) return;
    run(async () => {
      slot.textContent = root.dataset.msgDrafting || "…";
      const body = field === undefined ? undefined : { field };
      const response = await post(`/ui/items/${current.dataset.itemId}/draft`, body);
      if (!response.ok) { slot.textContent = ""; fail(response.status); return; }
      slot.innerHTML = await response.text();
    });
  }

  // The shown draft's verdict (y use it, r edit it, x reject it). It is stored and learned
  // from, but it does not answer the item: the label still needs its own answer.
  const openDraft = () => root.querySelector("#draft-slot [data-draft-id]:not([data-judged])");
  function judgeDraft(verdict, text) {
    const box = openDraft();
    if (!box) return;
    run(async () => {
      const body = text === undefined ? { verdict } : { verdict, text };
      const response = await post(`/ui/drafts/${box.dataset.draftId}/verdict`, body);
      if (!response.ok) { fail(response.status); return; }
      status.hidden = true;
      box.dataset.judged = "1";
      box.querySelector("[data-draft-actions]").remove();
      box.querySelector(".draft-edit").hidden = true;
      box.querySelector("[data-draft-verdict]").innerHTML = await response.text();
    });
  }
  function editDraft() {
    const box = openDraft();
    if (!box) return;
    box.querySelector(".draft-edit").hidden = false;
    box.querySelector("#draft-edit-text").focus();
  }
  function closeDraftEditor(textarea) {
    textarea.closest(".draft-edit").hidden = true;
    textarea.blur();
  }
  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-draft-action]");
    if (!button) return;
    const action = button.dataset.draftAction;
    if (action === "edit") editDraft();
    else if (action === "save") judgeDraft("edit", root.querySelector("#draft-edit-text").value);
    else judgeDraft(action);
  });
  root.addEventListener("keydown", (event) => {
    if (event.target.id !== "draft-edit-text") return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      judgeDraft("edit", event.target.value);
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeDraftEditor(event.target);
    }
  });

  function visibleLabels() {
    return [...root.querySelectorAll("#label-list button")].filter((b) => !b.parentElement.hidden);
  }

  // Enter in the search submits only a deliberate choice: the single label left by the filter,
  // or one whose code or name was typed in full. An empty search never picks anything.
  function chosenLabel(query) {
    const wanted = query.trim().toLowerCase();
    if (!wanted) return null;
    const visible = visibleLabels();
    if (visible.length === 1) return visible[0].dataset.label;
    const exact = visible.find((b) => b.dataset.label.toLowerCase() === wanted
      || b.textContent.trim().toLowerCase() === wanted);
    return exact ? exact.dataset.label : null;
  }

  const help = document.getElementById("keys-help");
  function openHelp() { if (help && !help.open) help.showModal(); }
  const helpButton = document.getElementById("keys-open");
  if (helpButton) helpButton.addEventListener("click", openHelp);

  root.addEventListener("input", (event) => {
    if (event.target.id !== "label-search") return;
    const query = event.target.value.trim().toLowerCase();
    for (const button of root.querySelectorAll("#label-list button")) {
      const name = button.textContent.trim().toLowerCase();
      button.parentElement.hidden =
        !button.dataset.label.toLowerCase().includes(query) && !name.includes(query);
    }
  });

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.label) pick(button.dataset.label);
    else if (button.dataset.action === "accept") accept();
    else if (button.dataset.action === "escalate") answer("escalate");
    else if (button.dataset.action === "skip") skip();
    else if (button.dataset.action === "draft") draftReply();
    else if (button.dataset.action === "draft-field") draftReply(button.dataset.field);
    else if (button.dataset.action === "refresh") loadNext();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (help && help.open) return;  // the dialog closes itself on Esc
    const target = event.target;
    if (target.id === "label-search") {
      if (event.key === "Enter") {
        event.preventDefault();
        const label = chosenLabel(target.value);
        if (label) pick(label);
      } else if (event.key === "Escape") {
        target.value = "";
        target.dispatchEvent(new Event("input", { bubbles: true }));
        target.blur();
      }
      return;
    }
    if (target.closest("input, textarea, select, summary")) return;
    if (target.closest("button, a") && event.key === "Enter") return;  // native activation
    const alternatives = root.querySelectorAll(".alternatives button");
    if (event.key === "Enter" || event.key === "a") { event.preventDefault(); accept(); }
    else if (/^[1-5]$/.test(event.key) && alternatives[Number(event.key) - 1]) {
      event.preventDefault();
      pick(alternatives[Number(event.key) - 1].dataset.label);
    }
    else if (event.key === "/") { event.preventDefault(); if (search()) search().focus(); }
    else if (event.key === "e") { event.preventDefault(); answer("escalate"); }
    else if (event.key === "u") { event.preventDefault(); undo(); }
    else if (event.key === "s") { event.preventDefault(); skip(); }
    else if (event.key === "d") { event.preventDefault(); draftReply(); }
    else if (event.key === "y" && openDraft()) { event.preventDefault(); judgeDraft("accept"); }
    else if (event.key === "r" && openDraft()) { event.preventDefault(); editDraft(); }
    else if (event.key === "x" && openDraft()) { event.preventDefault(); judgeDraft("reject"); }
    else if (event.key === "?") { event.preventDefault(); openHelp(); }
  });

  loadNext();
})();
