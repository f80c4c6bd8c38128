/* The jobs list: the filter form's URL, row selection and the bulk operations.
 *
 * Filters: the form is a plain GET form (it works without this script); here a change of a
 * select submits it, and empty fields are left out of the URL.
 * Selection: the rows' checkboxes (Space toggles, Shift+click a range), the header's box for
 * the page, and "Select all N matching", after which a bulk request carries the page's filter
 * (from the #jobs-page data block) instead of ids.
 * Bulk: POST /jobs/bulk, then GET /operations/{id} about once a second until the operation is
 * done, shown as a progress bar; the API's errors are shown as they are (S0.showError).
 */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var MAX_POLLS = 3600;  // an hour of polling at most; the operation goes on regardless
  var VERBS = {pause: "Pause", resume: "Resume", run: "Run", delete: "Delete",
               set_labels: "Set labels on"};

  var pageData = {filter: null, count: "0", page_ids: [], filter_words: ""};
  var allMatching = false;
  var lastClicked = null;

  function readPageData() {
    var block = document.getElementById("jobs-page");
    if (block) {
      try {
        pageData = JSON.parse(block.textContent);
      } catch (e) {
        /* keep the defaults: nothing selectable by filter */
      }
    }
  }

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input.job-select"));
  }

  function selectedIds() {
    return boxes().filter(function (b) { return b.checked; })
      .map(function (b) { return Number(b.value); });
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  /** What is selected, in words, and the request's selection: {ids} or {filter}. */
  function selection() {
    if (allMatching && pageData.filter) {
      return {words: "all " + pageData.count + " matching jobs (" + pageData.filter_words + ")",
              body: {filter: pageData.filter}};
    }
    var ids = selectedIds();
    return {words: plural(ids.length, "job"), body: ids.length ? {ids: ids} : null};
  }

  function showSelection() {
    var chosen = selection();
    var text = document.getElementById("selection-text");
    if (text) {
      text.textContent = chosen.body ? "Selected: " + chosen.words : "No job selected";
    }
    document.querySelectorAll("[data-bulk]").forEach(function (button) {
      button.disabled = !chosen.body;
    });
    var clear = document.getElementById("clear-selection");
    if (clear) {
      clear.hidden = !chosen.body;
    }
    var all = boxes();
    var head = document.getElementById("select-page");
    if (head) {
      var ticked = all.filter(function (b) { return b.checked; }).length;
      head.checked = all.length > 0 && ticked === all.length;
      head.indeterminate = ticked > 0 && ticked < all.length;
    }
    var matching = document.getElementById("select-matching");
    if (matching) {
      matching.setAttribute("aria-pressed", allMatching ? "true" : "false");
    }
  }

  function setAll(checked) {
    boxes().forEach(function (b) { b.checked = checked; });
  }

  function onRowBox(event, box) {
    allMatching = false;
    var all = boxes();
    if (event.shiftKey && lastClicked && lastClicked !== box) {
      var from = all.indexOf(lastClicked);
      var to = all.indexOf(box);
      var low = Math.min(from, to);
      var high = Math.max(from, to);
      for (var i = low; i <= high; i += 1) {
        all[i].checked = box.checked;
      }
    }
    lastClicked = box;
    showSelection();
  }

  function onPageBox(event, box) {
    allMatching = false;
    setAll(box.checked);
    showSelection();
  }

  function onSelectMatching() {
    allMatching = true;
    setAll(true);
    showSelection();
  }

  function onClear() {
    allMatching = false;
    setAll(false);
    showSelection();
  }

  // -- labels ---------------------------------------------------------------------------------

  /** "team=web, -legacy" as set_labels's labels: {"team": "web", "legacy": null}. */
  function labelChanges(text) {
    var changes = {};
    var count = 0;
    text.split(/[,\n]/).forEach(function (part) {
      var item = part.trim();
      if (!item) {
        return;
      }
      if (item.charAt(0) === "-") {
        changes[item.slice(1).trim()] = null;
      } else {
        var at = item.indexOf("=");
        if (at < 1) {
          throw new S0.ApiError(400, "invalid_labels", "labels: \"" + item + "\" is neither " +
                                "key=value (set a label) nor -key (remove one)");
        }
        changes[item.slice(0, at).trim()] = item.slice(at + 1).trim();
      }
      count += 1;
    });
    if (!count) {
      throw new S0.ApiError(400, "invalid_labels", "labels: give at least one key=value to " +
                            "set or -key to remove, e.g. team=web, -legacy");
    }
    return changes;
  }

  // -- bulk operations ------------------------------------------------------------------------

  function progressText(op) {
    var finished = (op.done || 0) + (op.skipped || 0);
    var text = op.action + ": " + finished + " of " + plural(op.total || 0, "job") + " done";
    if (op.skipped) {
      text += " (" + op.skipped + " skipped)";
    }
    return text + " · " + op.state;
  }

  function showProgress(op) {
    var box = document.getElementById("bulk-progress");
    var bar = document.getElementById("bulk-bar");
    var status = document.getElementById("bulk-status");
    if (!box || !bar || !status) {
      return;
    }
    box.hidden = false;
    bar.max = Math.max(op.total || 0, 1);
    bar.value = Math.min((op.done || 0) + (op.skipped || 0), bar.max);
    if (op.state === "succeeded" && !op.total) {
      bar.value = bar.max;  // nothing to do is all done
    }
    status.textContent = progressText(op);
    box.setAttribute("data-state", op.state);
    box.setAttribute("data-operation-id", String(op.id));
    var errors = document.getElementById("bulk-errors");
    if (errors) {
      errors.textContent = "";
      (op.errors || []).forEach(function (message) {
        var li = document.createElement("li");
        li.textContent = typeof message === "string" ? message : JSON.stringify(message);
        errors.appendChild(li);
      });
    }
  }

  function finish(op) {
    var reload = document.getElementById("bulk-reload");
    if (reload) {
      reload.href = window.location.pathname + window.location.search;
      reload.hidden = false;
    }
    S0.flash(progressText(op));
  }

  function poll(id, count) {
    return S0.api("GET", "/operations/" + id).then(function (op) {
      showProgress(op);
      if (op.state !== "running") {
        finish(op);
        return op;
      }
      if (count >= MAX_POLLS) {
        S0.flash("Operation " + id + " is still running; see GET /api/v1/operations/" + id);
        return op;
      }
      return new Promise(function (resolve) {
        window.setTimeout(resolve, POLL_MS);
      }).then(function () { return poll(id, count + 1); });
    });
  }

  /** POST /jobs/bulk with `action` for `selectionBody` ({ids} or {filter}) and `extra`
   * (labels, data), then its progress until done. Resolves with the final operation; shows
   * any error as the API words it. */
  function runBulk(action, selectionBody, extra) {
    S0.clearError();
    var body = {action: action};
    Object.keys(selectionBody || {}).forEach(function (k) { body[k] = selectionBody[k]; });
    Object.keys(extra || {}).forEach(function (k) { body[k] = extra[k]; });
    document.querySelectorAll("[data-bulk]").forEach(function (b) { b.disabled = true; });
    return S0.api("POST", "/jobs/bulk", body).then(function (op) {
      var started = op;
      started.id = op.operation_id || op.id;
      showProgress(started);
      if (started.state !== "running") {
        finish(started);
        return started;
      }
      return poll(started.id, 0);
    }).catch(function (err) {
      S0.showError(err);
      return null;
    }).then(function (result) {
      showSelection();
      return result;
    });
  }

  /** A delete, and anything done to "all matching", asks first, naming how many. */
  function confirmed(action, chosen) {
    if (action !== "delete" && !allMatching) {
      return true;
    }
    return window.confirm(VERBS[action] + " " + chosen.words + "?" +
                          (action === "delete" ? " This cannot be undone." : ""));
  }

  function onBulkButton(event, button) {
    var action = button.getAttribute("data-bulk");
    var chosen = selection();
    if (!chosen.body) {
      return;
    }
    if (action === "set_labels") {
      var form = document.getElementById("labels-form");
      form.hidden = !form.hidden;
      button.setAttribute("aria-expanded", form.hidden ? "false" : "true");
      if (!form.hidden) {
        document.getElementById("labels-changes").focus();
      }
      return;
    }
    if (!confirmed(action, chosen)) {
      return;
    }
    runBulk(action, chosen.body);
  }

  function onLabelsSubmit(event) {
    event.preventDefault();
    var chosen = selection();
    if (!chosen.body) {
      return;
    }
    var changes;
    try {
      changes = labelChanges(document.getElementById("labels-changes").value);
    } catch (err) {
      S0.showError(err);
      return;
    }
    if (!confirmed("set_labels", chosen)) {
      return;
    }
    runBulk("set_labels", chosen.body, {labels: changes});
  }

  // -- the filter form ------------------------------------------------------------------------

  /** Submit without the empty fields, so the URL holds only the filters in use. */
  function onFilterSubmit(event) {
    event.preventDefault();
    var params = {};
    Array.prototype.forEach.call(event.target.elements, function (el) {
      if (el.name) {
        params[el.name] = el.value.trim();
      }
    });
    S0.navigate(params);
  }

  function onFilterChange(event, select) {
    var form = select.form;
    if (form && typeof form.requestSubmit === "function") {
      form.requestSubmit();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    readPageData();
    S0.on("input.job-select", "click", onRowBox);
    S0.on("#select-page", "click", onPageBox);
    S0.on("#select-matching", "click", onSelectMatching);
    S0.on("#clear-selection", "click", onClear);
    S0.on("[data-bulk]", "click", onBulkButton);
    var labelsForm = document.getElementById("labels-form");
    if (labelsForm) {
      labelsForm.addEventListener("submit", onLabelsSubmit);
    }
    var filters = document.getElementById("job-filters");
    if (filters) {
      filters.addEventListener("submit", onFilterSubmit);
    }
    S0.on("#job-filters select", "change", onFilterChange);
    // Back/forward may restore ticked boxes from the browser's cache: start from the page.
    setAll(false);
    showSelection();
  });

  window.S0Jobs = {runBulk: runBulk, selection: selection, labelChanges: labelChanges};
}());
