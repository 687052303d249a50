//! caulk's secret-detection rules and matcher.
//! Rules are data files embedded at build time; the scanner takes bytes and returns matches, no I/O.
//!
//! ```
//! use caulk_rules::{Context, RuleSet};
//!
//! let rules = RuleSet::builtin().unwrap();
//! let mut scanner = rules.scanner();
//! let mut found = Vec::new();
//! scanner.scan(b"AWS_ACCESS_KEY_ID=AKIATTPOBNLTQ7NE24RD\n", &Context::default(), &mut found);
//! assert_eq!(rules.rule(found[0].rule).id, "aws-access-key-id");
//! ```

#![warn(missing_docs)]

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

mod allowlist;
mod engine;
mod load;
mod prefilter;
mod strings;
pub mod validate;

/// The rule files compiled into the crate, as `(file name, contents)`, sorted by name.
pub static BUILTIN_RULE_FILES: &[(&str, &str)] =
    include!(concat!(env!("OUT_DIR"), "/rule_files.rs"));

/// The global allowlist (known example values and placeholder patterns) compiled into the crate.
pub static BUILTIN_ALLOWLIST: &str = include_str!("../data/allowlist.yml");

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, not a secret by itself.
    Info,
    /// A credential with little reach (test keys).
    Low,
    /// A credential of unknown reach (generic assignments, encrypted keys, sensitive file names).
    Medium,
    /// A credential that identifies an account (AWS access key id, SSH key file).
    High,
    /// A live credential for a known service.
    Critical,
}

impl Severity {
    /// The lowercase name used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (expected info, low, medium, high or critical)"
            )),
        }
    }
}

/// Index of a rule inside its [`RuleSet`].
pub type RuleIdx = usize;

/// Whether a rule looks at content or at a file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// Matched against bytes by [`Scanner::scan`].
    Content,
    /// Matched against a path by [`Scanner::match_path`].
    FileName,
}

/// A rule's metadata.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable kebab-case identifier (`github-pat-classic`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// One or two sentences on what the rule finds.
    pub description: String,
    /// How bad a match is.
    pub severity: Severity,
    /// Content or file-name rule.
    pub kind: RuleKind,
    /// Free-form tags (`github`, `token`, ...).
    pub tags: Vec<String>,
    /// Links to the provider's documentation of the format.
    pub references: Vec<String>,
    /// Recognises a secret by its surroundings (`password = ...`), not by its format.
    pub generic: bool,
}

/// One match of a content rule in a haystack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The rule that matched.
    pub rule: RuleIdx,
    /// The whole match.
    pub span: Range<usize>,
    /// The secret inside it (fingerprinted and redacted by callers).
    pub secret: Range<usize>,
}

/// Where a haystack came from, for rules scoped to file paths (`.npmrc`, `.netrc`, ...).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Path inside the image or tree; nested archive members joined with `!`. None for config values.
    pub path: Option<&'a str>,
    /// The content is binary (a NUL byte near its start). Generic assignment rules do not run on
    /// it; token formats and key blocks embedded in binaries are still found.
    pub binary: bool,
}

/// Time one rule spent confirming candidates, for `caulk rules bench`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleTiming {
    /// Haystacks in which the rule's keywords occurred, so its regex ran.
    pub runs: u64,
    /// Nanoseconds spent in the rule's regex and filters.
    pub nanos: u64,
    /// Matches that survived the rule's filters.
    pub matches: u64,
}

/// A rule example: the path it is scanned under (if any) and its text.
pub type ExampleText<'a> = (Option<&'a str>, &'a str);

/// Errors loading or compiling rules.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A rule file (or the allowlist) is malformed; `message` names the rule and the problem.
    #[error("rule file {file}: {message}")]
    Invalid {
        /// The rule file's name (`github.yml`, `allowlist.yml`, or the name given to `from_yaml`).
        file: String,
        /// What is wrong, naming the rule id where there is one.
        message: String,
    },
}

struct Inner {
    rules: Vec<Rule>,
    by_id: HashMap<String, RuleIdx>,
    engine: engine::Engine,
    examples: Vec<load::Examples>,
    fingerprint: String,
}

/// A compiled rule set. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct RuleSet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.inner.rules.len())
            .finish()
    }
}

