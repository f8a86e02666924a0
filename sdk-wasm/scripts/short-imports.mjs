// Minifies the names the wasm module and its wasm-bindgen glue share: every
// import is `"./pulse_glue_bg.js" "__wbg_<name>_<16 hex digits>"`, and those
// names sit, uncompressible, in both files. Renames the module to "w" and the
// imports to short names, in the .wasm and in the glue's import object.
// Usage: node short-imports.mjs module.wasm glue.js
import fs from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
const MODULE = './pulse_glue_bg.js';
const buf = fs.readFileSync(wasmPath);
let glue = fs.readFileSync(gluePath, 'utf8');

function readLeb(b, p) {
  let n = 0; let shift = 0; let byte;
  do { byte = b[p++]; n += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
  return [n, p];
}
function leb(n) {
  const out = [];
  do { let byte = n & 0x7f; n = Math.floor(n / 128); if (n) byte |= 0x80; out.push(byte); } while (n);
  return Buffer.from(out);
}
const name = (s) => { const b = Buffer.from(s); return Buffer.concat([leb(b.length), b]); };
// Short names: a, b, …, z, A, …, Z, then a0, a1, …
const short = (i) => (i < 52 ? '' : short(Math.floor(i / 52) - 1)) + 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'[i % 52];

const parts = [buf.subarray(0, 8)];
const renamed = new Map();
let p = 8;
while (p < buf.length) {
  const id = buf[p];
  const [size, start] = readLeb(buf, p + 1);
  const end = start + size;
  if (id !== 2) { parts.push(buf.subarray(p, end)); p = end; continue; }
  let [count, q] = readLeb(buf, start);
  const entries = [leb(count)];
  for (let i = 0; i < count; i++) {
    let len;
    [len, q] = readLeb(buf, q);
    const module = buf.subarray(q, q + len).toString(); q += len;
    [len, q] = readLeb(buf, q);
    const field = buf.subarray(q, q + len).toString(); q += len;
    const descStart = q;
    const kind = buf[q++];
    if (kind === 0) { [, q] = readLeb(buf, q); }
    else if (kind === 1) { q++; const flags = buf[q++]; [, q] = readLeb(buf, q); if (flags & 1) [, q] = readLeb(buf, q); }
    else if (kind === 2) { const flags = buf[q++]; [, q] = readLeb(buf, q); if (flags & 1) [, q] = readLeb(buf, q); }
    else if (kind === 3) { q += 2; }
    else throw new Error('unknown import kind ' + kind);
    const desc = buf.subarray(descStart, q);
    if (module === MODULE) {
      if (!renamed.has(field)) renamed.set(field, short(renamed.size));
      entries.push(name('w'), name(renamed.get(field)), desc);
    } else {
      entries.push(name(module), name(field), desc);
    }
  }
  const body = Buffer.concat(entries);
  parts.push(Buffer.from([2]), leb(body.length), body);
  p = end;
}

// The glue: `"./pulse_glue_bg.js": import0` and one `<field>: function…` key per import.
const moduleKey = `"${MODULE}": import0`;
if (!glue.includes(moduleKey)) throw new Error('short-imports: glue import object not found');
glue = glue.replace(moduleKey, 'w: import0');
for (const [field, to] of renamed) {
  const key = new RegExp(`(^|[\\s{,])${field}:`, 'gm');
  const hits = glue.match(key);
  if (!hits || hits.length !== 1) throw new Error(`short-imports: import ${field} found ${hits ? hits.length : 0} times in the glue`);
  glue = glue.replace(key, `$1${to}:`);
}
fs.writeFileSync(wasmPath, Buffer.concat(parts));
fs.writeFileSync(gluePath, glue);
