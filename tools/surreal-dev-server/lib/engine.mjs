// Engine: the embedded SurrealDB engine from @surrealdb/node, called with
// CBOR-encoded RPC requests. One Engine per process; connections attach
// their own engine sessions to it.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CborCodec, Uuid, escapeIdent } from 'surrealdb';
import * as cbor from './cbor.mjs';

const require = createRequire(import.meta.url);

export const codec = new CborCodec({});

// loadNative finds the native addon, failing with the fix when the npm
// packages are not installed.
function loadNative() {
  let dir;
  try {
    dir = path.dirname(fileURLToPath(import.meta.resolve('@surrealdb/node')));
  } catch {
    throw new Error('the npm package @surrealdb/node is not installed: run `npm ci` in tools/surreal-dev-server (or `make deps`)');
  }
  const arch = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}`;
  const file = path.join(dir, `surrealdb-node.${arch}.node`);
  try {
    return require(file);
  } catch (err) {
    throw new Error(`cannot load the SurrealDB engine ${file}: ${err.message}`);
  }
}

export function newSessionBytes() {
  return cbor.uuidBytes(Buffer.from(randomUUID().replace(/-/g, ''), 'hex'));
}

export class Engine {
  constructor(native, version) {
    this.native = native;
    this.version = version;
    // subscribers: sessionKey -> function(notificationBytes)
    this.subscribers = new Map();
  }

  // open connects to the storage URL (mem:// or surrealkv://dir) and makes
  // sure the root user exists with the configured password.
  static async open(url, { user, pass }) {
    const { SurrealNodeEngine } = loadNative();
    const native = await SurrealNodeEngine.connect(url, {
      capabilities: { live_query_notifications: true, scripting: false },
    });
    const engine = new Engine(native, '');
    const session = newSessionBytes();
    await engine.call({ method: 'attach' }, session);
    // DEFINE USER takes no parameters for the password: the identifier goes
    // through the SDK's escaping function and the password is a JSON string
    // literal, which SurrealQL parses with the same escapes.
    const stmt = `DEFINE USER OVERWRITE ${escapeIdent(user)} ON ROOT PASSWORD ${JSON.stringify(pass)} ROLES OWNER`;
    const res = await engine.call({ method: 'query', params: [stmt] }, session);
    if (res.error || res[0]?.status !== 'OK') {
      throw new Error(`defining the root user failed: ${JSON.stringify(res.error?.message ?? res[0]?.result)}`);
    }
    engine.version = await engine.call({ method: 'version' }, session);
    await engine.call({ method: 'detach' }, session);
    engine.#pumpNotifications();
    return engine;
  }

  // call runs a small request built in JavaScript and decodes the answer.
  async call(req, session) {
    const bytes = cbor.map([
      ['id', cbor.text(randomUUID())],
      ['method', cbor.text(req.method)],
      ...(req.params ? [['params', Buffer.from(codec.encode(req.params))]] : []),
      ['session', session],
    ]);
    return codec.decode(await this.native.execute(bytes));
  }

  // execute runs an already encoded request and returns the engine's bytes.
  async execute(bytes) {
    return Buffer.from(await this.native.execute(bytes));
  }

  // exportSql exports namespace ns, database db as SurrealQL text (the
  // engine's own export: definitions, then each table's records in INSERT
  // statements of 1,000). The native export works on the engine's
  // session-less default session, which no client can reach (every RPC
  // request carries a session of its connection), so exports take turns
  // on it.
  async exportSql(ns, db, options = {}) {
    return this.#exclusive(async () => {
      const res = await this.execute(cbor.map([
        ['id', cbor.text('export')], ['method', cbor.text('use')], ['params', Buffer.from(codec.encode([ns, db]))],
      ]));
      if (cbor.isErrorMap(res)) throw new EngineError(codec.decode(res).error?.message ?? 'use failed');
      return await this.native.export(Buffer.from(codec.encode(options)));
    });
  }

  // importSql runs SurrealQL text (an export) in session and returns each
  // statement's {status, time} (and message when it failed). It runs the
  // text as a query rather than through the native import, which reports
  // no error at all: a statement that fails, even one that does not
  // parse, is skipped silently. The results of statements that succeed
  // are not decoded (an export's INSERTs return every record).
  async importSql(session, sql) {
    const res = await this.execute(cbor.map([
      ['id', cbor.text('import')], ['method', cbor.text('query')], ['params', Buffer.from(codec.encode([sql]))],
      ['session', session],
    ]));
    if (cbor.isErrorMap(res)) throw new EngineError(codec.decode(res).error?.message ?? 'import failed');
    return statementStatuses(res);
  }

  #queue = Promise.resolve();

  // #exclusive runs fn after every earlier exclusive call has ended.
  #exclusive(fn) {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  subscribe(sessionKey, fn) {
    this.subscribers.set(sessionKey, fn);
  }

  unsubscribe(sessionKey) {
    this.subscribers.delete(sessionKey);
  }

  // #pumpNotifications routes each live-query notification to the
  // connection that owns the notification's session.
  async #pumpNotifications() {
    const rx = await this.native.notifications();
    for (;;) {
      const raw = await rx.recv();
      if (raw === null) return;
      const bytes = Buffer.from(raw);
      let key;
      try {
        key = cbor.uuidKey(cbor.mapEntries(bytes).get('session') ?? Buffer.alloc(0));
      } catch {
        continue;
      }
      const fn = key && this.subscribers.get(key);
      if (fn) fn(bytes);
    }
  }

  async close() {
    this.native.free();
  }
}

// EngineError is a request the engine refused (a client mistake such as
// an unknown namespace or a bad option), as opposed to a server fault.
export class EngineError extends Error {}

// statementStatuses reads the status of each statement from a query's
// answer (a CBOR array of {result, status, time, ...} maps) without
// decoding the results of the statements that succeeded.
function statementStatuses(buf) {
  const h = cbor.head(buf, 0);
  if (h.major !== 4 || h.info === 31) throw new EngineError('the engine answered the import with something other than a list of statement results');
  const out = [];
  let pos = h.next;
  for (let i = 0; i < h.value; i++) {
    const end = cbor.itemEnd(buf, pos);
    const entries = cbor.mapEntries(buf.subarray(pos, end));
    const status = entries.has('status') ? cbor.readText(entries.get('status'), 0) : undefined;
    const st = { status, time: entries.has('time') ? cbor.readText(entries.get('time'), 0) : undefined };
    if (status !== 'OK') st.result = String(entries.has('result') ? codec.decode(entries.get('result')) : 'unknown error');
    out.push(st);
    pos = end;
  }
  return out;
}

export { Uuid };
