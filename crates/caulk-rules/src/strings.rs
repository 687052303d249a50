//! The text inside binary content: runs of printable ASCII long enough to hold a secret, packed
//! into one buffer so the matcher reads a fraction of a binary's bytes, with a map back.
//!
//! Like `strings(1)`: a token or a PEM block compiled into a binary is a run of printable bytes;
//! machine code and tables between them cannot hold one. On the real image in `bench/` binary
//! files are 41% of the bytes and their printable runs of 8 or more are 18% of those.

use std::ops::Range;

/// Shorter runs cannot hold a token a rule would report (the shortest are 16+ characters).
pub(crate) const MIN_RUN: usize = 8;

/// Reusable buffers: the packed runs and, for each run, (packed start, original start, length).
#[derive(Default)]
pub(crate) struct Strings {
    pub(crate) packed: Vec<u8>,
    runs: Vec<(usize, usize, usize)>,
}

const _: () = assert!(MIN_RUN == 8, "`pack` finds runs of 8 with three shifts");

const fn printable_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = true;
        b += 1;
    }
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
}

static PRINTABLE: [bool; 256] = printable_table();

/// Bit `i` set when `block[i]` is printable, for up to 64 bytes.
fn printable_mask(block: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if block.len() == 64 {
        // SSE2 is part of x86_64: 16 bytes per compare instead of a branch per byte.
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is always available on x86_64; loads are unaligned and within `block`.
        unsafe {
            let low = _mm_set1_epi8(0x1f);
            let high = _mm_set1_epi8(0x7f);
            let (tab, lf, cr) = (_mm_set1_epi8(9), _mm_set1_epi8(10), _mm_set1_epi8(13));
            let mut mask = 0u64;
            for k in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k) as *const __m128i);
                // Signed compares: bytes >= 0x80 are negative, so neither above 0x1f nor kept.
                let visible = _mm_and_si128(_mm_cmpgt_epi8(v, low), _mm_cmplt_epi8(v, high));
                let space = _mm_or_si128(
                    _mm_cmpeq_epi8(v, tab),
                    _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)),
                );
                let bits = _mm_movemask_epi8(_mm_or_si128(visible, space)) as u16;
                mask |= u64::from(bits) << (16 * k);
            }
            return mask;
        }
    }
    block
        .iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | (u64::from(PRINTABLE[b as usize]) << i))
}

impl Strings {
    /// Packs the printable runs of `haystack` (at least [`MIN_RUN`] long), each followed by a
    /// newline so that no match joins two runs without crossing a line end.
    pub(crate) fn pack(&mut self, haystack: &[u8]) {
        self.packed.clear();
        self.runs.clear();
        let mut run: Option<usize> = None;
        let mut blocks = haystack.chunks(64).enumerate().peekable();
        let mut cur = blocks.peek().map_or(0, |(_, b)| printable_mask(b));
        while let Some((b, block)) = blocks.next() {
            let next = blocks.peek().map_or(0, |(_, b)| printable_mask(b));
            // Bit i of `long`: bytes i..i+8 are all printable (looking into the next block), so
            // short runs, most of a binary's, cost nothing beyond their mask.
            let wide = u128::from(cur) | (u128::from(next) << 64);
            let two = wide & (wide >> 1);
            let four = two & (two >> 2);
            let long = (four & (four >> 4)) as u64;
            let base = b * 64;
            let width = block.len() as u32;
            let mut pos = 0u32;
            while pos < width {
                // From `pos` on: the end of the current run, or the start of the next long one.
                let rest = if run.is_some() { !cur } else { long } >> pos;
                pos += rest.trailing_zeros().min(width - pos);
                if pos >= width {
                    break;
                }
                match run.take() {
                    Some(start) => self.push(haystack, start, base + pos as usize),
                    None => run = Some(base + pos as usize),
                }
            }
            cur = next;
        }
        if let Some(start) = run {
            self.push(haystack, start, haystack.len());
        }
    }

    fn push(&mut self, haystack: &[u8], start: usize, end: usize) {
        if end - start >= MIN_RUN {
            self.runs.push((self.packed.len(), start, end - start));
            self.packed.extend_from_slice(&haystack[start..end]);
            self.packed.push(b'\n');
        }
    }

    /// Maps a range of the packed buffer back to the original bytes; None if it spans two runs.
    pub(crate) fn original(&self, r: &Range<usize>) -> Option<Range<usize>> {
        let k = self
            .runs
            .partition_point(|&(p, _, _)| p <= r.start)
            .checked_sub(1)?;
        let (packed, orig, len) = self.runs[k];
        (r.end <= packed + len).then(|| r.start - packed + orig..r.end - packed + orig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_long_runs_and_maps_back() {
        let mut hay = vec![0u8, 1, 2];
        hay.extend_from_slice(b"short\x00");
        let at = hay.len();
        hay.extend_from_slice(b"ghp_abcdefghij\x00\x01");
        let at2 = hay.len();
        hay.extend_from_slice(b"-----BEGIN\nKEY-----");
        let mut s = Strings::default();
        s.pack(&hay);
        assert_eq!(s.packed, b"ghp_abcdefghij\n-----BEGIN\nKEY-----\n");
        assert_eq!(s.original(&(0..4)), Some(at..at + 4));
        assert_eq!(s.original(&(15..20)), Some(at2..at2 + 5));
        // across the separator: two runs
        assert_eq!(s.original(&(10..20)), None);
    }

    #[test]
    fn all_text_is_one_run_and_nothing_printable_is_empty() {
        let mut s = Strings::default();
        s.pack(b"plain text that is long");
        assert_eq!(s.packed, b"plain text that is long\n");
        assert_eq!(s.original(&(6..10)), Some(6..10));
        s.pack(&[0u8; 64]);
        assert!(s.packed.is_empty());
        assert_eq!(s.original(&(0..1)), None);
    }

    /// The reference: a byte-at-a-time scan.
    fn reference(hay: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for run in hay.split(|&b| !PRINTABLE[b as usize]) {
            if run.len() >= MIN_RUN {
                out.extend_from_slice(run);
                out.push(b'\n');
            }
        }
        out
    }

    #[test]
    fn block_masks_agree_with_a_byte_at_a_time_scan() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut s = Strings::default();
        for len in [0usize, 1, 7, 8, 63, 64, 65, 127, 128, 129, 1000, 5000] {
            for _ in 0..20 {
                let hay: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        // mostly printable with occasional breaks, to get runs of every length
                        match seed % 16 {
                            0 => 0,
                            1 => 0x80 | (seed >> 8) as u8,
                            2 => b'\n',
                            3 => 0x7f,
                            _ => b'a' + (seed >> 8) as u8 % 26,
                        }
                    })
                    .collect();
                s.pack(&hay);
                assert_eq!(s.packed, reference(&hay), "{len} bytes");
                for (packed, orig, n) in &s.runs {
                    assert_eq!(&s.packed[*packed..packed + n], &hay[*orig..orig + n]);
                }
            }
        }
    }
}
