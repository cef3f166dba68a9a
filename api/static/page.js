// Groundwork's meeting page: the few interactions that need a script. The
// page works without it; this adds the live feed (EventSource, which
// resumes with Last-Event-ID by itself after a drop), the local-time
// readout on hover, present mode's keys and print's expanded rows.
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var page = document.getElementById("page");
  var zone = (page && page.dataset.zone) || "UTC";

  function clock(ms, tz, seconds) {
    var opts = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz };
    if (seconds) { opts.second = "2-digit"; }
    try {
      return new Intl.DateTimeFormat("en-GB", opts).format(new Date(ms));
    } catch (e) {
      return new Date(ms).toISOString().slice(11, seconds ? 19 : 16) + " UTC";
    }
  }

  // The lane of an event: the same rule as the server's laneOf.
  function laneOf(ev) {
    var k = ev.kind || "";
    if (k.indexOf("page.") === 0 || k.indexOf("incident.") === 0) { return "pager"; }
    if (k.indexOf("alert.") === 0) { return "alerts"; }
    if (k.indexOf("change.") === 0 || k.indexOf("deploy.") === 0 || k.indexOf("ci.") === 0) { return "changes"; }
    if (k.indexOf("chat.") === 0) {
      var ch = ev.details && ev.details.channel;
      var parts = (ev.id || "").split(":");
      return "chat:" + (ch || (parts.length === 4 ? parts[2] : ""));
    }
    return "other";
  }

  function markClass(kind) {
    var f = (kind || "").split(".")[0];
    return ["page", "incident", "alert", "deploy", "change", "ci", "chat"].indexOf(f) >= 0 ? "k-" + f : "k-other";
  }

  var svg = document.getElementById("lanes");
  var geo = null;
  if (svg) {
    geo = {
      start: Number(svg.dataset.start), end: Number(svg.dataset.end),
      plotX: Number(svg.dataset.plotX), plotW: Number(svg.dataset.plotW)
    };
  }

  function xOf(ms) {
    var f = (ms - geo.start) / (geo.end - geo.start);
    return geo.plotX + Math.min(Math.max(f, 0), 1) * geo.plotW;
  }

  function laneGroup(key) {
    var lanes = svg ? svg.querySelectorAll("g.lane") : [];
    for (var i = 0; i < lanes.length; i++) {
      if (lanes[i].dataset.lane === key) { return lanes[i]; }
    }
    return null;
  }

  // Hover: a line at the pointer, the time in the page's zone, and each
  // person's own local time in their lane.
  function setupHover() {
    if (!svg || !svg.getScreenCTM) { return; }
    var line = document.getElementById("hover-line");
    var readout = document.getElementById("hover-readout");
    var people = svg.querySelectorAll("g.lane[data-tz]");
    svg.addEventListener("mousemove", function (e) {
      var ctm = svg.getScreenCTM();
      if (!ctm) { return; }
      var pt = svg.createSVGPoint();
      pt.x = e.clientX;
      pt.y = e.clientY;
      var p = pt.matrixTransform(ctm.inverse());
      if (p.x < geo.plotX || p.x > geo.plotX + geo.plotW) {
        line.setAttribute("visibility", "hidden");
        return;
      }
      var ms = geo.start + (p.x - geo.plotX) / geo.plotW * (geo.end - geo.start);
      line.setAttribute("x1", p.x);
      line.setAttribute("x2", p.x);
      line.setAttribute("visibility", "visible");
      var parts = [clock(ms, zone, true) + " " + zone];
      for (var i = 0; i < people.length; i++) {
        var tz = people[i].dataset.tz;
        var local = clock(ms, tz, false);
        var label = people[i].querySelector(".lane-local");
        if (label) { label.textContent = local; }
        var name = people[i].querySelector(".lane-label");
        parts.push((name ? name.textContent : "") + " " + local + " (" + tz + ")");
      }
      if (readout) { readout.textContent = parts.join(" · "); }
    });
    svg.addEventListener("mouseleave", function () {
      line.setAttribute("visibility", "hidden");
      for (var i = 0; i < people.length; i++) {
        var label = people[i].querySelector(".lane-local");
        if (label) { label.textContent = ""; }
      }
      if (readout) { readout.textContent = ""; }
    });
  }

  // Live: follow the incident's feed.
  var live = { opens: 0, errors: 0, received: [], added: [], updated: [], removed: [] };
  window.groundworkLive = live;

  function rowsOf(id) {
    var out = [];
    var rows = document.querySelectorAll("#rows tr[data-event-ids]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].dataset.eventIds.split(" ").indexOf(id) >= 0) { out.push(rows[i]); }
    }
    return out;
  }

  function marksOf(id) {
    var out = [];
    var marks = svg ? svg.querySelectorAll("a[data-event-id]") : [];
    for (var i = 0; i < marks.length; i++) {
      if (marks[i].dataset.eventId === id) { out.push(marks[i]); }
    }
    return out;
  }

  var liveRows = 0;

  function cell(tr, cls, text) {
    var td = document.createElement("td");
    td.className = cls;
    if (text !== undefined) { td.textContent = text; }
    tr.appendChild(td);
    return td;
  }

  function addEvent(ev) {
    var ms = Date.parse(ev.occurred_at);
    var lane = laneOf(ev);
    var anchor = "live-" + (++liveRows);
    var tr = document.createElement("tr");
    tr.id = anchor;
    tr.className = "row live-new";
    tr.dataset.at = String(ms);
    tr.dataset.lane = lane;
    tr.dataset.eventIds = ev.id;
    var when = cell(tr, "when");
    var time = document.createElement("time");
    time.setAttribute("datetime", ev.occurred_at);
    time.textContent = clock(ms, zone, true);
    when.appendChild(time);
    var g = laneGroup(lane);
    var laneLabel = g ? g.querySelector(".lane-label") : null;
    cell(tr, "lane", laneLabel ? laneLabel.textContent : lane);
    var what = cell(tr, "what");
    if (ev.url && /^https?:/i.test(ev.url)) {
      var a = document.createElement("a");
      a.href = ev.url;
      a.textContent = ev.title;
      what.appendChild(a);
    } else {
      what.textContent = ev.title;
    }
    cell(tr, "who", ev.actor ? ev.actor.name : "");
    cell(tr, "n", "1");
    var body = document.getElementById("rows");
    var rows = body.querySelectorAll("tr[data-at]");
    var before = null;
    for (var i = 0; i < rows.length; i++) {
      if (Number(rows[i].dataset.at) > ms) { before = rows[i]; break; }
    }
    body.insertBefore(tr, before);

    if (g && geo) {
      var marks = g.querySelector("g.marks");
      var link = document.createElementNS(SVGNS, "a");
      link.setAttribute("href", "#" + anchor);
      link.dataset.eventId = ev.id;
      var c = document.createElementNS(SVGNS, "circle");
      c.setAttribute("class", "m " + markClass(ev.kind) + " live-new");
      c.setAttribute("cx", xOf(ms).toFixed(1));
      c.setAttribute("cy", String(Number(g.dataset.h) / 2));
      c.setAttribute("r", "4.5");
      var title = document.createElementNS(SVGNS, "title");
      title.textContent = clock(ms, zone, true) + " " + ev.title + (ev.actor && ev.actor.name ? " — " + ev.actor.name : "");
      c.appendChild(title);
      link.appendChild(c);
      marks.appendChild(link);
      g.classList.remove("empty");
    }
    live.added.push(ev.id);
  }

  function onEntry(entry) {
    if (entry.type === "annotation") {
      setState("An annotation changed; reload to see it.", true);
      return;
    }
    if (entry.deleted) {
      var gone = rowsOf(entry.id).concat(marksOf(entry.id));
      for (var i = 0; i < gone.length; i++) {
        var el = gone[i];
        if (el.tagName.toLowerCase() === "tr" && el.dataset.eventIds !== entry.id) { continue; }
        el.parentNode.removeChild(el);
      }
      live.removed.push(entry.id);
      return;
    }
    var rows = rowsOf(entry.id);
    if (rows.length > 0) {
      // An event already on the page changed (or came in while the page
      // was drawn): update it in place, never twice.
      for (var j = 0; j < rows.length; j++) {
        if (rows[j].dataset.eventIds === entry.id) {
          var what = rows[j].querySelector("td.what a") || rows[j].querySelector("td.what");
          if (what && what.children.length === 0) { what.textContent = entry.title; }
        }
      }
      live.updated.push(entry.id);
      return;
    }
    addEvent(entry);
  }

  var liveBox = document.getElementById("live");
  function setState(text, connected) {
    var state = document.getElementById("live-state");
    if (state) { state.textContent = text; }
    if (liveBox) { liveBox.classList.toggle("connected", !!connected); }
  }

  function setupLive() {
    if (!liveBox || !liveBox.dataset.feed || !window.EventSource) { return; }
    var es = new EventSource(liveBox.dataset.feed);
    live.source = es;
    es.onopen = function () {
      live.opens++;
      setState("Live: new events appear as they arrive.", true);
    };
    es.onmessage = function (m) {
      live.received.push(Number(m.lastEventId));
      var entry;
      try {
        entry = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      onEntry(entry);
    };
    es.onerror = function () {
      live.errors++;
      if (es.readyState === EventSource.CLOSED) {
        setState("Live updates stopped (the link may have expired or been revoked); reload the page.", false);
      } else {
        setState("Reconnecting…", false);
      }
    };
  }

  // Present mode: arrows step through the key moments.
  function setupPresent() {
    if (!document.body.classList.contains("present")) { return; }
    document.addEventListener("keydown", function (e) {
      if (e.altKey || e.ctrlKey || e.metaKey) { return; }
      var id = null;
      if (e.key === "ArrowRight" || e.key === "PageDown" || e.key === " ") { id = "present-next"; }
      if (e.key === "ArrowLeft" || e.key === "PageUp") { id = "present-prev"; }
      if (e.key === "Escape") { id = "present-exit"; }
      var a = id && document.getElementById(id);
      if (a) {
        e.preventDefault();
        window.location.assign(a.href);
      }
    });
  }

  // Print: every folded row expanded in the handout.
  function setupPrint() {
    var opened = [];
    window.addEventListener("beforeprint", function () {
      var ds = document.querySelectorAll("details.fold:not([open])");
      for (var i = 0; i < ds.length; i++) { ds[i].open = true; opened.push(ds[i]); }
    });
    window.addEventListener("afterprint", function () {
      while (opened.length) { opened.pop().open = false; }
    });
  }

  setupHover();
  setupLive();
  setupPresent();
  setupPrint();
})();
