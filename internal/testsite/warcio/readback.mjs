// Reads every *.warc.gz of a directory with warcio.js and prints one JSON
// object per record: what warcio parsed (WARC headers, HTTP status line,
// protocol and headers, names in their case and order) and whether the
// record's digests match its bytes. The digests are computed here, over the
// block warcio hands back: WARC-Block-Digest over the whole block,
// WARC-Payload-Digest over the HTTP entity body (chunked transfer coding
// undone, content coding kept: WARC 1.1, 6.3.2 and 5.9).
//
// Usage: node readback.mjs DIR
import { WARCParser } from "warcio";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function base32(buf) {
  let bits = 0, value = 0, out = "";
  for (const b of buf) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  while (out.length % 8) out += "=";
  return out;
}

function digest(label, bytes) {
  const [alg] = label.split(":");
  const name = { sha1: "sha1", sha256: "sha256" }[alg.toLowerCase()];
  if (!name) return false;
  const sum = createHash(name).update(bytes).digest();
  const value = label.slice(alg.length + 1);
  return value === base32(sum) || value.toLowerCase() === sum.toString("hex");
}

function indexOf(hay, needle, from = 0) {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// dechunk undoes the chunked transfer coding; null when the data ends
// inside it.
function dechunk(body) {
  const parts = [];
  let i = 0;
  for (;;) {
    const eol = indexOf(body, [13, 10], i);
    if (eol < 0) return null;
    const size = parseInt(Buffer.from(body.subarray(i, eol)).toString("latin1").split(";")[0].trim(), 16);
    if (Number.isNaN(size)) return null;
    i = eol + 2;
    if (size === 0) return Buffer.concat(parts);
    if (i + size + 2 > body.length) return null;
    parts.push(body.subarray(i, i + size));
    i += size + 2;
  }
}

async function readFile(file) {
  const out = [];
  // Pass 1: the blocks as stored.
  const blocks = [];
  for await (const record of new WARCParser(fs.createReadStream(file), { parseHttp: false })) {
    blocks.push(Buffer.from(await record.readFully(false)));
  }
  // Pass 2: warcio's reading of the HTTP messages.
  let i = 0;
  for await (const record of new WARCParser(fs.createReadStream(file), { keepHeadersCase: true })) {
    const block = blocks[i++];
    const r = {
      file: path.basename(file),
      warc: Object.fromEntries([...record.warcHeaders.headers].map(([k, v]) => [k.toLowerCase(), v])),
      length: block.length,
    };
    if (record.httpHeaders) {
      const end = indexOf(block, [13, 10, 13, 10]);
      r.head = block.subarray(0, end < 0 ? block.length : end + 4).toString("latin1");
      const h = record.httpHeaders;
      r.statusline = h.statusline;
      r.protocol = h.protocol;
      r.status = h.statusCode === undefined ? undefined : Number(h.statusCode);
      r.method = record.warcType === "request" ? h.method : undefined;
      r.headers = [];
      for (const [k, v] of h.headers) r.headers.push([k, v]);
      if (h.headers.getMultiple) r.setCookies = h.headers.getMultiple("Set-Cookie") || h.headers.getMultiple("set-cookie") || [];
    }
    const blockDigest = record.warcBlockDigest;
    r.blockDigestOK = blockDigest ? digest(blockDigest, block) : null;
    const payloadDigest = record.warcPayloadDigest;
    if (payloadDigest) {
      let end = indexOf(block, [13, 10, 13, 10]);
      let body = end >= 0 ? block.subarray(end + 4) : null;
      const te = r.headers?.find(([k]) => k.toLowerCase() === "transfer-encoding")?.[1] || "";
      if (body && te.toLowerCase().split(",").pop().trim() === "chunked") body = dechunk(body);
      r.payloadDigestOK = body ? digest(payloadDigest, body) : false;
      r.payloadLength = body ? body.length : -1;
    }
    out.push(r);
  }
  return out;
}

const dir = process.argv[2];
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".warc.gz")).sort();
if (files.length === 0) {
  console.error(`no *.warc.gz in ${dir}`);
  process.exit(1);
}
for (const f of files) {
  for (const r of await readFile(path.join(dir, f))) console.log(JSON.stringify(r));
}
