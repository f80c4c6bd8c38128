/* The projects and credentials pages: every change is a call to the REST API (S0.api), and a
 * new secret (a project's signing secret, a credential's API secret) is shown once, from the
 * API's answer, in #secret-dialog; closing it reloads the page, which never holds a secret.
 * Each row carries what the dialogs need in data-* attributes.
 */
(function () {
  "use strict";

  function rowOf(el) {
    return el.closest("tr");
  }

  function reload() {
    window.location.reload();
  }

  /** The error of a call made from a dialog, shown inside it (the page's #errors is behind
   * the modal dialog); elsewhere in #errors. */
  function showErrorIn(dialog, err) {
    if (!dialog || !dialog.open) {
      S0.showError(err);
      return;
    }
    var box = dialog.querySelector(".dialog-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "dialog-error";
      box.setAttribute("role", "alert");
      dialog.querySelector("h2").insertAdjacentElement("afterend", box);
    }
    box.textContent = (err && err.status ? err.status + ": " : "") + (err && err.message ? err.message : String(err));
  }

  function clearDialogError(dialog) {
    var box = dialog.querySelector(".dialog-error");
    if (box) {
      box.remove();
    }
  }

  function openDialog(id) {
    var dialog = document.getElementById(id);
    clearDialogError(dialog);
    dialog.showModal();
    return dialog;
  }

  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (button) {
      button.disabled = on;
    });
  }

  /** Send `call()` (a promise), keeping the form's buttons disabled meanwhile. */
  function submitting(form, call, done) {
    busy(form, true);
    S0.clearError();
    call().then(function (data) {
      busy(form, false);
      done(data);
    }, function (err) {
      busy(form, false);
      showErrorIn(form.closest("dialog"), err);
    });
  }

  // -- the secret, shown once --------------------------------------------------------------

  function copy(input, button) {
    var text = input.value;
    var copied = function () {
      button.textContent = "Copied";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(copied, function () {
        input.select();
      });
      return;
    }
    input.select();
    try {
      if (document.execCommand("copy")) {
        copied();
      }
    } catch (e) {
      /* selected: the viewer copies it by hand */
    }
  }

  function secretField(label, value, id) {
    var wrap = document.createElement("div");
    wrap.className = "secret-field";
    var name = document.createElement("label");
    name.setAttribute("for", id);
    name.textContent = label;
    var input = document.createElement("input");
    input.type = "text";
    input.readOnly = true;
    input.id = id;
    input.className = "mono";
    input.value = value;
    input.size = Math.min(Math.max(value.length, 20), 70);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-small";
    button.textContent = "Copy";
    button.addEventListener("click", function () {
      copy(input, button);
    });
    wrap.appendChild(name);
    wrap.appendChild(input);
    wrap.appendChild(button);
    return wrap;
  }

  /** `fields`: [[label, value, element id], ...]. */
  function showSecret(title, note, fields) {
    var dialog = document.getElementById("secret-dialog");
    document.getElementById("secret-title").textContent = title;
    document.getElementById("secret-note").textContent = note;
    var box = document.getElementById("secret-fields");
    box.textContent = "";
    fields.forEach(function (f) {
      box.appendChild(secretField(f[0], f[1], f[2]));
    });
    dialog.addEventListener("close", reload, {once: true});
    dialog.showModal();
  }

  // -- projects ----------------------------------------------------------------------------

  var currentRow = null;

  function createProject(form) {
    var body = S0.formJSON(form);
    submitting(form, function () {
      return S0.api("POST", "/projects", body);
    }, function (project) {
      form.reset();
      showSecret("Project " + project.name + " created (id " + project.id + ")",
                 "Callbacks of its jobs are signed with this secret (HMAC-SHA256).",
                 [["Signing secret", project.signing_secret, "secret-value"]]);
    });
  }

  function openRename(row) {
    currentRow = row;
    document.getElementById("rename-name").value = row.dataset.name;
    document.getElementById("rename-description").value = row.dataset.description;
    openDialog("rename-dialog");
  }

  function saveRename(form) {
    var body = {name: document.getElementById("rename-name").value,
                description: document.getElementById("rename-description").value};
    submitting(form, function () {
      return S0.api("PATCH", "/projects/" + currentRow.dataset.projectId, body);
    }, reload);
  }

  function openRotate(row) {
    currentRow = row;
    document.getElementById("rotate-project-name").textContent = row.dataset.name;
    document.getElementById("rotate-grace").value = "";
    openDialog("rotate-dialog");
  }

  function graceNote(project) {
    var until = project.previous_signing_secret_expires_at;
    if (!until) {
      return "The old secret no longer signs callbacks.";
    }
    return "The old secret still signs callbacks (a second signature) until " + until +
      " (" + S0.relTime(Date.parse(until) / 1000) + ").";
  }

  function saveRotate(form) {
    var body = {rotate_signing_secret: true};
    var grace = document.getElementById("rotate-grace").value;
    if (grace !== "") {
      body.grace_seconds = /^\d+$/.test(grace) ? Number(grace) : grace;
    }
    submitting(form, function () {
      return S0.api("PATCH", "/projects/" + currentRow.dataset.projectId, body);
    }, function (project) {
      form.closest("dialog").close();
      showSecret("New signing secret of " + project.name, graceNote(project),
                 [["Signing secret", project.signing_secret, "secret-value"]]);
    });
  }

  function openSettings(row) {
    currentRow = row;
    document.getElementById("settings-title").textContent = "Settings of " + row.dataset.name;
    document.getElementById("settings-notification-url").value = row.dataset.notificationUrl;
    document.getElementById("settings-notification-format").value = row.dataset.notificationFormat || "json";
    document.getElementById("settings-concurrency").value = row.dataset.rateConcurrency;
    document.getElementById("settings-per-second").value = row.dataset.ratePerSecond;
    openDialog("settings-dialog");
  }

  function numberOrNull(id) {
    var value = document.getElementById(id).value;
    return value === "" ? null : Number(value);
  }

  function saveSettings(form) {
    var url = document.getElementById("settings-notification-url").value.trim();
    var concurrency = numberOrNull("settings-concurrency");
    var perSecond = numberOrNull("settings-per-second");
    var body = {
      notification_url: url === "" ? null : url,
      notification_format: document.getElementById("settings-notification-format").value,
      rate_limit: concurrency === null && perSecond === null ? null
        : {concurrency: concurrency, per_second: perSecond}
    };
    submitting(form, function () {
      return S0.api("PATCH", "/projects/" + currentRow.dataset.projectId, body);
    }, reload);
  }

  function deleteProject(row) {
    var jobs = row.dataset.jobs;
    var name = row.dataset.name;
    var text;
    if (jobs === "0") {
      text = "Delete project " + name + "? It has no jobs.";
    } else if (jobs === "") {
      text = "Delete project " + name + " and every job in it?";
    } else {
      var plus = row.dataset.jobsExact === "true" ? "" : " or more";
      text = "Delete project " + name + " and its " + jobs + plus + " job" +
        (jobs === "1" && !plus ? "" : "s") + "? The jobs are deleted with it.";
    }
    if (!window.confirm(text)) {
      return;
    }
    var path = "/projects/" + row.dataset.projectId + (jobs === "0" ? "" : "?cascade=true");
    S0.api("DELETE", path).then(reload, S0.showError);
  }

  // -- credentials -------------------------------------------------------------------------

  function projectIds(form) {
    var field = form.querySelector("[name=projects]");
    var values;
    if (field.tagName === "SELECT") {
      values = Array.prototype.filter.call(field.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
    } else {
      values = field.value.split(/[\s,]+/).filter(function (v) { return v !== ""; });
    }
    // Anything not a number goes as typed: the API says what is wrong with it.
    return values.map(function (v) { return /^\d+$/.test(v) ? Number(v) : v; });
  }

  function createCredential(form) {
    var body = {role: form.querySelector("[name=role]").value};
    var projects = projectIds(form);
    if (projects.length) {
      body.projects = projects;
    }
    submitting(form, function () {
      return S0.api("POST", "/credentials", body);
    }, function (credential) {
      var scope = credential.projects ? "projects " + credential.projects.join(", ") : "every project";
      showSecret("Credential " + credential.id + " created",
                 "Role " + credential.role + ", for " + scope + ". Send both as the headers " +
                 "x-api-key and x-secret-key, or sign in to this console with them.",
                 [["API key", credential.api_key, "secret-api-key"],
                  ["API secret", credential.api_secret, "secret-value"]]);
    });
  }

  function setArchived(row, archived) {
    S0.api("PUT", "/credentials/" + row.dataset.credentialId, {archived: archived})
      .then(reload, S0.showError);
  }

  function deleteCredential(row) {
    if (!window.confirm("Delete credential " + row.dataset.credentialId + " (" + row.dataset.apiKey +
                        ")? Whatever uses it stops being let in.")) {
      return;
    }
    S0.api("DELETE", "/credentials/" + row.dataset.credentialId).then(reload, S0.showError);
  }

  // -- wiring ------------------------------------------------------------------------------

  var FORMS = {
    "create-project": createProject,
    "save-rename": saveRename,
    "save-rotate": saveRotate,
    "save-settings": saveSettings,
    "create-credential": createCredential
  };

  var BUTTONS = {
    "rename-project": function (el) { openRename(rowOf(el)); },
    "rotate-secret": function (el) { openRotate(rowOf(el)); },
    "project-settings": function (el) { openSettings(rowOf(el)); },
    "delete-project": function (el) { deleteProject(rowOf(el)); },
    "archive-credential": function (el) { setArchived(rowOf(el), true); },
    "restore-credential": function (el) { setArchived(rowOf(el), false); },
    "delete-credential": function (el) { deleteCredential(rowOf(el)); },
    "close-dialog": function (el) { el.closest("dialog").close(); },
    "secret-done": function (el) { el.closest("dialog").close(); }
  };

  S0.on("form[data-admin-action]", "submit", function (event, form) {
    event.preventDefault();
    FORMS[form.getAttribute("data-admin-action")](form);
  });

  S0.on("button[data-admin-action]", "click", function (event, button) {
    event.preventDefault();
    BUTTONS[button.getAttribute("data-admin-action")](button);
  });
}());
