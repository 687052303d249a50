//! Every lint rule has a fixture (`tests/fixtures/rules/<CODE>/Dockerfile`, with its build context
//! beside it) and a snapshot of exactly what a user sees for it (`snapshot.txt`). Set
//! `UPDATE_SNAPSHOTS=1` to rewrite the snapshots after an intended change, and review the diff.

use caulk_lint::rules::RULES;
use caulk_lint::FileOutcome;
use caulk_report::lint::{write_lint, LintReport};
use caulk_report::Format;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn render(code: &str) -> (String, usize) {
    let dir = fixtures().join(code);
    let path = dir.join("Dockerfile");
    static RULES_SET: std::sync::OnceLock<caulk_rules::RuleSet> = std::sync::OnceLock::new();
    let mut scanner = RULES_SET
        .get_or_init(|| caulk_rules::RuleSet::builtin().unwrap())
        .scanner();
    let shown = format!("{code}/Dockerfile");
    let (outcome, text) = caulk_lint::lint_dockerfile_file(&path, &shown, &mut scanner, true);
    let FileOutcome::Linted(linted) = outcome else {
        panic!("{code}: fixture did not parse")
    };
    let mine: Vec<_> = linted
        .findings
        .into_iter()
        .filter(|f| f.rule_id == code)
        .collect();
    let n = mine.len();
    let report = LintReport::new(mine, BTreeMap::from([("dockerfile".to_string(), 1)]));
    let sources = BTreeMap::from([(shown, text.unwrap())]);
    let mut out = Vec::new();
    write_lint(&report, Format::Text, &sources, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), n)
}

#[test]
fn every_rule_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    for rule in RULES {
        let (got, n) = render(rule.code);
        assert!(n > 0, "{}: the fixture triggers no finding", rule.code);
        let snap = fixtures().join(rule.code).join("snapshot.txt");
        if update {
            std::fs::write(&snap, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- snapshot\n{want}\n+++ now\n{got}",
                rule.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "snapshots differ (UPDATE_SNAPSHOTS=1 to accept):\n{}",
        failures.join("\n")
    );
}

#[test]
fn rule_codes_and_names_are_unique_and_documented() {
    let mut codes = std::collections::BTreeSet::new();
    for r in RULES {
        assert!(codes.insert(r.code), "duplicate {}", r.code);
        for section in [
            "## What it does",
            "## Why is this bad",
            "## Example",
            "## Use instead",
            "## Fix safety",
        ] {
            assert!(
                r.docs.contains(section),
                "{}: docs lack `{section}`",
                r.code
            );
        }
        assert!(
            fixtures().join(r.code).join("Dockerfile").is_file(),
            "{}: no fixture",
            r.code
        );
    }
}

#[test]
fn docs_rules_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules");
    let mut stale = Vec::new();
    for (name, text) in caulk_lint::docs::pages() {
        let path = dir.join(&name);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(stale.is_empty(), "docs/rules is stale for {stale:?}: run `caulk lint --write-docs docs/rules` (or UPDATE_SNAPSHOTS=1)");
}
