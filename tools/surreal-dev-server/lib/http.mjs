// HTTP and WebSocket front end: /rpc (WebSocket upgrade or POST), /health,
// /status, /version, GET or POST /export and POST /import, as a real
// SurrealDB server offers them.
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { Connection, RpcError, toJson } from './rpc.mjs';
import * as cbor from './cbor.mjs';
import { codec, EngineError } from './engine.mjs';

const MAX_BODY = 256 << 20;

export function createServer(engine, log) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_BODY,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('cbor') ? 'cbor' : protocols.has('json') ? 'json' : false),
  });

  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && (path === '/health' || path === '/status')) {
      res.writeHead(200).end();
    } else if (req.method === 'GET' && path === '/version') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(engine.version);
    } else if (req.method === 'POST' && path === '/rpc') {
      httpRpc(engine, req, res, log).catch((err) => {
        log('error', `http rpc: ${err.message}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    } else if ((req.method === 'GET' || req.method === 'POST') && path === '/export') {
      httpExport(engine, req, res, log).catch(failed(res, log, 'export'));
    } else if (req.method === 'POST' && path === '/import') {
      httpImport(engine, req, res, log).catch(failed(res, log, 'import'));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });

  server.on('upgrade', (req, socket, head) => {
    if (req.url.split('?')[0] !== '/rpc') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(engine, ws, log));
  });
  return server;
}

// serveSocket runs one WebSocket connection. Requests are answered
// concurrently, as a real server does; the default session is attached
// before the first request is handled.
function serveSocket(engine, ws, log) {
  const format = ws.protocol === 'json' ? 'json' : 'cbor';
  const send = (payload) => {
    if (ws.readyState === ws.OPEN) ws.send(payload, { binary: format === 'cbor' });
  };
  const conn = new Connection(engine, { format, send, log });
  const ready = conn.open();
  ready.catch((err) => {
    log('error', `attaching a session: ${err.message}`);
    ws.close(1011, 'cannot attach an engine session');
  });
  ws.on('message', async (data, isBinary) => {
    try {
      await ready;
      const msg = format === 'json' ? data.toString('utf8') : (isBinary ? data : Buffer.from(data));
      send(await conn.handle(msg));
    } catch (err) {
      log('error', `rpc: ${err.message}`);
    }
  });
  ws.on('close', () => {
    ready.then(() => conn.close(), () => {});
  });
  ws.on('error', (err) => log('warn', `websocket: ${err.message}`));
}

// httpRpc answers POST /rpc: a fresh session per request, authenticated
// from the Authorization header and scoped by the Surreal-NS/Surreal-DB
// headers (NS/DB accepted too), CBOR or JSON by Content-Type.
async function httpRpc(engine, req, res, log) {
  const ctype = (req.headers['content-type'] ?? '').split(';')[0].trim();
  const format = ctype === 'application/cbor' ? 'cbor' : 'json';
  const body = await readBody(req);
  if (body === null) {
    res.writeHead(413).end();
    return;
  }
  const conn = new Connection(engine, { format, log });
  await conn.open();
  try {
    // No credentials (or a scheme other than Basic and Bearer) leaves the
    // session anonymous: only the open methods work.
    const auth = req.headers.authorization ?? '';
    const ok = !(auth.startsWith('Basic ') || auth.startsWith('Bearer ')) || await authorize(conn, req);
    const contentType = format === 'cbor' ? 'application/cbor' : 'application/json';
    if (!ok) {
      const err = new RpcError(-32002, 'NotAllowed', 'There was a problem with authentication');
      const payload = format === 'cbor'
        ? cbor.map([['error', err.bytes()]])
        : toJson({ error: { code: err.code, kind: err.kind, message: err.message } });
      res.writeHead(401, { 'content-type': contentType }).end(payload);
      return;
    }
    const ns = req.headers['surreal-ns'] ?? req.headers.ns;
    const db = req.headers['surreal-db'] ?? req.headers.db;
    if (ns || db) await conn.use(ns, db);
    const out = await conn.handle(format === 'cbor' ? body : body.toString('utf8'));
    res.writeHead(200, { 'content-type': contentType }).end(out);
  } finally {
    await conn.close();
  }
}

// authorize signs conn's default session in with the request's
// Authorization header: Basic credentials of a root user, or a Bearer
// token from an earlier signin. It reports whether that succeeded.
async function authorize(conn, req) {
  const auth = req.headers.authorization ?? '';
  if (auth.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return false;
    return conn.authenticateDefault('signin', [{ user: decoded.slice(0, i), pass: decoded.slice(i + 1) }]);
  }
  if (auth.startsWith('Bearer ')) return conn.authenticateDefault('authenticate', [auth.slice(7)]);
  return false;
}

// scoped opens a session for an /export or /import request: it must be
// authenticated (401 otherwise) and name a namespace and database with the
// Surreal-NS and Surreal-DB headers (NS and DB accepted too; 400
// otherwise). It returns the open connection, using them, or undefined
// when it has answered the request itself.
async function scoped(engine, req, res, log) {
  const conn = new Connection(engine, { format: 'cbor', log });
  await conn.open();
  if (!(await authorize(conn, req))) {
    await conn.close();
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="surrealdb"' })
      .end(JSON.stringify({ code: 401, details: 'Authentication failed', information: 'There was a problem with authentication: send the credentials of a root user (HTTP Basic) or a token' }));
    return undefined;
  }
  const ns = req.headers['surreal-ns'] ?? req.headers.ns;
  const db = req.headers['surreal-db'] ?? req.headers.db;
  if (!ns || !db) {
    await conn.close();
    res.writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ code: 400, details: 'Specify a namespace and a database with the Surreal-NS and Surreal-DB headers' }));
    return undefined;
  }
  await conn.use(ns, db);
  return { conn, ns, db };
}

// httpExport answers GET /export (default options) and POST /export
// (options as a JSON or CBOR body, as the JavaScript SDK sends them) with
// the SurrealQL export of the namespace and database named by the headers.
async function httpExport(engine, req, res, log) {
  const body = await readBody(req);
  if (body === null) {
    res.writeHead(413).end();
    return;
  }
  const s = await scoped(engine, req, res, log);
  if (!s) return;
  try {
    let options = {};
    if (req.method === 'POST' && body.length > 0) {
      const ctype = (req.headers['content-type'] ?? '').split(';')[0].trim();
      try {
        options = ctype === 'application/cbor' ? codec.decode(body) : JSON.parse(body.toString('utf8'));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ code: 400, details: `The export options are not valid ${ctype === 'application/cbor' ? 'CBOR' : 'JSON'}: ${err.message}` }));
        return;
      }
    }
    const started = Date.now();
    const sql = await engine.exportSql(s.ns, s.db, options ?? {});
    const size = Buffer.byteLength(sql);
    log('info', `export of namespace ${JSON.stringify(s.ns)} database ${JSON.stringify(s.db)}: ${size} bytes in ${Date.now() - started} ms`);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': size }).end(sql);
  } finally {
    await s.conn.close();
  }
}

// httpImport answers POST /import: it runs the SurrealQL body (such as an
// export) in the namespace and database named by the headers and answers
// each statement's status as JSON, [{status, time, result?}], the result
// being the error of a statement that failed. Any failed statement makes
// it 400; statements before and after it have run (as with a real server,
// an import is not one transaction).
async function httpImport(engine, req, res, log) {
  const body = await readBody(req);
  if (body === null) {
    res.writeHead(413, { 'content-type': 'application/json' })
      .end(JSON.stringify({ code: 413, details: `The import is larger than ${MAX_BODY} bytes` }));
    return;
  }
  const s = await scoped(engine, req, res, log);
  if (!s) return;
  try {
    const started = Date.now();
    const statuses = await engine.importSql(s.conn.sessions.get(s.conn.defaultKey).bytes, body.toString('utf8'));
    const failures = statuses.filter((st) => st.status !== 'OK').length;
    log(failures ? 'warn' : 'info', `import into namespace ${JSON.stringify(s.ns)} database ${JSON.stringify(s.db)}: ${body.length} bytes, ${statuses.length} statements, ${failures} failed, in ${Date.now() - started} ms`);
    res.writeHead(failures ? 400 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(statuses));
  } finally {
    await s.conn.close();
  }
}

// failed answers a request whose handler threw: 400 for a request the
// engine refused, 500 otherwise.
function failed(res, log, what) {
  return (err) => {
    const status = err instanceof EngineError ? 400 : 500;
    log(status === 500 ? 'error' : 'warn', `http ${what}: ${err.message}`);
    if (!res.headersSent) {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code: status, details: err.message }));
    } else {
      res.end();
    }
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.destroy();
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
