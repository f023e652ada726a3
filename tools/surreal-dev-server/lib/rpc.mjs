// RPC: one client connection (WebSocket, or a single HTTP request) talking
// to the shared engine. Each connection owns engine sessions: a default one
// attached when it opens, plus any the client attaches itself (SurrealDB 3
// multi-session RPC). Requests are rewritten only at the top level: the
// session is substituted, params and results are copied as raw bytes.
import { jsonify } from 'surrealdb';
import * as cbor from './cbor.mjs';
import { codec, newSessionBytes } from './engine.mjs';

// Methods an unauthenticated session may call. Everything else (query,
// select, create, info, live, ...) needs a successful signin first: the
// embedded engine itself does not enforce authentication.
const OPEN_METHODS = new Set([
  'ping', 'version', 'signin', 'signup', 'authenticate', 'invalidate',
  'reset', 'attach', 'detach', 'use', 'let', 'unset',
]);
const AUTH_METHODS = new Set(['signin', 'signup', 'authenticate']);
const DEAUTH_METHODS = new Set(['invalidate', 'reset']);

// owners maps a session key to its Connection, across all connections, so
// one client can never address another client's session.
const owners = new Map();

export class RpcError extends Error {
  constructor(code, kind, message) {
    super(message);
    this.code = code;
    this.kind = kind;
  }
  bytes() {
    return Buffer.from(codec.encode({ code: this.code, kind: this.kind, message: this.message }));
  }
}

const notAllowed = () => new RpcError(-32002, 'NotAllowed',
  'Not enough permissions to perform this action: sign in first (signin as the root user or a defined user)');

export class Connection {
  // format is 'cbor' or 'json'; send(payload) delivers notifications.
  constructor(engine, { format = 'cbor', send = () => {}, log }) {
    this.engine = engine;
    this.format = format;
    this.send = send;
    this.log = log;
    this.sessions = new Map(); // key -> {bytes, authed}
    this.defaultKey = undefined;
    this.closed = false;
  }

  async open() {
    const bytes = newSessionBytes();
    const key = cbor.uuidKey(bytes);
    await this.#attach(key, bytes);
    this.defaultKey = key;
  }

  async #attach(key, bytes) {
    if (owners.has(key)) throw new RpcError(-32000, 'AlreadyExists', 'Session already exists');
    owners.set(key, this);
    this.sessions.set(key, { bytes, authed: false });
    const res = await this.engine.execute(cbor.map([
      ['id', cbor.text('attach')], ['method', cbor.text('attach')], ['session', bytes],
    ]));
    if (cbor.isErrorMap(res)) {
      this.#forget(key);
      throw new RpcError(-32000, 'Internal', codec.decode(res).error?.message ?? 'attach failed');
    }
    this.engine.subscribe(key, (n) => this.#notify(n));
  }

