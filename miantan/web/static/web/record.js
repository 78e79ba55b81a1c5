// The record page, live (PRODUCT.md C5). Section forms save a moment after typing stops, on
// the block version they were rendered with: over the page's WebSocket when the live room is
// connected, else by posting the form. What the other side saves arrives as the section's new
// HTML; a block with unsaved text is kept as typed, and if the other side changed it meanwhile
// both texts are shown (keep mine / take theirs). Text typed while the connection is down is
// kept and sent again once it is back. Without a WebSocket the page asks for changes over plain
// requests that the server holds until there is one (long polling), and says so.
(function () {
  "use strict";
  var page = document.querySelector("[data-testid=record][data-live]");
  var DELAY = 700;
  var timers = new WeakMap();
  var socket = null;
  var live = false;
  var attempts = 0;
  var polling = null;
  var stamp = "";
  var closedForGood = false;
  var people = {};

  function text(name) {
    return (page && page.dataset[name]) || "";
  }

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function blockOf(form) {
    return form.closest(".record-block");
  }

  function status(form, message, isError) {
    var element = form.querySelector("[data-autosave-status]");
    if (element) {
      element.textContent = message;
      element.classList.toggle("warn-text", Boolean(isError));
    }
  }

  function roomStatus(message, kind) {
    var element = document.querySelector("[data-live-status]");
    if (element) {
      element.textContent = message;
      element.dataset.state = kind;
    }
  }

  function fieldsOf(form) {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken" && typeof value === "string") {
        pairs.push([name, value]);
      }
    });
    return pairs;
  }

  // --- saving ---------------------------------------------------------------------------------

  function markDirty(form) {
    form.dataset.dirty = "1";
    form.dataset.edits = String(Number(form.dataset.edits || 0) + 1);
    window.clearTimeout(timers.get(form));
    timers.set(
      form,
      window.setTimeout(function () {
        save(form);
      }, DELAY)
    );
  }

  function save(form) {
    if (form.dataset.conflict === "1") {
      return;
    }
    var version = Number(form.querySelector("[data-version-input]").value);
    var block = Number(blockOf(form).dataset.blockId);
    form.dataset.sentEdits = form.dataset.edits || "0";
    if (live && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "save", block: block, version: version, fields: fieldsOf(form) }));
      return;
    }
    if (!navigator.onLine || (page && !polling && !live && attempts > 0)) {
      status(form, text("liveUnsaved"), true); // kept; sent again once the connection is back
      return;
    }
    post(form);
  }

  function post(form) {
    var body = new FormData(form);
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
        form.inflight = null;
        var answer = result.answer;
        if (result.ok) {
          saved(form, answer.version, answer.saved);
        } else if (result.status === 409 && answer.conflict) {
          conflict(form, answer.message, answer.theirs, answer.version);
        } else {
          var errors = answer.errors ? Object.values(answer.errors).join(" ") : answer.message;
          status(form, errors || "", true);
        }
      })
      .catch(function () {
        form.inflight = null;
        status(form, text("liveUnsaved"), true);
      });
  }

  function saved(form, version, when) {
    form.querySelector("[data-version-input]").value = version;
    blockOf(form).dataset.version = version;
    if (form.dataset.edits === form.dataset.sentEdits) {
      delete form.dataset.dirty;
    }
    status(form, when ? text("liveSaved").replace("%(time)s", when) : "", false);
  }

  function conflict(form, message, theirs, version) {
    form.dataset.conflict = "1";
    form.dataset.theirVersion = version;
    var block = blockOf(form);
    var box = block.querySelector(".conflict-live");
    if (!box) {
      box = document.createElement("div");
      box.className = "card error conflict conflict-live";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "conflict");
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = message;
    box.appendChild(p);
    var heading = document.createElement("p");
    heading.className = "sub";
    heading.textContent = text("liveTheirs");
    box.appendChild(heading);
    var list = document.createElement("ul");
    list.className = "plain-list theirs";
    (theirs || []).forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    box.appendChild(list);
    var actions = document.createElement("div");
    actions.className = "step-actions";
    var keep = document.createElement("button");
    keep.type = "button";
    keep.className = "primary";
    keep.dataset.testid = "keep-mine";
    keep.textContent = text("liveKeepMine");
    keep.addEventListener("click", function () {
      // Mine, knowing theirs: saved on the version they left.
      form.querySelector("[data-version-input]").value = form.dataset.theirVersion;
      delete form.dataset.conflict;
      box.remove();
      save(form);
    });
    var take = document.createElement("button");
    take.type = "button";
    take.className = "secondary";
    take.dataset.testid = "take-theirs";
    take.textContent = text("liveTakeTheirs");
    take.addEventListener("click", function () {
      delete form.dataset.conflict;
      delete form.dataset.dirty;
      box.remove();
      refreshAll();
    });
    actions.appendChild(take);
    actions.appendChild(keep);
    box.appendChild(actions);
    status(form, message, true);
  }

  // --- what the room sends ------------------------------------------------------------------

  function applySection(payload) {
    var current = document.getElementById("section-" + payload.section);
    if (!current) {
      return;
    }
    var holder = document.createElement("template");
    holder.innerHTML = payload.html.trim();
    var fresh = holder.content.firstElementChild;
    if (!fresh) {
      return;
    }
    fresh.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (input) {
      input.value = csrf();
    });
    current.querySelectorAll(".record-block").forEach(function (block) {
      var id = block.dataset.blockId;
      var form = block.querySelector("form[data-autosave]");
      var info = payload.blocks[id] || {};
      var replacement = fresh.querySelector('.record-block[data-block-id="' + id + '"]');
      if (form && form.dataset.dirty === "1") {
        var mine = Number(form.querySelector("[data-version-input]").value);
        if (info.version > mine && form.dataset.conflict !== "1") {
          conflict(form, text("liveConflict"), info.lines, info.version);
        }
        if (replacement) {
          replacement.replaceWith(block); // keep what is being typed
        }
      }
    });
    current.replaceWith(fresh);
  }

  function refreshAll() {
    fetch(page.dataset.pollUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.status === 403 || response.status === 404) {
          cutOff();
          return null;
        }
        return response.json();
      })
      .then(function (answer) {
        if (!answer) {
          return;
        }
        stamp = answer.stamp;
        if (answer.state && answer.state !== page.dataset.state) {
          window.location.reload();
          return;
        }
        (answer.sections || []).forEach(applySection);
      })
      .catch(function () {});
  }

  // The polling fallback is long polling: each request waits on the server until the room
  // hears of a change (or about 25 s pass), and the next one goes out as soon as it answers.
  // A server that cannot wait (answer.waited false) is asked again every poll-seconds.
  function poll() {
    if (!polling || closedForGood) {
      return;
    }
    var round = polling;
    var url = page.dataset.pollUrl + "?wait=25&stamp=" + encodeURIComponent(stamp);
    var controller = "AbortController" in window ? new AbortController() : null;
    round.controller = controller;
    var pause = Number(page.dataset.pollSeconds || 2) * 1000;
    fetch(url, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        if (response.status === 403 || response.status === 404) {
          cutOff();
          return null;
        }
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (answer) {
        if (!answer || polling !== round) {
          return;
        }
        stamp = answer.stamp;
        if (answer.state && answer.state !== page.dataset.state) {
          window.location.reload();
          return;
        }
        (answer.sections || []).forEach(applySection);
        resendDirty();
        round.timer = window.setTimeout(poll, answer.waited ? 0 : pause);
      })
      .catch(function () {
        if (polling === round) {
          round.timer = window.setTimeout(poll, pause);
        }
      });
  }

  function stopPolling() {
    if (polling) {
      window.clearTimeout(polling.timer);
      if (polling.controller) {
        polling.controller.abort();
      }
      polling = null;
    }
  }

  function startPolling() {
    if (polling || closedForGood) {
      return;
    }
    roomStatus(text("livePolling"), "polling");
    polling = { timer: null, controller: null };
    polling.timer = window.setTimeout(poll, 0);
  }

  function cutOff() {
    closedForGood = true;
    live = false;
    stopPolling();
    roomStatus(text("liveGone"), "gone");
  }

  function showPeople() {
    var element = document.querySelector("[data-live-people]");
    if (!element) {
      return;
    }
    var names = Object.keys(people).map(function (key) {
      var person = people[key];
      var where = person.block ? document.querySelector('.record-block[data-block-id="' + person.block + '"]') : null;
      var section = where ? where.closest(".record-section").querySelector("h2") : null;
      return section ? person.name + " · " + section.textContent : person.name;
    });
    element.textContent = names.length ? text("liveHere") + " " + names.join("，") : "";
    document.querySelectorAll(".record-block").forEach(function (block) {
      var here = Object.keys(people).some(function (key) {
        return String(people[key].block) === block.dataset.blockId;
      });
      block.classList.toggle("other-here", here);
    });
  }

  function resendDirty() {
    document.querySelectorAll("form[data-autosave][data-dirty='1']").forEach(function (form) {
      if (form.dataset.conflict !== "1") {
        save(form);
      }
    });
  }

  function receive(message) {
    if (message.type === "saved") {
      var block = document.querySelector('.record-block[data-block-id="' + message.block + '"]');
      var form = block && block.querySelector("form[data-autosave]");
      if (form) {
        saved(form, message.version, message.saved);
      }
    } else if (message.type === "conflict") {
      var conflicted = document.querySelector('.record-block[data-block-id="' + message.block + '"] form[data-autosave]');
      if (conflicted) {
        conflict(conflicted, message.message, message.theirs, message.version);
      }
    } else if (message.type === "invalid" || message.type === "error") {
      var bad = document.querySelector('.record-block[data-block-id="' + message.block + '"] form[data-autosave]');
      if (bad) {
        status(bad, message.errors ? Object.values(message.errors).join(" ") : message.message, true);
      }
    } else if (message.type === "section") {
      applySection(message);
      showPeople();
    } else if (message.type === "state") {
      window.location.reload();
    } else if (message.type === "presence") {
      if (message.event === "left") {
        delete people[message.employee];
      } else {
        people[message.employee] = message;
      }
      showPeople();
    } else if (message.type === "cue") {
      showCue(message);
    } else if (message.type === "pong") {
      lastPong = Date.now();
    } else if (message.type === "flagged") {
      refreshAll();
    }
  }

  // An emotion cue, for the interviewer alone: a sentence and one or two empathy scripts that
  // one click puts into their private notes. Shown, never kept.
  function showCue(message) {
    var panel = document.querySelector("[data-cue-panel]");
    if (!panel) {
      return;
    }
    var body = panel.querySelector("[data-cue-body]");
    body.textContent = "";
    var sentence = document.createElement("p");
    sentence.textContent = message.message;
    sentence.dataset.testid = "cue";
    sentence.dataset.label = message.label;
    body.appendChild(sentence);
    (message.scripts || []).forEach(function (script) {
      var form = document.createElement("form");
      form.method = "post";
      form.action = panel.dataset.insertUrl.replace("/0/insert/", "/" + script.id + "/insert/");
      form.className = "cue-script";
      var token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrfmiddlewaretoken";
      token.value = csrf();
      form.appendChild(token);
      var quote = document.createElement("p");
      quote.textContent = "“" + script.text + "”";
      form.appendChild(quote);
      var button = document.createElement("button");
      button.type = "submit";
      button.className = "secondary";
      button.textContent = panel.dataset.insertLabel;
      form.appendChild(button);
      body.appendChild(form);
    });
    panel.hidden = false;
  }

  document.addEventListener("click", function (event) {
    if (event.target.matches("[data-cue-dismiss]")) {
      var panel = event.target.closest("[data-cue-panel]");
      panel.hidden = true;
      panel.querySelector("[data-cue-body]").textContent = "";
    }
  });

  function connect() {
    if (closedForGood || !("WebSocket" in window)) {
      startPolling();
      return;
    }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var lang = document.documentElement.lang || "";
    var opened = false;
    socket = new WebSocket(scheme + window.location.host + page.dataset.live + "?lang=" + encodeURIComponent(lang));
    var giveUp = window.setTimeout(function () {
      if (!opened) {
        socket.close();
      }
    }, 5000);
    socket.addEventListener("open", function () {
      opened = true;
      lastPong = Date.now();
      window.clearTimeout(giveUp);
      live = true;
      attempts = 0;
      stopPolling();
      roomStatus(text("liveOn"), "live");
      refreshAll(); // what changed while away
      resendDirty();
    });
    socket.addEventListener("message", function (event) {
      receive(JSON.parse(event.data));
    });
    socket.addEventListener("close", function (event) {
      window.clearTimeout(giveUp);
      live = false;
      if (event.code === 4403) {
        cutOff();
        return;
      }
      attempts += 1;
      if (attempts >= 3 && !opened) {
        startPolling();
      } else {
        roomStatus(text("liveReconnecting"), "reconnecting");
      }
      window.setTimeout(connect, Math.min(10000, 500 * Math.pow(2, attempts)));
    });
  }

  // --- the page -------------------------------------------------------------------------------

  document.addEventListener("input", function (event) {
    var form = event.target.closest("form[data-autosave]");
    if (form) {
      markDirty(form);
    }
  });

  document.addEventListener("focusin", function (event) {
    var block = event.target.closest(".record-block");
    if (block && live && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "focus", block: Number(block.dataset.blockId) }));
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("form[data-autosave]")) {
      window.clearTimeout(timers.get(form));
      if (form.inflight) {
        // Let the autosave finish first: the button then saves on the version it produced.
        event.preventDefault();
        var submitter = event.submitter;
        form.inflight.then(function () {
          form.requestSubmit(submitter);
        });
      }
    } else if (form.matches(".flag-form") && live && socket && socket.readyState === WebSocket.OPEN) {
      event.preventDefault();
      var block = Number(form.closest(".record-block").dataset.blockId);
      socket.send(JSON.stringify({ type: "flag", block: block, line: form.querySelector("input[name=line]").value }));
    }
  });

  // A dropped network does not always close a WebSocket at once: the browser's offline event
  // and an unanswered ping both count as a drop (the room is joined again when it is back).
  window.addEventListener("offline", function () {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.close();
    }
  });
  window.addEventListener("online", function () {
    if (!live) {
      resendDirty();
    }
  });
  var lastPong = Date.now();
  window.setInterval(function () {
    if (!live || !socket || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    if (Date.now() - lastPong > 25000) {
      socket.close();
      return;
    }
    socket.send(JSON.stringify({ type: "ping" }));
  }, 10000);

  if (page && page.dataset.state !== "confirmed") {
    connect();
  }
})();
