// TriageBoard's only script: live status on a submission page, drag and drop and upload
// progress on the upload page, a confirmation before revoking a token. Every page works
// without it.
"use strict";

(function liveStatus() {
  const status = document.getElementById("status");
  if (!status || !status.dataset.poll) return;
  const hint = document.getElementById("live-hint");
  if (hint) hint.hidden = false;
  const poll = async () => {
    try {
      const response = await fetch(status.dataset.poll, { credentials: "same-origin" });
      if (response.ok) {
        const body = await response.json();
        status.textContent = body.status;
        if (body.status === "scored" || body.status === "failed") {
          window.location.reload();
          return;
        }
      }
    } catch (_) { /* try again */ }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1000);
})();

(function confirmations() {
  // Forms that undo something ask first (revoking a token). Without the script they post
  // at once, as every form does.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();

(function upload() {
  const form = document.getElementById("upload-form");
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");
  const progress = document.getElementById("progress");
  if (!form || !drop || !input) return;
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) input.files = event.dataTransfer.files;
  });
  const button = form.querySelector("button[type=submit]");
  let sending = false;
  form.addEventListener("submit", (event) => {
    // One upload per click: a second click while one is on its way does nothing.
    if (sending) {
      event.preventDefault();
      return;
    }
    sending = true;
    if (button) {
      button.disabled = true;
      button.textContent = "Uploading…";
    }
    if (!window.XMLHttpRequest || !progress) return;
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    progress.hidden = false;
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    });
    request.addEventListener("load", () => {
      if (request.responseURL && request.responseURL !== window.location.href) {
        window.location.href = request.responseURL;
      } else {
        document.open();
        document.write(request.responseText);
        document.close();
      }
    });
    request.addEventListener("error", () => { form.submit(); });
    request.send(new FormData(form));
  });
})();
