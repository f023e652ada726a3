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

export { Uuid };
