// The demo page: log in with POST /tokens, keep the token in sessionStorage (never
// localStorage), send it with No-Auth-Challenge so the browser never shows its own
// login dialog. In cookie mode the server keeps the token in an HttpOnly cookie and
// the page only remembers who is logged in; unsafe requests then carry X-Requested-With.
// Accounts: register (POST /users), change the password (PUT /users/<id>/password: the
// answer carries the new session), forgot password (POST /users/password-reset) and the
// reset link's page (#reset=<token>: POST /users/password-reset/confirm).
// Server data (notes, a session's client label, a refusal's reason) is only ever set
// with textContent.
"use strict";

const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);
let validUntil = null;
let ticker = null;
let resetToken = null;  // from a reset link (#reset=...), kept in memory only
const VIEWS = ["login", "register", "forgot", "reset", "app"];

function session() {
  const userid = store.getItem("restauth.userid");
  if (!userid) return null;
  return { userid, token: store.getItem("restauth.token") };  // token is null in cookie mode
}

function show(view) {
  for (const name of VIEWS) $(name + "-view").hidden = view !== name;
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

// A request without any credentials (registration, password reset): never a session's.
async function anonymous(path, body) {
  return fetch(path, {
    method: "POST",
    credentials: "omit",
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "No-Auth-Challenge": "true", "X-Requested-With": "restauth-demo" },
    body: JSON.stringify(body),
  });
}

// Why the server refused: the "detail" of its problem+json answer, as text.
async function reason(response, fallback) {
  let detail = null;
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string" && body.detail) detail = body.detail;
  } catch (error) { /* not JSON */ }
  if (!detail) return `${fallback} (HTTP ${response.status}).`;
  detail = detail.charAt(0).toUpperCase() + detail.slice(1);
  return /[.!?]$/.test(detail) ? detail : detail + ".";
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

function forget() {
  store.removeItem("restauth.userid");
  store.removeItem("restauth.token");
  clearInterval(ticker);
  validUntil = null;
}

function expire(text) {
  forget();
  show("login");
  message("login-notice", "");
  message("login-error", text);
}

// The login form, or the log-in view with a notice (after a registration or a reset).
function toLogin(notice, username) {
  show("login");
  message("login-error", "");
  message("login-notice", notice);
  if (username !== undefined) $("username").value = username;
  $(username ? "password" : "username").focus();
}

// POST /tokens, then the app; "" when logged in, else what to tell the user.
async function signIn(username, password, client) {
  const response = await fetch("/tokens", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "No-Auth-Challenge": "true",
               "X-Requested-With": "restauth-demo" },
    body: JSON.stringify({ username, password, client }),
  });
  if (response.status === 401) return "Wrong user name or password.";
  if (!response.ok) return `Login failed (HTTP ${response.status}).`;
  const body = await response.json();
  store.setItem("restauth.userid", body.userid);
  if (body.token) store.setItem("restauth.token", body.token);
  else store.removeItem("restauth.token");
  validUntil = body.valid_until ? new Date(body.valid_until) : null;
  await enter();
  return "";
}

async function login(event) {
  event.preventDefault();
  $("login-button").disabled = true;
  message("login-error", "");
  message("login-notice", "");
  try {
    const refused = await signIn($("username").value, $("password").value,
                                 $("client").value.trim() || deviceLabel());
    if (refused) { message("login-error", refused); return; }
    $("password").value = "";
  } catch (error) {
    message("login-error", "The server could not be reached.");
  } finally {
    $("login-button").disabled = false;
  }
}

// POST /users: 201 and logged in at once; a 400 (a weak password, a userid the rules
// refuse) or 409 (taken) says why.
async function register(event) {
  event.preventDefault();
  $("register-button").disabled = true;
  message("register-error", "");
  const password = $("register-password").value;
  try {
    const response = await anonymous("/users", { username: $("register-username").value,
                                                 password });
    if (response.status !== 201) {
      message("register-error", await reason(response, "Registration failed"));
      return;
    }
    const userid = (await response.json()).userid;
    $("register-password").value = "";
    $("register-username").value = "";
    const refused = await signIn(userid, password, deviceLabel());
    if (refused) toLogin(`Registered as ${userid}: now log in.`, userid);
  } catch (error) {
    message("register-error", "The server could not be reached.");
  } finally {
    $("register-button").disabled = false;
  }
}