impl RuleSet {
    /// The built-in rules: every file in `data/rules/` plus `data/allowlist.yml`.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        RuleSet::from_files(BUILTIN_RULE_FILES.iter().copied())
    }

    /// Rules from one YAML rule file (format in the crate README), with the built-in allowlist.
    /// `name` is used in error messages.
    pub fn from_yaml(name: &str, text: &str) -> Result<RuleSet, RuleError> {
        RuleSet::from_files([(name, text)])
    }

    /// Rules from several YAML rule files, indexed in the order given, with the built-in allowlist.
    /// Rule ids must be unique across all files.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RuleSet, RuleError> {
        use sha2::Digest as _;
        let files: Vec<(&str, &str)> = files.into_iter().collect();
        let mut h = sha2::Sha256::new();
        for (name, text) in files.iter().chain([&("allowlist.yml", BUILTIN_ALLOWLIST)]) {
            for part in [name.as_bytes(), text.as_bytes()] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
        let fingerprint = format!("{:x}", h.finalize());
        let loaded = load::load(files, ("allowlist.yml", BUILTIN_ALLOWLIST))?;
        let by_id = loaded
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Ok(RuleSet {
            inner: Arc::new(Inner {
                rules: loaded.rules,
                by_id,
                engine: loaded.engine,
                examples: loaded.examples,
                fingerprint,
            }),
        })
    }

    /// SHA-256 over every rule file and the allowlist this set was built from: results cached
    /// under one fingerprint are valid for exactly this set.
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }

    /// All rules, indexed by [`RuleIdx`].
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// One rule. Panics if `idx` is out of range.
    pub fn rule(&self, idx: RuleIdx) -> &Rule {
        &self.inner.rules[idx]
    }

    /// The index of the rule with this id.
    pub fn rule_index(&self, id: &str) -> Option<RuleIdx> {
        self.inner.by_id.get(id).copied()
    }

    /// A scanner with its own scratch space; make one per worker thread.
    pub fn scanner(&self) -> Scanner {
        Scanner {
            scratch: self.inner.engine.scratch(),
            strings: strings::Strings::default(),
            set: self.clone(),
        }
    }

    /// A rule's examples and negative examples as (path, text) pairs, for `caulk rules show`.
    pub fn examples(&self, idx: RuleIdx) -> (Vec<ExampleText<'_>>, Vec<ExampleText<'_>>) {
        fn pairs(v: &[load::Example]) -> Vec<ExampleText<'_>> {
            v.iter()
                .map(|e| (e.path.as_deref(), e.text.as_str()))
                .collect()
        }
        let ex = &self.inner.examples[idx];
        (pairs(&ex.positive), pairs(&ex.negative))
    }

    /// Runs every rule's `examples` and `negative_examples` through a scanner of this set and
    /// describes each one that does not behave (an example without a match of its rule, a negative
    /// example with one), and each rule lacking either kind. Empty when all pass. Used by the tests
    /// and for checking custom rules.
    pub fn example_failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let mut scanner = self.scanner();
        let mut found = Vec::new();
        let rules = self.inner.rules.iter().zip(&self.inner.examples);
        for (idx, (rule, examples)) in rules.enumerate() {
            if examples.positive.is_empty() || examples.negative.is_empty() {
                failures.push(format!(
                    "rule `{}`: needs at least one example and one negative example",
                    rule.id
                ));
            }
            let positive = examples.positive.iter().map(|e| (true, e));
            let negative = examples.negative.iter().map(|e| (false, e));
            for (expected, example) in positive.chain(negative) {
                found.clear();
                let hit = match rule.kind {
                    RuleKind::FileName => scanner.match_path(&example.text) == Some(idx),
                    RuleKind::Content => {
                        let ctx = Context {
                            binary: false,
                            path: example.path.as_deref(),
                        };
                        scanner.scan(example.text.as_bytes(), &ctx, &mut found);
                        found.iter().any(|m| m.rule == idx)
                    }
                };
                if hit != expected {
                    let what = match expected {
                        true => "example produced no match of this rule",
                        false => "negative example produced a match of this rule",
                    };
                    let matched: Vec<&str> = found
                        .iter()
                        .map(|m| self.rule(m.rule).id.as_str())
                        .collect();
                    failures.push(format!(
                        "rule `{}`: {what}: {:?} (path {:?}); matches: {matched:?}",
                        rule.id, example.text, example.path
                    ));
                }
            }
        }
        failures
    }
}

/// Scans bytes for secrets. Not shared between threads: clone the [`RuleSet`] and make another.
pub struct Scanner {
    set: RuleSet,
    scratch: engine::Scratch,
    strings: strings::Strings,
}

impl Scanner {
    /// The rules this scanner runs.
    pub fn rule_set(&self) -> &RuleSet {
        &self.set
    }

    /// Appends the matches in `haystack` to `out`, ordered by start offset. In binary content
    /// (`ctx.binary`) only runs of printable ASCII are read: tokens and key blocks embedded in a
    /// binary are such runs.
    pub fn scan(&mut self, haystack: &[u8], ctx: &Context<'_>, out: &mut Vec<Match>) {
        let engine = &self.set.inner.engine;
        if !ctx.binary {
            engine.scan(&mut self.scratch, haystack, ctx, out);
            return;
        }
        self.strings.pack(haystack);
        let first = out.len();
        engine.scan(&mut self.scratch, &self.strings.packed, ctx, out);
        let strings = &self.strings;
        let mut kept = first;
        for i in first..out.len() {
            let m = &out[i];
            if let (Some(span), Some(secret)) =
                (strings.original(&m.span), strings.original(&m.secret))
            {
                out[kept] = Match {
                    rule: m.rule,
                    span,
                    secret,
                };
                kept += 1;
            }
        }
        out.truncate(kept);
    }

    /// Starts (or stops) timing each rule's regex work, for `caulk rules bench`.
    pub fn set_profiling(&mut self, on: bool) {
        self.scratch.profile = on.then(|| vec![RuleTiming::default(); self.set.inner.rules.len()]);
    }

    /// Time spent per rule since profiling started, indexed by [`RuleIdx`] (empty when off).
    pub fn profile(&self) -> &[RuleTiming] {
        self.scratch.profile.as_deref().unwrap_or(&[])
    }

    /// The file-name rule that a path triggers (`id_rsa`, `.env`, ...), if any. Only the last
    /// `!`-separated component of `path` is considered.
    pub fn match_path(&self, path: &str) -> Option<RuleIdx> {
        self.set.inner.engine.match_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_set_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        fn assert_send<T: Send>() {}
        assert_send_sync::<RuleSet>();
        assert_send::<Scanner>();
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Info < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::Medium < Severity::High);
        assert!(Severity::High < Severity::Critical);
        assert_eq!("CRITICAL".parse::<Severity>(), Ok(Severity::Critical));
        assert!("severe".parse::<Severity>().is_err());
    }
}
