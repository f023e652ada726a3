#!/usr/bin/env node
// surreal-dev-server serves the embedded SurrealDB 3 engine (@surrealdb/node)
// over SurrealDB's standard network interface: WebSocket RPC at /rpc (cbor
// and json subprotocols), POST /rpc, GET /health and /version.
//
// The process runs as two: a small supervisor, and the server itself as
// its child, whose file descriptor 2 (where the native addon prints debug
// dumps) goes to /dev/null or SURREAL_ENGINE_LOG (see supervise).
//
// Usage: node server.mjs [--bind 127.0.0.1:8000] [--storage mem://|surrealkv://DIR|rocksdb://DIR]
//                        [--user root] [--log-level info]
// The root password comes from SURREAL_PASS (default "root"); the user from
// --user or SURREAL_USER.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const CHILD_ENV = 'SURREAL_DEV_SERVER_CHILD';

function parseArgs(argv) {
  const opts = {
    bind: process.env.SURREAL_BIND ?? '127.0.0.1:8000',
    storage: process.env.SURREAL_STORAGE ?? 'mem://',
    user: process.env.SURREAL_USER ?? 'root',
    logLevel: process.env.SURREAL_LOG ?? 'info',
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--bind': opts.bind = value(); break;
      case '--storage': opts.storage = value(); break;
      case '--user': opts.user = value(); break;
      case '--log-level': opts.logLevel = value(); break;
      case '-h': case '--help':
        process.stdout.write('usage: node server.mjs [--bind HOST:PORT] [--storage mem://|surrealkv://DIR|rocksdb://DIR] [--user NAME] [--log-level debug|info|warn|error]\n' +
          'The root password is read from SURREAL_PASS (default "root").\n');
        process.exit(0);
        break;
      default:
        usage(`unknown argument ${JSON.stringify(argv[i])}`);
    }
  }
  const m = /^(.*):(\d+)$/.exec(opts.bind ?? '');
  if (!m || Number(m[2]) > 65535) usage(`--bind ${JSON.stringify(opts.bind)} is not HOST:PORT`);
  opts.host = m[1].replace(/^\[|\]$/g, '');
  opts.port = Number(m[2]);
  if (!/^(mem:\/\/|surrealkv:\/\/.+|rocksdb:\/\/.+)$/.test(opts.storage ?? '')) {
    usage(`--storage ${JSON.stringify(opts.storage)} must be mem://, surrealkv://DIR or rocksdb://DIR`);
  }
  if (!['debug', 'info', 'warn', 'error'].includes(opts.logLevel)) usage(`--log-level must be debug, info, warn or error`);
  return opts;
}

function usage(msg) {
  process.stderr.write(`surreal-dev-server: ${msg}\n`);
  process.exit(2);
}

// supervise runs the server as a child whose file descriptor 2, where the
// native addon prints its debug dumps (one per changefeed write), is
// /dev/null or the file SURREAL_ENGINE_LOG names. It must not be a pipe:
// node makes child pipes non-blocking, and when the reader falls behind
// the engine's write fails with EAGAIN and the engine aborts. The
// server's own log lines go to descriptor 3, the supervisor's stderr.
function supervise() {
  const engineLog = fs.openSync(process.env.SURREAL_ENGINE_LOG || os.devNull, 'a');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    env: { ...process.env, [CHILD_ENV]: '1' },
    stdio: ['ignore', 'inherit', engineLog, 2],
  });
  fs.closeSync(engineLog);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => child.kill(sig));
  }
  child.on('exit', (code, signal) => {
    if (signal || code) {
      process.stderr.write(`${new Date().toISOString()} ERROR the server process ended (${signal ? 'signal ' + signal : 'exit code ' + code}); set SURREAL_ENGINE_LOG=FILE to keep the engine's own output\n`);
    }
    process.exit(code ?? (signal ? 1 : 0));
  });
}

// logFd is where the server writes its log: descriptor 3 under the
// supervisor, stderr when run directly.
const logFd = process.env[CHILD_ENV] && hasFd(3) ? 3 : 2;

function hasFd(fd) {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

async function serve() {
  const opts = parseArgs(process.argv.slice(2));
  const levels = { debug: 0, info: 1, warn: 2, error: 3 };
  const log = (level, msg) => {
    if (levels[level] >= levels[opts.logLevel]) {
      fs.writeSync(logFd, `${new Date().toISOString()} ${level.toUpperCase()} ${msg}\n`);
    }
  };
  const { Engine } = await import('./lib/engine.mjs');
  const { createServer } = await import('./lib/http.mjs');
  let engine;
  try {
    engine = await Engine.open(opts.storage, { user: opts.user, pass: process.env.SURREAL_PASS ?? 'root' });
  } catch (err) {
    log('error', `cannot open storage ${opts.storage}: ${err.message}`);
    process.exit(1);
  }
  const server = createServer(engine, log);
  server.on('error', (err) => {
    if (err.code === 'EADDRINUSE') {
      log('error', `${opts.host}:${opts.port} is already in use: stop the process listening there or choose another address with --bind`);
    } else {
      log('error', `listening on ${opts.host}:${opts.port}: ${err.message}`);
    }
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const addr = server.address();
    process.stdout.write(`surreal-dev-server ${engine.version} listening on ws://${opts.host}:${addr.port}/rpc storage=${opts.storage}\n`);
  });

  let stopping = false;
  const stop = async (sig) => {
    if (stopping) return;
    stopping = true;
    log('info', `${sig}: shutting down`);
    server.close();
    server.closeAllConnections?.();
    await engine.close();
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => stop(sig));
  // Stop with the supervisor, even if it was killed with SIGKILL.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop('supervisor gone');
  }, 500).unref();
}

if (process.env[CHILD_ENV]) {
  delete process.env[CHILD_ENV];
  serve();
} else {
  parseArgs(process.argv.slice(2)); // fail fast on bad arguments
  supervise();
}
