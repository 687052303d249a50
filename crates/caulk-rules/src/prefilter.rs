//! The keyword prefilter: which keywords occur anywhere in a window.
//!
//! One Aho-Corasick DFA over every rule's keywords (ASCII case-insensitive), built by
//! `aho_corasick` and copied into a flat table of our own: byte classes, state ids premultiplied
//! by the class count, and match states numbered first so that "is this a match" is one compare.
//! A DFA walk is a chain of dependent loads, so one walk runs at the latency of a table load per
//! byte. The window is instead cut into four segments walked in lockstep, each with its own state,
//! so the loads overlap. Measured on a real image's layers: the lanes run about twice as fast as
//! `aho_corasick`'s overlapping iterator, and the flat table about 1.8 times faster again.
//! A segment starts `longest keyword - 1` bytes before its share, so a keyword that straddles two
//! shares is still seen whole by the later segment. Only the set of keywords found matters, so
//! seeing a keyword twice in that overlap is harmless.

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// Four walks in lockstep (`find` spells out four); more lanes measured slower here.
const LANES: usize = 4;

pub(crate) struct Prefilter {
    /// `table[state + class[byte]]` is the next state; states are premultiplied by `stride`.
    table: Vec<u32>,
    class: [u8; 256],
    start: u32,
    /// States below this are match states.
    match_limit: u32,
    stride: u32,
    /// The keywords each match state reports, by `state / stride`.
    matches: Vec<Vec<u32>>,
    longest: usize,
}

impl Prefilter {
    pub(crate) fn new(keywords: &[String]) -> Result<Prefilter, String> {
        let err = |e: aho_corasick::BuildError| format!("keyword prefilter: {e}");
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(keywords)
            .map_err(err)?;
        let start = dfa
            .start_state(Anchored::No)
            .map_err(|e| format!("keyword prefilter: {e}"))?;
        // Every state reachable from the start, numbered in discovery order.
        let mut index: HashMap<StateID, usize> = HashMap::from([(start, 0)]);
        let mut states = vec![start];
        let mut i = 0;
        while i < states.len() {
            for b in 0..=255u8 {
                let next = dfa.next_state(Anchored::No, states[i], b);
                if let std::collections::hash_map::Entry::Vacant(e) = index.entry(next) {
                    e.insert(states.len());
                    states.push(next);
                }
            }
            i += 1;
        }
        // Bytes that every state treats alike share a class.
        let mut signatures: HashMap<Vec<usize>, u8> = HashMap::new();
        let mut class = [0u8; 256];
        let mut representative = Vec::new();
        for b in 0..=255u8 {
            let sig: Vec<usize> = states
                .iter()
                .map(|&s| index[&dfa.next_state(Anchored::No, s, b)])
                .collect();
            let next_class = signatures.len();
            class[b as usize] = *signatures.entry(sig).or_insert_with(|| {
                representative.push(b);
                next_class as u8
            });
        }
        let stride = representative.len();
        // Match states first.
        let mut order: Vec<usize> = (0..states.len()).collect();
        order.sort_by_key(|&k| !dfa.is_match(states[k]));
        let match_count = order.iter().filter(|&&k| dfa.is_match(states[k])).count();
        let mut renumbered = vec![0usize; states.len()];
        for (new, &old) in order.iter().enumerate() {
            renumbered[old] = new;
        }
        let mut table = vec![0u32; states.len() * stride];
        let mut matches = vec![Vec::new(); match_count];
        for (old, &sid) in states.iter().enumerate() {
            let row = renumbered[old] * stride;
            for (c, &b) in representative.iter().enumerate() {
                let next = index[&dfa.next_state(Anchored::No, sid, b)];
                table[row + c] = (renumbered[next] * stride) as u32;
            }
            if dfa.is_match(sid) {
                matches[renumbered[old]] = (0..dfa.match_len(sid))
                    .map(|k| dfa.match_pattern(sid, k).as_u32())
                    .collect();
            }
        }
        Ok(Prefilter {
            table,
            class,
            start: (renumbered[0] * stride) as u32,
            match_limit: (match_count * stride) as u32,
            stride: stride as u32,
            matches,
            longest: keywords.iter().map(String::len).max().unwrap_or(0),
        })
    }

