//! A strictly validating scanner for `{"Records":[{...},...]}`: it gives
//! each record's raw bytes and its top-level `eventTime` and `eventSource`,
//! and skips (but checks) everything else.
//!
//! `serde_json`'s skipping (`IgnoredAny`) ran at about 590 MB/s per core on
//! `gen_corpus` logs, sonic-rs 0.5 at 570-640 MB/s and simd-json 0.17 at
//! 880 MB/s (the crates that could do it; neither gives the raw record
//! slice with full validation); the prototype of this scanner at 1.6 GB/s.
//! This module, with the UTF-8 check of the whole text, measured 1.1-1.4
//! GB/s in the same harness (single runs on a loaded machine), before its
//! string search took 16 bytes a step (see `special`). The speed comes
//! from string bodies, most of the bytes, being searched many bytes at a
//! time for `"`, `\` and control characters.
//!
//! JSON's grammar is checked: string escapes (`\u` with hex digits and no
//! lone surrogates), control characters, numbers, literals, nesting and
//! nothing after the document. Anything else is an error, and the caller
//! then takes the general decoder. The scan is never more lenient than
//! `serde_json` (it allows 100 levels of nesting in a value where
//! `serde_json` allows 128 in the document), so a text it accepts is one
//! the general decoder reads alike. UTF-8 is the caller's to check, once
//! for the whole text.

/// Nesting allowed inside one value of a record.
const MAX_DEPTH: u32 = 100;

/// Where the scan stopped: invalid JSON, or not a plain envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(pub usize);

type R<T> = Result<T, Error>;

/// What the scan reads of one record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    /// `eventTime`, when it is a string without escapes (its body: the
    /// caller checks UTF-8 once for the whole text).
    pub time: Option<&'a [u8]>,
    /// `eventSource` (or `EventSource`), when a string without escapes.
    pub source: Option<&'a [u8]>,
    /// The record must be read in full to be read right: it is not an
    /// object, or one of the fields above is repeated, spelled with
    /// escapes, or has a value that is not a plain string.
    pub odd: bool,
}

/// Scans `text`, calling `f(fields, raw)` for each record in order, where
/// `raw` is the record's whole JSON text. Stops at the first error; records
/// handed on before it are then to be dropped by the caller.
pub fn scan<'a>(text: &'a [u8], mut f: impl FnMut(Fields<'a>, &'a [u8])) -> R<()> {
    let mut p = P { b: text, i: 0 };
    p.ws();
    p.eat(b'{')?;
    p.ws();
    p.eat(b'"')?;
    let (s, e, esc) = p.string()?;
    if esc || &text[s..e] != b"Records" {
        return Err(Error(s));
    }
    p.ws();
    p.eat(b':')?;
    p.ws();
    p.eat(b'[')?;
    p.ws();
    if p.peek() == b']' {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let start = p.i;
            let fields = if p.peek() == b'{' {
                p.record()?
            } else {
                p.value()?;
                Fields {
                    odd: true,
                    ..Fields::default()
                }
            };
            f(fields, &text[start..p.i]);
            p.ws();
            match p.next() {
                b',' => {}
                b']' => break,
                _ => return Err(Error(p.i - 1)),
            }
        }
    }
    p.ws();
    p.eat(b'}')?;
    p.ws();
    if p.i != text.len() {
        return Err(Error(p.i));
    }
    Ok(())
}

/// The parser's position in the text. The small steps are inlined by
/// force: without it the scan took 13% more instructions (callgrind, 150
/// files).
struct P<'a> {
    b: &'a [u8],
    i: usize,
}

/// The top-level keys the scan reads.
#[derive(Clone, Copy)]
enum Slot {
    Time,
    Source,
}

