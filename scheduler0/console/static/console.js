/* The console's shared script: window.S0 (API calls, errors, small DOM helpers), the theme
 * toggle and the hover titles of times. No dependencies, no inline code (the CSP forbids it):
 * pages read their data from data-* attributes or <script type="application/json"> blocks.
 *
 * Loaded in <head> without defer, so the saved theme is applied before the page paints; the
 * rest waits for the DOM.
 */
(function () {
  "use strict";

  var THEME_KEY = "s0-theme";

  function savedTheme() {
    try {
      return window.localStorage.getItem(THEME_KEY);
    } catch (e) {
      return null;  // storage disabled: follow prefers-color-scheme
    }
  }

  function applyTheme(theme) {
    if (theme === "dark" || theme === "light") {
      document.documentElement.setAttribute("data-theme", theme);
    } else {
      document.documentElement.removeAttribute("data-theme");
    }
  }

  applyTheme(savedTheme());

  /** An error envelope from the API (or a network failure: status 0). */
  function ApiError(status, code, message) {
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /** fetch /api/v1 + path with the session cookie and the CSRF header; resolves with the
   * envelope's data, rejects with an S0.ApiError carrying the API's message as is. */
  function api(method, path, body) {
    var headers = {"Accept": "application/json", "X-CSRF-Token": csrfToken()};
    var init = {method: method, credentials: "same-origin", headers: headers};
    if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    return window.fetch("/api/v1" + path, init).then(function (response) {
      return response.text().then(function (text) {
        var envelope = null;
        try {
          envelope = text ? JSON.parse(text) : null;
        } catch (e) {
          envelope = null;
        }
        if (response.ok && envelope && envelope.success === true) {
          return envelope.data;
        }
        var error = (envelope && envelope.error) || {};
        throw new ApiError(response.status, error.code || "http_" + response.status,
                           error.message || ("the API answered " + response.status));
      });
    }, function (failure) {
      throw new ApiError(0, "network", "the node did not answer (" + failure.message + ")");
    });
  }

  function showError(err) {
    var box = document.getElementById("errors");
    var text = (err && err.message) ? err.message : String(err);
    if (!box) {
      window.alert(text);
      return;
    }
    box.textContent = "";
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = (err && err.status ? err.status + ": " : "") + text;
    box.appendChild(p);
  }

  function clearError() {
    var box = document.getElementById("errors");
    if (box) {
      box.textContent = "";
    }
  }

  var flashTimer = null;

  function flash(text) {
    var box = document.getElementById("flash");
    if (!box) {
      return;
    }
    box.textContent = text;
    box.classList.add("visible");
    window.clearTimeout(flashTimer);
    flashTimer = window.setTimeout(function () {
      box.classList.remove("visible");
    }, 6000);
  }

  /** A form's fields as an object: numbers for type=number, booleans for checkboxes, arrays
   * for repeated names; empty optional fields are left out. */
  function formJSON(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") {
        return;
      }
      if ((el.type === "radio") && !el.checked) {
        return;
      }
      var value;
      if (el.type === "checkbox") {
        value = el.checked;
      } else if (el.type === "number") {
        if (el.value === "") {
          return;
        }
        value = Number(el.value);
      } else if (el.tagName === "SELECT" && el.multiple) {
        value = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else {
        value = el.value;
        if (value === "" && !el.required) {
          return;
        }
      }
      if (Object.prototype.hasOwnProperty.call(out, el.name) && el.type !== "checkbox") {
        out[el.name] = [].concat(out[el.name], value);
      } else {
        out[el.name] = value;
      }
    });
    delete out.csrf_token;
    return out;
  }

  /** Delegated events: handler(event, matchedElement) for every `selector` match. */
  function on(selector, eventName, handler) {
    document.addEventListener(eventName, function (event) {
      var target = event.target instanceof Element ? event.target.closest(selector) : null;
      if (target) {
        handler(event, target);
      }
    });
  }

  /** Rewrite the current URL's query (null or "" removes a parameter) and load it. `after`
   * (the page cursor) is dropped unless given: a new filter starts at the first page. */
  function navigate(params) {
    var url = new URL(window.location.href);
    if (!Object.prototype.hasOwnProperty.call(params, "after")) {
      url.searchParams.delete("after");
    }
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      url.searchParams.delete(key);
      if (Array.isArray(value)) {
        value.forEach(function (v) { url.searchParams.append(key, v); });
      } else if (value !== null && value !== undefined && value !== "") {
        url.searchParams.set(key, value);
      }
    });
    window.location.assign(url.pathname + url.search + url.hash);
  }

  /** "3 min ago", "in 2 h" for epoch seconds. */
  function relTime(epochSeconds) {
    var diff = Math.round(epochSeconds - Date.now() / 1000);
    var abs = Math.abs(diff);
    var text;
    if (abs < 45) {
      text = abs + " s";
    } else if (abs < 2700) {
      text = Math.round(abs / 60) + " min";
    } else if (abs < 129600) {
      text = Math.round(abs / 3600) + " h";
    } else {
      text = Math.round(abs / 86400) + " d";
    }
    return diff <= 0 ? text + " ago" : "in " + text;
  }

  function zoneText(date, zone) {
    try {
      return date.toLocaleString(undefined, {timeZone: zone, timeZoneName: "short"});
    } catch (e) {
      return null;  // a zone this browser does not know
    }
  }

  /** Hover titles for every <time datetime data-zone>: UTC, the viewer's zone, the zone the
   * time was shown in, and how long ago. */
  function titleTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) {
        return;
      }
      var lines = [date.toISOString().replace(".000Z", "Z") + " (UTC)",
                   date.toLocaleString(undefined, {timeZoneName: "short"}) + " (your time)"];
      var zone = el.getAttribute("data-zone");
      if (zone && zone !== "UTC") {
        var shown = zoneText(date, zone);
        if (shown) {
          lines.push(shown + " (" + zone + ")");
        }
      }
      lines.push(relTime(date.getTime() / 1000));
      el.setAttribute("title", lines.join("\n"));
    });
  }

  function currentTheme() {
    var set = document.documentElement.getAttribute("data-theme");
    if (set) {
      return set;
    }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches
      ? "dark" : "light";
  }

  function showThemeButton() {
    var button = document.getElementById("theme-toggle");
    if (!button) {
      return;
    }
    var dark = currentTheme() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    button.textContent = dark ? "Light mode" : "Dark mode";
  }

  function toggleTheme() {
    var next = currentTheme() === "dark" ? "light" : "dark";
    applyTheme(next);
    try {
      window.localStorage.setItem(THEME_KEY, next);
    } catch (e) {
      /* not saved: the choice lasts for this page */
    }
    showThemeButton();
  }

  /** Elements with data-confirm="text" ask before their click or form submit goes ahead. */
  function confirmClicks(event, el) {
    if (!window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }

  window.S0 = {
    api: api,
    ApiError: ApiError,
    showError: showError,
    clearError: clearError,
    flash: flash,
    formJSON: formJSON,
    on: on,
    navigate: navigate,
    relTime: relTime,
    titleTimes: titleTimes,
    csrfToken: csrfToken
  };

  document.addEventListener("DOMContentLoaded", function () {
    showThemeButton();
    titleTimes(document);
    var button = document.getElementById("theme-toggle");
    if (button) {
      button.addEventListener("click", toggleTheme);
    }
    on("[data-confirm]", "click", confirmClicks);
  });
}());
