//! Filters between the scanner and the reporters: rule selection, severity overrides, allowlists
//! (path globs or regexes, secret regexes, stopwords, fingerprints), baselines and the confidence
//! threshold. What a filter removes is counted in the summary, never silently dropped.

use crate::model::{Confidence, Evidence, Finding, Report, Summary};
use caulk_rules::Severity;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A rule id, or `tag:NAME` for every rule with that tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Id(String),
    Tag(String),
}

impl Selector {
    pub fn parse(s: &str) -> Selector {
        match s.strip_prefix("tag:") {
            Some(t) => Selector::Tag(t.to_string()),
            None => Selector::Id(s.to_string()),
        }
    }
    fn matches(&self, id: &str, tags: &[String]) -> bool {
        match self {
            Selector::Id(i) => i == id,
            Selector::Tag(t) => tags.iter().any(|x| x == t),
        }
    }
}

/// What an allowlist regex is matched against (gitleaks' `regexTarget`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Target {
    #[default]
    Secret,
    Match,
    Line,
}

/// One allowlist: a finding it covers is dropped. With `all` (gitleaks' `condition = "AND"`) every
/// kind of criterion given must hold; otherwise any one is enough.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    pub description: Option<String>,
    /// Rules it applies to (empty: all).
    pub rules: Vec<Selector>,
    /// Regexes on the finding's path.
    pub path_regexes: Vec<regex::Regex>,
    /// Globs on the finding's path (`**/testdata/**`).
    pub path_globs: Option<globset::GlobSet>,
    pub regexes: Vec<regex::bytes::Regex>,
    pub target: Target,
    /// Substrings of the secret.
    pub stopwords: Vec<String>,
    pub fingerprints: HashSet<String>,
    pub all: bool,
}

impl Allowlist {
    /// Whether the regex and the stopword criteria hold for this evidence.
    fn evidence_checks(&self, e: &Evidence) -> [bool; 2] {
        let target: &[u8] = match self.target {
            Target::Secret => &e.secret,
            Target::Match => &e.matched,
            Target::Line => &e.line,
        };
        let secret = String::from_utf8_lossy(&e.secret).to_ascii_lowercase();
        [
            self.regexes.iter().any(|r| r.is_match(target)),
            self.stopwords
                .iter()
                .any(|w| secret.contains(&w.to_ascii_lowercase())),
        ]
    }

    fn covers(&self, f: &Finding, tags: &[String], at: usize) -> bool {
        if !self.rules.is_empty() && !self.rules.iter().any(|s| s.matches(&f.rule_id, tags)) {
            return false;
        }
        let path = f.location.path.as_deref();
        let mut checks: Vec<bool> = Vec::new();
        if !self.path_regexes.is_empty() || self.path_globs.is_some() {
            checks.push(path.is_some_and(|p| {
                // The outer path and every nested member are tried.
                let parts = std::iter::once(p).chain(p.split('!'));
                parts.into_iter().any(|q| {
                    self.path_regexes.iter().any(|r| r.is_match(q))
                        || self.path_globs.as_ref().is_some_and(|g| g.is_match(q))
                })
            }));
        }
        let [regex, stopword] = match &f.evidence.verdicts {
            Some(v) => v.get(at).copied().unwrap_or_default(),
            None => self.evidence_checks(&f.evidence),
        };
        if !self.regexes.is_empty() {
            checks.push(regex);
        }
        if !self.stopwords.is_empty() {
            checks.push(stopword);
        }
        if !self.fingerprints.is_empty() {
            checks.push(self.fingerprints.contains(&f.fingerprint));
        }
        if checks.is_empty() {
            return false;
        }
        if self.all {
            checks.iter().all(|c| *c)
        } else {
            checks.iter().any(|c| *c)
        }
    }
}

/// Known findings from an earlier JSON report: a finding matching one (same rule, fingerprint,
/// location kind and path or key) is not new. Layer indices, digests and lines are left out so the
/// baseline survives rebuilds that do not change the secret.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    keys: HashSet<String>,
}

fn baseline_key(
    rule: &str,
    fingerprint: &str,
    kind: &str,
    path: Option<&str>,
    key: Option<&str>,
) -> String {
    format!(
        "{rule}\u{0}{fingerprint}\u{0}{kind}\u{0}{}\u{0}{}",
        path.unwrap_or(""),
        key.unwrap_or("")
    )
}

