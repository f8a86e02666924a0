//! Hand-rolled JSON writing. serde_json would triple the wasm size; the tracker
//! only ever writes strings and integers, and properties arrive already
//! serialized by `JSON.stringify` on the JS side.
//!
//! Also the few string helpers the tracker needs, written so that they cannot
//! panic: every panic site in the wasm carries its message, and `str` slicing
//! drags in core's char-boundary error reporting (~3 KB with its tables).
use alloc::string::String;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `String::push_str` as a call: inlined at every one of the tracker's many
/// call sites it costs more wasm than anything else in it.
pub trait Append {
    fn append(&mut self, s: &str);
}

impl Append for String {
    #[inline(never)]
    fn append(&mut self, s: &str) {
        self.push_str(s);
    }
}

/// Appends one ASCII byte (cheaper than `String::push`, which encodes UTF-8).
#[inline(always)]
pub fn push_ascii(out: &mut String, b: u8) {
    debug_assert!(b.is_ascii());
    // SAFETY: callers only pass ASCII bytes, so the string stays UTF-8.
    unsafe { out.as_mut_vec().push(b) }
}

/// `s[from..to]` for byte offsets the caller found next to ASCII bytes (or
/// the ends), so they are char boundaries; clamped instead of panicking.
#[inline(always)]
pub fn sub(s: &str, from: usize, to: usize) -> &str {
    let to = to.min(s.len());
    let from = from.min(to);
    // SAFETY: in bounds (clamped) and, by the caller's contract, on char boundaries.
    unsafe { s.get_unchecked(from..to) }
}

/// Splits `s` at every `sep` (an ASCII byte), like `str::split` with a char,
/// without core's searcher machinery.
pub fn fields(s: &str, sep: u8) -> Fields<'_> {
    Fields { rest: Some(s), sep }
}

pub struct Fields<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match s.bytes().position(|b| b == self.sep) {
            Some(i) => {
                self.rest = Some(sub(s, i + 1, s.len()));
                Some(sub(s, 0, i))
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

/// `s` without leading and trailing ASCII whitespace.
pub fn trim_ascii(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    sub(s, start, end)
}

/// Appends `s` as a quoted JSON string.
pub fn push_str(out: &mut String, s: &str) {
    push_ascii(out, b'"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let short: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte: a char boundary.
        out.append(sub(s, start, i));
        if short.is_empty() {
            out.append("\\u00");
            push_hex(out, &[b]);
        } else {
            out.append(short);
        }
        start = i + 1;
    }
    out.append(sub(s, start, s.len()));
    push_ascii(out, b'"');
}

/// Appends `"key":` (key must not need escaping).
pub fn push_key(out: &mut String, key: &str) {
    push_ascii(out, b'"');
    out.append(key);
    out.append("\":");
}

/// Appends `n` in decimal, left-padded with zeros to `width` digits.
pub fn push_uint(out: &mut String, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut digits = 0;
    let mut n = n;
    for d in buf.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
        digits += 1;
        if n == 0 {
            break;
        }
    }
    for &d in buf.iter().skip(20 - digits.max(width).min(20)) {
        push_ascii(out, d);
    }
}

/// Appends lowercase hex of `bytes`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        push_ascii(out, HEX[(b >> 4) as usize]);
        push_ascii(out, HEX[(b & 15) as usize]);
    }
}

/// Parses a non-negative decimal integer (no sign, no spaces).
pub fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as u64;
    }
    Some(n)
}

/// Appends the members of a serialized JSON object (`{"a":1}` → `,"a":1`);
/// nothing for `{}` or anything that is not an object.
pub fn push_members(out: &mut String, object_json: &str) {
    let t = trim_ascii(object_json);
    if t.len() > 2 && t.starts_with('{') && t.ends_with('}') {
        push_ascii(out, b',');
        out.append(sub(t, 1, t.len() - 1));
    }
}