    #[inline(always)]
    fn next(&self, state: u32, byte: u8) -> u32 {
        let at = state as usize + self.class[byte as usize] as usize;
        debug_assert!(at < self.table.len());
        // SAFETY: `state` is `start` or a value read from `table`, all of which `new` wrote as
        // `k * stride` with `k` < the number of states, and every class is < `stride`, so `at` <
        // states * stride = `table.len()`. The bounds check costs a third of the walk's speed.
        unsafe { *self.table.get_unchecked(at) }
    }

    /// Calls `found(keyword index, offset of the keyword's last byte)` for every keyword
    /// occurrence in `haystack` (some more than once, not in order), until `found` returns true
    /// ("seen enough").
    pub(crate) fn find(&self, haystack: &[u8], mut found: impl FnMut(usize, usize) -> bool) {
        if self.longest == 0 {
            return;
        }
        let n = haystack.len();
        let seg = n / LANES;
        if seg < 4 * self.longest {
            self.walk(self.start, haystack, 0, &mut found);
            return;
        }
        let back = self.longest - 1;
        let pos: [usize; LANES] = std::array::from_fn(|k| (k * seg).saturating_sub(back));
        let end: [usize; LANES] =
            std::array::from_fn(|k| if k == LANES - 1 { n } else { (k + 1) * seg });
        let common = (0..LANES).map(|k| end[k] - pos[k]).min().unwrap_or(0);
        let lane = |k: usize| &haystack[pos[k]..pos[k] + common];
        let limit = self.match_limit;
        let mut st = [self.start; LANES];
        let bytes = lane(0).iter().zip(lane(1)).zip(lane(2)).zip(lane(3));
        for (j, (((&a, &b), &c), &d)) in bytes.enumerate() {
            st = [
                self.next(st[0], a),
                self.next(st[1], b),
                self.next(st[2], c),
                self.next(st[3], d),
            ];
            // One branch for the four lanes: matches are rare.
            if (st[0] < limit) | (st[1] < limit) | (st[2] < limit) | (st[3] < limit) {
                for (k, s) in st.into_iter().enumerate() {
                    if s < limit && self.report(s, pos[k] + j, &mut found) {
                        return;
                    }
                }
            }
        }
        for k in 0..LANES {
            let from = pos[k] + common;
            if self.walk(st[k], &haystack[from..end[k]], from, &mut found) {
                return;
            }
        }
    }

    /// One walk from `state` over `bytes` (which start at `offset`); true if `found` asked to
    /// stop.
    fn walk(
        &self,
        mut state: u32,
        bytes: &[u8],
        offset: usize,
        found: &mut impl FnMut(usize, usize) -> bool,
    ) -> bool {
        for (i, &b) in bytes.iter().enumerate() {
            state = self.next(state, b);
            if state < self.match_limit && self.report(state, offset + i, found) {
                return true;
            }
        }
        false
    }

    #[inline(never)]
    fn report(&self, state: u32, at: usize, found: &mut impl FnMut(usize, usize) -> bool) -> bool {
        let mut stop = false;
        for &k in &self.matches[(state / self.stride) as usize] {
            stop |= found(k as usize, at);
        }
        stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use std::collections::BTreeSet;

    /// Every occurrence: (keyword, offset of its last byte).
    fn expected(keywords: &[String], hay: &[u8]) -> BTreeSet<(usize, usize)> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(keywords)
            .unwrap();
        ac.find_overlapping_iter(hay)
            .map(|m| (m.pattern().as_usize(), m.end() - 1))
            .collect()
    }

    fn found(p: &Prefilter, hay: &[u8]) -> BTreeSet<(usize, usize)> {
        let mut set = BTreeSet::new();
        p.find(hay, |k, end| {
            set.insert((k, end));
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
    fn lanes_find_every_occurrence_one_walk_finds() {
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
                    BTreeSet::from([(0, at + 7)]),
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
        p.find(&hay, |_, _| {
            calls += 1;
            true
        });
        assert_eq!(calls, 1);
    }
}
