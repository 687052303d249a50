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

impl Strings {
    /// Packs the printable runs of `haystack` (at least [`MIN_RUN`] long), each followed by a
    /// newline so that no match joins two runs without crossing a line end.
    pub(crate) fn pack(&mut self, haystack: &[u8]) {
        self.packed.clear();
        self.runs.clear();
        let mut i = 0;
        let n = haystack.len();
        while i < n {
            // Skip non-printable bytes, then measure the run.
            while i < n && !PRINTABLE[haystack[i] as usize] {
                i += 1;
            }
            let start = i;
            while i < n && PRINTABLE[haystack[i] as usize] {
                i += 1;
            }
            if i - start >= MIN_RUN {
                self.runs.push((self.packed.len(), start, i - start));
                self.packed.extend_from_slice(&haystack[start..i]);
                self.packed.push(b'\n');
            }
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
}
