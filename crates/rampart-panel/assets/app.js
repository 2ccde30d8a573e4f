// Rampart — the UI's one script. Progressive enhancement only: every page
// works without it. No inline handlers (the CSP forbids them).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Show/hide a password field.
  document.querySelectorAll("button[data-reveal]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-reveal"));
    if (!input) return;
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-label", show ? "Hide password" : "Show password");
    });
  });

  // Warn before submitting two different passwords.
  document.querySelectorAll("form[data-confirm-passwords]").forEach(function (form) {
    var first = form.querySelector("input[name=password]");
    var second = form.querySelector("input[name=password_confirm]");
    var warning = form.querySelector("[data-mismatch]");
    if (!first || !second || !warning) return;
    function check() {
      var differ = second.value !== "" && first.value !== second.value;
      warning.hidden = !differ;
      second.setCustomValidity(differ ? "The two passwords differ." : "");
    }
    first.addEventListener("input", check);
    second.addEventListener("input", check);
  });

  // Forms that ask before they act (e.g. deleting a server).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  var server = document.getElementById("server");
  if (server && document.getElementById("console")) startConsole(server.getAttribute("data-server-id"));

  var files = document.getElementById("files");
  if (files && files.hasAttribute("data-can-edit")) startFiles(files);

  // Menu button on narrow screens.
  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
});

// ---- Server console: a WebSocket to /api/v1/servers/{id}/console. Output
// is text only (textContent; never HTML); ANSI colour codes become classes.
var ANSI_COLOURS = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];
var MAX_CONSOLE_LINES = 1000;

function ansiToNodes(line) {
  var out = document.createDocumentFragment();
  var parts = line.split(/\u001b\[([0-9;]*)m/);
  var classes = [];
  for (var i = 0; i < parts.length; i++) {
    if (i % 2 === 1) {
      parts[i].split(";").forEach(function (code) {
        var n = parseInt(code || "0", 10);
        if (n === 0) classes = [];
        else if (n === 1) classes.push("ansi-bold");
        else if (n >= 30 && n <= 37) classes.push("ansi-" + ANSI_COLOURS[n - 30]);
        else if (n >= 90 && n <= 97) classes.push("ansi-bright-" + ANSI_COLOURS[n - 90]);
      });
      continue;
    }
    // Other escape sequences are dropped, never interpreted.
    var text = parts[i].replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
    if (!text) continue;
    if (classes.length === 0) {
      out.appendChild(document.createTextNode(text));
    } else {
      var span = document.createElement("span");
      span.className = classes.join(" ");
      span.textContent = text;
      out.appendChild(span);
    }
  }
  return out;
}

function drawGraph(svg, values, max) {
  if (!svg) return;
  var line = svg.querySelector("polyline");
  var n = values.length;
  if (n === 0) return;
  var top = Math.max(max, 1);
  var points = values.map(function (v, i) {
    var x = n === 1 ? 300 : (i / (n - 1)) * 300;
    var y = 80 - Math.min(v / top, 1) * 78;
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  line.setAttribute("points", points.join(" "));
}

function startConsole(id) {
  var screen = document.getElementById("console");
  var status = document.getElementById("console-status");
  var follow = document.getElementById("console-follow");
  var form = document.getElementById("console-form");
  var input = document.getElementById("console-command");
  var stateBadge = document.getElementById("server-state");
  var history = [];
  var historyAt = 0;
  var cpu = [];
  var mem = [];
  var memLimit = 1;
  var socket = null;
  var retry = 1000;

  function append(lines) {
    lines.forEach(function (line) {
      var row = document.createElement("div");
      row.appendChild(ansiToNodes(line));
      screen.appendChild(row);
    });
    while (screen.childNodes.length > MAX_CONSOLE_LINES) screen.removeChild(screen.firstChild);
    if (follow.checked) screen.scrollTop = screen.scrollHeight;
  }

  function stats(s) {
    cpu.push(s.cpu_percent);
    mem.push(s.memory_bytes);
    memLimit = s.memory_limit_bytes || memLimit;
    if (cpu.length > 180) { cpu.shift(); mem.shift(); }
    drawGraph(document.getElementById("cpu-graph"), cpu, Math.max(100, Math.max.apply(null, cpu)));
    drawGraph(document.getElementById("mem-graph"), mem, memLimit);
    document.getElementById("cpu-now").textContent = s.cpu_percent.toFixed(1) + " %";
    var disk = document.getElementById("disk-now");
    if (disk && typeof s.disk_bytes === "number") disk.textContent = (s.disk_bytes / 1048576).toFixed(1) + " MiB";
    document.getElementById("mem-now").textContent =
      (s.memory_bytes / 1048576).toFixed(1) + " of " + (memLimit / 1048576).toFixed(0) + " MiB";
  }

  // Scrolling up stops following; scrolling to the bottom resumes.
  screen.addEventListener("scroll", function () {
    follow.checked = screen.scrollTop + screen.clientHeight >= screen.scrollHeight - 4;
  });

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/api/v1/servers/" + id + "/console");
    socket.addEventListener("open", function () {
      status.textContent = "Connected.";
      retry = 1000;
    });
    socket.addEventListener("message", function (event) {
      var msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.type === "history") { screen.textContent = ""; append(msg.lines); }
      else if (msg.type === "output") append(msg.lines);
      else if (msg.type === "state") {
        stateBadge.textContent = msg.state;
        stateBadge.className = "badge state-" + msg.state;
      } else if (msg.type === "stats") stats(msg.stats);
      else if (msg.type === "notice" || msg.type === "error") status.textContent = msg.message;
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4403) { status.textContent = "Your access to this console was revoked."; return; }
      status.textContent = "Disconnected; reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  form.addEventListener("submit", function (event) {
    var line = input.value;
    if (!socket || socket.readyState !== WebSocket.OPEN) return; // the form posts instead
    event.preventDefault();
    if (line === "") return;
    socket.send(JSON.stringify({ type: "command", data: line }));
    history.push(line);
    if (history.length > 100) history.shift();
    historyAt = history.length;
    input.value = "";
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowUp" && historyAt > 0) {
      historyAt -= 1;
      input.value = history[historyAt];
      event.preventDefault();
    } else if (event.key === "ArrowDown") {
      historyAt = Math.min(historyAt + 1, history.length);
      input.value = history[historyAt] || "";
      event.preventDefault();
    }
  });

  fetch("/api/v1/servers/" + id + "/stats", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { items: [] }; })
    .then(function (h) { h.items.forEach(stats); })
    .catch(function () {});
  connect();
}

