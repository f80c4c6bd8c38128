/* The sign-in form: show the fields of the chosen way in (both work without this script:
 * the server reads the fields of the chosen method). */
(function () {
  "use strict";

  function show() {
    var node = document.getElementById("method-node");
    var useNode = node && node.checked;
    var keyFields = document.getElementById("key-fields");
    var nodeFields = document.getElementById("node-fields");
    if (!keyFields || !nodeFields) {
      return;
    }
    keyFields.hidden = useNode;
    nodeFields.hidden = !useNode;
  }

  document.addEventListener("DOMContentLoaded", function () {
    show();
    S0.on("input[name=method]", "change", show);
  });
}());
