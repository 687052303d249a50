//! Streams file content through the rules in overlapping windows, so memory stays bounded by the
//! window and a secret that straddles a read boundary is still found, with its line and column.

use caulk_rules::{Context, Match, RuleIdx, Scanner};
use std::collections::HashMap;
use std::io::{self, Read};

/// Bytes scanned at once.
pub const WINDOW: usize = 1 << 20;
/// Bytes carried into the next window; secrets longer than this may be cut.
pub const OVERLAP: usize = 64 << 10;

/// A match in a stream, with the secret copied out.
#[derive(Debug, Clone)]
pub struct StreamHit {
    pub rule: RuleIdx,
    pub line: u64,
    pub column: u64,
    pub secret: Vec<u8>,
    /// The whole regex match and its line (bounded), for allowlists.
    pub matched: Vec<u8>,
    pub line_text: Vec<u8>,
}

/// The line around `span` in `buf`, at most 1 KiB either side.
pub fn line_around(buf: &[u8], span: std::ops::Range<usize>) -> Vec<u8> {
    let lo = span.start.saturating_sub(1024);
    let hi = (span.end + 1024).min(buf.len());
    let start = memchr::memrchr(b'\n', &buf[lo..span.start]).map_or(lo, |i| lo + i + 1);
    let end = memchr::memchr(b'\n', &buf[span.end..hi]).map_or(hi, |i| span.end + i);
    buf[start..end].to_vec()
}

/// Per-worker scratch space.
#[derive(Default)]
pub struct Scratch {
    buf: Vec<u8>,
    matches: Vec<Match>,
    last_end: HashMap<RuleIdx, u64>,
}

/// Scans everything `reader` yields. UTF-16 text (with a BOM) is decoded to UTF-8 first.
pub fn scan_stream(
    scanner: &mut Scanner,
    scratch: &mut Scratch,
    reader: &mut dyn Read,
    path: &str,
    head: &[u8],
    hits: &mut Vec<StreamHit>,
) -> io::Result<u64> {
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        let encoding = if head[0] == 0xff {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let mut decoded = Utf16Reader::new(io::Cursor::new(head.to_vec()).chain(reader), encoding);
        return windows(scanner, scratch, &mut decoded, path, &[], hits);
    }
    windows(scanner, scratch, reader, path, head, hits)
}

fn windows(
    scanner: &mut Scanner,
    scratch: &mut Scratch,
    reader: &mut dyn Read,
    path: &str,
    head: &[u8],
    hits: &mut Vec<StreamHit>,
) -> io::Result<u64> {
    let mut ctx = Context {
        path: Some(path),
        binary: false,
    };
    let mut first = true;
    // The window buffer is allocated (and zeroed) once per worker and reused: zeroing a fresh
    // window for each of a layer's many small files would cost more than scanning them.
    let target = (WINDOW + OVERLAP).max(head.len());
    let store = &mut scratch.buf;
    if store.len() < target {
        store.resize(target, 0);
    }
    store[..head.len()].copy_from_slice(head);
    let mut filled = head.len();
    scratch.last_end.clear();
    let mut base: u64 = 0; // absolute offset of buf[0]
    let mut line: u64 = 1; // line number at buf[0]
    let mut col: u64 = 1; // column at buf[0]
    let mut total = head.len() as u64;
    loop {
        // Fill the window.
        let mut eof = false;
        while filled < target {
            match reader.read(&mut store[filled..target]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    filled += n;
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let buf = &store[..filled];
        if first {
            // Like git and ripgrep: a NUL byte near the start means binary.
            ctx.binary = memchr::memchr(0, &buf[..buf.len().min(8192)]).is_some();
            first = false;
        }
        let limit = if eof { buf.len() } else { buf.len() - OVERLAP };
        scratch.matches.clear();
        if !buf.is_empty() {
            scanner.scan(buf, &ctx, &mut scratch.matches);
        }
        // Walk matches in order, counting lines incrementally.
        let (mut at, mut at_line, mut at_col) = (0usize, line, col);
        for m in &scratch.matches {
            if m.span.start >= limit {
                continue;
            }
            let abs_start = base + m.secret.start as u64;
            if scratch
                .last_end
                .get(&m.rule)
                .is_some_and(|end| abs_start < *end)
            {
                continue; // the tail of a match already reported from the previous window
            }
            scratch.last_end.insert(m.rule, base + m.secret.end as u64);
            let pos = m.secret.start;
            if pos >= at {
                advance(&buf[at..pos], &mut at_line, &mut at_col);
                at = pos;
            }
            hits.push(StreamHit {
                rule: m.rule,
                line: at_line,
                column: at_col,
                secret: buf[m.secret.clone()].to_vec(),
                matched: buf[m.span.clone()].to_vec(),
                line_text: line_around(buf, m.span.clone()),
            });
        }
        if eof {
            return Ok(total);
        }
        advance(&buf[..limit], &mut line, &mut col);
        base += limit as u64;
        store.copy_within(limit..filled, 0);
        filled -= limit;
    }
}

fn advance(bytes: &[u8], line: &mut u64, col: &mut u64) {
    let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
    if newlines == 0 {
        *col += bytes.len() as u64;
    } else {
        *line += newlines;
        let last = memchr::memrchr(b'\n', bytes).unwrap_or(0);
        *col = (bytes.len() - last) as u64;
    }
}

/// Decodes UTF-16 to UTF-8 as it is read.
struct Utf16Reader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> Utf16Reader<R> {
    fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Self {
        Utf16Reader {
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            raw: vec![0; 64 << 10],
            out: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.raw)?;
            let last = n == 0;
            self.out.clear();
            self.out.resize(
                self.decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16),
                0,
            );
            let (_, _, written, _) =
                self.decoder
                    .decode_to_utf8(&self.raw[..n], &mut self.out, last);
            self.out.truncate(written);
            self.pos = 0;
            self.done = last;
        }
        let k = buf.len().min(self.out.len() - self.pos);
        buf[..k].copy_from_slice(&self.out[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_counts_lines_and_columns() {
        let (mut l, mut c) = (1, 1);
        advance(b"ab\ncd", &mut l, &mut c);
        assert_eq!((l, c), (2, 3));
        advance(b"x", &mut l, &mut c);
        assert_eq!((l, c), (2, 4));
    }

    #[test]
    fn utf16_is_decoded() {
        let text = "TOKEN=abc\n";
        let mut bytes = vec![0xff, 0xfe];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let mut r = Utf16Reader::new(io::Cursor::new(bytes), encoding_rs::UTF_16LE);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, text);
    }
}