// Measured: see `P`.
#[allow(clippy::inline_always)]
impl<'a> P<'a> {
    /// The byte at the position; 0 at the end (never valid where looked at).
    #[inline(always)]
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    #[inline(always)]
    fn next(&mut self) -> u8 {
        let c = self.peek();
        self.i += 1;
        c
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> R<()> {
        if self.peek() == c {
            self.i += 1;
            Ok(())
        } else {
            Err(Error(self.i))
        }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }

    /// One record object: two fields read at its top level, the rest skipped.
    #[inline]
    fn record(&mut self) -> R<Fields<'a>> {
        let mut fl = Fields::default();
        let mut seen = [false; 2];
        self.i += 1; // '{'
        self.ws();
        if self.peek() == b'}' {
            self.i += 1;
            return Ok(fl);
        }
        loop {
            self.eat(b'"')?;
            let (s, e, esc) = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let slot = match &self.b[s..e] {
                b"eventTime" => Some(Slot::Time),
                b"eventSource" | b"EventSource" => Some(Slot::Source),
                // An escaped key may spell one of the above.
                _ if esc => {
                    fl.odd = true;
                    None
                }
                _ => None,
            };
            match slot {
                Some(slot) => {
                    let n = slot as usize;
                    fl.odd |= seen[n];
                    seen[n] = true;
                    let value = if self.peek() == b'"' {
                        self.i += 1;
                        let (s, e, esc) = self.string()?;
                        Some(&self.b[s..e]).filter(|_| !esc)
                    } else {
                        self.value()?;
                        None
                    };
                    fl.odd |= value.is_none();
                    match slot {
                        Slot::Time => fl.time = value,
                        Slot::Source => fl.source = value,
                    }
                }
                None => self.value()?,
            }
            self.ws();
            match self.next() {
                b',' => self.ws(),
                b'}' => return Ok(fl),
                _ => return Err(Error(self.i - 1)),
            }
        }
    }

    /// Skips (and checks) one value; containers without recursion.
    #[inline]
    fn value(&mut self) -> R<()> {
        // Bit n of `stack`: 1 if the container at depth n + 1 is an object.
        let mut stack: u128 = 0;
        let mut depth: u32 = 0;
        'value: loop {
            match self.peek() {
                b'"' => {
                    self.i += 1;
                    self.string()?;
                }
                b'{' => {
                    if depth == MAX_DEPTH {
                        return Err(Error(self.i));
                    }
                    self.i += 1;
                    stack |= 1 << depth;
                    depth += 1;
                    self.ws();
                    match self.next() {
                        b'}' => depth -= 1,
                        b'"' => {
                            self.member_rest()?;
                            continue 'value;
                        }
                        _ => return Err(Error(self.i - 1)),
                    }
                }
                b'[' => {
                    if depth == MAX_DEPTH {
                        return Err(Error(self.i));
                    }
                    self.i += 1;
                    stack &= !(1 << depth);
                    depth += 1;
                    self.ws();
                    if self.peek() == b']' {
                        self.i += 1;
                        depth -= 1;
                    } else {
                        continue 'value;
                    }
                }
                b'-' | b'0'..=b'9' => self.number()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(Error(self.i)),
            }
            // After a value: close containers, or go on to the next element.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = (stack >> (depth - 1)) & 1 == 1;
                self.ws();
                match (self.next(), object) {
                    (b',', false) => {
                        self.ws();
                        continue 'value;
                    }
                    (b',', true) => {
                        self.ws();
                        self.eat(b'"')?;
                        self.member_rest()?;
                        continue 'value;
                    }
                    (b'}', true) | (b']', false) => depth -= 1,
                    _ => return Err(Error(self.i - 1)),
                }
            }
        }
    }

    /// After a member's opening quote: the key, the colon, and the
    /// whitespace before the value.
    #[inline]
    fn member_rest(&mut self) -> R<()> {
        self.string()?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        Ok(())
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Error(self.i))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    #[inline]
    fn number(&mut self) -> R<()> {
        if self.peek() == b'-' {
            self.i += 1;
        }
        match self.peek() {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return Err(Error(self.i)),
        }
        if self.peek() == b'.' {
            self.i += 1;
            if self.digits() == 0 {
                return Err(Error(self.i));
            }
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.i += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(Error(self.i));
            }
        }
        Ok(())
    }

    /// At the first byte after an opening quote: the body's range and
    /// whether it has escapes; leaves the position after the closing quote.
    #[inline(always)]
    fn string(&mut self) -> R<(usize, usize, bool)> {
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i = special(self.b, self.i);
            match self.b.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok((start, self.i - 1, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                // A control character, or the end of the text.
                _ => return Err(Error(self.i)),
            }
        }
    }

    #[inline(never)]
    fn escape(&mut self) -> R<()> {
        match self.b.get(self.i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
            Some(b'u') => {
                let unit = self.hex(self.i + 2)?;
                self.i += 6;
                // UTF-16: a high surrogate takes a low one; none stands alone.
                if (0xDC00..=0xDFFF).contains(&unit) {
                    return Err(Error(self.i - 6));
                }
                if (0xD800..=0xDBFF).contains(&unit) {
                    let low = (self.b.get(self.i..self.i + 2) == Some(b"\\u"))
                        .then(|| self.hex(self.i + 2))
                        .transpose()?;
                    if !low.is_some_and(|u| (0xDC00..=0xDFFF).contains(&u)) {
                        return Err(Error(self.i - 6));
                    }
                    self.i += 6;
                }
            }
            _ => return Err(Error(self.i)),
        }
        Ok(())
    }

    /// Four hex digits at `at`.
    fn hex(&self, at: usize) -> R<u32> {
        let digits = self.b.get(at..at + 4).ok_or(Error(at))?;
        digits.iter().try_fold(0, |n, &c| {
            let d = char::from(c).to_digit(16).ok_or(Error(at))?;
            Ok(n * 16 + d)
        })
    }
}

