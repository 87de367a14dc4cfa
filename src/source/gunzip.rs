//! Gzip (RFC 1952, one or more members) inflated with one reused inflate
//! state and one reused output buffer per thread.
//!
//! A trail is often hundreds of thousands of files of a few kilobytes:
//! `flate2::read::MultiGzDecoder` allocates and zeroes a fresh inflate state
//! and window for each, and `read_to_end` zeroes the output it grows into.
//! Here the raw deflate stream of each member goes through a
//! `flate2::Decompress` that is reset, not rebuilt, and is inflated straight
//! into the buffer's spare capacity; the member framing (header, CRC-32 and
//! length trailer) is checked here, as RFC 1952 section 2.3 gives it.

use std::cell::RefCell;
use std::io;

use flate2::{Crc, Decompress, FlushDecompress, Status};

/// True if `bytes` start like a gzip member.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Output buffers larger than this are not kept for the next input.
const KEEP: usize = 16 << 20;

struct Inflater {
    z: Decompress,
    out: Vec<u8>,
}

thread_local! {
    static INFLATER: RefCell<Inflater> = RefCell::new(Inflater {
        z: Decompress::new(false),
        out: Vec::new(),
    });
}

/// Inflates `input` (all its members) and gives the text to `f`.
///
/// # Panics
/// If `f` calls `with_text` again on the same thread.
pub fn with_text<T>(input: &[u8], f: impl FnOnce(io::Result<&[u8]>) -> T) -> T {
    INFLATER.with(|cell| {
        let mut guard = cell.borrow_mut();
        let Inflater { z, out } = &mut *guard;
        out.clear();
        let result = inflate_members(input, z, out);
        let value = f(result.map(|()| out.as_slice()));
        if out.capacity() > KEEP {
            *out = Vec::new();
        }
        value
    })
}

fn inflate_members(input: &[u8], z: &mut Decompress, out: &mut Vec<u8>) -> io::Result<()> {
    // A first guess at the inflated size: CloudTrail JSON packs about 8:1.
    out.reserve(input.len().saturating_mul(8).min(64 << 20));
    let mut rest = input;
    loop {
        rest = skip_header(rest)?;
        z.reset(false);
        let start = out.len();
        rest = inflate_member(rest, z, out)?;
        rest = check_trailer(rest, &out[start..])?;
        // Members follow one another to the end of the input.
        if rest.is_empty() {
            return Ok(());
        }
    }
}

/// Inflates one member's deflate stream; returns the input after it.
fn inflate_member<'a>(
    mut rest: &'a [u8],
    z: &mut Decompress,
    out: &mut Vec<u8>,
) -> io::Result<&'a [u8]> {
    loop {
        if out.capacity() - out.len() < 32 << 10 {
            out.reserve(out.len().max(64 << 10));
        }
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(rest, out, FlushDecompress::None)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let used = usize::try_from(z.total_in() - before_in).unwrap_or(usize::MAX);
        rest = &rest[used.min(rest.len())..];
        match status {
            Status::StreamEnd => return Ok(rest),
            _ if z.total_out() == before_out && used == 0 => {
                return Err(if rest.is_empty() {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "unexpected end of file (truncated deflate stream)",
                    )
                } else {
                    invalid("corrupt deflate stream")
                });
            }
            _ => {}
        }
    }
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected end of file")
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Skips a member header (RFC 1952 2.3); returns the deflate stream. As
/// flate2 does: reserved flag bits are an error, `FHCRC` is checked, and a
/// name or comment may not pass 65,535 bytes.
fn skip_header(b: &[u8]) -> io::Result<&[u8]> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    const FRESERVED: u8 = 0xE0;
    const MAX_FIELD: usize = 65_535;
    if !b.iter().zip([0x1f, 0x8b]).all(|(&x, y)| x == y) {
        return Err(invalid("invalid gzip header"));
    }
    let fixed = b.get(..10).ok_or_else(truncated)?;
    if fixed[2] != 8 {
        return Err(invalid(
            "invalid gzip header: compression method is not deflate",
        ));
    }
    let flags = fixed[3];
    if flags & FRESERVED != 0 {
        return Err(invalid("invalid gzip header: reserved flag bits are set"));
    }
    let mut rest = &b[10..];
    if flags & FEXTRA != 0 {
        let len = rest.get(..2).ok_or_else(truncated)?;
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        rest = rest.get(2 + len..).ok_or_else(truncated)?;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let nul = rest.iter().take(MAX_FIELD + 1).position(|&c| c == 0);
            let nul = match nul {
                Some(n) => n,
                None if rest.len() > MAX_FIELD => {
                    return Err(invalid("gzip header field too long"));
                }
                None => return Err(truncated()),
            };
            rest = &rest[nul + 1..];
        }
    }
    if flags & FHCRC != 0 {
        let stored = rest.get(..2).ok_or_else(truncated)?;
        let header = &b[..b.len() - rest.len()];
        let mut crc = Crc::new();
        crc.update(header);
        // The low 16 bits of the CRC-32 of the header before it.
        #[allow(clippy::cast_possible_truncation)]
        if u16::from_le_bytes([stored[0], stored[1]]) != crc.sum() as u16 {
            return Err(invalid("corrupt gzip stream: header checksum"));
        }
        rest = &rest[2..];
    }
    Ok(rest)
}

