//! The keyword prefilter: which keywords occur anywhere in a window.
//!
//! One Aho-Corasick DFA over every rule's keywords (ASCII case-insensitive). A DFA walk is a chain
//! of dependent loads, so one walk runs at the latency of a table load per byte. The window is
//! instead cut into `LANES` segments walked in lockstep, each by its own copy of the state, so the
//! loads overlap: measured on a real image's layers this runs about twice as fast as one walk
//! (`aho_corasick`'s overlapping iterator). A segment starts `longest keyword - 1` bytes before
//! its share, so a keyword that straddles two shares is still seen whole by the later segment.
//! Only the set of keywords found matters, so seeing a keyword twice in that overlap is harmless.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// Four walks in lockstep (the zip in `find` spells out four); more lanes measured slower here.
const LANES: usize = 4;

pub(crate) struct Prefilter {
    dfa: DFA,
    start: StateID,
    longest: usize,
}

impl Prefilter {
    pub(crate) fn new(keywords: &[String]) -> Result<Prefilter, String> {
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(keywords)
            .map_err(|e| format!("keyword prefilter: {e}"))?;
        let start = dfa
            .start_state(Anchored::No)
            .map_err(|e| format!("keyword prefilter: {e}"))?;
        let longest = keywords.iter().map(String::len).max().unwrap_or(0);
        Ok(Prefilter {
            dfa,
            start,
            longest,
        })
    }

    /// Calls `found(keyword index)` for every keyword occurrence in `haystack` (some more than
    /// once), until `found` returns true ("seen enough").
    pub(crate) fn find(&self, haystack: &[u8], mut found: impl FnMut(usize) -> bool) {
        if self.longest == 0 {
            return;
        }
        let n = haystack.len();
        let seg = n / LANES;
        if seg < 4 * self.longest {
            self.walk(self.start, haystack, &mut found);
            return;
        }
        let back = self.longest - 1;
        let mut pos = [0usize; LANES];
        let mut end = [0usize; LANES];
        for k in 0..LANES {
            pos[k] = (k * seg).saturating_sub(back);
            end[k] = if k == LANES - 1 { n } else { (k + 1) * seg };
        }
        let common = (0..LANES).map(|k| end[k] - pos[k]).min().unwrap_or(0);
        let lane = |k: usize| &haystack[pos[k]..pos[k] + common];
        let dfa = &self.dfa;
        let mut state = [self.start; LANES];
        let bytes = lane(0).iter().zip(lane(1)).zip(lane(2)).zip(lane(3));
        for (((&a, &b), &c), &d) in bytes {
            for (sid, byte) in state.iter_mut().zip([a, b, c, d]) {
                *sid = dfa.next_state(Anchored::No, *sid, byte);
            }
            for sid in state {
                if dfa.is_match(sid) && self.report(sid, &mut found) {
                    return;
                }
            }
        }
        for k in 0..LANES {
            if self.walk(state[k], &haystack[pos[k] + common..end[k]], &mut found) {
                return;
            }
        }
    }

    /// One walk from `sid`; true if `found` asked to stop.
    fn walk(&self, mut sid: StateID, bytes: &[u8], found: &mut impl FnMut(usize) -> bool) -> bool {
        for &b in bytes {
            sid = self.dfa.next_state(Anchored::No, sid, b);
            if self.dfa.is_match(sid) && self.report(sid, found) {
                return true;
            }
        }
        false
    }

    #[inline]
    fn report(&self, sid: StateID, found: &mut impl FnMut(usize) -> bool) -> bool {
        let mut stop = false;
        for i in 0..self.dfa.match_len(sid) {
            stop |= found(self.dfa.match_pattern(sid, i).as_usize());
        }
        stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use std::collections::BTreeSet;

    fn expected(keywords: &[String], hay: &[u8]) -> BTreeSet<usize> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(keywords)
            .unwrap();
        ac.find_overlapping_iter(hay)
            .map(|m| m.pattern().as_usize())
            .collect()
    }

    fn found(p: &Prefilter, hay: &[u8]) -> BTreeSet<usize> {
        let mut set = BTreeSet::new();
        p.find(hay, |k| {
            set.insert(k);
            false
        });
        set
    }

    /// A small xorshift generator: deterministic, no dependency.
    fn bytes(seed: &mut u64, n: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                alphabet[(*seed % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn lanes_find_the_same_keywords_as_one_walk() {
        let keywords: Vec<String> = ["ab", "ba", "abcab", "Cc", "bcd", "dddd", "a_b-c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = Prefilter::new(&keywords).unwrap();
        let mut seed = 0x2545_f491_4f6c_dd1d;
        // Lengths around the lane split threshold and the segment boundaries.
        for n in [0, 1, 5, 19, 20, 79, 80, 81, 83, 100, 257, 1000, 4099] {
            for _ in 0..50 {
                let hay = bytes(&mut seed, n, b"abcdABCD_- ");
                assert_eq!(found(&p, &hay), expected(&keywords, &hay), "{n} bytes");
            }
        }
    }

    #[test]
    fn a_keyword_straddling_a_lane_boundary_is_found() {
        let keywords = vec!["straddle".to_string(), "zz".to_string()];
        let p = Prefilter::new(&keywords).unwrap();
        let n = 4096;
        let seg = n / LANES;
        for k in 1..LANES {
            for shift in 1.."straddle".len() {
                let mut hay = vec![b'.'; n];
                let at = k * seg - shift;
                hay[at..at + 8].copy_from_slice(b"STRADdle");
                assert_eq!(
                    found(&p, &hay),
                    BTreeSet::from([0]),
                    "lane {k}, shift {shift}"
                );
            }
        }
    }

    #[test]
    fn stops_when_asked() {
        let keywords = vec!["x".to_string()];
        let p = Prefilter::new(&keywords).unwrap();
        let hay = vec![b'x'; 10_000];
        let mut calls = 0;
        p.find(&hay, |_| {
            calls += 1;
            true
        });
        assert_eq!(calls, 1);
    }
}
