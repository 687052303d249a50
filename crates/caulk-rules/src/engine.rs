//! The two-stage matcher: one Aho-Corasick pass over every rule's keywords picks candidate rules,
//! then only their regexes run; matches are filtered (allowlist, entropy, validators) and de-overlapped.

use std::collections::BTreeMap;
use std::ops::Range;

use regex::bytes::{CaptureLocations, Regex as BytesRegex};
use regex::Regex;

use crate::allowlist::Allowlist;
use crate::prefilter::Prefilter;
use crate::validate::{entropy, Validator, Verdict};
use crate::{Context, Match, RuleIdx};

pub(crate) struct ContentRule {
    /// The longest match the regex can make, when bounded (most token formats): the regex then
    /// runs only within this distance of the rule's keyword hits instead of over the whole window.
    pub(crate) reach: Option<usize>,
    pub(crate) regex: BytesRegex,
    pub(crate) secret_group: Option<usize>,
    pub(crate) path: Option<Regex>,
    pub(crate) path_exclude: Option<Regex>,
    pub(crate) requires: Vec<BytesRegex>,
    /// A match whose whole span any of these finds is dropped.
    pub(crate) exclude: Vec<BytesRegex>,
    pub(crate) validators: Vec<Validator>,
    pub(crate) entropy: Option<f64>,
    pub(crate) generic: bool,
    /// Tie-break among overlapping generic matches; higher wins.
    pub(crate) priority: i32,
    pub(crate) always: bool,
    pub(crate) on_encrypted: Option<RuleIdx>,
}

impl ContentRule {
    /// Path scope and `requires`: either one being satisfied is enough when both are given.
    /// `path` is the innermost member (scopes name file types); `full` is the whole chain, so an
    /// exclusion of a tree (`share/doc/`) also covers archives inside it.
    fn applies(&self, path: Option<&str>, full: Option<&str>, haystack: &[u8]) -> bool {
        if let (Some(exclude), Some(full)) = (&self.path_exclude, full) {
            if full.split('!').any(|p| exclude.is_match(p)) {
                return false;
            }
        }
        let requires = || self.requires.iter().all(|r| r.is_match(haystack));
        match &self.path {
            None => self.requires.is_empty() || requires(),
            Some(scope) => {
                path.is_some_and(|p| scope.is_match(p)) || (!self.requires.is_empty() && requires())
            }
        }
    }

    /// Rules tied to a file or document type win ties between overlapping generic matches.
    fn scoped(&self) -> bool {
        self.path.is_some() || !self.requires.is_empty()
    }

    /// The `secret` group if it took part, else the first group that did, else the whole match.
    fn secret(&self, locs: &CaptureLocations, whole: Range<usize>) -> Range<usize> {
        if let Some((start, end)) = self.secret_group.and_then(|g| locs.get(g)) {
            return start..end;
        }
        (1..locs.len())
            .find_map(|g| locs.get(g))
            .map_or(whole, |(start, end)| start..end)
    }
}

pub(crate) struct FileNameRule {
    pub(crate) filename: Regex,
    pub(crate) exclude: Option<Regex>,
}

pub(crate) enum CompiledRule {
    Content(ContentRule),
    FileName(FileNameRule),
}

pub(crate) struct Engine {
    rules: Vec<CompiledRule>,
    prefilter: Prefilter,
    /// For each prefilter pattern, the rules that listed it.
    pattern_rules: Vec<Vec<RuleIdx>>,
    /// How many distinct rules have keywords.
    keyword_rule_count: usize,
    longest_keyword: usize,
    always: Vec<RuleIdx>,
    filename_rules: Vec<RuleIdx>,
    allowlist: Allowlist,
}

/// Per-scanner reusable buffers.
pub(crate) struct Scratch {
    candidate: Vec<bool>,
    order: Vec<RuleIdx>,
    locs: Vec<Option<CaptureLocations>>,
    raw: Vec<Raw>,
    specific_end: Vec<(usize, usize)>,
    generic: Vec<Raw>,
    accepted: BTreeMap<usize, usize>,
    /// Per rule: where its keywords ended in this window (at most `MAX_HITS`; more means "search
    /// the whole window").
    hits: Vec<Vec<usize>>,
    regions: Vec<(usize, usize)>,
    pub(crate) profile: Option<Vec<crate::RuleTiming>>,
}