// ---- File manager: uploads with a progress bar, a plain-text editor for
// small files, and per-entry actions, all through /api/v1/servers/{id}/files
// with the session cookie and the CSRF header. Names are only ever set as
// text or sent as JSON, never put into markup.
var MAX_EDIT_BYTES = 1048576;

function startFiles(root) {
  var id = root.getAttribute("data-server-id");
  var dir = root.getAttribute("data-dir");
  var csrf = root.getAttribute("data-csrf");
  var base = "/api/v1/servers/" + encodeURIComponent(id) + "/files";
  var status = document.getElementById("files-status");
  var editor = document.getElementById("editor");
  var editorText = document.getElementById("editor-text");
  var editing = null;

  function join(name) {
    if (name.charAt(0) === "/") return name;
    return (dir === "/" ? "" : dir) + "/" + name;
  }
  function say(message, failed) {
    status.textContent = message;
    status.className = failed ? "small error-text" : "small";
  }
  function contentUrl(path) {
    return base + "/content?path=" + encodeURIComponent(path);
  }
  function failure(response) {
    return response.json().then(
      function (body) { throw new Error((body.error && body.error.message) || response.statusText); },
      function () { throw new Error(response.status + " " + response.statusText); });
  }
  function call(op, body) {
    return fetch(base + "/" + op, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) { return r.ok ? r : failure(r); });
  }
  function reloadSoon(message) {
    say(message);
    setTimeout(function () { location.reload(); }, 300);
  }
  function act(promise, message) {
    promise.then(function () { reloadSoon(message); },
                 function (e) { say(e.message, true); });
  }

  document.getElementById("files-tools").hidden = false;
  root.querySelectorAll("details.menu").forEach(function (d) { d.hidden = false; });

  // Uploads: one file after another, each streamed as the request body;
  // XMLHttpRequest because fetch reports no upload progress.
  var form = document.getElementById("upload-form");
  var input = document.getElementById("upload-input");
  var progress = document.getElementById("upload-progress");
  var percent = document.getElementById("upload-percent");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var list = Array.prototype.slice.call(input.files);
    if (list.length === 0) { say("Choose a file first.", true); return; }
    upload(list, 0);
  });
  function upload(list, i) {
    if (i >= list.length) { reloadSoon("Uploaded " + list.length + " file(s)."); return; }
    var file = list[i];
    var xhr = new XMLHttpRequest();
    xhr.open("PUT", contentUrl(join(file.name)));
    xhr.setRequestHeader("x-csrf-token", csrf);
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var p = Math.floor((e.loaded * 100) / Math.max(e.total, 1));
      progress.value = p;
      percent.textContent = file.name + ": " + p + " %";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 204) {
        progress.value = 100;
        percent.textContent = file.name + ": 100 %";
        upload(list, i + 1);
        return;
      }
      var message = xhr.statusText;
      try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* keep the status */ }
      say(file.name + ": " + message, true);
    });
    xhr.addEventListener("error", function () { say(file.name + ": the upload failed.", true); });
    xhr.send(file);
  }

  document.getElementById("new-folder").addEventListener("click", function () {
    var name = window.prompt("New folder name");
    if (name) act(call("mkdir", { path: join(name) }), "Folder created.");
  });
  document.getElementById("new-file").addEventListener("click", function () {
    var name = window.prompt("New file name");
    if (!name) return;
    fetch(contentUrl(join(name)), {
      method: "PUT", credentials: "same-origin", headers: { "x-csrf-token": csrf }, body: ""
    }).then(function (r) { return r.ok ? r : failure(r); })
      .then(function () { reloadSoon("File created."); }, function (e) { say(e.message, true); });
  });

  // The editor: plain text, small files only.
  function openEditor(name, size) {
    if (size > MAX_EDIT_BYTES) { say(name + " is too large to edit here; download it instead.", true); return; }
    fetch(contentUrl(join(name)), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : failure(r); })
      .then(function (text) {
        if (text.indexOf("\u0000") !== -1) { say(name + " is not a text file.", true); return; }
        editing = join(name);
        document.getElementById("editor-name").textContent = editing;
        editorText.value = text;
        editor.hidden = false;
        editorText.focus();
      }, function (e) { say(e.message, true); });
  }
  document.getElementById("editor-save").addEventListener("click", function () {
    if (editing === null) return;
    fetch(contentUrl(editing), {
      method: "PUT", credentials: "same-origin", headers: { "x-csrf-token": csrf }, body: editorText.value
    }).then(function (r) { return r.ok ? r : failure(r); })
      .then(function () { say("Saved " + editing + "."); }, function (e) { say(e.message, true); });
  });
  document.getElementById("editor-close").addEventListener("click", function () {
    editor.hidden = true;
    editing = null;
  });

  // Per-entry actions.
  root.querySelectorAll("tr[data-name]").forEach(function (row) {
    var name = row.getAttribute("data-name");
    var size = parseInt(row.getAttribute("data-size"), 10) || 0;
    var mode = row.querySelector("code") ? row.querySelector("code").textContent : "644";
    row.querySelectorAll("button[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var menu = button.closest("details");
        if (menu) menu.open = false;
        var path = join(name);
        var answer;
        switch (button.getAttribute("data-action")) {
          case "edit":
            openEditor(name, size);
            break;
          case "rename":
            answer = window.prompt("Rename or move " + name + " to", name);
            if (answer && answer !== name) act(call("rename", { from: path, to: join(answer) }), "Renamed.");
            break;
          case "copy":
            answer = window.prompt("Copy " + name + " to", name + ".copy");
            if (answer) act(call("copy", { from: path, to: join(answer) }), "Copied.");
            break;
          case "chmod":
            answer = window.prompt("Permissions of " + name + " (octal, e.g. 644)", mode);
            if (answer === null) break;
            if (!/^[0-7]{3}$/.test(answer)) { say("Permissions: three octal digits, e.g. 644.", true); break; }
            act(call("chmod", { path: path, mode: parseInt(answer, 8) }), "Permissions changed.");
            break;
          case "extract":
            answer = window.prompt("Extract " + name + " into folder", dir);
            if (answer) act(call("extract", { path: path, to: join(answer) }), "Extracted.");
            break;
          case "archive":
            answer = window.prompt("Compress " + name + " into", name + ".tar.gz");
            if (answer) act(call("archive", { paths: [path], to: join(answer) }), "Compressed.");
            break;
          case "delete":
            if (window.confirm("Delete " + name + (row.getAttribute("data-kind") === "dir" ? " and everything in it?" : "?"))) {
              act(call("delete", { path: path }), "Deleted.");
            }
            break;
        }
      });
    });
  });
}
