// The gateway's public API as the page uses it: GraphQL over HTTP, one multiplexed
// graphql-transport-ws socket for every live feed, and authorized REST fetches.
// The bearer token comes in the URL fragment (#token=...), which never reaches a server
// log, and is kept for the tab's session.

export const token = (() => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) sessionStorage.setItem("trinetra-token", fromHash);
  return fromHash || sessionStorage.getItem("trinetra-token") || "";
})();

const auth = { Authorization: `Bearer ${token}` };

/** The scopes the token names (its `scope` claim), to hide what the role cannot do. The
 * gateway checks the token itself: this only decides what the page offers. */
export const scopes = (() => {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return new Set(String(JSON.parse(atob(payload)).scope || "").split(" ").filter(Boolean));
  } catch {
    return new Set();
  }
})();

export const NO_TOKEN_MESSAGE =
  "no token: open the dashboard link printed by `make demo` (it ends in #token=...)";

/** A GraphQL answer with errors; `errors` keeps each one's `extensions` (code, field). */
export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
  }

  get codes() {
    return this.errors.map((e) => (e.extensions || {}).code).filter(Boolean);
  }

  /** Every problem as {field, message}: a validation error lists each field it found
   * wrong (extensions.fields), or names one (extensions.field), or none. */
  get problems() {
    return this.errors.flatMap(({ message, extensions }) => {
      const ext = extensions || {};
      return Array.isArray(ext.fields) && ext.fields.length ? ext.fields : [{ field: ext.field, message }];
    });
  }
}

export async function graphql(query, variables = {}) {
  return post({ "Content-Type": "application/json" }, JSON.stringify({ query, variables }));
}

/** A GraphQL request carrying files (the GraphQL multipart request spec): `files` maps
 * a variable's name to its File, sent as that variable. */
export async function graphqlUpload(query, variables, files) {
  const body = new FormData();
  const names = Object.keys(files);
  body.append("operations", JSON.stringify({ query, variables: { ...variables, ...Object.fromEntries(names.map((n) => [n, null])) } }));
  body.append("map", JSON.stringify(Object.fromEntries(names.map((n, i) => [String(i), [`variables.${n}`]]))));
  names.forEach((name, i) => body.append(String(i), files[name]));
  return post({}, body);
}

async function post(headers, body) {
  if (!token) throw new Error(NO_TOKEN_MESSAGE);
  const response = await fetch("/graphql", { method: "POST", headers: { ...headers, ...auth }, body });
  if (response.status === 401 || response.status === 403) {
    throw new Error(`not authorized (HTTP ${response.status}): open the link with a valid #token=`);
  }
  if (response.status === 413) throw new Error("the file is too large for the gateway: send a smaller one");
  const answer = await response.json();
  if (answer.errors) throw new ApiError(answer.errors);
  return answer.data;
}

/** GET with the bearer token (REST routes such as the live view's offer). */
export function authorizedFetch(url, init = {}) {
  return fetch(url, { ...init, headers: { ...(init.headers || {}), ...auth } });
}

/**
 * One graphql-transport-ws connection carrying every subscription of the page: fewer
 * sockets than one per feed, and one reconnect loop that resubscribes them all.
 */
export class LiveFeed {
  constructor(onError) {
    this.onError = onError;
    this.operations = new Map(); // id -> {query, variables, onData}
    this.nextId = 1;
    this.socket = null;
    this.ready = false;
    this.stopped = false;
  }

  /** `onError` (default: the feed's) hears this subscription's errors only. */
  subscribe(query, variables, onData, onError = this.onError) {
    const id = String(this.nextId++);
    this.operations.set(id, { query, variables, onData, onError });
    if (this.ready) this.send({ id, type: "subscribe", payload: { query, variables } });
    else if (!this.socket) this.open();
    return () => {
      this.operations.delete(id);
      if (this.ready) this.send({ id, type: "complete" });
    };
  }

  send(message) {
    this.socket.send(JSON.stringify(message));
  }

  open() {
    if (!token || this.stopped) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    const socket = new WebSocket(url, "graphql-transport-ws");
    this.socket = socket;
    socket.onopen = () => this.send({ type: "connection_init", payload: auth });
    socket.onmessage = (message) => {
      const msg = JSON.parse(message.data);
      if (msg.type === "connection_ack") {
        this.ready = true;
        for (const [id, op] of this.operations) {
          this.send({ id, type: "subscribe", payload: { query: op.query, variables: op.variables } });
        }
      } else if (msg.type === "next") {
        const op = this.operations.get(msg.id);
        if (op && msg.payload.errors) op.onError(`live feed: ${new ApiError(msg.payload.errors).message}`);
        else if (op && msg.payload.data) op.onData(msg.payload.data);
      } else if (msg.type === "ping") {
        this.send({ type: "pong" });
      } else if (msg.type === "error") {
        const op = this.operations.get(msg.id);
        (op ? op.onError : this.onError)(`live feed: ${new ApiError(msg.payload).message}`);
      }
    };
    socket.onclose = (event) => {
      this.ready = false;
      this.socket = null;
      if (event.code === 4401 || event.code === 4403) {
        this.onError(`not authorized (${event.reason || event.code}): open the link with a valid #token=`);
        return;
      }
      // The gateway restarted, the network blinked, or we were too slow (4008): the
      // panels re-query what they show, so reconnecting is enough.
      setTimeout(() => this.open(), 2000);
    };
  }
}
