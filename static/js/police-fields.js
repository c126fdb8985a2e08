// 记录办理结果: the 报警信息 fields fold until 已报警 is chosen, so the outcome form stays on
// the first screen; without this script the server opens them when 已报警 needs them.
(function () {
  "use strict";
  var details = document.getElementById("police-response-fields");
  var choice = document.getElementById("outcome-police_called");
  if (!details || !choice) { return; }
  var form = choice.form;
  form.addEventListener("change", function (event) {
    if (event.target.name === "outcome" && choice.checked) { details.open = true; }
  });
})();
