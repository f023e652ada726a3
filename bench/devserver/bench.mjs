#!/usr/bin/env node
// Batch-INSERT throughput through the SurrealDB dev server, next to the
// baseline of calling the same engine directly in-process.
//
//   make bench-devserver          (or: node bench/devserver/bench.mjs)
//
// Both paths send byte-identical pre-encoded CBOR requests
// `INSERT INTO bench $rows` with ROWS_PER_STMT rows of 5 fields, one at a
// time, into a fresh mem:// engine; only the transport differs. Rounds
// alternate between the two paths and the medians are compared. Target:
// through the server >= 75% of direct.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const serverDir = path.join(root, 'tools', 'surreal-dev-server');
const require = createRequire(path.join(serverDir, 'package.json'));
const { WebSocket } = require('ws');
const { Engine, codec, newSessionBytes } = await import(path.join(serverDir, 'lib', 'engine.mjs'));
const cbor = await import(path.join(serverDir, 'lib', 'cbor.mjs'));

const ROWS_PER_STMT = Number(process.env.ROWS_PER_STMT ?? 100);
const STMTS = Number(process.env.STMTS ?? 300);
const ROUNDS = Number(process.env.ROUNDS ?? 7);

function requests(round) {
  const out = [];
  for (let s = 0; s < STMTS; s++) {
    const rows = [];
    for (let r = 0; r < ROWS_PER_STMT; r++) {
      const n = (round * STMTS + s) * ROWS_PER_STMT + r;
      rows.push({ id: n, name: `product ${n}`, price: n + 0.25, qty: n % 97, active: n % 2 === 0 });
    }
    out.push({ method: 'query', params: Buffer.from(codec.encode([`INSERT INTO bench${round} $rows RETURN NONE`, { rows }])) });
  }
  return out;
}

function encode(req, id, session) {
  const pairs = [['id', cbor.text(String(id))], ['method', cbor.text(req.method)], ['params', req.params]];
  if (session) pairs.push(['session', session]);
  return cbor.map(pairs);
}

async function direct(engine, session, reqs) {
  const payloads = reqs.map((r, i) => encode(r, i, session));
  const t0 = process.hrtime.bigint();
  for (const p of payloads) {
    const res = await engine.execute(p);
    if (cbor.isErrorMap(res)) throw new Error(JSON.stringify(codec.decode(res)));
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function viaServer(ws, reqs) {
  const payloads = reqs.map((r, i) => encode(r, `b${i}`));
  const t0 = process.hrtime.bigint();
  for (const p of payloads) {
    const res = await rpcRaw(ws, p);
    if (res.error) throw new Error(JSON.stringify(res.error));
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function rpcRaw(ws, bytes) {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(codec.decode(data)));
    ws.send(bytes);
  });
}

function rpc(ws, method, params) {
  return rpcRaw(ws, cbor.map([['id', cbor.text(randomUUID())], ['method', cbor.text(method)], ['params', Buffer.from(codec.encode(params))]]));
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(port) {
  const child = spawn(process.execPath, [path.join(serverDir, 'server.mjs'), '--bind', `127.0.0.1:${port}`, '--storage', 'mem://', '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SURREAL_PASS: 'root' } });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('listening')) resolve(); });
    child.on('exit', (code) => reject(new Error(`dev server exited with ${code}`)));
  });
  return child;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function main() {
  const engine = await Engine.open('mem://', { user: 'root', pass: 'root' });
  const session = newSessionBytes();
  await engine.call({ method: 'attach' }, session);
  await engine.call({ method: 'use', params: ['bench', 'direct'] }, session);

  const port = await freePort();
  const child = await startServer(port);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/rpc`, 'cbor');
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  await rpc(ws, 'signin', [{ user: 'root', pass: 'root' }]);
  await rpc(ws, 'use', ['bench', 'server']);

  const rows = ROWS_PER_STMT * STMTS;
  const d = [];
  const s = [];
  await direct(engine, session, requests(99).slice(0, 20)); // warm up both
  await viaServer(ws, requests(98).slice(0, 20));
  for (let round = 0; round < ROUNDS; round++) {
    const reqs = requests(round);
    // Alternate which path goes first, so drift favours neither.
    if (round % 2 === 0) {
      d.push(rows / await direct(engine, session, reqs));
      s.push(rows / await viaServer(ws, reqs));
    } else {
      s.push(rows / await viaServer(ws, reqs));
      d.push(rows / await direct(engine, session, reqs));
    }
    console.log(`round ${round + 1}/${ROUNDS}: direct ${d.at(-1).toFixed(0)} rows/s, via server ${s.at(-1).toFixed(0)} rows/s`);
  }
  ws.close();
  child.kill('SIGTERM');
  await engine.close();

  const result = {
    benchmark: 'devserver-batch-insert',
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, node: process.version },
    rows_per_statement: ROWS_PER_STMT,
    statements_per_round: STMTS,
    rounds: ROUNDS,
    direct_rows_per_s_median: Math.round(median(d)),
    server_rows_per_s_median: Math.round(median(s)),
    ratio: Number((median(s) / median(d)).toFixed(3)),
    target_ratio: 0.75,
    direct_rows_per_s: d.map(Math.round),
    server_rows_per_s: s.map(Math.round),
  };
  console.log(`\ndirect (in-process engine): ${result.direct_rows_per_s_median} rows/s (median)`);
  console.log(`through the dev server:     ${result.server_rows_per_s_median} rows/s (median)`);
  console.log(`ratio: ${(result.ratio * 100).toFixed(1)}% (target >= 75%)`);
  const dir = path.join(root, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `devserver-${result.date.slice(0, 10)}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`saved ${path.relative(root, file)}`);
  process.exit(result.ratio >= 0.75 ? 0 : 1);
}

main().catch((err) => { console.error(err); process.exit(1); });
