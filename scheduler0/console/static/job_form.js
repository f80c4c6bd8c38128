// The job form (create, edit, duplicate): checked by the server as you type with
// POST /jobs?dry_run=true, each error shown under the field the API names; submitted with
// POST /jobs or PUT /jobs/{id}. The API's messages are shown as they are.
(function () {
  "use strict";

  var DEBOUNCE_MS = 300;
  var PREVIEW_COUNT = 5;
  var FIELDS = ["project_id", "name", "description", "labels", "paused", "spec", "timezone",
                "start_date", "end_date", "misfire_policy", "callback_url", "method", "data",
                "headers", "timeout", "retries", "retry_delay", "success_codes"];
  // The fields a PUT may not set to null: an emptied one is sent as typed (the API says why).
  var NOT_CLEARABLE = ["spec", "timezone", "callback_url", "paused"];

  function byId(id) { return document.getElementById(id); }

  function ClientError(field, message) { this.field = field; this.message = message; }

  function texts(form) {
    var out = {};
    FIELDS.forEach(function (name) {
      var input = form.elements[name];
      if (!input) { return; }
      out[name] = input.type === "checkbox" ? (input.checked ? "true" : "") : input.value;
    });
    return out;
  }

  // -- the form's text as the API's JSON ----------------------------------------------------

  // A number when the text is one, else the text itself: the API then says what it expects.
  function numberOr(text) {
    var trimmed = text.trim();
    return trimmed !== "" && isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
  }

  function pairs(text, separator, field, example) {
    var out = {};
    var lines = text.split(/\r?\n/);
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i].trim();
      if (!line) { continue; }
      var at = line.indexOf(separator);
      if (at <= 0) {
        throw new ClientError(field, field + ": line " + (i + 1) + " (" + JSON.stringify(line) +
          ") is not " + example + "; write one " + example + " a line");
      }
      out[line.slice(0, at).trim()] = line.slice(at + separator.length).trim();
    }
    return out;
  }

  function codes(text) {
    return text.split(/[\s,]+/).filter(Boolean).map(numberOr);
  }

  function isEmpty(value) {
    return value === null || value === "" ||
      (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0) ||
      (Array.isArray(value) && value.length === 0);
  }

  // The JSON value of one field's text (throws ClientError for lines it cannot read).
  function valueOf(name, text) {
    if (name === "labels") { return pairs(text, "=", "labels", "key=value"); }
    if (name === "headers") { return pairs(text, ":", "headers", "Name: value"); }
    if (name === "success_codes") { return codes(text); }
    if (name === "timeout" || name === "retry_delay" || name === "retries") { return numberOr(text); }
    if (name === "project_id") { return numberOr(text); }
    if (name === "paused") { return text === "true"; }
    return text;
  }

  function createBody(values) {
    var body = {};
    FIELDS.forEach(function (name) {
      if (!(name in values)) { return; }
      var value = valueOf(name, values[name]);
      if (name === "paused" ? value : !isEmpty(value)) { body[name] = value; }
    });
    return body;
  }

  function changesBody(values, initial) {
    var body = {};
    FIELDS.forEach(function (name) {
      if (name === "project_id" || !(name in values) || values[name] === initial[name]) { return; }
      var value = valueOf(name, values[name]);
      body[name] = isEmpty(value) && NOT_CLEARABLE.indexOf(name) < 0 ? null : value;
    });
    return body;
  }

  // -- errors under their fields ------------------------------------------------------------

  // The field an API message is about: the path before its first colon ("spec: ...",
  // "headers.X-Token: ...", "success_codes[1]: ..."), or null.
  function fieldOfMessage(message) {
    var head = String(message || "").split(":")[0];
    var name = head.split(/[.[]/)[0].trim();
    if (name === "run_at") { return "spec"; }
    return FIELDS.indexOf(name) >= 0 ? name : null;
  }

  function clearFieldErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.textContent = ""; });
    form.querySelectorAll(".field.invalid").forEach(function (div) { div.classList.remove("invalid"); });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) { input.removeAttribute("aria-invalid"); });
  }

  function showFieldError(form, field, message) {
    var target = field ? byId("e-" + field) : null;
    if (!target) { target = byId("e-form"); }
    target.textContent = message;
    if (field) {
      var input = form.elements[field];
      if (input) { input.setAttribute("aria-invalid", "true"); }
      var wrap = target.closest(".field");
      if (wrap) { wrap.classList.add("invalid"); }
    }
  }

  // -- the check as you type ----------------------------------------------------------------

  function Checker(form, initial) {
    this.form = form;
    this.initial = initial;
    this.mode = form.dataset.mode;
    this.jobId = form.dataset.jobId;
    this.timer = null;
    this.sequence = 0;
  }

  Checker.prototype.schedule = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.sequence++;  // what a check on its way says is about the old text now
    byId("check-status").textContent = "Checking…";
    this.timer = window.setTimeout(function () { self.check(); }, DEBOUNCE_MS);
  };

  Checker.prototype.dryRunBody = function (values) {
    var body = createBody(values);
    if (this.mode === "edit" && values.name === this.initial.name) {
      delete body.name;  // the job's own name: a create would find it taken by this job
    }
    return body;
  };

  Checker.prototype.check = function () {
    var self = this;
    var form = this.form;
    var sequence = ++this.sequence;
    var status = byId("check-status");
    var body;
    try {
      body = this.dryRunBody(texts(form));
    } catch (err) {
      if (!(err instanceof ClientError)) { throw err; }
      clearFieldErrors(form);
      showFieldError(form, err.field, err.message);
      status.textContent = "";
      return Promise.resolve();
    }
    status.textContent = "Checking…";
    return S0.api("POST", "/jobs?dry_run=true", body).then(function (job) {
      if (sequence !== self.sequence) { return; }
      clearFieldErrors(form);
      byId("ok-callback_url").hidden = false;
      status.textContent = "The server accepts this job.";
      return self.showSchedule(job);
    }, function (err) {
      if (sequence !== self.sequence) { return; }
      clearFieldErrors(form);
      byId("ok-callback_url").hidden = true;
      showFieldError(form, fieldOfMessage(err.message), err.message);
      status.textContent = "";
      if (fieldOfMessage(err.message) === "spec" || fieldOfMessage(err.message) === "timezone") {
        clearPreview("No fire times: see the spec's error.");
      }
    });
  };

  Checker.prototype.showSchedule = function (job) {
    showWords(job.spec, job.timezone);
    var times = job.next_fire_times || [];
    if (!times.length) {
      clearPreview(job.paused ? "Paused: no fire time until it is resumed." : "No fire time left.");
      return Promise.resolve();
    }
    var editing = this.mode === "edit" && this.jobId;
    // Editing: the spec as written, its H resolved for this job (the dry run resolves it
    // for the id a new job would get); else the dry run's own resolution.
    var query = new URLSearchParams({spec: editing ? job.spec : (job.resolved_spec || job.spec),
                                     timezone: job.timezone, count: String(PREVIEW_COUNT),
                                     from: String(previewFrom(job.spec, times))});
    if (editing) {
      query.set("job_id", this.jobId);
      // The dry run's first tick is another id's when the spec has H: count from now.
      if (!/^\s*@every/i.test(job.spec)) { query.delete("from"); }
    }
    return S0.api("GET", "/schedules/preview?" + query.toString()).then(function (preview) {
      showPreview(preview.times, job.timezone);
    }, function () {
      // The dry run's own times (UTC) when the preview cannot be had.
      showPreview(times.map(function (utc) { return {utc: utc, local: "", epoch: Date.parse(utc) / 1000}; }), "UTC");
    });
  };

  // Where a preview starts so its first time is the job's first tick: an @every spec counts
  // from the preview's start, so one interval before it; any other one second before.
  function previewFrom(spec, times) {
    var first = Date.parse(times[0]) / 1000;
    if (/^\s*@every/i.test(spec) && times.length > 1) {
      return first - (Date.parse(times[1]) / 1000 - first);
    }
    return first - 1;
  }

  function offsetOf(item) {
    if (typeof item.utc_offset_seconds === "number") { return item.utc_offset_seconds; }
    var found = /([+-])(\d\d):(\d\d)$/.exec(item.local || "");
    if (!found) { return /Z$/.test(item.local || "") ? 0 : null; }
    var seconds = Number(found[2]) * 3600 + Number(found[3]) * 60;
    return found[1] === "-" ? -seconds : seconds;
  }

  function jumpText(seconds) {
    var minutes = Math.abs(seconds) / 60;
    var mm = String(minutes % 60);
    return "clocks " + (seconds > 0 ? "+" : "-") + Math.floor(minutes / 60) + ":" + (mm.length < 2 ? "0" + mm : mm);
  }

  function showPreview(times, zone) {
    var table = byId("preview-table");
    var body = table.querySelector("tbody");
    body.textContent = "";
    table.querySelector("th").textContent = zone;
    var previous = null;
    times.forEach(function (item) {
      var offset = offsetOf(item);
      var jump = previous !== null && offset !== null && offset !== previous ? offset - previous : 0;
      var tr = document.createElement("tr");
      if (jump) { tr.className = "dst-jump"; }
      [(item.local || "").slice(0, 19).replace("T", " "), item.utc, jump ? jumpText(jump) : ""].forEach(function (text) {
        var td = document.createElement("td");
        td.className = "mono";
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
      previous = offset;
    });
    table.hidden = false;
    byId("preview-status").textContent = "In " + zone + " and UTC:";
  }

  function clearPreview(text) {
    byId("preview-table").hidden = true;
    byId("preview-status").textContent = text;
    byId("spec-words-live").textContent = "";
  }

  function showWords(spec, zone) {
    var query = new URLSearchParams({spec: spec, timezone: zone});
    window.fetch("/ui/jobs/spec-words?" + query.toString(), {credentials: "same-origin",
                                                            headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        byId("spec-words-live").textContent = answer && answer.words ? answer.words : "";
      }, function () { byId("spec-words-live").textContent = ""; });
  }

  // -- the data's byte counter ----------------------------------------------------------------

  function countBytes(form) {
    var limit = Number(form.dataset.dataLimit);
    var size = new TextEncoder().encode(form.elements.data.value).length;
    var counter = byId("data-bytes");
    counter.textContent = size + " of " + limit + " bytes";
    counter.classList.toggle("over", size > limit);
  }

  // -- submit -------------------------------------------------------------------------------

  function submit(form, initial) {
    var mode = form.dataset.mode;
    var values = texts(form);
    var request;
    try {
      request = mode === "edit"
        ? S0.api("PUT", "/jobs/" + form.dataset.jobId, changesBody(values, initial))
        : S0.api("POST", "/jobs", createBody(values));
    } catch (err) {
      if (!(err instanceof ClientError)) { throw err; }
      clearFieldErrors(form);
      showFieldError(form, err.field, err.message);
      return;
    }
    var button = byId("job-submit");
    button.disabled = true;
    request.then(function (job) {
      window.location.assign("/ui/jobs/" + job.id);
    }, function (err) {
      button.disabled = false;
      clearFieldErrors(form);
      showFieldError(form, fieldOfMessage(err.message), err.message);
      S0.showError(err);
    });
  }

  function init() {
    var form = byId("job-form");
    if (!form) { return; }
    var initial = JSON.parse(byId("job-form-initial").textContent);
    var checker = new Checker(form, initial);
    form.addEventListener("input", function (event) {
      if (event.target.name === "data") { countBytes(form); }
      checker.schedule();
    });
    form.addEventListener("change", function () { checker.schedule(); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(checker.timer);
      checker.sequence++;  // an answer to a check still on its way is stale now
      submit(form, initial);
    });
    countBytes(form);
    if (form.elements.spec.value.trim() && form.elements.callback_url.value.trim()) {
      checker.check();  // edit and duplicate: show the schedule at once
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