/// The index of the first `"`, `\` or control character (< 0x20) at or
/// after `at`, or `text.len()`.
///
/// Sixteen bytes at a time with SSE2 while sixteen are left: 15% fewer
/// instructions in the scan than eight at a time (callgrind, 150 files,
/// 227M -> 194M), 5% less CPU over the 500 MB tree (10 interleaved runs).
/// Then eight at a time (SWAR): a byte is flagged if it is zero after an
/// XOR with `"` or `\`, or less than 0x20; borrows can flag bytes above a
/// flagged one, never below, so the lowest flag is exact.
#[allow(clippy::inline_always)]
#[inline(always)]
fn special(text: &[u8], at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = match sse2_steps(text, at) {
        Ok(found) => return found,
        Err(rest) => rest,
    };
    let quote = ONES * u64::from(b'"');
    let backslash = ONES * u64::from(b'\\');
    while let Some(w) = text.get(at..at + 8) {
        let word = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let to_quote = word ^ quote;
        let to_backslash = word ^ backslash;
        let flags = (to_quote.wrapping_sub(ONES) & !to_quote
            | to_backslash.wrapping_sub(ONES) & !to_backslash
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGH;
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&c) = text.get(at) {
        if matches!(c, b'"' | b'\\' | 0..=0x1f) {
            break;
        }
        at += 1;
    }
    at
}

/// `special`'s 16-byte steps (SSE2, in every x86-64 CPU) while sixteen bytes
/// are left: `Ok` with the first special byte, or `Err` with where the steps
/// stopped. A byte is at most 0x1f when the unsigned minimum keeps it.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::inline_always, unsafe_code)]
#[inline(always)]
fn sse2_steps(text: &[u8], mut at: usize) -> Result<usize, usize> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: these intrinsics take no pointers and need only SSE2, which
    // every x86-64 CPU has (it is in the target's baseline). The loads go
    // through bounds-checked slices (`bytemuck::pod_read_unaligned`).
    #[allow(clippy::cast_possible_wrap)]
    let (quote, backslash, control) = unsafe {
        (
            _mm_set1_epi8(b'"' as i8),
            _mm_set1_epi8(b'\\' as i8),
            _mm_set1_epi8(0x1f),
        )
    };
    while let Some(chunk) = text.get(at..at + 16) {
        let v: __m128i = bytemuck::pod_read_unaligned(chunk);
        // SAFETY: as above.
        #[allow(clippy::cast_sign_loss)]
        let mask = unsafe {
            _mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                _mm_cmpeq_epi8(_mm_min_epu8(v, control), v),
            ))
        } as u32;
        if mask != 0 {
            return Ok(at + mask.trailing_zeros() as usize);
        }
        at += 16;
    }
    Err(at)
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::inline_always)]
#[inline(always)]
fn sse2_steps(_text: &[u8], at: usize) -> Result<usize, usize> {
    Err(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> R<Vec<(Fields<'_>, &str)>> {
        let mut out = Vec::new();
        scan(text.as_bytes(), |f, raw| {
            out.push((f, std::str::from_utf8(raw).unwrap()));
        })?;
        Ok(out)
    }

    #[test]
    fn reads_the_two_fields_and_the_raw_record() {
        let text = r#" {"Records": [ {"eventTime":"t1","x":{"eventSource":"nested"},"eventSource":"kms.amazonaws.com"} ,
            {"EventSource":"s3.amazonaws.com","a":[1,-2.5e+3,true,false,null,"é\n"]}, {}, 7 ] } "#;
        let r = records(text).unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].0.time, Some(&b"t1"[..]));
        assert_eq!(r[0].0.source, Some(&b"kms.amazonaws.com"[..]));
        assert!(!r[0].0.odd);
        assert!(r[0].1.starts_with("{\"eventTime\"") && r[0].1.ends_with("com\"}"));
        assert_eq!(r[1].0.source, Some(&b"s3.amazonaws.com"[..]));
        assert_eq!(r[2].0, Fields::default());
        assert!(r[3].0.odd);
        assert_eq!(r[3].1, "7");
        assert!(records(r#"{"Records":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn odd_records_are_flagged() {
        for rec in [
            r#"{"eventSource":"a","eventSource":"b"}"#,
            r#"{"eventSource":"a","EventSource":"b"}"#,
            r#"{"eventTime":1}"#,
            r#"{"eventSource":"kms\u002eamazonaws.com"}"#,
            r#"{"event\u0053ource":"kms.amazonaws.com"}"#,
            r#"{"eventSource":null}"#,
        ] {
            let text = format!(r#"{{"Records":[{rec}]}}"#);
            assert!(records(&text).unwrap()[0].0.odd, "{rec}");
        }
    }

    #[test]
    fn invalid_json_and_other_shapes_are_errors() {
        for text in [
            "",
            "{}",
            r#"{"Records":{}}"#,
            r#"{"Records":[],"x":1}"#,
            r#"{"Rec\u006frds":[]}"#,
            r#"{"Records":[{"a":1}]"#,
            r#"{"Records":[{"a":1}]} x"#,
            r#"{"Records":[{"a":01}]}"#,
            r#"{"Records":[{"a":1.}]}"#,
            r#"{"Records":[{"a":-}]}"#,
            r#"{"Records":[{"a":tru}]}"#,
            r#"{"Records":[{"a":"\q"}]}"#,
            r#"{"Records":[{"a":"\u12G4"}]}"#,
            "{\"Records\":[{\"a\":\"\u{1}\"}]}",
            r#"{"Records":[{"a":[1,]}]}"#,
            r#"{"Records":[{"a":{"b" 1}}]}"#,
            r#"{"Records":[{"a":{"b":1]}]}"#,
            r#"{"Records":[{"a":1,}]}"#,
            r#"{"Records":[{"a":"unterminated}]}"#,
        ] {
            assert!(records(text).is_err(), "{text}");
        }
        let nested = |n| {
            let (open, close) = ("[".repeat(n), "]".repeat(n));
            format!(r#"{{"Records":[{{"a":{open}{close}}}]}}"#)
        };
        assert!(records(&nested(101)).is_err());
        assert!(records(&nested(100)).is_ok());
        for lone in [
            r"\ud800",
            r"\udc00",
            r"\ud800x",
            r"\ud800\u0041",
            r"\ud800\n",
        ] {
            let text = format!(r#"{{"Records":[{{"a":"{lone}"}}]}}"#);
            assert!(records(&text).is_err(), "{lone}");
        }
        assert!(records(r#"{"Records":[{"a":"\ud83d\ude00 \u00e9"}]}"#).is_ok());
    }

    /// `special` against a byte-at-a-time search, at every alignment.
    #[test]
    fn special_matches_the_plain_search() {
        let mut text: Vec<u8> = b"abcdefghijklmnop\xc3\xa9qrstuvwxyz0123456789".to_vec();
        for (n, c) in [b'"', b'\\', 0x1f, 0x00, b'\n'].into_iter().enumerate() {
            for at in 0..text.len() {
                let mut t = text.clone();
                t[at] = c;
                for from in 0..=at {
                    assert_eq!(special(&t, from), at, "{n} {at} {from}");
                }
            }
        }
        // Bytes beside the special ones are never taken for them.
        for c in [
            0x20, b'!', b'#', b'[', b']', 0x7f, 0x80, 0x9f, 0xa0, 0xdc, 0xff,
        ] {
            for at in 0..text.len() {
                let mut t = text.clone();
                t[at] = c;
                assert_eq!(special(&t, 0), t.len(), "{c:#x} at {at}");
            }
        }
        text.truncate(20);
        assert_eq!(special(&text, 3), text.len());
    }
}
