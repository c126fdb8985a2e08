// Pinyin type-ahead for <select data-typeahead>: each option may carry data-pinyin, words such
// as "gd guangdong". Typing letters (a pause of a second starts afresh) picks the first option
// with a word that starts with them, so a teller types "gd" instead of pressing the down arrow
// nineteen times. Without JavaScript the select works as before.
(function () {
  "use strict";
  var PAUSE_MS = 1000;

  function firstMatch(select, typed) {
    for (var i = 0; i < select.options.length; i++) {
      var words = (select.options[i].getAttribute("data-pinyin") || "").split(" ");
      for (var j = 0; j < words.length; j++) {
        if (words[j] && words[j].indexOf(typed) === 0) {
          return i;
        }
      }
    }
    return -1;
  }

  Array.prototype.forEach.call(document.querySelectorAll("select[data-typeahead]"), function (select) {
    var typed = "";
    var lastKeyAt = 0;
    select.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.altKey || event.metaKey || !/^[a-zA-Z]$/.test(event.key)) {
        return;
      }
      // The browser's own type-ahead matches the Chinese labels, which Latin letters never do.
      event.preventDefault();
      var now = Date.now();
      typed = (now - lastKeyAt > PAUSE_MS ? "" : typed) + event.key.toLowerCase();
      lastKeyAt = now;
      var index = firstMatch(select, typed);
      if (index >= 0 && index !== select.selectedIndex) {
        select.selectedIndex = index;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });
})();
