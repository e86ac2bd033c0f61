// The demo page: log in with POST /tokens, keep the token in sessionStorage (never
// localStorage), send it with No-Auth-Challenge so the browser never shows its own
// login dialog. In cookie mode the server keeps the token in an HttpOnly cookie and
// the page only remembers who is logged in; unsafe requests then carry X-Requested-With.
// Server data (notes, a session's client label) is only ever set with textContent.
"use strict";

const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);
let validUntil = null;
let ticker = null;

function session() {
  const userid = store.getItem("restauth.userid");
  if (!userid) return null;
  return { userid, token: store.getItem("restauth.token") };  // token is null in cookie mode
}

function show(view) {
  $("login-view").hidden = view !== "login";
  $("app-view").hidden = view !== "app";
}

function message(id, text) {
  $(id).textContent = text || "";
  $(id).hidden = !text;
}

async function api(method, path, body) {
  const s = session();
  const headers = { "No-Auth-Challenge": "true", "Accept": "application/json" };
  if (s && s.token) headers["Authorization"] = "Bearer " + s.token;
  else headers["X-Requested-With"] = "restauth-demo";  // cookie mode: CSRF proof
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  noteTokenHeaders(response);
  if (response.status === 401) {
    expire("Your session has expired or was ended. Please log in again.");
    throw new Error("unauthenticated");
  }
  return response;
}

function noteTokenHeaders(response) {
  const token = response.headers.get("Auth-Token");
  const s = session();
  if (token && s && s.token && token !== s.token) store.setItem("restauth.token", token);
  const until = response.headers.get("Auth-Token-Valid-Until");
  if (until) validUntil = new Date(until);
}

function tick() {
  if (!validUntil) { $("validity").textContent = "this browser session"; return; }
  const seconds = Math.max(0, Math.round((validUntil - Date.now()) / 1000));
  const m = Math.floor(seconds / 60), s = seconds % 60;
  $("validity").textContent = `${m} min ${String(s).padStart(2, "0")} s`;
  if (seconds === 0) expire("Your token has expired. Please log in again.");
}

function expire(text) {
  store.removeItem("restauth.userid");
  store.removeItem("restauth.token");
  clearInterval(ticker);
  validUntil = null;
  show("login");
  message("login-error", text);
}

async function login(event) {
  event.preventDefault();
  $("login-button").disabled = true;
  message("login-error", "");
  try {
    const response = await fetch("/tokens", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "No-Auth-Challenge": "true",
                 "X-Requested-With": "restauth-demo" },
      body: JSON.stringify({ username: $("username").value, password: $("password").value,
                             client: $("client").value.trim() || deviceLabel() }),
    });
    if (response.status === 401) { message("login-error", "Wrong user name or password."); return; }
    if (!response.ok) { message("login-error", `Login failed (HTTP ${response.status}).`); return; }
    const body = await response.json();
    store.setItem("restauth.userid", body.userid);
    if (body.token) store.setItem("restauth.token", body.token);
    else store.removeItem("restauth.token");
    validUntil = body.valid_until ? new Date(body.valid_until) : null;
    $("password").value = "";
    await enter();
  } catch (error) {
    message("login-error", "The server could not be reached.");
  } finally {
    $("login-button").disabled = false;
  }
}

async function enter() {
  const s = session();
  if (!s) { show("login"); return; }
  try {
    const roles = await api("GET", "/roles/" + encodeURIComponent(s.userid));
    if (!roles.ok) { expire(`Could not read your roles (HTTP ${roles.status}).`); return; }
    const body = await roles.json();
    $("who").textContent = s.userid;
    $("roles").textContent = body.roles.join(", ") || "none";
    $("mode").textContent = s.token ? "token in sessionStorage" : "token in an HttpOnly cookie";
    show("app");
    clearInterval(ticker);
    ticker = setInterval(tick, 1000);
    tick();
    await Promise.all([loadNotes(), loadSessions(), loadAdmin()]);
    document.body.dataset.loaded = "true";  // every first load done (tests wait for it)
  } catch (error) { /* expire() already showed the form */ }
}