/// Past this many keyword hits in a window a rule's regex searches the whole window: the regions
/// around the hits would cover most of it anyway.
const MAX_HITS: usize = 32;

#[derive(Clone)]
struct Raw {
    rule: RuleIdx,
    span: Range<usize>,
    secret: Range<usize>,
    generic: bool,
    priority: i32,
    scoped: bool,
    /// Matched a format but failed its checksum: suppresses overlapping generic matches only.
    refuted: bool,
}

/// Path scopes look at the innermost archive member: `app.tar!config/.env` -> `config/.env`.
fn scoped_path(path: &str) -> &str {
    path.rsplit('!').next().unwrap_or(path)
}

impl Engine {
    pub(crate) fn new(
        rules: Vec<CompiledRule>,
        keywords: Vec<(String, RuleIdx)>,
        allowlist: Allowlist,
    ) -> Result<Engine, String> {
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_rules: Vec<Vec<RuleIdx>> = Vec::new();
        let mut by_keyword = std::collections::HashMap::new();
        let mut keyword_rules = std::collections::HashSet::new();
        for (keyword, rule) in keywords {
            let slot = *by_keyword
                .entry(keyword.to_ascii_lowercase())
                .or_insert_with(|| {
                    patterns.push(keyword.clone());
                    pattern_rules.push(Vec::new());
                    patterns.len() - 1
                });
            pattern_rules[slot].push(rule);
            keyword_rules.insert(rule);
        }
        let prefilter = Prefilter::new(&patterns)?;
        let always = (0..rules.len())
            .filter(|&i| matches!(&rules[i], CompiledRule::Content(r) if r.always))
            .collect();
        let filename_rules = (0..rules.len())
            .filter(|&i| matches!(rules[i], CompiledRule::FileName(_)))
            .collect();
        Ok(Engine {
            rules,
            prefilter,
            pattern_rules,
            keyword_rule_count: keyword_rules.len(),
            longest_keyword: patterns.iter().map(String::len).max().unwrap_or(0),
            always,
            filename_rules,
            allowlist,
        })
    }

    pub(crate) fn scratch(&self) -> Scratch {
        Scratch {
            candidate: vec![false; self.rules.len()],
            order: Vec::new(),
            locs: (0..self.rules.len()).map(|_| None).collect(),
            raw: Vec::new(),
            specific_end: Vec::new(),
            generic: Vec::new(),
            accepted: BTreeMap::new(),
            hits: vec![Vec::new(); self.rules.len()],
            regions: Vec::new(),
            profile: None,
        }
    }

    /// (generic, priority, scoped) of a content rule.
    fn ranking(&self, idx: RuleIdx) -> (bool, i32, bool) {
        match &self.rules[idx] {
            CompiledRule::Content(rule) => (rule.generic, rule.priority, rule.scoped()),
            CompiledRule::FileName(_) => (false, 0, false),
        }
    }

