// HTTP and WebSocket front end: /rpc (WebSocket upgrade or POST), /health,
// /status and /version, as a real SurrealDB server offers them.
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { Connection, RpcError, toJson } from './rpc.mjs';
import * as cbor from './cbor.mjs';

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
    const auth = req.headers.authorization ?? '';
    let ok = true;
    if (auth.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      ok = await conn.authenticateDefault('signin', [{ user: decoded.slice(0, i), pass: decoded.slice(i + 1) }]);
    } else if (auth.startsWith('Bearer ')) {
      ok = await conn.authenticateDefault('authenticate', [auth.slice(7)]);
    }
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