/// Checks a member's CRC-32 and length against its text; returns the input
/// after the trailer.
fn check_trailer<'a>(rest: &'a [u8], text: &[u8]) -> io::Result<&'a [u8]> {
    let t = rest.get(..8).ok_or_else(truncated)?;
    let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
    let mut sum = Crc::new();
    sum.update(text);
    // ISIZE is the length modulo 2^32.
    #[allow(clippy::cast_possible_truncation)]
    let len = text.len() as u32;
    if sum.sum() != crc || len != size {
        return Err(invalid(
            "corrupt gzip stream does not have a matching checksum",
        ));
    }
    Ok(&rest[8..])
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use flate2::write::GzEncoder;
    use flate2::{Compression, GzBuilder};

    use super::*;

    fn gz(text: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn text(input: &[u8]) -> io::Result<Vec<u8>> {
        with_text(input, |r| r.map(<[u8]>::to_vec))
    }

    #[test]
    fn members_and_header_fields() {
        let mut two = gz(b"{\"a\":");
        let named = GzBuilder::new()
            .filename("x.json")
            .comment("c")
            .extra(vec![1, 2, 3])
            .write(Vec::new(), Compression::fast());
        let mut named = named;
        named.write_all(b"1}").unwrap();
        two.extend(named.finish().unwrap());
        assert_eq!(text(&two).unwrap(), b"{\"a\":1}");
        // The same as flate2's own multi-member reader.
        let mut expected = Vec::new();
        flate2::read::MultiGzDecoder::new(&two[..])
            .read_to_end(&mut expected)
            .unwrap();
        assert_eq!(text(&two).unwrap(), expected);
    }

    #[test]
    fn large_and_reused() {
        let big: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        assert_eq!(text(&gz(&big)).unwrap(), big);
        assert_eq!(text(&gz(b"small")).unwrap(), b"small");
        assert_eq!(text(&gz(b"")).unwrap(), b"");
    }

    #[test]
    fn damage_is_an_error() {
        let good = gz(&b"{\"Records\":[]}".repeat(100));
        let cut = &good[..good.len() / 2];
        assert_eq!(text(cut).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            text(&good[..good.len() - 3]).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut crc = good.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        assert!(text(&crc).unwrap_err().to_string().contains("checksum"));
        let mut body = good.clone();
        body[12] ^= 0xff;
        assert!(text(&body).is_err());
        let mut garbage = good;
        garbage.extend_from_slice(b"trailing");
        assert!(text(&garbage).unwrap_err().to_string().contains("header"));
        assert!(text(&[0x1f, 0x8b, 8]).is_err());
    }

    /// Header rules as flate2 has them (found by the `fast` fuzz target).
    #[test]
    fn header_rules_match_flate2() {
        let flate2 = |data: &[u8]| {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(data)
                .read_to_end(&mut out)
                .map(|_| out)
                .ok()
        };
        let good = gz(b"{}");
        let mut reserved = good.clone();
        reserved[3] |= 0x20;
        // FHCRC: flags | 2, then the CRC-16 after the header fields.
        let mut hcrc = good[..10].to_vec();
        hcrc[3] |= 0x02;
        let mut c = Crc::new();
        c.update(&hcrc);
        #[allow(clippy::cast_possible_truncation)]
        hcrc.extend_from_slice(&(c.sum() as u16).to_le_bytes());
        hcrc.extend_from_slice(&good[10..]);
        let mut bad_hcrc = hcrc.clone();
        bad_hcrc[10] ^= 1;
        let mut long_name = good[..10].to_vec();
        long_name[3] |= 0x08;
        long_name.extend(std::iter::repeat_n(b'n', 70_000));
        long_name.push(0);
        long_name.extend_from_slice(&good[10..]);
        for (what, data) in [
            ("good", &good),
            ("reserved", &reserved),
            ("hcrc", &hcrc),
            ("bad hcrc", &bad_hcrc),
            ("long name", &long_name),
        ] {
            assert_eq!(text(data).ok(), flate2(data), "{what}");
        }
        assert!(text(&hcrc).is_ok() && text(&reserved).is_err() && text(&bad_hcrc).is_err());
    }
}