    pub(crate) fn scan(
        &self,
        s: &mut Scratch,
        haystack: &[u8],
        ctx: &Context<'_>,
        out: &mut Vec<Match>,
    ) {
        s.candidate.fill(false);
        s.order.clear();
        s.raw.clear();
        for &idx in &self.always {
            s.candidate[idx] = true;
            s.order.push(idx);
        }
        for &idx in &s.order {
            s.hits[idx].clear();
        }
        let mut missing = self.keyword_rule_count;
        // Every hit of every candidate rule is recorded (up to MAX_HITS), so no early stop.
        let mut positions_complete = true;
        if missing > 0 {
            let hits = &mut s.hits;
            let candidate = &mut s.candidate;
            let order = &mut s.order;
            self.prefilter.find(haystack, |pattern, end| {
                for &idx in &self.pattern_rules[pattern] {
                    if !candidate[idx] {
                        candidate[idx] = true;
                        order.push(idx);
                        hits[idx].clear();
                        missing -= 1;
                    }
                    if hits[idx].len() <= MAX_HITS {
                        hits[idx].push(end);
                    }
                }
                false
            });
        } else {
            positions_complete = false;
        }
        if s.order.is_empty() {
            return;
        }
        s.order.sort_unstable();

        let path = ctx.path.map(scoped_path);
        for &idx in &s.order {
            let CompiledRule::Content(rule) = &self.rules[idx] else {
                continue;
            };
            if ctx.binary && rule.generic {
                continue;
            }
            let started = s.profile.is_some().then(std::time::Instant::now);
            let before = s.raw.len();
            if !rule.applies(path, ctx.path, haystack) {
                if let (Some(t0), Some(profile)) = (started, s.profile.as_mut()) {
                    profile[idx].nanos += t0.elapsed().as_nanos() as u64;
                }
                continue;
            }
            // Where to search: around the keyword hits when the match length is bounded, else
            // the whole window.
            s.regions.clear();
            let hits = &mut s.hits[idx];
            match rule.reach {
                Some(reach) if positions_complete && !hits.is_empty() && hits.len() <= MAX_HITS => {
                    hits.sort_unstable();
                    let back = reach + self.longest_keyword;
                    for &end in hits.iter() {
                        let lo = end.saturating_sub(back);
                        // End regions at a line end so that `\b` and `$` see the real next byte.
                        let want = (end + reach + 1).min(haystack.len());
                        let limit = (want + 16384).min(haystack.len());
                        let hi = memchr::memchr(b'\n', &haystack[want..limit])
                            .map_or(haystack.len(), |k| want + k);
                        match s.regions.last_mut() {
                            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                            _ => s.regions.push((lo, hi)),
                        }
                    }
                }
                _ => s.regions.push((0, haystack.len())),
            }
            let locs = s.locs[idx].get_or_insert_with(|| rule.regex.capture_locations());
            let mut at = 0;
            for &(lo, hi) in &s.regions {
                // Searching `haystack[..hi]` from `lo` keeps the bytes before `lo` as context.
                let hay = &haystack[..hi];
                at = at.max(lo);
                while at <= hay.len() {
                    let Some(m) = rule.regex.captures_read_at(locs, hay, at) else {
                        break;
                    };
                    at = if m.end() > m.start() {
                        m.end()
                    } else {
                        m.end() + 1
                    };
                    let secret = rule.secret(locs, m.range());
                    if let Some(raw) = self.confirm(idx, rule, haystack, m.range(), secret) {
                        s.raw.push(raw);
                    }
                }
            }
            if let (Some(t0), Some(profile)) = (started, s.profile.as_mut()) {
                let t = &mut profile[idx];
                t.runs += 1;
                t.nanos += t0.elapsed().as_nanos() as u64;
                t.matches += (s.raw.len() - before) as u64;
            }
        }
        self.resolve(s, out);
    }

    /// Allowlist, entropy floor and validators for one regex match.
    fn confirm(
        &self,
        idx: RuleIdx,
        rule: &ContentRule,
        haystack: &[u8],
        span: Range<usize>,
        secret: Range<usize>,
    ) -> Option<Raw> {
        let bytes = &haystack[secret.clone()];
        let allowed = if rule.validators.iter().any(|v| v.is_structural()) {
            self.allowlist.allows_exact(bytes)
        } else {
            self.allowlist.allows(bytes)
        };
        if bytes.is_empty() || allowed {
            return None;
        }
        if rule.entropy.is_some_and(|min| entropy(bytes) < min) {
            return None;
        }
        if rule
            .exclude
            .iter()
            .any(|r| r.is_match(&haystack[span.clone()]))
        {
            return None;
        }
        let mut target = idx;
        for validator in &rule.validators {
            match validator.check(bytes, &haystack[span.clone()]) {
                Verdict::Pass => {}
                // A failed checksum proves these bytes are not a live token: keep the span so that
                // generic rules do not report it either, but report nothing.
                Verdict::Fail if validator.is_structural() => {
                    return Some(Raw {
                        rule: idx,
                        span,
                        secret,
                        generic: false,
                        priority: 0,
                        scoped: false,
                        refuted: true,
                    });
                }
                Verdict::Fail => return None,
                Verdict::Encrypted => target = rule.on_encrypted.unwrap_or(idx),
            }
        }
        let (generic, priority, scoped) = self.ranking(target);
        Some(Raw {
            rule: target,
            span,
            secret,
            generic,
            priority,
            scoped,
            refuted: false,
        })
    }