function renderNotes(notes) {
  const list = $("notes");
  list.replaceChildren(...notes.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  $("no-notes").hidden = notes.length > 0;
}

async function loadNotes() {
  const response = await api("GET", "/api/notes");
  if (response.ok) renderNotes((await response.json()).notes);
}

async function addNote(event) {
  event.preventDefault();
  try {
    const response = await api("POST", "/api/notes", { text: $("note-text").value });
    if (response.ok) {
      renderNotes((await response.json()).notes);
      $("note-text").value = "";
      message("app-error", "");
      if (!$("admin-section").hidden) await loadAdmin();
    } else {
      message("app-error", `Could not save the note (HTTP ${response.status}).`);
    }
  } catch (error) { /* expired */ }
}

async function loadAdmin() {
  const response = await api("GET", "/api/admin/users");
  if (response.status === 403) {
    $("admin-section").hidden = true;
    message("admin-denied",
      "The administration area is for administrators only: the server answered 403 Forbidden.");
    return;
  }
  if (!response.ok) return;
  const body = await response.json();
  $("admin-users").replaceChildren(...body.users.map((user) => {
    const row = document.createElement("tr");
    for (const value of [user.userid, user.roles.join(", "), String(user.notes)]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    return row;
  }));
  message("admin-denied", "");
  $("admin-section").hidden = false;
}

// "Chrome on Linux": the default label of this login in the sessions list.
function deviceLabel() {
  const ua = navigator.userAgent;
  const browser = [["Edge", /Edg\//], ["Firefox", /Firefox\//], ["Chrome", /Chrom(e|ium)\//],
                   ["Safari", /Safari\//]].find(([, re]) => re.test(ua));
  const system = [["Android", /Android/], ["iOS", /iPhone|iPad/], ["Windows", /Windows/],
                  ["macOS", /Mac OS X/], ["Linux", /Linux/]].find(([, re]) => re.test(ua));
  return (browser ? browser[0] : "A browser") + (system ? " on " + system[0] : "");
}

function sessionsPath(suffix) {
  return "/tokens/" + encodeURIComponent(session().userid) + (suffix || "");
}

function when(label, iso) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.title = iso;
  time.textContent = new Date(iso).toLocaleString();
  const part = document.createElement("span");
  part.append(label + " ", time);
  return part;
}

function renderSessions(sessions) {
  $("sessions").replaceChildren(...sessions.map((item) => {
    const row = document.createElement("li");
    row.dataset.session = item.id;
    const name = document.createElement("strong");
    name.className = "client";
    name.textContent = item.client || "(no label)";
    const details = document.createElement("div");
    details.className = "muted small";
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = item.kind;
    details.append(kind, when("created", item.created), when("last used", item.last_used),
                   when("valid until", item.valid_until));
    const about = document.createElement("div");
    about.append(name);
    if (item.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "this device";
      about.append(" ", badge);
    }
    about.append(details);
    row.append(about);
    if (!item.current) {
      const end = document.createElement("button");
      end.type = "button";
      end.className = "secondary end";
      end.textContent = "End";
      end.addEventListener("click", () => endSession(item.id));
      row.append(end);
    }
    return row;
  }));
}

async function loadSessions() {
  $("sessions").setAttribute("aria-busy", "true");
  try {
    const response = await api("GET", sessionsPath());
    if (response.ok) renderSessions((await response.json()).sessions);
  } finally {
    $("sessions").setAttribute("aria-busy", "false");
  }
}

async function endSession(id) {
  try {
    const response = await api("DELETE", sessionsPath("/" + encodeURIComponent(id)));
    message("app-error", response.ok || response.status === 404 ? ""
      : `Could not end the session (HTTP ${response.status}).`);
    await loadSessions();
  } catch (error) { /* expired */ }
}

async function logout(everywhere) {
  if (session()) {
    try { await api("DELETE", sessionsPath(everywhere ? "?all=true" : "")); } catch (e) { /* gone */ }
  }
  expire("");
}

async function refresh() {
  try { await loadSessions(); } catch (error) { /* expired */ }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("note-form").addEventListener("submit", addNote);
  $("logout-button").addEventListener("click", () => logout(false));
  $("logout-all-button").addEventListener("click", () => logout(true));
  $("sessions-refresh").addEventListener("click", refresh);
  $("client").placeholder = deviceLabel();
  enter();
});
