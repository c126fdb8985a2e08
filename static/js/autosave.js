// Autosave for a screening step: <form data-autosave="URL"> is posted there as a draft (the
// form as typed, CSRF token included) a moment after the teller stops typing or changes a
// choice, so an idle logout loses nothing (screening/drafts.py). The note beside the buttons
// says when it was last saved, or that it could not be. Each save is activity to the server,
// so idle.js restarts its count. Without JavaScript the form is posted only when submitted.
(function () {
  "use strict";
  var PAUSE_MS = 1000;
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var note = document.getElementById("autosave-status");
  var timer = null;
  var sending = false;
  var again = false;

  function say(text, failed) {
    if (note) {
      note.textContent = text;
      note.classList.toggle("failed", Boolean(failed));
    }
  }

  function send() {
    timer = null;
    if (sending) {
      again = true; // one save at a time, in order: the last one holds the latest form
      return;
    }
    sending = true;
    fetch(form.getAttribute("data-autosave"), {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "Accept": "application/json" },
      body: new URLSearchParams(new FormData(form)),
    }).then(function (response) {
      if (response.ok) {
        return response.json().then(function (data) {
          say("已自动保存 " + data.saved_at);
          document.dispatchEvent(new CustomEvent("teller-guard:activity"));
        });
      }
      if (response.type === "opaqueredirect") { // to the login page
        say("登录已失效，未能自动保存；提交表单后重新登录即可继续", true);
        return null;
      }
      return response.json().then(function (data) {
        say(data.error || "未能自动保存", true);
      }, function () {
        say("未能自动保存", true);
      });
    }).catch(function () {
      say("网络中断，未能自动保存", true);
    }).then(function () {
      sending = false;
      if (again) {
        again = false;
        send();
      }
    });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(send, PAUSE_MS);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", function () {
    window.clearTimeout(timer); // the submit itself carries the form
    timer = null;
  });
  document.addEventListener("teller-guard:save-now", function () {
    if (timer !== null) {
      window.clearTimeout(timer);
      send();
    }
  });
})();
