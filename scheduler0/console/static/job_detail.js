// The job page's actions: each one asks the REST API (S0.api) and shows its answer, or its
// error message as the API words it.
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clearErrors() {
    var box = byId("errors");
    if (box) { box.textContent = ""; }
  }

  function fail(err) { S0.showError(err); }

  function init() {
    var root = byId("job");
    if (!root) { return; }
    var jobId = root.dataset.jobId;
    var jobPath = "/jobs/" + jobId;

    wireRunNow(root, jobPath);
    wirePause(root, jobPath);
    wireDelete(root, jobPath);
    wireBackfill(jobPath);
    wireCurl(root);
    wireHistory(root);
    if (root.dataset.opened) { showOpened(root.dataset.opened); }
  }

  // -- run now ----------------------------------------------------------------------------

  function wireRunNow(root, jobPath) {
    var button = byId("run-now");
    if (!button) { return; }
    button.addEventListener("click", function () {
      clearErrors();
      button.disabled = true;
      S0.api("POST", jobPath + "/run").then(function (execution) {
        var result = byId("run-result");
        var link = el("a", {href: location.pathname + "?open=" + encodeURIComponent(execution.execution_id),
                            id: "run-execution"}, [execution.execution_id]);
        result.textContent = "";
        result.appendChild(document.createTextNode("Run now scheduled: execution "));
        result.appendChild(link);
        result.appendChild(document.createTextNode(" (" + execution.state + ", trigger " + execution.trigger + ")"));
        result.hidden = false;
      }, fail).then(function () { button.disabled = false; });
    });
  }

  // -- pause and resume -------------------------------------------------------------------

  function wirePause(root, jobPath) {
    var button = byId("pause-toggle");
    if (!button) { return; }
    button.addEventListener("click", function () {
      clearErrors();
      var pausing = root.dataset.paused !== "true";
      button.disabled = true;
      S0.api("PUT", jobPath, {paused: pausing}).then(function (job) {
        root.dataset.paused = job.paused ? "true" : "false";
        button.textContent = job.paused ? "Resume" : "Pause";
        var status = byId("job-status");
        var shown = job.paused ? "paused" : (job.completed ? "completed" : "active");
        status.textContent = shown;
        status.className = "state state-" + (job.paused ? "paused" : (job.completed ? "completed" : "scheduled"));
        S0.flash(job.paused ? "Paused: no tick of this job is planned until it is resumed."
                            : "Resumed: the job's ticks are planned again.");
      }, fail).then(function () { button.disabled = false; });
    });
  }

  // -- delete -----------------------------------------------------------------------------

  function wireDelete(root, jobPath) {
    var button = byId("delete-job");
    if (!button) { return; }
    button.addEventListener("click", function () {
      clearErrors();
      if (!window.confirm("Delete " + root.dataset.jobTitle + "? Its schedule stops at once; this cannot be undone.")) {
        return;
      }
      S0.api("DELETE", jobPath).then(function () {
        location.assign("/ui/jobs");
      }, fail);
    });
  }

  // -- backfill: a dry run first, then the confirm fires it --------------------------------

  function wireBackfill(jobPath) {
    var open = byId("backfill-open");
    var panel = byId("backfill");
    if (!open || !panel) { return; }
    var form = byId("backfill-form");
    var plan = byId("backfill-plan");
    var checked = null;  // the range the dry run counted
    open.addEventListener("click", function () {
      panel.hidden = !panel.hidden;
      open.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors();
      var range = {from: byId("backfill-from").value.trim(), to: byId("backfill-to").value.trim()};
      S0.api("POST", jobPath + "/backfill?dry_run=true", range).then(function (answer) {
        checked = range;
        var text = answer.count + " tick" + (answer.count === 1 ? "" : "s") + " from " +
          answer.from + " to " + answer.to + " would fire";
        var skipped = answer.skipped || {};
        var skippedCount = (skipped.recorded || 0) + (skipped.in_flight || 0) + (skipped.not_yet_planned || 0);
        if (skippedCount) {
          text += " (of " + answer.ticks + " ticks in the range; skipped: " + (skipped.recorded || 0) +
            " already recorded, " + (skipped.in_flight || 0) + " in flight, " + (skipped.not_yet_planned || 0) +
            " not planned yet)";
        }
        if (answer.first_ticks && answer.first_ticks.length) {
          text += "; first: " + answer.first_ticks.slice(0, 3).join(", ");
        }
        byId("backfill-summary").textContent = text + ".";
        byId("backfill-summary").dataset.count = String(answer.count);
        byId("backfill-confirm").disabled = answer.count === 0;
        plan.hidden = false;
      }, function (err) { plan.hidden = true; fail(err); });
    });
    byId("backfill-cancel").addEventListener("click", function () { plan.hidden = true; checked = null; });
    byId("backfill-confirm").addEventListener("click", function () {
      if (!checked) { return; }
      clearErrors();
      S0.api("POST", jobPath + "/backfill", checked).then(function (answer) {
        plan.hidden = true;
        checked = null;
        S0.flash("Backfill committed: " + answer.count + " tick" + (answer.count === 1 ? "" : "s") + " fire now.");
      }, fail);
    });
  }

  // -- copy as curl -----------------------------------------------------------------------

  function wireCurl(root) {
    var button = byId("copy-curl");
    if (!button) { return; }
    button.addEventListener("click", function () {
      clearErrors();
      curlText(root).then(function (command) {
        var box = byId("curl-box");
        var text = byId("curl-text");
        text.value = command;
        box.hidden = false;  // the fallback: the command to select and copy by hand
        text.focus();
        text.select();
        if (!navigator.clipboard || !window.isSecureContext) {
          S0.flash("Select the command below and copy it.");
          return;
        }
        navigator.clipboard.writeText(command).then(function () {
          S0.flash("Copied the curl command to the clipboard.");
        }, function () { S0.flash("Select the command below and copy it."); });
      }, fail);
    });
  }

  // The command from the server (GET /ui/jobs/{id}/curl), which quotes it for a shell.
  function curlText(root) {
    return window.fetch("/ui/jobs/" + root.dataset.jobId + "/curl", {credentials: "same-origin"})
      .then(function (response) {
        return response.text().then(function (text) {
          if (!response.ok) { throw new S0.ApiError(response.status, "http_" + response.status, text); }
          return text;
        });
      });
  }

  // -- history: attempts on demand, redeliver ---------------------------------------------

  function wireHistory(root) {
    var table = byId("history-table");
    if (!table) { return; }
    table.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      var row = button.closest("tr.execution");
      if (!row) { return; }
      var id = row.dataset.executionId;
      if (button.classList.contains("expand")) { toggleAttempts(row, button, id); }
      if (button.classList.contains("redeliver")) { redeliver(button, id); }
    });
  }

  function toggleAttempts(row, button, id) {
    var next = row.nextElementSibling;
    if (next && next.classList.contains("attempts-row")) {
      next.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    clearErrors();
    button.disabled = true;
    S0.api("GET", "/executions/" + encodeURIComponent(id)).then(function (execution) {
      var cell = el("td", {colspan: String(row.children.length)}, [attemptsView(execution)]);
      row.after(el("tr", {"class": "attempts-row", "data-execution-id": id}, [cell]));
      button.setAttribute("aria-expanded", "true");
    }, fail).then(function () { button.disabled = false; });
  }

  function attemptsView(execution) {
    var list = execution.attempt_log || execution.attempt_list;
    if (Array.isArray(list) && list.length) {
      var rows = list.map(function (a, i) {
        return el("tr", {}, [el("td", {}, [String(a.attempt || i + 1)]), el("td", {"class": "mono"}, [String(a.node_id == null ? "–" : a.node_id)]),
          el("td", {"class": "mono"}, [String(a.http_status == null ? "–" : a.http_status)]),
          el("td", {}, [a.error || ""]), el("td", {"class": "mono"}, [a.started_at || "–"]),
          el("td", {"class": "mono"}, [a.finished_at || "–"])]);
      });
      return el("table", {"class": "table attempts"}, [
        el("thead", {}, [el("tr", {}, ["#", "Node", "HTTP", "Error", "Started", "Finished"].map(function (h) { return el("th", {scope: "col"}, [h]); }))]),
        el("tbody", {}, rows)]);
    }
    // One record per execution: the last attempt's node, status and error, and the count.
    var facts = [
      ["State", execution.state], ["Attempts", execution.attempts], ["Node", execution.node_id],
      ["HTTP status", execution.http_status], ["Error", execution.error || "none"],
      ["Planned", execution.planned_at], ["Started", execution.started_at],
      ["Finished", execution.finished_at], ["Trigger", execution.trigger],
      ["Redeliveries", execution.redeliveries || 0]];
    return el("table", {"class": "table attempts"}, [
      el("thead", {}, [el("tr", {}, facts.map(function (pair) { return el("th", {scope: "col"}, [pair[0]]); }))]),
      el("tbody", {}, [el("tr", {}, facts.map(function (pair) {
        return el("td", {"class": "mono"}, [pair[1] == null || pair[1] === "" ? "–" : String(pair[1])]);
      }))])]);
  }

  function redeliver(button, id) {
    clearErrors();
    button.disabled = true;
    S0.api("POST", "/executions/" + encodeURIComponent(id) + "/redeliver").then(function (execution) {
      S0.flash("Redelivery of " + execution.execution_id + " scheduled.");
      button.textContent = "Redelivering";
    }, function (err) { button.disabled = false; fail(err); });
  }

  // -- an execution asked for by ?open= (a run now's link) --------------------------------

  function showOpened(id) {
    var box = byId("opened-execution");
    S0.api("GET", "/executions/" + encodeURIComponent(id)).then(function (execution) {
      box.textContent = "";
      box.appendChild(el("h3", {}, ["Execution " + execution.execution_id]));
      box.appendChild(attemptsView(execution));
      box.hidden = false;
    }, fail);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
