// The live view of a service's logs (templates/logs.html): server-sent events from the
// portal's follow route (portal/log_pages.py), drawn as text, never as HTML. Pause holds new
// lines (bounded) and counts them; the filter box follows again with its query; the server
// names each instance's colour so it matches the search results; the view scrolls with new
// lines until the reader scrolls up; when the route cannot follow it says why in an `error`
// event and this script tries again with growing delays.
(function () {
  "use strict";

  var MAX_LINES = 2000; // lines kept on screen: older ones leave from the top
  var MAX_HELD = 5000; // lines held while paused: past that they are only counted
  var BACKOFF_S = [1, 2, 5, 10, 30];
  var FILTER_DELAY_MS = 400; // typing in the filter box follows again once the typing pauses
  var NEAR_BOTTOM_PX = 8;

  var root = document.getElementById("live");
  if (!root || typeof EventSource === "undefined") {
    return;
  }
  var box = document.getElementById("live-lines");
  var badge = document.getElementById("live-state");
  var filter = document.getElementById("live-filter");
  var pauseButton = document.getElementById("live-pause");
  var pausedNote = document.getElementById("live-paused");
  var bottomButton = document.getElementById("live-bottom");
  var legend = document.getElementById("live-instances");

  var source = null;
  var retryTimer = null;
  var filterTimer = null;
  var attempt = 0;
  var paused = false;
  var held = []; // lines and the server's drop markers that came while paused, in order
  var overflow = 0; // lines that came while paused past MAX_HELD
  var following = true;
  var seen = new Map(); // instance + channel -> highest line number shown

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = String(text);
    }
    return node;
  }

  function setState(name, text) {
    root.dataset.state = name;
    badge.className = "badge live-" + name;
    badge.textContent = text;
  }

  function lineNode(line) {
    var classes = "log-line level-" + (line.level || "none");
    if (line.stream === "stderr") {
      classes += " stderr";
    }
    if (line.cut) {
      classes += " cut";
    }
    var row = element("div", classes);
    row.dataset.instance = line.instance;
    row.dataset.seq = String(line.seq);
    var time = element("time", "", line.time);
    time.title = line.stamp;
    var instance = element("a", "inst inst-c" + Number(line.colour), line.instance);
    instance.href = line.href;
    // The instance's revision, image digest and commit (log_origins.py), when known.
    var origin = element(line.origin ? "a" : "span", "origin", String(line.origin || ""));
    if (line.origin) {
      origin.href = line.href;
      origin.title = String(line.image || "");
    }
    var text = element("span", "text", line.text);
    if (line.cut) {
      text.append(element("span", "cut-mark", "… cut " + line.cut + " bytes"));
    }
    row.append(time, instance, origin, element("span", "stream", line.stream),
      element("span", "level", line.level), text);
    return row;
  }

  function droppedNode(count, reason) {
    return element("div", "log-line dropped", "… " + count + " lines dropped (" + reason + ") …");
  }

  function show(node) {
    box.append(node);
    while (box.childElementCount > MAX_LINES) {
      box.firstElementChild.remove();
    }
    if (following) {
      box.scrollTop = box.scrollHeight;
    }
  }

  function noteInstance(line) {
    var known = Array.prototype.some.call(legend.children, function (item) {
      return item.dataset.instance === line.instance;
    });
    if (!known) {
      var item = element("li", "inst inst-c" + Number(line.colour), line.instance);
      item.dataset.instance = line.instance;
      legend.append(item);
    }
  }

  // A reconnect starts with the tail again: lines already shown are skipped by number.
  function isNew(line) {
    var key = line.instance + "\u0000" + line.channel;
    var last = seen.get(key);
    if (last !== undefined && line.seq <= last) {
      return false;
    }
    seen.set(key, line.seq);
    return true;
  }

  function showPaused() {
    var count = held.reduce(function (sum, item) {
      return sum + (item.drop ? item.count : 1);
    }, 0);
    pausedNote.hidden = false;
    pausedNote.textContent = (count + overflow) + " new lines while paused";
  }

  function onLine(event) {
    var line = JSON.parse(event.data);
    attempt = 0; // the route answers with lines again: the next failure waits little
    if (!isNew(line)) {
      return;
    }
    noteInstance(line);
    if (!paused) {
      show(lineNode(line));
    } else if (held.length < MAX_HELD) {
      held.push(line);
      showPaused();
    } else {
      overflow += 1;
      showPaused();
    }
  }

  function onDropped(event) {
    var drop = JSON.parse(event.data);
    if (paused) {
      drop.drop = true;
      held.push(drop);
      showPaused();
    } else {
      show(droppedNode(drop.count, drop.reason));
    }
  }

  function close() {
    if (source !== null) {
      source.close();
      source = null;
    }
    clearTimeout(retryTimer);
  }

  function retryLater(reason) {
    close();
    var delay = BACKOFF_S[Math.min(attempt, BACKOFF_S.length - 1)];
    attempt += 1;
    setState("down", "unavailable: " + reason + " · retrying in " + delay + " s");
    retryTimer = setTimeout(connect, delay * 1000);
  }

  // The route's own `error` event carries data; the browser's (connection lost) does not.
  function onError(event) {
    if (typeof event.data !== "string") {
      retryLater("the connection was lost (if your session ended, reload the page)");
      return;
    }
    var error = JSON.parse(event.data);
    if (error.retry) {
      retryLater(error.message);
    } else {
      close();
      setState("invalid", error.message);
    }
  }

  function connect() {
    close();
    setState("connecting", "connecting");
    var url = root.dataset.follow + "&tail=" + encodeURIComponent(root.dataset.tail) +
      "&q=" + encodeURIComponent(filter.value);
    source = new EventSource(url);
    source.addEventListener("open", function () {
      setState("live", "live");
    });
    source.addEventListener("line", onLine);
    source.addEventListener("dropped", onDropped);
    source.addEventListener("error", onError);
  }

  function restart() {
    box.replaceChildren();
    legend.replaceChildren();
    seen.clear();
    held = [];
    overflow = 0;
    if (paused) {
      showPaused();
    }
    attempt = 0;
    connect();
  }

  function togglePause() {
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    pauseButton.setAttribute("aria-pressed", String(paused));
    if (paused) {
      showPaused();
      return;
    }
    held.forEach(function (item) {
      show(item.drop ? droppedNode(item.count, item.reason) : lineNode(item));
    });
    if (overflow) {
      show(droppedNode(overflow, "more than " + MAX_HELD + " came while paused"));
    }
    held = [];
    overflow = 0;
    pausedNote.hidden = true;
  }

  box.addEventListener("scroll", function () {
    following = box.scrollTop + box.clientHeight >= box.scrollHeight - NEAR_BOTTOM_PX;
    bottomButton.hidden = following;
  });
  bottomButton.addEventListener("click", function () {
    following = true;
    bottomButton.hidden = true;
    box.scrollTop = box.scrollHeight;
  });
  pauseButton.addEventListener("click", togglePause);
  filter.addEventListener("input", function () {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(restart, FILTER_DELAY_MS);
  });
  filter.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      clearTimeout(filterTimer);
      restart();
    }
  });
  window.addEventListener("pagehide", close);
  connect();
})();
