// The idle warning: some time before the server's idle logout (SESSION_IDLE_MINUTES) a dialog
// counts down, with the focus on 继续工作, so one key (Enter, Space or Escape) keeps the login:
// it posts to /session/keepalive, which is activity to the server. A request of the page's own
// (an autosaved draft, autosave.js) restarts the count too. When the time has run out anyway,
// the dialog says so and its button opens the same page again, which leads through the login
// and back (the form typed so far is kept as a draft). Without JavaScript nothing shows.
(function () {
  "use strict";
  var box = document.getElementById("idle-warning");
  if (!box || !window.fetch) {
    return;
  }
  // Counted from when this page (or the last save) arrived: the server counts from before,
  // so its end never comes after ours, and 重新登录 always finds the login page. 继续工作
  // pressed in the last moment may find the login ended: the dialog then says so.
  var idleMs = Number(box.getAttribute("data-idle-seconds")) * 1000;
  // A lead as long as the limit itself (a short test limit) would warn at once.
  var warnMs = Math.min(Number(box.getAttribute("data-warn-seconds")) * 1000, idleMs / 2);
  var title = document.getElementById("idle-warning-title");
  var text = document.getElementById("idle-warning-text");
  var countdown = document.getElementById("idle-countdown");
  var button = document.getElementById("idle-extend");
  var deadline = Date.now() + idleMs;
  var open = false;
  var ended = false;
  var focusBefore = null;

  function restart() {
    deadline = Date.now() + idleMs;
  }

  function words(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    var minutes = Math.floor(seconds / 60);
    return (minutes ? minutes + " 分 " : "") + (seconds % 60) + " 秒";
  }

  function show() {
    open = true;
    focusBefore = document.activeElement;
    box.hidden = false;
    button.focus();
    // A pause in typing may still be waiting to be saved: save it while the login lasts.
    document.dispatchEvent(new CustomEvent("teller-guard:save-now"));
  }

  function hide() {
    open = false;
    box.hidden = true;
    if (focusBefore && document.contains(focusBefore) && focusBefore.focus) {
      focusBefore.focus();
    }
  }

  function end() {
    ended = true;
    if (!open) {
      show();
    }
    title.textContent = "已因长时间未操作自动退出";
    text.textContent = "已填写的内容已保存。请重新登录，登录后回到本页继续。";
    button.textContent = "重新登录";
  }

  function tick() {
    if (ended) {
      return;
    }
    var left = deadline - Date.now();
    if (left <= 0) {
      end();
      return;
    }
    if (left <= warnMs && !open) {
      show();
    }
    if (open) {
      countdown.textContent = words(left);
    }
  }

  function stay() {
    if (ended) {
      // A GET of this page: the login page, then back here (never re-posting a form).
      window.location.assign(window.location.href);
      return;
    }
    fetch(box.getAttribute("data-keepalive-url"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": box.getAttribute("data-csrf"), "Accept": "application/json" },
      redirect: "manual",
    }).then(function (response) {
      if (response.ok) {
        restart();
        hide();
      } else {
        end();
      }
    }).catch(function () {
      text.textContent = "网络中断，未能续期，请再按 Enter 重试。";
    });
  }

  button.addEventListener("click", stay);
  box.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      stay();
    } else if (event.key === "Tab") {
      event.preventDefault(); // a modal dialog: the focus stays on its one button
      button.focus();
    }
  });
  document.addEventListener("teller-guard:activity", function () {
    if (!ended) {
      restart();
      if (open) {
        hide();
      }
    }
  });
  document.addEventListener("visibilitychange", tick);
  window.setInterval(tick, 1000);
})();
