"""The web page served at ``GET /``: one self-contained HTML document (inline CSS and JS, no
CDN). State lives in the URL (``/?user=u0001&lang=ar``), so a link shows the same view."""

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lmrec recommendations</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
  header { background: #23304a; color: #fff; padding: 12px 24px; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 16px 24px; max-width: 1100px; }
  form, section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px;
    padding: 12px 16px; margin-bottom: 14px; }
  label { margin-right: 12px; }
  input, select, button { font: inherit; padding: 3px 6px; }
  button { background: #2f6fde; color: #fff; border: 0; border-radius: 4px; padding: 4px 12px;
    cursor: pointer; }
  .cols { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: start; padding: 3px 6px; border-bottom: 1px solid #eef0f4; }
  .score, .muted { color: #6b7385; font-size: 13px; }
  #status { min-height: 1.4em; color: #b3261e; }
  #status.ok { color: #1e7b34; }
</style>
</head>
<body>
<header><h1>lmrec &mdash; language-model recommendations</h1></header>
<main>
<form id="pick">
  <label>User <input id="user" list="users" required maxlength="128" placeholder="u0001"></label>
  <datalist id="users"></datalist>
  <label>Names <select id="lang"><option value="en">English</option>
    <option value="ar">العربية</option></select></label>
  <label>k <input id="k" type="number" min="1" max="100" value="10" style="width:4em"></label>
  <label>Key <input id="key" type="password" placeholder="X-API-Key" autocomplete="off"></label>
  <button id="show" type="submit">Show</button>
</form>
<div id="status" role="status"></div>
<div class="cols">
  <section><h2>History <span id="history-count" class="muted"></span></h2>
    <table><thead><tr><th>item</th><th>name</th><th>event</th><th>time</th></tr></thead>
    <tbody id="history"></tbody></table></section>
  <section><h2>Recommendations <span id="cold" class="muted" hidden>(cold start: no stored
    history, not personalised)</span></h2>
    <table><thead><tr><th>#</th><th>name</th><th>item</th><th>score</th></tr></thead>
    <tbody id="recs"></tbody></table></section>
</div>
<form id="add-form">
  <strong>Add an event</strong>
  <label>Item <select id="item"></select></label>
  <label>Type <select id="type"><option>view</option><option>bookmark</option>
    <option>cart</option><option selected>purchase</option></select></label>
  <button id="add" type="submit">Add event</button>
</form>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("user").value = params.get("user") || "";
$("lang").value = params.get("lang") === "ar" ? "ar" : "en";
$("key").value = sessionStorage.getItem("lmrec-key") || "";

function headers(json) {
  const h = {};
  if ($("key").value) h["X-API-Key"] = $("key").value;
  if (json) h["Content-Type"] = "application/json";
  return h;
}
function say(text, ok) { $("status").textContent = text; $("status").className = ok ? "ok" : ""; }
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text; td.dir = "auto"; if (cls) td.className = cls;
  row.appendChild(td); return td;
}
async function call(path, options) {
  const response = await fetch(path, options || { headers: headers(false) });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
  return body;
}
async function loadItems() {
  const data = await call("/items?limit=500&lang=" + $("lang").value);
  const select = $("item"); const keep = select.value; select.textContent = "";
  for (const it of data.items) {
    const o = document.createElement("option");
    o.value = it.id; o.textContent = it.name + " (" + it.id + ")"; select.appendChild(o);
  }
  if (keep) select.value = keep;
}
async function loadUsers() {
  const data = await call("/users?limit=200");
  const list = $("users"); list.textContent = "";
  for (const u of data.users) {
    const o = document.createElement("option"); o.value = u.user;
    o.label = u.events + " events"; list.appendChild(o);
  }
}
async function show() {
  const user = $("user").value.trim();
  document.body.dataset.state = "loading";
  const url = new URL(location.href);
  url.searchParams.set("user", user); url.searchParams.set("lang", $("lang").value);
  history.replaceState(null, "", url);
  if (!user) { document.body.dataset.state = "idle"; return; }
  const data = await call("/users/" + encodeURIComponent(user) + "/recommendations?k=" +
    encodeURIComponent($("k").value) + "&lang=" + $("lang").value);
  const hist = $("history"); hist.textContent = "";
  for (const e of data.history) {
    const row = hist.insertRow();
    cell(row, e.item); cell(row, e.name); cell(row, e.type);
    cell(row, new Date(e.timestamp * 1000).toISOString().slice(0, 16).replace("T", " "), "muted");
  }
  $("history-count").textContent = "(" + data.history.length + " events)";
  const recs = $("recs"); recs.textContent = "";
  data.recommendations.forEach((r, i) => {
    const row = recs.insertRow(); row.className = "rec"; row.dataset.item = r.item;
    cell(row, String(i + 1)); cell(row, r.name, "name"); cell(row, r.item, "muted");
    cell(row, r.score.toFixed(3), "score");
  });
  $("cold").hidden = !data.cold_start;
  say(data.recommendations.length + " recommendations for " + user +
    (data.cold_start ? " (cold start: no stored history)" : ""), true);
  document.body.dataset.user = user;
  document.body.dataset.cold = String(data.cold_start);
  document.body.dataset.state = "ready";
}
function guard(fn) {
  return async (event) => {
    if (event) event.preventDefault();
    try { await fn(); } catch (err) {
      say(err.message, false); document.body.dataset.state = "error";
    }
  };
}
function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}
$("key").addEventListener("change", () => sessionStorage.setItem("lmrec-key", $("key").value));
$("pick").addEventListener("submit", guard(show));
$("lang").addEventListener("change", guard(async () => { await loadItems(); await show(); }));
$("add-form").addEventListener("submit", guard(async () => {
  const user = $("user").value.trim();
  if (!user) throw new Error("pick a user first");
  sessionStorage.setItem("lmrec-key", $("key").value);
  const event = { id: newId(), user: user, item: $("item").value, type: $("type").value,
                  timestamp: Date.now() / 1000 };
  const body = await call("/events", { method: "POST", headers: headers(true),
                                       body: JSON.stringify({ events: [event] }) });
  await show();
  say("stored " + body.stored + " event; recommendations updated", true);
  loadUsers().catch(() => {});
}));
guard(async () => {
  await loadItems();
  loadUsers().catch(() => {});
  await show();
})();
</script>
</body>
</html>
"""
