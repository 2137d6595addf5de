(function () {
  "use strict";
  var player = document.getElementById("player");
  var tip = document.getElementById("tip");
  var errorBox = document.getElementById("audio-error");

  function playFrom(seconds) {
    if (!player) return;
    player.currentTime = Math.max(0, seconds);
    var started = player.play();
    if (started && started.catch) started.catch(function () {});
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-t]");
    if (target) playFrom(parseFloat(target.getAttribute("data-t")));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") hideTip();
    var target = event.target;
    if ((event.key === "Enter" || event.key === " ") && target.matches && target.matches("mark.flag[data-t]")) {
      event.preventDefault();
      playFrom(parseFloat(target.getAttribute("data-t")));
    }
  });

  function showTip(mark) {
    var numbers = (mark.getAttribute("data-flags") || "").split(" ");
    tip.innerHTML = "";
    numbers.forEach(function (n) {
      var detail = document.querySelector('#detail-' + n + ' table.detail');
      if (detail) tip.appendChild(detail.cloneNode(true));
    });
    if (!tip.firstChild) return;
    tip.hidden = false;
    var box = mark.getBoundingClientRect();
    var width = tip.offsetWidth;
    var left = Math.min(window.scrollX + box.left, window.scrollX + document.documentElement.clientWidth - width - 8);
    tip.style.left = Math.max(window.scrollX + 8, left) + "px";
    var below = box.bottom + 6;
    var top = below + tip.offsetHeight > window.innerHeight && box.top > tip.offsetHeight + 6
      ? box.top - tip.offsetHeight - 6 : below;
    tip.style.top = (window.scrollY + top) + "px";
  }
  function hideTip() { tip.hidden = true; }

  document.querySelectorAll("mark.flag").forEach(function (mark) {
    mark.addEventListener("mouseenter", function () { showTip(mark); });
    mark.addEventListener("mouseleave", hideTip);
    mark.addEventListener("focus", function () { showTip(mark); });
    mark.addEventListener("blur", hideTip);
  });

  if (player) {
    player.addEventListener("error", function () { if (errorBox) errorBox.hidden = false; });
    var segments = Array.prototype.slice.call(document.querySelectorAll(".seg[data-start]"));
    var playing = null;
    player.addEventListener("timeupdate", function () {
      var t = player.currentTime, found = null;
      for (var i = 0; i < segments.length; i++) {
        var s = segments[i];
        if (t >= parseFloat(s.dataset.start) && t < parseFloat(s.dataset.end)) { found = s; break; }
      }
      if (found !== playing) {
        if (playing) playing.classList.remove("playing");
        if (found) found.classList.add("playing");
        playing = found;
      }
    });
  }
})();
