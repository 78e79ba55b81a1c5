// Autosave of the record's section forms: a form marked data-autosave is posted a moment
// after typing stops, with the block version it was rendered with. A refused save (the other
// side saved first) stops autosaving that form and shows their text; what was typed stays.
(function () {
  "use strict";
  var DELAY = 1500;

  function status(form, text, isError) {
    var element = form.querySelector("[data-autosave-status]");
    if (element) {
      element.textContent = text;
      element.classList.toggle("warn-text", Boolean(isError));
    }
  }

  function showConflict(form, answer) {
    var box = form.parentNode.querySelector(".conflict-live");
    if (!box) {
      box = document.createElement("div");
      box.className = "card error conflict conflict-live";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "conflict");
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = "";
    var message = document.createElement("p");
    message.textContent = answer.message;
    box.appendChild(message);
    var list = document.createElement("ul");
    list.className = "plain-list theirs";
    (answer.theirs || []).forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function save(form) {
    if (form.dataset.autosave === "stopped") {
      return;
    }
    var body = new FormData(form);
    form.dataset.saving = "1";
    form.inflight = fetch(form.action, {
      method: "POST",
      body: body,
      headers: { "X-Autosave": "1", "X-Requested-With": "fetch" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          return { ok: response.ok, status: response.status, answer: answer };
        });
      })
      .then(function (result) {
        delete form.dataset.saving;
        form.inflight = null;
        var answer = result.answer;
        if (result.ok) {
          form.querySelector("[data-version-input]").value = answer.version;
          form.closest("[data-version]").dataset.version = answer.version;
          status(form, answer.saved, false);
        } else if (result.status === 409 && answer.conflict) {
          // Their text is shown; the next explicit save is based on it.
          form.dataset.autosave = "stopped";
          form.querySelector("[data-version-input]").value = answer.version;
          showConflict(form, answer);
          status(form, answer.message, true);
        } else {
          var errors = answer.errors ? Object.values(answer.errors).join(" ") : answer.message;
          status(form, errors || "", true);
        }
      })
      .catch(function () {
        delete form.dataset.saving;
        form.inflight = null;
        status(form, form.dataset.offline || "", true);
      });
  }

  document.querySelectorAll("form[data-autosave]").forEach(function (form) {
    var timer = null;
    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        save(form);
      }, DELAY);
    });
    form.addEventListener("submit", function (event) {
      window.clearTimeout(timer);
      if (form.inflight) {
        // Let the autosave finish first: the button then saves on the version it produced.
        event.preventDefault();
        var submitter = event.submitter;
        form.inflight.then(function () {
          form.requestSubmit(submitter);
        });
      }
    });
  });
})();
