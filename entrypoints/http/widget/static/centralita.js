/*! Centralita chat widget (docs/widget.md). No dependencies, no eval, no innerHTML: server text goes into textContent. */
(() => {
"use strict";
const script = document.currentScript ||
  [...document.querySelectorAll("script[data-agent-id][src*='centralita']")].pop();
if (!script) return;
const ds = script.dataset;
const agentId = String(ds.agentId || "").trim();
if (!/^\d{1,18}$/.test(agentId)) { console.error("[centralita] bad data-agent-id"); return; }

const server = (() => {
  try {
    const u = new URL(ds.server || script.src, location.href);
    if (!/^https?:$/.test(u.protocol)) throw 0;
    return ds.server ? (u.origin + u.pathname).replace(/\/+$/, "") : u.origin;
  } catch { return location.origin; }
})();
const wsServer = server.replace(/^http/, "ws");

const I18N = {
  es: {
    title: "Asistente virtual", open: "Abrir el chat", close: "Cerrar el chat", send: "Enviar mensaje",
    input: "Escribe tu mensaje", log: "Conversación", you: "Tú:", bot: "Asistente:",
    greeting: "¡Hola! ¿En qué puedo ayudarte?", sources: "Fuentes", typing: "El asistente está escribiendo…",
    connecting: "Conectando…", reconnecting: "Conexión perdida. Reconectando…", online: "En línea",
    unavailable: "Sin conexión con el asistente",
    untitled: "Documento", interrupted: "La respuesta se interrumpió porque se perdió la conexión.",
    failed: "No se pudo completar esta respuesta.", secs: "{n} segundos", moment: "un momento",
    e: {
      rate_limited: "Has enviado muchos mensajes seguidos. Espera {s} y vuelve a intentarlo.",
      message_too_long: "Tu mensaje es demasiado largo (máximo {n} caracteres). Acórtalo, por favor.",
      llm_unavailable: "El asistente no está disponible ahora. Inténtalo en unos minutos.",
      llm_stream_failed: "La respuesta se cortó por un fallo del servicio. Inténtalo de nuevo.",
      agent_not_found: "Este chat no está disponible en este momento.",
      store_unavailable: "No podemos atenderte ahora. Inténtalo en unos minutos.",
      quota_exceeded: "Has alcanzado el límite de uso del chat por hoy. Vuelve a intentarlo mañana.",
      turn_in_progress: "Espera a que termine la respuesta anterior.",
      too_many_connections: "Tienes el chat abierto en demasiadas pestañas. Cierra alguna y espera un momento.",
      lost: "Se perdió la conexión y tu mensaje no llegó. Envíalo de nuevo, por favor.",
      generic: "Algo salió mal. Inténtalo de nuevo."
    }
  },
  en: {
    title: "Virtual assistant", open: "Open chat", close: "Close chat", send: "Send message",
    input: "Type your message", log: "Conversation", you: "You:", bot: "Assistant:",
    greeting: "Hi! How can I help you?", sources: "Sources", typing: "The assistant is typing…",
    connecting: "Connecting…", reconnecting: "Connection lost. Reconnecting…", online: "Online",
    unavailable: "Assistant unavailable",
    untitled: "Document", interrupted: "This answer was interrupted because the connection was lost.",
    failed: "This answer could not be completed.", secs: "{n} seconds", moment: "a moment",
    e: {
      rate_limited: "You have sent many messages in a row. Please wait {s} and try again.",
      message_too_long: "Your message is too long (at most {n} characters). Please shorten it.",
      llm_unavailable: "The assistant is unavailable right now. Please try again in a few minutes.",
      llm_stream_failed: "The answer was cut off by a service problem. Please try again.",
      agent_not_found: "This chat is not available right now.",
      store_unavailable: "We cannot serve you right now. Please try again in a few minutes.",
      quota_exceeded: "You have reached today's chat limit. Please try again tomorrow.",
      turn_in_progress: "Please wait until the previous answer is finished.",
      too_many_connections: "The chat is open in too many tabs. Close some of them and wait a moment.",
      lost: "The connection was lost before your message arrived. Please send it again.",
      generic: "Something went wrong. Please try again."
    }
  }
};
// data-lang, else the agent's language (GET /api/v1/chat/agents/{id}), else es; unsupported ones: en
const pickLang = (v) => { v = String(v || "").toLowerCase().slice(0, 2); return I18N[v] ? v : v ? "en" : "es"; };
let lang = pickLang(ds.lang), T = I18N[lang];
let greeting = ds.greeting || null; // data-greeting, else the agent's, else T.greeting
const maxChars = parseInt(ds.maxChars, 10) > 0 ? parseInt(ds.maxChars, 10) : 4000;

// ---- session id: random, per agent, in localStorage ----
const SKEY = "centralita:session:" + agentId, OKEY = "centralita:open:" + agentId;
const store = (kind, k, v) => {
  try {
    const s = window[kind];
    if (v === undefined) return s.getItem(k);
    if (v === null) s.removeItem(k); else s.setItem(k, v);
  } catch { /* storage blocked: memory only */ }
  return null;
};
const newSessionId = () => {
  const id = "w" + Array.from(crypto.getRandomValues(new Uint8Array(20)), (b) => (b + 256).toString(16).slice(1)).join("");
  store("localStorage", SKEY, id);
  return id;
};
let sid = store("localStorage", SKEY);
if (!sid || !/^[A-Za-z0-9._:-]{1,128}$/.test(sid)) sid = newSessionId();

// ---- styles: a constructable stylesheet passes a strict style-src ----
const CSS = `:host{all:initial}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
.cw{--c:var(--centralita-color,#0b5cad);--on:var(--centralita-on-color,#fff);--fg:var(--centralita-text-color,#1f2733);
--bg:var(--centralita-background,#fff);--mut:#5a6473;--ln:#e1e5eb;color:var(--fg);
font:15px/1.45 var(--centralita-font,system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif)}
button{font:inherit;cursor:pointer;border:0;display:grid;place-items:center;flex:none}
svg{fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
:focus-visible{outline:3px solid var(--c);outline-offset:2px}
.cw-bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;
background:var(--c);color:var(--on);box-shadow:0 6px 20px rgba(0,0,0,.25)}
.cw-bubble:focus-visible{outline-offset:4px}
.cw-bubble svg{width:28px;height:28px}
.cw-panel{position:fixed;right:20px;bottom:92px;z-index:2147483001;width:380px;max-width:calc(100vw - 40px);height:600px;
max-height:calc(100vh - 112px);display:flex;flex-direction:column;background:var(--bg);border-radius:var(--centralita-radius,16px);
box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden;animation:cw-in .18s ease-out}
.cw-still{animation:none}
@keyframes cw-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}
.cw-head{display:flex;align-items:center;gap:8px;padding:12px 10px 12px 16px;background:var(--c);color:var(--on)}
.cw-hd{flex:1;min-width:0}
.cw-title{margin:0;font-size:16px;font-weight:600;line-height:1.3;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.cw-status{margin:0;font-size:12.5px;opacity:.92;min-height:1em}
.cw-x{width:38px;height:38px;border-radius:10px;background:none;color:var(--on)}
.cw-x:hover{background:rgba(255,255,255,.18)}
.cw-x:focus-visible{outline:3px solid var(--on);outline-offset:-3px}
.cw-x svg,.cw-send svg{width:20px;height:20px}
.cw-log{flex:1;overflow-y:auto;padding:16px 14px;display:flex;flex-direction:column;gap:10px;background:#f5f7fa;overscroll-behavior:contain}
.cw-log:focus-visible{outline-offset:-3px}
.cw-msg{max-width:86%;padding:9px 13px;border-radius:16px;overflow-wrap:anywhere}
.cw-msg--user{align-self:flex-end;background:var(--c);color:var(--on);border-bottom-right-radius:5px}
.cw-msg--assistant{align-self:flex-start;background:#fff;border:1px solid var(--ln);border-bottom-left-radius:5px}
.cw-text{white-space:pre-wrap}
.cw-text:empty{display:none}
.cw-note{margin:6px 0 0;font-size:13px;font-style:italic;color:#8a4500}
.cw-sources{margin-top:8px;padding-top:7px;border-top:1px solid var(--ln);font-size:13px}
.cw-src-h{margin:0 0 3px;font-size:11.5px;font-weight:700;letter-spacing:.05em;text-transform:uppercase;color:var(--mut)}
.cw-sources ol{margin:0;padding-left:18px}
.cw-sources li{margin:3px 0}
.cw-src-t{font-weight:600}
.cw-sources a{color:var(--c)}
.cw-src-s{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;color:var(--mut)}
.cw-notice{align-self:stretch;margin:0;padding:8px 12px;border-radius:10px;background:#fff5e6;border:1px solid #f0c27a;color:#5f3700;font-size:14px}
.cw-typing{display:inline-flex;gap:4px;padding:6px 2px}
.cw-typing span{width:7px;height:7px;border-radius:50%;background:#8c96a3;animation:cw-b 1.2s infinite ease-in-out}
.cw-typing span:nth-child(2){animation-delay:.15s}.cw-typing span:nth-child(3){animation-delay:.3s}
@keyframes cw-b{0%,80%,100%{opacity:.35;transform:none}40%{opacity:1;transform:translateY(-3px)}}
.cw-form{display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid var(--ln);background:var(--bg)}
.cw-input{flex:1;min-width:0;resize:none;height:44px;max-height:120px;padding:10px 12px;border:1px solid #b9c0ca;border-radius:12px;
font:inherit;line-height:1.4;color:inherit;background:#fff}
.cw-input:focus{outline:2px solid var(--c);outline-offset:0;border-color:var(--c)}
.cw-send{width:44px;height:44px;border-radius:12px;background:var(--c);color:var(--on)}
.cw-send:disabled{opacity:.4;cursor:not-allowed}
.cw-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
@media (max-width:480px){.cw-panel{inset:0;width:auto;max-width:none;height:auto;max-height:none;border-radius:0}
.cw-input{font-size:16px}.cw-bubble{right:14px;bottom:14px}.cw-msg{max-width:92%}}
@media (prefers-reduced-motion:reduce){*,*::before,*::after{animation:none!important;transition:none!important}}`;

// ---- DOM helpers ----
const el = (tag, cls, attrs, text) => {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  for (const k in attrs || {}) n.setAttribute(k, attrs[k]);
  if (text != null) n.textContent = text;
  return n;
};
const icon = (...paths) => {
  const NS = "http://www.w3.org/2000/svg", svg = document.createElementNS(NS, "svg");
  for (const [k, v] of [["viewBox", "0 0 24 24"], ["aria-hidden", "true"], ["focusable", "false"]]) svg.setAttribute(k, v);
  for (const d of paths) svg.appendChild(document.createElementNS(NS, "path")).setAttribute("d", d);
  return svg;
};
const str = (v) => (typeof v === "string" ? v : v == null ? "" : String(v));
// The same visitor text as stored: the server may normalise it (NFC, trimmed; line breaks as \n)
const sameText = (a, b) => { const n = (v) => str(v).normalize("NFC").replace(/\s+/g, " ").trim(); return n(a) === n(b); };

// ---- build ----
const host = el("div", null, { id: document.getElementById("centralita-widget") ? "centralita-widget-" + agentId
  : "centralita-widget", "data-agent-id": agentId, "data-connection": "idle" });
if (ds.color && window.CSS?.supports("color", ds.color)) host.style.setProperty("--centralita-color", ds.color);
const root = host.attachShadow({ mode: "open" });
try {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];
} catch { // old browsers: <style> with the script's nonce
  const st = el("style", null, null, CSS);
  if (script.nonce) st.nonce = script.nonce;
  root.appendChild(st);
}
const bubble = el("button", "cw-bubble", { type: "button", "aria-expanded": "false",
  "aria-controls": "cw-panel", "aria-haspopup": "dialog" });
bubble.appendChild(icon("M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z", "M8.5 12h.01M12 12h.01M15.5 12h.01"));
const panel = el("div", "cw-panel", { id: "cw-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "cw-title" });
panel.hidden = true;
const head = panel.appendChild(el("div", "cw-head"));
const hd = head.appendChild(el("div", "cw-hd"));
const titleEl = hd.appendChild(el("h2", "cw-title", { id: "cw-title" }));
const statusEl = hd.appendChild(el("p", "cw-status", { role: "status" }));
const closeBtn = head.appendChild(el("button", "cw-x", { type: "button" }));
closeBtn.appendChild(icon("M6 6l12 12M18 6L6 18"));
const log = panel.appendChild(el("div", "cw-log", { role: "log", "aria-live": "polite", tabindex: "0" }));
const form = panel.appendChild(el("form", "cw-form", { novalidate: "" }));
const input = form.appendChild(el("textarea", "cw-input", { rows: "1", enterkeyhint: "send", autocomplete: "off" }));
const sendBtn = form.appendChild(el("button", "cw-send", { type: "submit" }));
sendBtn.appendChild(icon("M5 12h14", "M13 6l6 6-6 6"));
const wrap = root.appendChild(el("div", "cw"));
wrap.append(bubble, panel);
let agentName = "";
const relabel = () => { // the widget's own texts, again when the agent's language arrives
  for (const [n, t] of [[bubble, T.open], [closeBtn, T.close], [log, T.log], [input, T.input], [sendBtn, T.send]])
    n.setAttribute("aria-label", t);
  input.placeholder = T.input + "…";
  titleEl.textContent = ds.title || agentName || T.title;
  wrap.lang = lang;
};
relabel();

// ---- state ----
let isOpen = false, historyLoaded = false, historyBusy = null, needRefresh = false;
let ws = null, attempts = 0, openedAt = 0, reconnectTimer = 0, fatal = false, lastCode = "";
let llmDown = false; // the server said no model can answer now (agent route, an llm_unavailable error)
// This tab's own message. phase: pending (not sent) | sent (no word of it yet) | unsure (the socket dropped
// after it was sent: the resume tells whether it arrived) | accepted (its visitor_message came) | streaming
let turn = null;
// The answer streaming now, whichever tab asked for it: {id, bubble, textEl, node, buf, shown, sources, own}
let reply = null;
let waiting = null; // the typing bubble of a visitor message (this tab's or another's) whose answer has not started
// The newest conversation event shown (its event_id). null while the server gave none (an older server): no
// resume then, and an answer cut by a drop is re-read from the history route.
let lastEventId = null, gaps = 0;
// Whether what is shown has been checked against the server since the last drop (the history was read, or a
// resume sent): a reconnect that is not caught up reads the history (an HTTP GET), not a resume, when nothing
// was live — every frame counts against the session's rate limit, a resume too.
let caughtUp = false;
let coolUntil = 0, coolTimer = 0, flushHandle = 0, graceTimer = 0;
const GRACE_MS = 1000; // after a resume, how long to wait for the replay to show a message sent before the drop

const setConn = (state) => {
  host.setAttribute("data-connection", state);
  const open = llmDown ? T.unavailable : T.online;
  statusEl.textContent = { connecting: T.connecting, reconnecting: T.reconnecting, open }[state] || "";
};
const busy = () => !!(turn || reply || waiting);
const updateSend = () => {
  sendBtn.disabled = busy() || fatal || Date.now() < coolUntil;
  host.setAttribute("data-busy", String(busy()));
  if (busy()) log.setAttribute("aria-busy", "true"); else log.removeAttribute("aria-busy");
};
const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
const toBottom = () => { log.scrollTop = log.scrollHeight; };
const append = (node, force) => { const stick = force || nearBottom(); log.appendChild(node); if (stick) toBottom(); };

const addMessage = (role, text, opts = {}) => {
  const m = el("div", "cw-msg cw-msg--" + role);
  setId(m, opts.id);
  m.append(el("span", "cw-sr", null, (role === "user" ? T.you : T.bot) + " "), el("div", "cw-text", null, text || ""));
  if (opts.status) setStatus(m, opts.status);
  if (opts.sources) renderSources(m, opts.sources);
  append(m, role === "user");
  return m;
};
const typingBubble = () => {
  const b = addMessage("assistant", "", {});
  b.setAttribute("aria-busy", "true");
  const ty = el("span", "cw-typing", { role: "img", "aria-label": T.typing });
  ty.append(el("span"), el("span"), el("span"));
  b.insertBefore(ty, b.lastChild);
  return b;
};
const setId = (m, id) => id != null && m.setAttribute("data-message-id", str(id));
const byId = (role, id) => [...log.querySelectorAll(".cw-msg--" + role)].find((n) => n.getAttribute("data-message-id") === id);
const setStatus = (m, status) => {
  m.setAttribute("data-status", status);
  m.querySelector(".cw-note")?.remove();
  const note = { interrupted: T.interrupted, failed: T.failed }[status];
  if (note) m.insertBefore(el("p", "cw-note", null, note), m.querySelector(".cw-sources"));
};
const safeUrl = (v) => { // absolute http(s) only
  try { const u = new URL(str(v).trim()); return /^https?:$/.test(u.protocol) ? u.href : ""; } catch { return ""; }
};
const renderSources = (m, sources) => {
  m.querySelector(".cw-sources")?.remove();
  if (!Array.isArray(sources)) return;
  const seen = new Set(), items = [];
  for (const s of sources) {
    if (!s || typeof s !== "object") continue;
    const key = s.document_id != null ? "d" + s.document_id : "t" + str(s.title);
    if (!seen.has(key)) { seen.add(key); items.push(s); }
  }
  if (!items.length) return;
  const box = m.appendChild(el("div", "cw-sources"));
  box.appendChild(el("p", "cw-src-h", null, T.sources));
  const ol = box.appendChild(el("ol"));
  for (const s of items.slice(0, 6)) {
    const li = ol.appendChild(el("li")), name = str(s.title).trim() || T.untitled, href = safeUrl(s.source || s.url);
    li.appendChild(href ? el("a", "cw-src-t", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, name)
      : el("span", "cw-src-t", null, name));
    const snip = str(s.snippet).replace(/\s+/g, " ").trim();
    if (snip) li.appendChild(el("span", "cw-src-s", { title: snip }, snip.slice(0, 400)));
  }
};
const notice = (text, code = "generic") => {
  for (const n of log.querySelectorAll(".cw-notice")) if (n.dataset.code === code) n.remove(); // no duplicates
  append(el("p", "cw-notice", { "data-code": code }, text), true);
};
const errorText = (code, retryAfter) => {
  if (code === "rate_limited") {
    const n = Math.ceil(Number(retryAfter));
    return T.e.rate_limited.replace("{s}", n > 0 && n < 1e6 ? T.secs.replace("{n}", n) : T.moment);
  }
  if (code === "message_too_long") return T.e.message_too_long.replace("{n}", maxChars);
  return Object.hasOwn(T.e, code) ? T.e[code] : T.e.generic;
};
const showGreeting = () => {
  const g = addMessage("assistant", greeting || T.greeting);
  g.classList.add("cw-greeting");
  log.prepend(g);
};

// ---- GET JSON; a 404 agent_not_found rejects with that code ----
const getJSON = (path, opts, onResponse) => fetch(server + path, { headers: { Accept: "application/json" }, credentials: "omit", ...opts })
  .then(async (r) => {
    if (r.ok && onResponse) onResponse(r);
    const body = await r.json().catch(() => null);
    if (r.ok) return body;
    throw new Error(body && body.code === "agent_not_found" ? body.code : "http " + r.status);
  });

// ---- the agent's public face: GET /api/v1/chat/agents/{agent} (name, language, greeting) ----
let agentBusy = null;
const loadAgent = () => agentBusy || (agentBusy = getJSON(`/api/v1/chat/agents/${agentId}`)
  .then((a) => {
    if (!a || typeof a !== "object") return;
    if (!ds.lang && a.language) { lang = pickLang(a.language); T = I18N[lang]; }
    if (!ds.greeting && typeof a.greeting === "string" && a.greeting.trim()) greeting = a.greeting;
    if (typeof a.name === "string") agentName = a.name.trim();
    llmDown = a.available === false;
    relabel();
    setConn(host.getAttribute("data-connection"));
  }, (err) => { if (err.message === "agent_not_found") throw err; })); // older server, offline: defaults


// ---- history: GET /api/v1/chat/history/{sid}/{agent}; X-Last-Event-Id: the newest event it includes ----
const lastIdHeader = (r) => {
  const h = r.headers.get("X-Last-Event-Id"), n = h == null || !h.trim() ? NaN : Number(h);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
};
const loadHistory = (force = false, ifNewer = false) => {
  if (historyBusy) return historyBusy;
  const url = `/api/v1/chat/history/${encodeURIComponent(sid)}/${agentId}?limit=100`;
  let lastId = null;
  historyBusy = Promise.all([getJSON(url, { cache: "no-store" }, (r) => { lastId = lastIdHeader(r); }).catch((e) => {
    if (e.message === "http 404") return [];
    throw e;
  }), loadAgent()])
    .then(([data]) => {
      const list = Array.isArray(data) ? data : data && data.messages;
      if (!ds.greeting && typeof data?.greeting === "string" && data.greeting.trim()) greeting = data.greeting;
      if (!force && (reply || (turn ? turn.phase !== "pending" : waiting))) return; // never wipe a live turn
      caughtUp = true;
      if (ifNewer && historyLoaded && lastId !== null && lastEventId !== null && lastId <= lastEventId) return;
      historyLoaded = true;
      renderHistory(Array.isArray(list) ? list : []);
      if (lastId !== null) lastEventId = lastId; // what is shown now: resume after it
    })
    .catch((err) => {
      if (err && err.message === "agent_not_found") {
        fatal = true;
        updateSend();
        notice(T.e.agent_not_found, "agent_not_found");
      } else if (!log.querySelector(".cw-msg")) showGreeting();
    })
    .finally(() => { historyBusy = null; });
  return historyBusy;
};
const renderHistory = (list) => {
  for (const n of [...log.children]) if (!n.classList.contains("cw-notice")) n.remove();
  let shown = 0;
  for (const m of list) {
    if (!m || (m.role !== "user" && m.role !== "assistant")) continue;
    const status = m.role === "assistant" ? str(m.status || "complete") : null;
    addMessage(m.role, str(m.content), { id: m.id, status, sources: m.role === "assistant" ? m.sources : null });
    shown++;
  }
  if (turn) { log.append(turn.user, turn.bubble); waiting = turn.bubble; shown++; } // not stored yet: stays below
  if (!shown) showGreeting();
  toBottom();
};

// ---- WebSocket: {ws|wss}://server/api/v1/chat/stream/{sid}/{agent} ----
const connect = () => {
  if (fatal || (ws && ws.readyState <= 1)) return;
  clearTimeout(reconnectTimer);
  reconnectTimer = 0;
  setConn(attempts ? "reconnecting" : "connecting");
  let sock;
  try { sock = new WebSocket(`${wsServer}/api/v1/chat/stream/${encodeURIComponent(sid)}/${agentId}`); }
  catch { scheduleReconnect(); return; }
  ws = sock;
  sock.early = []; // events that came before the history was shown (a resume sends them again)
  sock.onopen = () => {
    if (ws !== sock) return;
    lastCode = "";
    openedAt = Date.now();
    setConn("open");
    // back after a drop or an idle close with nothing live: the history says whether anything happened meanwhile
    const check = historyBusy || (caughtUp || lastEventId === null || live() ? null : loadHistory(false, true));
    Promise.resolve(check).then(() => { if (ws === sock && sock.readyState === 1) ready(sock); });
  };
  sock.onmessage = (ev) => {
    if (ws !== sock) return;
    let f = null;
    try { f = JSON.parse(ev.data); } catch { return; }
    if (!f || typeof f !== "object") return;
    if (sock.early && hasEventId(f)) sock.early.push(f); else onFrame(f); // refusals, errors: now
  };
  sock.onclose = (ev) => { if (ws === sock) { ws = null; onDrop(ev); } };
};
// Something of the conversation was live when the socket went: an answer streaming or awaited, this tab's
// message sent but not answered, or a stored conversation that may still be answering (it ends with a visitor
// message, or with an answer not complete: a reply in progress is stored `interrupted` with its text so far).
// Only then is a resume (a counted frame) worth sending; otherwise the connection relays from when it
// connected, after the history.
const live = () => {
  if (reply || (turn && turn.phase !== "pending") || (waiting && !(turn && waiting === turn.bubble))) return true;
  const last = [...log.querySelectorAll(".cw-msg[data-message-id]")].pop();
  return !!last && (last.matches(".cw-msg--user") || !/^(complete|failed)$/.test(last.getAttribute("data-status") || ""));
};
const ready = (sock) => { // open, and the history (if it was being read) is shown
  const early = sock.early, resuming = lastEventId !== null && live();
  sock.early = null;
  if (needRefresh && !turn) { needRefresh = false; loadHistory(); } // an older server: re-read the cut answer
  if (resuming) {
    try { sock.send(JSON.stringify({ type: "resume", after_event_id: lastEventId })); } catch { return; }
    caughtUp = sock.onlyResume = true; // a refusal now is the resume's
  }
  if (!resuming) for (const f of early) { if (ws !== sock) return; onFrame(f); } // (a gap resyncs)
  if (!turn) return;
  if (turn.phase === "pending") transmit();
  else if (turn.phase === "unsure") { // sent before the drop: the replay shows it if the server got it
    clearTimeout(graceTimer);
    graceTimer = setTimeout(() => {
      if (!turn || turn.phase !== "unsure" || ws !== sock) return;
      if (turn.resent) failTurn("lost");
      else { turn.resent = true; turn.phase = "pending"; transmit(); }
    }, GRACE_MS);
  }
};
const scheduleReconnect = () => {
  if (reconnectTimer || fatal) return;
  const d = Math.min(30000, 500 * 2 ** attempts);
  attempts++;
  setConn("reconnecting");
  reconnectTimer = setTimeout(() => { reconnectTimer = 0; connect(); }, d / 2 + (Math.random() * d) / 2); // backoff + jitter
};
const onDrop = (ev) => {
  clearTimeout(graceTimer);
  caughtUp = false;
  if (openedAt && Date.now() - openedAt > 10000) attempts = 0;
  openedAt = 0;
  if (ev.code === 1000 && !busy()) { setConn("idle"); return; } // closed for idleness: reconnect on the next send
  if (ev.code === 1008 && lastCode !== "too_many_connections") { // policy close (unknown agent): do not retry
    fatal = true;
    if (turn) failTurn(null);
    setConn("closed");
    updateSend();
    return;
  }
  if (turn) {
    if (turn.phase === "sent") {
      if (lastEventId !== null) turn.phase = "unsure"; // the resume will tell
      else if (!turn.resent) { turn.resent = true; turn.phase = "pending"; } // dropped before start: resend once
      else failTurn("lost");
    } else if (turn.phase === "pending" && attempts >= 5) failTurn("lost");
  }
  if (reply && lastEventId === null) { // an older server: the answer is lost for this page
    const r = reply;
    flush();
    setStatus(r.bubble, "interrupted");
    finishBubble(r.bubble);
    reply = null;
    if (r.own) turn = null;
    needRefresh = true; // the server kept the partial answer: re-read history on reconnect
    updateSend();
  } // with event ids the answer goes on on the server; the resume brings the rest
  if (isOpen || busy() || needRefresh) scheduleReconnect(); else setConn("idle");
};
const transmit = () => {
  if (!ws || ws.readyState !== 1 || !turn) return;
  ws.onlyResume = false;
  try { ws.send(JSON.stringify({ message: turn.text, origin: "web" })); turn.phase = "sent"; } catch { /* stays pending */ }
};
// Start again from the history route: after a resume_gap (the server no longer keeps the events after ours) or
// an event missed, on a new socket; after a refused resume (`keep`), on this one, which the server relays
// from its connect after 2 s.
const resync = (keep = false) => {
  if (!keep) {
    const sock = ws;
    ws = null;
    try { sock?.close(1000); } catch { /* closing */ }
  }
  cancelFlush();
  if (reply) finishBubble(reply.bubble);
  reply = waiting = null;
  if (turn && (turn.phase === "accepted" || turn.phase === "streaming")) turn = null; // the history holds it
  clearTimeout(graceTimer);
  lastEventId = null;
  gaps++;
  loadHistory(true).then(() => {
    if (turn && (turn.phase === "unsure" || turn.phase === "sent")) { // did it arrive? then the history ends with it
      const users = log.querySelectorAll(".cw-msg--user[data-message-id] .cw-text");
      if (users.length && sameText(users[users.length - 1].textContent, turn.text)) {
        turn.user.remove(); turn.bubble.remove(); turn = waiting = null;
      }
    }
    if (gaps > 3) lastEventId = null; // the server keeps failing its own history's event id: live only
    updateSend();
    if (!keep) { attempts = 0; connect(); return; }
    if (turn && (turn.phase === "unsure" || turn.phase === "sent")) { // not in the history: it did not arrive
      if (turn.resent) failTurn("lost");
      else { turn.resent = true; turn.phase = "pending"; transmit(); }
    }
  });
};

// ---- conversation events ----
const hasEventId = (f) => Number.isSafeInteger(f.event_id);
const onFrame = (f) => {
  if (hasEventId(f)) { // a conversation event: apply each once, in order, whichever connection brought it
    if (lastEventId !== null && f.event_id <= lastEventId) return; // shown already (the replay after a resume)
    // An event missed (only merged tokens skip ids): it happened between the history read and this connection's
    // start; the history has it
    if (lastEventId !== null && f.event_id > lastEventId + 1 && f.type !== "token") { resync(); return; }
    lastEventId = f.event_id;
    gaps = 0;
  }
  if (f.type === "error") { onError(f); return; }
  attempts = 0; // the connection works (an error frame alone does not say so)
  if (f.type === "visitor_message") onVisitorMessage(f);
  else if (f.type === "start") {
    if (llmDown) { llmDown = false; setConn(host.getAttribute("data-connection")); }
    takeReply(f.message_id);
  } else if (f.type === "sources") {
    takeReply(null).sources = Array.isArray(f.sources) ? f.sources : [];
  } else if (f.type === "token" && typeof f.content === "string") {
    const r = takeReply(null);
    r.buf += f.content;
    if (!flushHandle) flushHandle = requestAnimationFrame(flush); // batch DOM updates: one per frame
  } else if (f.type === "end") {
    const r = takeReply(f.message_id);
    cancelFlush();
    const stick = nearBottom();
    r.textEl.textContent = typeof f.answer === "string" ? f.answer : r.buf; // end.answer is authoritative
    r.node = null;
    setStatus(r.bubble, "complete");
    if (r.sources) renderSources(r.bubble, r.sources);
    finishBubble(r.bubble);
    if (stick) toBottom();
    reply = null;
    if (r.own) turn = null;
    updateSend();
  } // other types (handoff, operator, tool events): not for this widget version
};
const onVisitorMessage = (f) => {
  const id = f.message_id == null ? null : str(f.message_id), text = str(f.content);
  if (id !== null && byId("user", id)) return; // shown already (restored from history)
  if (turn && (turn.phase === "sent" || turn.phase === "unsure") && sameText(text, turn.text)) {
    setId(turn.user, id); // this tab's own message, shown when it was sent; as stored from now on
    turn.user.querySelector(".cw-text").textContent = text;
    turn.phase = "accepted";
    clearTimeout(graceTimer);
  } else { // sent from another tab
    addMessage("user", text, { id });
    if (!reply) waiting = typingBubble();
  }
  updateSend();
};
// The bubble an event of the answer with this id goes to: the one streaming, else one shown with that id
// (restored from history mid-answer), else the typing bubble waiting for it, else a new one.
const takeReply = (id) => {
  id = id == null ? null : str(id);
  if (reply && (id === null || reply.id === null || reply.id === id)) {
    if (id !== null && reply.id === null) { reply.id = id; setId(reply.bubble, id); }
    return reply;
  }
  if (reply) finishBubble(reply.bubble); // its end never came (a resync): leave it as it stands
  let b = id !== null ? byId("assistant", id) : null;
  if (!b && waiting) b = waiting;
  if (!b) { // restored mid-answer: the history's last message is this answer so far
    const last = [...log.querySelectorAll(".cw-msg")].pop();
    if (last && last.matches(".cw-msg--assistant:not(.cw-greeting)") && id === null &&
      !/^(complete|interrupted|failed)$/.test(last.getAttribute("data-status") || "")) b = last;
  }
  if (!b) b = typingBubble();
  if (b === waiting) waiting = null;
  const textEl = b.querySelector(".cw-text"), own = !!turn && b === turn.bubble;
  reply = { id, bubble: b, textEl, node: null, buf: textEl.textContent, shown: textEl.textContent.length, sources: null, own };
  if (own) turn.phase = "streaming";
  setId(b, id);
  updateSend();
  return reply;
};
const cancelFlush = () => { if (flushHandle) { cancelAnimationFrame(flushHandle); flushHandle = 0; } };
const flush = () => {
  flushHandle = 0;
  const r = reply;
  if (!r || r.buf.length === r.shown) return;
  const stick = nearBottom();
  r.bubble.querySelector(".cw-typing")?.remove();
  if (!r.node) r.node = r.textEl.appendChild(document.createTextNode(""));
  r.node.appendData(r.buf.slice(r.shown)); // only the new text; keeps selections
  r.shown = r.buf.length;
  if (stick) toBottom();
};
const finishBubble = (b) => { b.querySelector(".cw-typing")?.remove(); b.removeAttribute("aria-busy"); };
const onError = (f) => {
  const code = lastCode = str(f.code) || "generic";
  if (code === "resume_gap") { resync(); return; }
  if (!hasEventId(f) && ws?.onlyResume) { // the resume itself was refused (rate_limited…): the history instead
    ws.onlyResume = false;
    notice(errorText(code, f.retry_after), code);
    if (code === "rate_limited") coolDown(f.retry_after);
    resync(true);
    return;
  }
  if (code === "llm_unavailable" && !llmDown) { llmDown = true; setConn(host.getAttribute("data-connection")); }
  if (hasEventId(f)) { // the running turn failed, whoever sent it
    if (turn && (turn.phase === "accepted" || turn.phase === "streaming" || reply?.own)) failTurn(code, f.retry_after);
    else failOther(code);
  } else if (turn && turn.phase !== "accepted" && turn.phase !== "streaming") failTurn(code, f.retry_after);
  else if (!(turn && code === "turn_in_progress")) notice(errorText(code, f.retry_after), code); // (a resent duplicate)
  if (code === "agent_not_found") { fatal = true; updateSend(); }
};
const failOther = (code) => { // another tab's turn
  cancelFlush();
  const r = reply;
  reply = null;
  if (r && r.buf) { r.textEl.textContent = r.buf; r.node = null; setStatus(r.bubble, "failed"); finishBubble(r.bubble); }
  else (r ? r.bubble : waiting)?.remove();
  waiting = null;
  notice(errorText(code), code);
  updateSend();
};
const failTurn = (code, retryAfter) => {
  const t = turn, r = reply && reply.own ? reply : null;
  turn = null;
  clearTimeout(graceTimer);
  if (r) { reply = null; cancelFlush(); }
  if (waiting === t.bubble) waiting = null;
  if (r && r.buf) { r.textEl.textContent = r.buf; r.node = null; setStatus(r.bubble, "failed"); finishBubble(r.bubble); }
  else {
    t.bubble.remove();
    // refused before it was stored (rate limit, quota, too long…): not part of the conversation; the model's
    // failures (llm_*) keep it, as the server does
    if (!/^llm_/.test(code) && t.phase !== "streaming" && t.phase !== "accepted") t.user.remove();
    if (!input.value) input.value = t.text; // back to the input, to retry
  }
  if (code) notice(code === "lost" ? T.e.lost : errorText(code, retryAfter), code);
  if (code === "rate_limited") coolDown(retryAfter);
  updateSend();
};
const coolDown = (retryAfter) => { // rate-limited: sending waits retry_after seconds
  const ms = Math.min(Number(retryAfter) > 0 ? Number(retryAfter) : 5, 300) * 1000;
  coolUntil = Date.now() + ms;
  clearTimeout(coolTimer);
  coolTimer = setTimeout(() => { coolUntil = 0; updateSend(); }, ms + 50);
  updateSend();
};

// ---- sending ----
const send = (text) => {
  text = str(text).trim();
  if (!text || busy() || fatal || Date.now() < coolUntil) return false;
  log.querySelectorAll(".cw-notice").forEach((n) => n.remove());
  if (text.length > maxChars) { notice(errorText("message_too_long"), "message_too_long"); return false; }
  const u = addMessage("user", text), b = typingBubble();
  turn = { text, phase: "pending", resent: false, user: u, bubble: b };
  waiting = b;
  updateSend();
  if (ws && ws.readyState === 1 && !ws.early) transmit(); else { attempts = 0; connect(); }
  return true;
};
const submit = (e) => {
  e.preventDefault();
  if (!sendBtn.disabled && send(input.value)) { input.value = ""; autosize(); }
};
form.addEventListener("submit", submit);
input.addEventListener("keydown", (e) => {
  if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return; // Shift+Enter: new line
  submit(e);
});
const autosize = () => {
  input.style.height = "auto";
  input.style.height = Math.min(Math.max(input.scrollHeight + 2, 44), 120) + "px";
};
input.addEventListener("input", autosize);

// ---- open / close ----
const open = (focus = true) => {
  if (!isOpen) {
    isOpen = true;
    panel.classList.toggle("cw-still", !focus);
    panel.hidden = false;
    bubble.setAttribute("aria-expanded", "true");
    store("sessionStorage", OKEY, "1");
    if (!historyLoaded) loadHistory();
    if (!fatal) { attempts = 0; connect(); }
    toBottom();
  }
  if (focus) input.focus();
};
const close = () => {
  if (!isOpen) return;
  isOpen = false;
  panel.hidden = true;
  bubble.setAttribute("aria-expanded", "false");
  store("sessionStorage", OKEY, null);
  bubble.focus();
};
bubble.addEventListener("click", () => (isOpen ? close() : open()));
closeBtn.addEventListener("click", close);
panel.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(); }
});
addEventListener("online", () => { if (!ws && !fatal && (isOpen || busy() || needRefresh)) { attempts = 0; connect(); } });
document.addEventListener("visibilitychange", () => { // back to a tab whose socket was closed for idleness: catch up
  if (document.visibilityState === "visible" && isOpen && !ws && !fatal && lastEventId !== null) { attempts = 0; connect(); }
});

const mount = () => {
  document.body.appendChild(host);
  if (!ds.lang) loadAgent().catch(() => {}); // the bubble's label follows the agent's language
  updateSend();
  if (store("sessionStorage", OKEY) === "1") open(false); // stays open across the site's pages
};
if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

// ---- optional API (tests, host pages) ----
const api = {
  open: () => open(), close, send: (text) => { if (!isOpen) open(false); return send(text); },
  get sessionId() { return sid; }, get lastEventId() { return lastEventId; }, agentId, server
};
const C = (window.Centralita = window.Centralita || {});
C.instances = Object.assign(C.instances || {}, { [agentId]: api });
Object.defineProperties(C, Object.getOwnPropertyDescriptors(api)); // the last widget loaded
})();
