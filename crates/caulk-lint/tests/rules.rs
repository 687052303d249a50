//! Every lint rule has a fixture and a snapshot of exactly what a user sees for it
//! (`snapshot.txt`). Dockerfile rules lint `tests/fixtures/rules/<CODE>/Dockerfile`, with its
//! build context beside it; the rules of other targets lint the one file of the fixture directory
//! that `discover::kind_of` recognises as their kind: `compose.yaml` (Compose), `manifests.yaml`
//! (Kubernetes), `.github/workflows/ci.yml`, `build.sh` or `Makefile` (CI). Set
//! `UPDATE_SNAPSHOTS=1` to rewrite the snapshots after an intended change, and review the diff.

use caulk_lint::discover::{kind_of, FileKind};
use caulk_lint::rules::{RuleInfo, Target, RULES};
use caulk_lint::FileOutcome;
use caulk_report::lint::{write_lint, LintReport};
use caulk_report::Format;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn kind_for(target: Target) -> FileKind {
    match target {
        Target::Dockerfile => FileKind::Dockerfile,
        Target::Compose => FileKind::Compose,
        Target::Kubernetes => FileKind::Kubernetes,
        Target::Ci => FileKind::Ci,
    }
}

/// Every file under `dir`, hidden directories (`.github`) included.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The fixture a rule lints: `<CODE>/Dockerfile` for Dockerfile rules, else the one file of
/// the fixture directory whose kind is the rule's target. Errors say what is wrong.
fn fixture_file(rule: &RuleInfo) -> Result<PathBuf, String> {
    let dir = fixtures().join(rule.code);
    if rule.target == Target::Dockerfile {
        let path = dir.join("Dockerfile");
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{}: no fixture {}", rule.code, path.display()))
        };
    }
    let want = kind_for(rule.target);
    let found: Vec<PathBuf> = files_under(&dir)
        .into_iter()
        .filter(|p| kind_of(p) == Some(want))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "{}: no {} fixture in {}",
            rule.code,
            want.as_str(),
            dir.display()
        )),
        many => Err(format!(
            "{}: more than one {} fixture: {many:?}",
            rule.code,
            want.as_str()
        )),
    }
}

fn render(rule: &RuleInfo) -> (String, usize) {
    let code = rule.code;
    let path = fixture_file(rule).unwrap();
    static RULES_SET: std::sync::OnceLock<caulk_rules::RuleSet> = std::sync::OnceLock::new();
    let mut scanner = RULES_SET
        .get_or_init(|| caulk_rules::RuleSet::builtin().unwrap())
        .scanner();
    let relative = path
        .strip_prefix(fixtures().join(code))
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/");
    let shown = format!("{code}/{relative}");
    let kind = kind_for(rule.target);
    let (outcome, text) = caulk_lint::lint_file(&path, &shown, kind, &mut scanner, true);
    let FileOutcome::Linted(linted) = outcome else {
        panic!("{code}: fixture did not parse")
    };
    let mine: Vec<_> = linted
        .findings
        .into_iter()
        .filter(|f| f.rule_id == code)
        .collect();
    let n = mine.len();
    let report = LintReport::new(mine, BTreeMap::from([(kind.as_str().to_string(), 1)]));
    let masked = caulk_lint::mask_secrets(&text.unwrap(), &shown, &mut scanner);
    let sources = BTreeMap::from([(shown, masked)]);
    let mut out = Vec::new();
    write_lint(&report, Format::Text, &sources, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), n)
}

#[test]
fn every_rule_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    for rule in RULES {
        let (got, n) = render(rule);
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
        if let Err(e) = fixture_file(r) {
            panic!("{e}");
        }
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