  #forget(key) {
    owners.delete(key);
    this.sessions.delete(key);
    this.engine.unsubscribe(key);
  }

  #notify(bytes) {
    if (this.closed) return;
    if (this.format === 'json') {
      this.send(toJson({ result: codec.decode(bytes) }));
    } else {
      this.send(cbor.map([['result', bytes]]));
    }
  }

  // signinRoot authenticates the default session with HTTP credentials.
  async authenticateDefault(method, params) {
    const sess = this.sessions.get(this.defaultKey);
    const res = await this.engine.call({ method, params }, sess.bytes);
    if (res && typeof res === 'object' && 'error' in res) return false;
    sess.authed = true;
    return true;
  }

  async use(ns, db) {
    const sess = this.sessions.get(this.defaultKey);
    await this.engine.call({ method: 'use', params: [ns ?? null, db ?? null] }, sess.bytes);
  }

  // handle answers one encoded request (Buffer for CBOR, string for JSON).
  async handle(message) {
    if (this.format === 'json') return this.#handleJson(message);
    let entries;
    try {
      entries = cbor.mapEntries(message);
    } catch (err) {
      return cbor.map([['error', new RpcError(-32700, 'Parse', `Parse error: ${err.message}`).bytes()]]);
    }
    const id = entries.get('id');
    const envelope = (key, bytes) => cbor.map(id ? [['id', id], [key, bytes]] : [[key, bytes]]);
    try {
      const res = await this.dispatch(entries);
      // The engine's error answer is {error: E}: splice E into the envelope.
      return cbor.isErrorMap(res) ? envelope('error', res.subarray(7)) : envelope('result', res);
    } catch (err) {
      return envelope('error', asRpcError(err).bytes());
    }
  }

  async #handleJson(message) {
    let req;
    try {
      req = JSON.parse(message);
    } catch (err) {
      return toJson({ error: { code: -32700, message: `Parse error: ${err.message}` } });
    }
    const out = { id: req?.id ?? null };
    try {
      const res = await this.dispatch(cbor.mapEntries(Buffer.from(codec.encode(req))));
      const decoded = codec.decode(res);
      if (cbor.isErrorMap(res)) out.error = decoded.error;
      else out.result = decoded;
    } catch (err) {
      const e = asRpcError(err);
      out.error = { code: e.code, kind: e.kind, message: e.message };
    }
    return toJson(out);
  }

  // dispatch runs one request given as top-level entries of raw bytes and
  // returns the engine's answer bytes.
  async dispatch(entries) {
    const method = entries.has('method') ? cbor.readText(entries.get('method'), 0) : undefined;
    if (!method) throw new RpcError(-32600, 'Validation', 'Invalid request: missing method');
    let key = this.defaultKey;
    if (entries.has('session') && entries.get('session')[0] !== 0xf6) {
      key = cbor.uuidKey(entries.get('session'));
      if (!key) throw new RpcError(-32600, 'Validation', 'Invalid request: session must be a UUID');
      if (method === 'attach') {
        await this.#attach(key, cbor.uuidBytes(Buffer.from(key, 'hex')));
        return Buffer.from([0xf6]);
      }
      if (!this.sessions.has(key)) throw new RpcError(-32000, 'NotFound', 'Session not found');
    }
    const sess = this.sessions.get(key);
    if (!sess) throw new RpcError(-32000, 'NotFound', 'Session not found');
    if (!sess.authed && !OPEN_METHODS.has(method)) throw notAllowed();
    if (method === 'detach' && key === this.defaultKey) {
      throw new RpcError(-32000, 'Validation', 'The default session cannot be detached');
    }

    const pairs = [];
    for (const [k, v] of entries) {
      if (k !== 'session') pairs.push([k, v]);
    }
    pairs.push(['session', sess.bytes]);
    const res = await this.engine.execute(cbor.map(pairs));
    if (cbor.isErrorMap(res)) return res;
    if (AUTH_METHODS.has(method)) sess.authed = true;
    if (DEAUTH_METHODS.has(method)) sess.authed = false;
    if (method === 'detach') this.#forget(key);
    return res;
  }

  // close detaches every session this connection owns.
  async close() {
    this.closed = true;
    for (const [key, sess] of [...this.sessions]) {
      this.#forget(key);
      try {
        await this.engine.execute(cbor.map([
          ['id', cbor.text('detach')], ['method', cbor.text('detach')], ['session', sess.bytes],
        ]));
      } catch (err) {
        this.log?.('warn', `detaching session: ${err.message}`);
      }
    }
  }
}

function asRpcError(err) {
  if (err instanceof RpcError) return err;
  if (err instanceof cbor.CborError) return new RpcError(-32700, 'Parse', `Parse error: ${err.message}`);
  return new RpcError(-32000, 'Internal', err?.message ?? String(err));
}

// toJson renders SurrealDB values the way a real server's JSON protocol
// does: record ids, UUIDs, datetimes and decimals as strings.
export function toJson(value) {
  return JSON.stringify(jsonify(value), (_, v) => {
    if (typeof v !== 'bigint') return v;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  });
}
