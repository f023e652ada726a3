// Byte-level CBOR helpers (RFC 8949). The server never decodes and re-encodes
// a request's params or the engine's results: it finds item boundaries with
// itemEnd and splices envelopes around the original bytes, so values keep
// their exact encoding (a float 100.0 stays a float, see FACTS.md).

export class CborError extends Error {}

// head reads the initial byte and argument of the item at pos.
// It returns {major, info, value, next}; value is a Number (lengths above
// 2^53 are rejected, no real payload is that large).
export function head(buf, pos) {
  if (pos >= buf.length) throw new CborError('truncated CBOR item');
  const ib = buf[pos];
  const major = ib >> 5;
  const info = ib & 0x1f;
  if (info < 24) return { major, info, value: info, next: pos + 1 };
  switch (info) {
    case 24: need(buf, pos + 2); return { major, info, value: buf[pos + 1], next: pos + 2 };
    case 25: need(buf, pos + 3); return { major, info, value: buf.readUInt16BE(pos + 1), next: pos + 3 };
    case 26: need(buf, pos + 5); return { major, info, value: buf.readUInt32BE(pos + 1), next: pos + 5 };
    case 27: {
      need(buf, pos + 9);
      const v = buf.readBigUInt64BE(pos + 1);
      // Integers and tags may be full 64-bit; only lengths must be small.
      return { major, info, value: v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v, next: pos + 9 };
    }
    case 31: return { major, info, value: -1, next: pos + 1 };
    default: throw new CborError(`reserved additional info ${info} at offset ${pos}`);
  }
}

function need(buf, end) {
  if (end > buf.length) throw new CborError('truncated CBOR item');
}

function length(h) {
  if (typeof h.value !== 'number') throw new CborError('CBOR length too large');
  return h.value;
}

// itemEnd returns the offset just past the CBOR item that starts at pos.
export function itemEnd(buf, pos) {
  const h = head(buf, pos);
  switch (h.major) {
    case 0: case 1:
      return h.next;
    case 2: case 3:
      if (h.info === 31) return indefiniteEnd(buf, h.next, (b, p) => itemEnd(b, p));
      need(buf, h.next + length(h));
      return h.next + length(h);
    case 4:
      if (h.info === 31) return indefiniteEnd(buf, h.next, itemEnd);
      return skipItems(buf, h.next, length(h));
    case 5:
      if (h.info === 31) return indefiniteEnd(buf, h.next, (b, p) => itemEnd(b, itemEnd(b, p)));
      return skipItems(buf, h.next, length(h) * 2);
    case 6:
      return itemEnd(buf, h.next);
    case 7:
      if (h.info === 31) throw new CborError(`unexpected break at offset ${pos}`);
      return h.next;
  }
  throw new CborError('unreachable');
}

function skipItems(buf, pos, n) {
  for (let i = 0; i < n; i++) pos = itemEnd(buf, pos);
  return pos;
}

function indefiniteEnd(buf, pos, step) {
  for (;;) {
    need(buf, pos + 1);
    if (buf[pos] === 0xff) return pos + 1;
    pos = step(buf, pos);
  }
}

// readText decodes a definite-length text string at pos.
export function readText(buf, pos) {
  const h = head(buf, pos);
  if (h.major !== 3 || h.info === 31) return undefined;
  const end = h.next + length(h);
  need(buf, end);
  return buf.toString('utf8', h.next, end);
}

// mapEntries splits a top-level CBOR map into {key: Buffer(value bytes)}.
// Keys must be text strings, as they are in every RPC message.
export function mapEntries(buf) {
  const h = head(buf, 0);
  if (h.major !== 5) throw new CborError('RPC message is not a CBOR map');
  const out = new Map();
  let pos = h.next;
  const n = h.info === 31 ? Infinity : length(h);
  for (let i = 0; i < n; i++) {
    if (h.info === 31 && buf[pos] === 0xff) { pos++; break; }
    const key = readText(buf, pos);
    if (key === undefined) throw new CborError('RPC message has a non-text key');
    const vstart = itemEnd(buf, pos);
    // The last value of a definite map runs to the end of the message:
    // no need to walk it (it is usually params, the large one).
    const vend = i === n - 1 ? buf.length : itemEnd(buf, vstart);
    out.set(key, buf.subarray(vstart, vend));
    pos = vend;
  }
  if (pos !== buf.length) throw new CborError('trailing bytes after RPC message');
  return out;
}

// encodeHead encodes a major type with its argument.
export function encodeHead(major, n) {
  const m = major << 5;
  if (n < 24) return Buffer.from([m | n]);
  if (n < 0x100) return Buffer.from([m | 24, n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = m | 25; b.writeUInt16BE(n, 1); return b; }
  const b = Buffer.alloc(5); b[0] = m | 26; b.writeUInt32BE(n, 1); return b;
}

const textCache = new Map();

// text encodes a short text string (cached: keys repeat on every message).
export function text(s) {
  let b = textCache.get(s);
  if (!b) {
    const body = Buffer.from(s, 'utf8');
    b = Buffer.concat([encodeHead(3, body.length), body]);
    if (textCache.size < 64) textCache.set(s, b);
  }
  return b;
}

// map assembles a CBOR map from [keyString, valueBytes] pairs without
// touching the value bytes.
export function map(pairs) {
  const parts = [encodeHead(5, pairs.length)];
  for (const [k, v] of pairs) parts.push(text(k), v);
  return Buffer.concat(parts);
}

// uuidBytes encodes a 16-byte UUID as SurrealDB does: tag 37 + byte string.
export function uuidBytes(raw16) {
  return Buffer.concat([Buffer.from([0xd8, 0x25, 0x50]), raw16]);
}

// uuidKey returns a canonical 32-hex-digit key for a UUID item (tag 37 bytes
// or a text UUID), or undefined if the bytes are not a UUID.
export function uuidKey(item) {
  if (item.length === 19 && item[0] === 0xd8 && item[1] === 0x25 && item[2] === 0x50) {
    return item.toString('hex', 3);
  }
  const s = readText(item, 0);
  if (s && /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(s)) {
    return s.replace(/-/g, '').toLowerCase();
  }
  return undefined;
}

// isErrorMap reports whether the engine's bare answer is {error: ...}.
// The engine answers either the bare result or a one-entry map "error".
export function isErrorMap(buf) {
  return buf.length > 7 && buf[0] === 0xa1 && buf[1] === 0x65 &&
    buf.toString('latin1', 2, 7) === 'error';
}