// POST /users/password-reset: 202 whether or not the account exists.
async function forgot(event) {
  event.preventDefault();
  $("forgot-button").disabled = true;
  message("forgot-error", "");
  message("forgot-notice", "");
  try {
    const response = await anonymous("/users/password-reset",
                                     { username: $("forgot-username").value });
    if (response.status === 202) {
      message("forgot-notice", "If the account exists, a reset link was sent.");
    } else {
      message("forgot-error", await reason(response, "The reset link could not be asked for"));
    }
  } catch (error) {
    message("forgot-error", "The server could not be reached.");
  } finally {
    $("forgot-button").disabled = false;
  }
}

// A reset link (#reset=<token>): the token leaves the address bar and the history at
// once, and the page asks for the new password. Whether the page opened with it.
function openResetLink() {
  const match = /^#reset=([^&]*)$/.exec(window.location.hash);
  if (!match) return false;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  try { resetToken = decodeURIComponent(match[1]) || null; } catch (error) { resetToken = null; }
  clearInterval(ticker);  // a logged-in page's expiry must not close the form
  $("reset-password").value = "";
  message("reset-error", resetToken ? "" : "This reset link is incomplete: ask for a new one.");
  show("reset");
  $("reset-password").focus();
  return true;
}

// POST /users/password-reset/confirm: 204, and every session of the account ended.
async function resetPassword(event) {
  event.preventDefault();
  if (!resetToken) return;
  $("reset-button").disabled = true;
  message("reset-error", "");
  try {
    const response = await anonymous("/users/password-reset/confirm",
                                      { token: resetToken, new_password: $("reset-password").value });
    if (response.status !== 204) {
      message("reset-error", await reason(response, "The password was not changed"));
      return;
    }
    resetToken = null;
    $("reset-password").value = "";
    forget();  // whoever was logged in here logs in again
    toLogin("Your password was changed: log in with the new one.");
  } catch (error) {
    message("reset-error", "The server could not be reached.");
  } finally {
    $("reset-button").disabled = false;
  }
}

// PUT /users/<id>/password: the current password too (a stolen token is not enough).
// Every session ends; the answer carries this page's new one (its token in the body, or
// in cookie mode a Set-Cookie the browser has already kept).
async function changePassword(event) {
  event.preventDefault();
  const s = session();
  if (!s) return;
  $("password-button").disabled = true;
  message("password-error", "");
  message("password-notice", "");
  try {
    const response = await api("PUT", "/users/" + encodeURIComponent(s.userid) + "/password",
      { current_password: $("current-password").value, new_password: $("new-password").value });
    if (response.status === 200) {
      const body = await response.json();
      if (body.token) store.setItem("restauth.token", body.token);
      validUntil = body.valid_until ? new Date(body.valid_until) : null;
    } else if (response.status !== 204) {  // 204: a Basic caller, nothing to keep
      message("password-error", await reason(response, "The password was not changed"));
      return;
    }
    $("current-password").value = "";
    $("new-password").value = "";
    message("password-notice", "Password changed. Your other sessions were ended.");
    tick();
    await loadSessions();
  } catch (error) {
    /* expired: expire() showed the form */
  } finally {
    $("password-button").disabled = false;
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
  $("register-form").addEventListener("submit", register);
  $("forgot-form").addEventListener("submit", forgot);
  $("reset-form").addEventListener("submit", resetPassword);
  $("password-form").addEventListener("submit", changePassword);
  $("register-link").addEventListener("click", () => {
    message("register-error", "");
    show("register");
    $("register-username").focus();
  });
  $("forgot-link").addEventListener("click", () => {
    message("forgot-error", "");
    message("forgot-notice", "");
    $("forgot-username").value = $("username").value;
    show("forgot");
    $("forgot-username").focus();
  });
  for (const back of document.querySelectorAll("button.back")) {
    back.addEventListener("click", () => { resetToken = null; enter(); });
  }
  window.addEventListener("hashchange", openResetLink);  // a link opened in this tab
  $("client").placeholder = deviceLabel();
  if (!openResetLink()) enter();
});
