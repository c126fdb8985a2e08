// One-step printing of the 风险提示单 (issue 15, item 7): the PDF loads into a hidden frame of the
// result page and Chromium's PDF viewer prints it from there, so the teller never leaves the
// result. The link itself stays the fallback: without JavaScript it opens the PDF in a new tab.
// The request is the same GET as the link's, so the ledger records the print exactly as before.
(function () {
  "use strict";

  var FRAME_NAME = "print-frame";

  function say(status, text, isError) {
    if (!status) {
      return;
    }
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  // A fresh frame per print (the previous one removed): one request, one load event, one print.
  // Hidden by visibility and zero size, not display:none: Chromium prints nothing from an
  // undisplayed frame.
  function newFrame() {
    var old = document.getElementById(FRAME_NAME);
    if (old) {
      old.remove();
    }
    var frame = document.createElement("iframe");
    frame.id = FRAME_NAME;
    frame.className = "print-frame";
    frame.title = "风险提示单打印";
    frame.tabIndex = -1;  // visibility:hidden keeps it out of the accessibility tree as well
    return frame;
  }

  function pdfShown(frame) {
    try {
      var doc = frame.contentDocument;
      return Boolean(doc) && doc.contentType === "application/pdf";
    } catch (error) {
      return false;  // a refusal page that may not be framed, or no document at all
    }
  }

  var CANNOT = "无法在本页打印风险提示单（浏览器未能显示 PDF）。请按住 Ctrl 键点击“打印风险提示单”，在新标签页中打开后打印。";

  function printSlip(link, status) {
    var frame = newFrame();
    var giveBack = function () {
      link.focus();
    };
    // A browser set to download PDFs instead of showing them may never fire load on the frame:
    // after a while the button works again and the page says what to do.
    var stuck = window.setTimeout(function () {
      say(status, CANNOT, true);
      link.removeAttribute("aria-disabled");
    }, 15000);
    frame.addEventListener("load", function () {
      window.clearTimeout(stuck);
      if (!pdfShown(frame)) {
        say(status, CANNOT, true);
        link.removeAttribute("aria-disabled");
        giveBack();
        return;
      }
      try {
        frame.contentWindow.addEventListener("afterprint", giveBack);
        frame.contentWindow.print();
        say(status, "风险提示单已送去打印；如未出现打印对话框，请按住 Ctrl 键点击按钮，在新标签页中打开。", false);
      } catch (error) {
        say(status, CANNOT, true);
      }
      link.removeAttribute("aria-disabled");
      giveBack();
    }, { once: true });
    frame.src = link.href;  // before insertion: no load event for an initial about:blank
    document.body.appendChild(frame);
  }

  document.querySelectorAll("a[data-print-frame]").forEach(function (link) {
    var status = document.getElementById("print-status");
    link.addEventListener("click", function (event) {
      // Ctrl/Shift/middle click: the user asked for the PDF in a tab or window of its own. (Alt
      // is not checked: the click of the access key Alt+P may report the Alt key as down.)
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) {
        return;
      }
      event.preventDefault();
      if (link.getAttribute("aria-disabled") === "true") {
        return;  // one print at a time: a double click must not print (and log) twice
      }
      link.setAttribute("aria-disabled", "true");
      say(status, "正在准备打印风险提示单…", false);
      printSlip(link, status);
    });
  });
})();