impl Baseline {
    /// Reads a `caulk image --format json` report.
    pub fn from_json(bytes: &[u8]) -> Result<Baseline, String> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not a caulk JSON report: {e}"))?;
        let findings = v
            .get("findings")
            .and_then(|f| f.as_array())
            .ok_or("not a caulk JSON report: no `findings` array")?;
        let mut keys = HashSet::new();
        for f in findings {
            let s = |v: &serde_json::Value, k: &str| {
                v.get(k).and_then(|x| x.as_str()).map(str::to_string)
            };
            let loc = f.get("location").cloned().unwrap_or_default();
            let (Some(rule), Some(fp), Some(kind)) =
                (s(f, "rule_id"), s(f, "fingerprint"), s(&loc, "kind"))
            else {
                return Err("a finding lacks rule_id, fingerprint or location.kind".into());
            };
            keys.insert(baseline_key(
                &rule,
                &fp,
                &kind,
                s(&loc, "path").as_deref(),
                s(&loc, "key").as_deref(),
            ));
        }
        Ok(Baseline { keys })
    }
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    fn contains(&self, f: &Finding) -> bool {
        let l = &f.location;
        self.keys.contains(&baseline_key(
            &f.rule_id,
            &f.fingerprint,
            l.kind.as_str(),
            l.path.as_deref(),
            l.key.as_deref(),
        ))
    }
}

/// Every filter of a run.
#[derive(Debug, Clone)]
pub struct Filters {
    pub min_confidence: Confidence,
    pub disabled: Vec<Selector>,
    /// When set, only these rules report.
    pub enabled_only: Option<Vec<Selector>>,
    pub severity: Vec<(Selector, Severity)>,
    pub allowlists: Vec<Allowlist>,
    pub baseline: Option<Baseline>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            min_confidence: Confidence::Medium,
            disabled: Vec::new(),
            enabled_only: None,
            severity: Vec::new(),
            allowlists: Vec::new(),
            baseline: None,
        }
    }
}

impl Filters {
    /// What the allowlists decide from a secret's text, per allowlist: kept in the layer cache
    /// in place of the secret.
    pub fn evidence_verdicts(&self, e: &Evidence) -> Vec<[bool; 2]> {
        self.allowlists
            .iter()
            .map(|a| a.evidence_checks(e))
            .collect()
    }

    /// Identifies the allowlists' text criteria (regexes, targets, stopwords, in order): cached
    /// verdicts are valid only under the same key.
    pub fn evidence_key(&self) -> String {
        let mut key = String::new();
        for a in &self.allowlists {
            key.push_str(&format!("{:?}\u{1}", a.target));
            for r in &a.regexes {
                key.push_str(r.as_str());
                key.push('\u{2}');
            }
            key.push('\u{1}');
            for w in &a.stopwords {
                key.push_str(w);
                key.push('\u{2}');
            }
            key.push('\u{0}');
        }
        key
    }

    /// Applies the filters to `report` in place; `tags` gives a rule's tags by id.
    pub fn apply(&self, report: &mut Report, tags: &dyn Fn(&str) -> Vec<String>) {
        let mut suppressed: BTreeMap<String, usize> = BTreeMap::new();
        let mut tag_cache: HashMap<String, Vec<String>> = HashMap::new();
        let findings = std::mem::take(&mut report.findings);
        for mut f in findings {
            let t = tag_cache
                .entry(f.rule_id.clone())
                .or_insert_with(|| tags(&f.rule_id))
                .clone();
            let reason = if self.disabled.iter().any(|s| s.matches(&f.rule_id, &t))
                || self
                    .enabled_only
                    .as_ref()
                    .is_some_and(|only| !only.iter().any(|s| s.matches(&f.rule_id, &t)))
            {
                Some("disabled")
            } else if self
                .allowlists
                .iter()
                .enumerate()
                .any(|(i, a)| a.covers(&f, &t, i))
            {
                Some("allowlist")
            } else if self.baseline.as_ref().is_some_and(|b| b.contains(&f)) {
                Some("baseline")
            } else if f.confidence < self.min_confidence {
                Some("confidence")
            } else {
                None
            };
            match reason {
                Some(r) => *suppressed.entry(r.to_string()).or_insert(0) += 1,
                None => {
                    if let Some((_, sev)) = self
                        .severity
                        .iter()
                        .rev()
                        .find(|(s, _)| s.matches(&f.rule_id, &t))
                    {
                        f.severity = *sev;
                    }
                    report.findings.push(f);
                }
            }
        }
        report.summary = Summary::of(&report.findings, report.skipped.len());
        report.summary.suppressed = suppressed;
    }
}