    /// Drops exact duplicates, generic matches whose secret overlaps a specific match's secret,
    /// and all but the best of overlapping generic matches; appends the rest sorted by start.
    fn resolve(&self, s: &mut Scratch, out: &mut Vec<Match>) {
        let raw = &mut s.raw;
        raw.sort_unstable_by_key(|r| (r.secret.start, r.secret.end, r.rule));
        raw.dedup_by(|a, b| a.rule == b.rule && a.secret == b.secret);
        // Two specific rules on the very same secret (a Clerk key also has Stripe's shape): only the
        // highest `priority` reports; equal priorities all report. `raw` is sorted by secret span.
        let specific = |r: &Raw| !r.generic && !r.refuted;
        let mut best: Vec<i32> = Vec::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            let same = i > 0 && raw[i - 1].secret == r.secret;
            let prev = if same { best[i - 1] } else { i32::MIN };
            best.push(if specific(r) {
                prev.max(r.priority)
            } else {
                prev
            });
        }
        // Carry each group's maximum back to its first members.
        for i in (0..raw.len().saturating_sub(1)).rev() {
            if raw[i].secret == raw[i + 1].secret {
                best[i] = best[i + 1];
            }
        }
        let mut k = 0;
        raw.retain(|r| {
            let keep = !specific(r) || r.priority >= best[k];
            k += 1;
            keep
        });

        // Specific secrets sorted by start, each with the running maximum end.
        s.specific_end.clear();
        let mut max_end = 0;
        for r in raw.iter().filter(|r| !r.generic) {
            max_end = max_end.max(r.secret.end);
            s.specific_end.push((r.secret.start, max_end));
        }
        s.generic.clear();
        for r in raw.iter().filter(|r| r.generic) {
            let before = s
                .specific_end
                .partition_point(|&(start, _)| start < r.secret.end);
            let overlaps = before > 0 && s.specific_end[before - 1].1 > r.secret.start;
            if !overlaps {
                s.generic.push(r.clone());
            }
        }
        s.generic.sort_by_key(|r| {
            (
                std::cmp::Reverse(r.priority),
                !r.scoped,
                std::cmp::Reverse(r.secret.len()),
                r.rule,
                r.secret.start,
            )
        });
        s.accepted.clear();
        let start_len = out.len();
        for r in s.generic.drain(..) {
            // Accepted intervals are disjoint, so only the last one starting before r's end can overlap.
            let clash = s
                .accepted
                .range(..r.secret.end)
                .next_back()
                .is_some_and(|(_, &end)| end > r.secret.start);
            if !clash {
                s.accepted.insert(r.secret.start, r.secret.end);
                out.push(Match {
                    rule: r.rule,
                    span: r.span,
                    secret: r.secret,
                });
            }
        }
        out.extend(
            raw.iter()
                .filter(|r| !r.generic && !r.refuted)
                .map(|r| Match {
                    rule: r.rule,
                    span: r.span.clone(),
                    secret: r.secret.clone(),
                }),
        );
        out[start_len..].sort_unstable_by_key(|m| (m.span.start, m.span.end, m.rule));
    }

    pub(crate) fn match_path(&self, path: &str) -> Option<RuleIdx> {
        let path = scoped_path(path);
        self.filename_rules
            .iter()
            .copied()
            .find(|&idx| match &self.rules[idx] {
                CompiledRule::FileName(rule) => {
                    rule.filename.is_match(path)
                        && !rule.exclude.as_ref().is_some_and(|e| e.is_match(path))
                }
                CompiledRule::Content(_) => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_path_takes_innermost_member() {
        assert_eq!(scoped_path("app/bundle.tar.gz!config/.env"), "config/.env");
        assert_eq!(scoped_path("a.zip!b.tar!c/.npmrc"), "c/.npmrc");
        assert_eq!(scoped_path("root/.npmrc"), "root/.npmrc");
    }
}
