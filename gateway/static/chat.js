// The demo's browser chat client (served at /docs/chat). Plain script, no dependencies, no build step.
// Protocol: docs/websocket-protocol.md. Everything a server or a person wrote is shown with
// textContent, never parsed as HTML. The token stays in this tab's memory: never in storage, never
// in a URL that reaches a server (the #token= fragment is read, then removed from the address bar).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    tokenForm: $("token-form"), token: $("token"), whoami: $("whoami"),
    sessions: $("sessions"), refresh: $("refresh"), world: $("world"), create: $("create"),
    sessionId: $("session-id"), connect: $("connect"), disconnect: $("disconnect"),
    sessionStatus: $("session-status"), connection: $("connection"), transcript: $("transcript"),
    compose: $("compose"), message: $("message"), send: $("send"),
  };

  // Characters a Sec-WebSocket-Protocol entry may hold (an RFC 7230 token); a JWT always fits.
  const PROTOCOL_SAFE = /^[A-Za-z0-9._~+!#$%&'*^`|-]+$/;
  const SESSION_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

  const state = { token: "", claims: null, conn: null, sessionId: "", lastSequence: 0, shown: new Set() };

  // What a close code means, in words a person can act on (docs/websocket-protocol.md, "Close codes").
  const CLOSE_CODES = {
    1000: "The conversation ended.",
    1001: "The gateway is restarting. Please connect again in a moment.",
    1006: "The connection was lost without a goodbye from the gateway. Check that the gateway is running, then connect again.",
    1008: "Sign-in needed: the token is missing, not valid, or no longer accepted. Paste a fresh token, then connect again.",
    1009: "That message was too large to send. Connect again and send a shorter one.",
    1011: "Something went wrong on the gateway's side. Please connect again in a moment.",
    1013: "The gateway is busy, or this account has too many connections open. Please try again shortly.",
    4001: "Your sign-in expired while you were connected. Paste a fresh token, then connect again.",
  };
  // 1008 covers several refusals; its close reason says which.
  const POLICY_REASONS = {
    "permission denied": "This account may not join this session. Check the session id, or sign in as someone taking part in it.",
    "too many messages": "Too many messages at once, so the gateway closed the connection. Wait a moment, then connect again.",
    "client too slow": "The connection fell behind its messages. Connect again to catch up.",
    "unexpected message": "The gateway did not expect a message on this connection.",
  };

  function explainClose(code, reason) {
    if (code === 1008 && POLICY_REASONS[reason]) return POLICY_REASONS[reason];
    return CLOSE_CODES[code] || "The connection closed.";
  }

  // --- small helpers -------------------------------------------------------------------------------

  function setText(node, text) { node.textContent = text; }

  function base64UrlJson(part) {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  // The token's claims, for display only: the gateway verifies the token, this page never does.
  function readClaims(token) {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    try {
      const claims = base64UrlJson(parts[1]);
      return claims && typeof claims === "object" ? claims : null;
    } catch (_) {
      return null;
    }
  }

  function randomId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function statusMessage(body, fallback) {
    return body && typeof body.message === "string" && body.message ? body.message : fallback;
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit",
    });
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON: reported below by status */ }
    if (!resp.ok) {
      const hint = resp.status === 401 ? "sign-in needed (" + statusMessage(data, "no valid token") + ")"
        : statusMessage(data, "HTTP " + resp.status);
      throw new Error(hint);
    }
    return data;
  }

  // --- the token -----------------------------------------------------------------------------------

  function useToken(raw) {
    state.token = raw.trim();
    state.claims = state.token ? readClaims(state.token) : null;
    const c = state.claims;
    if (!state.token) {
      setText(el.whoami, "No token yet.");
    } else if (!c) {
      setText(el.whoami, "This does not look like a signed token; the gateway will decide.");
    } else {
      const roles = Array.isArray(c.roles) && c.roles.length ? " (" + c.roles.join(", ") + ")" : "";
      const exp = typeof c.exp === "number" ? ", valid until " + new Date(c.exp * 1000).toLocaleString() : "";
      setText(el.whoami, "Token for " + String(c.sub || "an unnamed user") + roles + exp + ". Not checked here: the gateway checks it.");
    }
    loadSessions();
  }

  function tokenFromFragment() {
    // "+" stays a plus (URLSearchParams would read it as a space): tokens may carry one.
    const params = new URLSearchParams(location.hash.replace(/^#/, "").replace(/\+/g, "%2B"));
    const token = params.get("token");
    const session = params.get("session");
    if (token !== null || session !== null) {
      // Out of the address bar and the history: a copied link or a screenshot does not carry it.
      history.replaceState(null, "", location.pathname + location.search);
    }
    if (session && SESSION_ID.test(session)) el.sessionId.value = session;
    return token;
  }

  // --- sessions ------------------------------------------------------------------------------------

  async function loadWorlds() {
    try {
      const data = await api("GET", "/api/v1/worlds");
      const worlds = (data && data.worlds) || [];
      if (!worlds.length) return;
      el.world.replaceChildren(...worlds.map((w) => {
        const option = document.createElement("option");
        option.value = String(w.worldId || w.world_id || "");
        option.textContent = String(w.title || option.value);
        return option;
      }));
    } catch (_) { /* the default world stays */ }
  }

  async function loadSessions() {
    const token = state.token;
    if (!token) return;
    setText(el.sessionStatus, "Loading your sessions…");
    try {
      const data = await api("GET", "/api/v1/sessions");
      if (token !== state.token) return; // another token was given meanwhile
      const sessions = (data && data.sessions) || [];
      const options = sessions.map((s) => {
        const option = document.createElement("option");
        option.value = String(s.sessionId || s.session_id || "");
        option.textContent = option.value + " — " + String(s.worldId || s.world_id || "") +
          (s.state ? ", " + String(s.state).replace(/^SESSION_STATE_/, "").toLowerCase() : "");
        return option;
      });
      const none = document.createElement("option");
      none.value = "";
      none.textContent = sessions.length ? "(choose one)" : "(no sessions yet: create one)";
      el.sessions.replaceChildren(none, ...options);
      setText(el.sessionStatus, sessions.length + " session" + (sessions.length === 1 ? "" : "s") + " found.");
    } catch (err) {
      if (token !== state.token) return;
      setText(el.sessionStatus, "Could not load your sessions: " + err.message + ". You can still type a session id.");
    }
  }

  async function createSession() {
    const playerId = state.claims && typeof state.claims.sub === "string" ? state.claims.sub : "";
    if (!playerId) {
      setText(el.sessionStatus, "Use a token first: a session is created for the token's player.");
      return;
    }
    el.create.disabled = true;
    setText(el.sessionStatus, "Creating a session…");
    try {
      const data = await api("POST", "/api/v1/sessions", { playerId, worldId: el.world.value });
      const id = String(data.session.sessionId || data.session.session_id);
      el.sessionId.value = id;
      setText(el.sessionStatus, "Created session " + id + ".");
      await loadSessions();
      el.sessions.value = id;
      setText(el.sessionStatus, "Created session " + id + ". Connect to start talking.");
    } catch (err) {
      setText(el.sessionStatus, "Could not create a session: " + err.message + ".");
    } finally {
      el.create.disabled = false;
    }
  }

  // --- the transcript ------------------------------------------------------------------------------

  function addLine(kind, parts) {
    const li = document.createElement("li");
    if (kind) li.className = kind;
    for (const [cls, text] of parts) {
      const span = document.createElement("span");
      if (cls) span.className = cls;
      span.textContent = text;
      li.append(span);
    }
    el.transcript.append(li);
    el.transcript.scrollTop = el.transcript.scrollHeight;
    return li;
  }

  function notice(text) { return addLine("notice", [["", text]]); }
  function trouble(text) { return addLine("trouble", [["", text]]); }

  // One line per sequence number, in sequence order: a message can arrive on both of a tab's
  // connections (the room watch and its own chat echo), and the two need not interleave in order.
  function addMessage(m) {
    const seq = Number(m.sequence || 0);
    if (seq && state.shown.has(seq)) return;
    const who = String(m.senderDisplayName || m.sender_display_name || m.senderId || m.sender_id || "system");
    const li = addLine("message", [["seq", seq ? "#" + seq : "#?"], ["who", who + ":"], ["text", String(m.text || "")]]);
    li.dataset.sequence = String(seq);
    if (!seq) return;
    state.shown.add(seq);
    if (seq > state.lastSequence) state.lastSequence = seq;
    let before = li.previousElementSibling;
    while (before && before.classList.contains("message") && Number(before.dataset.sequence) > seq) {
      before = before.previousElementSibling;
    }
    const after = before ? before.nextElementSibling : el.transcript.firstElementChild;
    if (after !== li) el.transcript.insertBefore(li, after);
  }

  function describeError(status) {
    const text = statusMessage(status, "The gateway refused the request.");
    const details = Array.isArray(status && status.details) ? status.details : [];
    const reason = details.map((d) => d && d.reason).find((r) => typeof r === "string");
    return "The gateway said: " + text + (reason ? " (" + reason + ")" : "");
  }

  function onFrame(data, conn) {
    if (typeof data !== "string") {
      notice("A binary frame arrived; this page reads JSON frames only.");
      return;
    }
    let frame;
    try { frame = JSON.parse(data); } catch (_) { notice("A frame arrived that is not JSON; it was skipped."); return; }
    if (!frame || typeof frame !== "object") return;
    if (frame.message) {
      const m = frame.message.message || frame.message;
      addMessage(typeof frame.seq === "number" ? { ...m, sequence: frame.seq } : m);
      return;
    }
    if (frame.error) {
      const said = describeError(frame.error);
      if (said !== conn.lastError) trouble(said); // both connections may be refused alike
      conn.lastError = said;
      return;
    }
    if (frame.end) { notice("The conversation was ended by the service."); return; }
    if (frame.headers || frame.ack) return; // nothing a person needs to see
    if (frame.reauthenticated) { notice("Your sign-in was renewed."); return; }
    if (frame.gap) {
      const g = frame.gap;
      const first = Number(g.firstAvailable || g.first_available || 0);
      const after = Number(g.after || 0);
      if (g.reason === "reset") {
        // The numbers start again: what is shown so far stays, out of the new numbering.
        for (const li of el.transcript.querySelectorAll("li.message")) li.classList.replace("message", "earlier");
        state.shown = new Set();
        state.lastSequence = 0;
        notice("The room's record was restarted, so earlier messages cannot be shown here. The conversation continues" + (first ? " from #" + first : "") + ".");
      } else {
        notice(first > after + 1
          ? "Messages #" + (after + 1) + "–#" + (first - 1) + " are no longer kept, so they cannot be shown. The conversation continues from #" + first + "."
          : "Some earlier messages are no longer available. The conversation continues from here.");
      }
      if (first) state.lastSequence = Math.max(state.lastSequence, first - 1);
      return;
    }
    if (frame.notice) {
      const n = frame.notice;
      notice(typeof n === "string" ? n : statusMessage(n, String(n.text || "A note from the gateway.")));
      return;
    }
    notice("A control frame this page does not know: " + JSON.stringify(frame).slice(0, 200));
  }

  // --- the connection ------------------------------------------------------------------------------

  function setConnection(kind, text) {
    el.connection.dataset.state = kind;
    setText(el.connection, text);
    const open = kind === "open";
    el.message.disabled = !open;
    el.send.disabled = !open;
    el.disconnect.disabled = kind === "closed";
    el.connect.disabled = kind !== "closed";
  }

  function socketUrl(id, kind, query) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + "/ws/v1/sessions/" + encodeURIComponent(id) + "/" + kind + query;
  }

  // A tab's place in a session is two connections: the room watch (/room), which shows every message
  // of the room from the moment it opens (and, on a reconnect, what was missed since the last one
  // seen), and the chat (/chat), which sends. The first to close closes the other; its code is shown.
  function connect() {
    const id = el.sessionId.value.trim() || el.sessions.value;
    if (!SESSION_ID.test(id)) {
      setText(el.sessionStatus, "Choose a session, create one, or type its id first.");
      return;
    }
    el.sessionId.value = id;
    if (state.sessionId !== id) {
      state.sessionId = id;
      state.lastSequence = 0;
      state.shown = new Set();
      el.transcript.replaceChildren();
    }
    // Browsers cannot set headers on a WebSocket: the token travels as a "bearer.<token>" subprotocol
    // (never in a URL, so never in a proxy's log); one that cannot be a subprotocol goes as ?token=,
    // which the gateway takes out before anything logs the URL.
    const protocols = ["tta.v1.json"];
    let tokenQuery = "";
    if (state.token && PROTOCOL_SAFE.test(state.token)) protocols.push("bearer." + state.token);
    else if (state.token) tokenQuery = "token=" + encodeURIComponent(state.token);
    const resume = state.lastSequence ? "after_sequence=" + state.lastSequence : "";
    const query = (parts) => (parts.filter(Boolean).length ? "?" + parts.filter(Boolean).join("&") : "");
    const conn = { chat: null, room: null, opened: 0, over: false, lastError: "" };
    try {
      conn.room = new WebSocket(socketUrl(id, "room", query([resume, tokenQuery])), protocols);
      conn.chat = new WebSocket(socketUrl(id, "chat", query([tokenQuery])), protocols);
    } catch (err) {
      if (conn.room) conn.room.close();
      setConnection("closed", "Could not open a connection: " + err.message);
      return;
    }
    state.conn = conn;
    setConnection("connecting", "Connecting to session " + id + "…");
    for (const ws of [conn.room, conn.chat]) {
      ws.addEventListener("open", () => {
        if (state.conn !== conn || conn.over || ++conn.opened < 2) return;
        setConnection("open", "Connected to session " + id + ". Messages from everyone in it appear below.");
        el.message.focus();
      });
      ws.addEventListener("message", (event) => { if (state.conn === conn) onFrame(event.data, conn); });
      ws.addEventListener("close", (event) => {
        if (state.conn !== conn || conn.over) return;
        conn.over = true;
        for (const other of [conn.room, conn.chat]) if (other !== ws) other.close(1000, "bye");
        state.conn = null;
        setConnection("closed", "Closed (" + event.code + "): " + explainClose(event.code, event.reason));
        el.connection.dataset.code = String(event.code);
      });
    }
  }

  function disconnect() {
    const conn = state.conn;
    if (conn && !conn.over) conn.chat.close(1000, "bye");
  }

  function send(event) {
    event.preventDefault();
    const text = el.message.value;
    const ws = state.conn && state.conn.chat;
    if (!text.trim() || !ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ text, clientMessageId: randomId() }));
    el.message.value = "";
  }

  // --- wiring --------------------------------------------------------------------------------------

  el.tokenForm.addEventListener("submit", (event) => { event.preventDefault(); useToken(el.token.value); });
  el.refresh.addEventListener("click", loadSessions);
  el.create.addEventListener("click", createSession);
  el.sessions.addEventListener("change", () => { if (el.sessions.value) el.sessionId.value = el.sessions.value; });
  el.connect.addEventListener("click", connect);
  el.disconnect.addEventListener("click", disconnect);
  el.compose.addEventListener("submit", send);

  // A link with a fragment, opened here or pasted into this tab's address bar (which only changes the
  // fragment, without reloading the page).
  function applyFragment() {
    const token = tokenFromFragment();
    if (token === null) return;
    disconnect();
    el.token.value = token;
    useToken(token);
  }
  window.addEventListener("hashchange", applyFragment);

  loadWorlds();
  useToken("");
  applyFragment();
})();
