//! UUIDv7 event ids and the random bytes behind them and the retry jitter.
use crate::json::push_hex;
use alloc::string::String;

/// Where random bytes come from (`crypto.getRandomValues` in the tracker).
/// A type, not a function pointer, so the call is direct: an indirect call
/// would keep the wasm function table, and everything in it, alive.
pub trait Fill {
    fn fill(buf: &mut [u8]);
}

/// Random bytes drawn in blocks, so one event costs no call into JS for
/// randomness.
pub struct RandomPool<F: Fill> {
    bytes: [u8; 256],
    used: usize,
    fill: core::marker::PhantomData<F>,
}

impl<F: Fill> Default for RandomPool<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Fill> RandomPool<F> {
    pub fn new() -> Self {
        RandomPool {
            bytes: [0; 256],
            used: 256,
            fill: core::marker::PhantomData,
        }
    }

    pub fn take<const N: usize>(&mut self) -> [u8; N] {
        if self.used + N > self.bytes.len() {
            F::fill(&mut self.bytes);
            self.used = 0;
        }
        let mut out = [0u8; N];
        for (o, b) in out.iter_mut().zip(self.bytes.iter().skip(self.used)) {
            *o = *b;
        }
        self.used += N;
        out
    }

    /// Uniform-ish value in 0..=65535.
    pub fn next_u16(&mut self) -> u16 {
        let b = self.take::<2>();
        u16::from_le_bytes(b)
    }
}

/// UUIDv7 generator: 48-bit ms timestamp, then a 12-bit counter that keeps ids
/// made within the same millisecond in order (RFC 9562 method 1), then 62
/// random bits.
pub struct UuidV7 {
    last_ms: u64,
    counter: u16,
}

impl Default for UuidV7 {
    fn default() -> Self {
        Self::new()
    }
}

impl UuidV7 {
    pub const fn new() -> Self {
        UuidV7 {
            last_ms: 0,
            counter: 0,
        }
    }

    pub fn bytes<F: Fill>(&mut self, now_ms: u64, pool: &mut RandomPool<F>) -> [u8; 16] {
        let rand = pool.take::<10>();
        let mut ms = now_ms.max(self.last_ms);
        if ms == self.last_ms {
            if self.counter >= 0xfff {
                ms += 1; // counter exhausted: borrow the next millisecond
                self.counter = u16::from_le_bytes([rand[0], rand[1]]) & 0x3ff;
            } else {
                self.counter += 1;
            }
        } else {
            // Start low so the counter has room to grow within the millisecond.
            self.counter = u16::from_le_bytes([rand[0], rand[1]]) & 0x3ff;
        }
        self.last_ms = ms;
        let mut b = [0u8; 16];
        for (o, m) in b.iter_mut().zip(ms.to_be_bytes().iter().skip(2)) {
            *o = *m;
        }
        b[6] = 0x70 | (self.counter >> 8) as u8;
        b[7] = self.counter as u8;
        for (o, r) in b.iter_mut().skip(8).zip(rand.iter().skip(2)) {
            *o = *r;
        }
        b[8] = 0x80 | (b[8] & 0x3f);
        b
    }

    pub fn push<F: Fill>(&mut self, out: &mut String, now_ms: u64, pool: &mut RandomPool<F>) {
        push_uuid(out, &self.bytes(now_ms, pool));
    }

    pub fn string<F: Fill>(&mut self, now_ms: u64, pool: &mut RandomPool<F>) -> String {
        let mut s = String::with_capacity(36);
        self.push(&mut s, now_ms, pool);
        s
    }
}

pub fn push_uuid(out: &mut String, b: &[u8; 16]) {
    push_hex(out, &b[..4]);
    out.push('-');
    push_hex(out, &b[4..6]);
    out.push('-');
    push_hex(out, &b[6..8]);
    out.push('-');
    push_hex(out, &b[8..10]);
    out.push('-');
    push_hex(out, &b[10..]);
}
