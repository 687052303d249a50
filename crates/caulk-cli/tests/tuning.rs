//! Tuning end to end on images built by buildah (`custom-token`, `custom-token-v2`): custom rules
//! in caulk.toml, gitleaks configurations as they are, allowlists, severity overrides, disabling
//! rules, and baselines.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{caulk, fixtures};

fn image(name: &str) -> PathBuf {
    fixtures().join(name).join("oci-gzip")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `caulk image IMG --format json` with extra args; returns (exit code, report).
fn scan(img: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["image", img.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = caulk(&args);
    let code = out.status.code().unwrap();
    assert_ne!(code, 2, "{}", String::from_utf8_lossy(&out.stderr));
    (code, serde_json::from_slice(&out.stdout).unwrap())
}

fn found(r: &Value) -> Vec<(String, String, u64)> {
    let mut v: Vec<(String, String, u64)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["location"]["path"].as_str().unwrap_or("").to_string(),
                f["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

fn t(rule: &str, path: &str, line: u64) -> (String, String, u64) {
    (rule.to_string(), path.to_string(), line)
}

const ACME_RULE: &str = r#"
[[rules.custom]]
id = "acme-live-key"
name = "ACME live API key"
description = "ACME's in-house service key."
severity = "critical"
tags = ["acme"]
keywords = ["acme_live_"]
regex = '\b(acme_live_[0-9a-f]{32})\b'
examples = ["ACME_KEY=acme_live_0123456789abcdef0123456789abcdef"]
negative_examples = ["ACME_KEY=acme_live_${KEY}"]
"#;

#[test]
fn custom_rule_in_caulk_toml() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "caulk.toml", ACME_RULE);
    let (_, before) = scan(&image("custom-token"), &[]);
    assert_eq!(found(&before), vec![t("github-pat-classic", "app/.env", 2)]);
    let (code, r) = scan(&image("custom-token"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&r),
        vec![
            t("acme-live-key", "app/app.conf", 2),
            t("github-pat-classic", "app/.env", 2)
        ]
    );
    let acme = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "acme-live-key")
        .unwrap();
    assert_eq!(acme["severity"], "critical");
    assert!(
        !r.to_string().contains("acme_live_9f8e7d6c"),
        "the custom rule's secret is redacted too"
    );
    // The rule lists and shows like a built-in one, and its examples check.
    let list = caulk(&["rules", "list", "--config", cfg.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("acme-live-key"));
}

#[test]
fn caulk_toml_from_the_working_directory_is_found() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "caulk.toml", ACME_RULE);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caulk"))
        .current_dir(dir.path())
        .args([
            "image",
            image("custom-token").to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(found(&r).contains(&t("acme-live-key", "app/app.conf", 2)));
}

#[test]
fn gitleaks_config_loads_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let only = write(
        dir.path(),
        "gitleaks-only.toml",
        r#"
title = "acme gitleaks config"

[[rules]]
id = "acme-live-key"
description = "ACME live key"
regex = '''(?i)acme_key\s*=\s*(acme_live_[0-9a-f]{32})'''
secretGroup = 1
entropy = 3.0
keywords = ["acme_live_"]
tags = ["acme"]
"#,
    );
    // Without [extend] useDefault, a gitleaks config replaces the default rules.
    let (_, r) = scan(
        &image("custom-token"),
        &["--config", only.to_str().unwrap()],
    );
    assert_eq!(found(&r), vec![t("acme-live-key", "app/app.conf", 2)]);
    let f = &r["findings"][0];
    assert_eq!(
        f["preview"]
            .as_str()
            .unwrap()
            .chars()
            .take(5)
            .collect::<String>(),
        "acme_",
        "secretGroup picks the token, not the assignment"
    );

    let extended = write(
        dir.path(),
        ".gitleaks.toml",
        r#"
[extend]
useDefault = true

[[rules]]
id = "acme-live-key"
description = "ACME live key"
regex = '''acme_live_[0-9a-f]{32}'''
keywords = ["acme_live_"]

[[rules.allowlists]]
description = "staging keys are fine"
paths = ['''^app/staging/''']

[allowlist]
description = "global"
stopwords = ["TUNINGtokenTwo"]
"#,
    );
    let (_, r) = scan(
        &image("custom-token-v2"),
        &["--config", extended.to_str().unwrap()],
    );
    // useDefault brings the built-in rules; the global stopword drops the deploy.yml token.
    assert_eq!(
        found(&r),
        vec![
            t("acme-live-key", "app/app.conf", 2),
            t("github-pat-classic", "app/.env", 2)
        ]
    );
    assert_eq!(r["summary"]["suppressed"]["allowlist"], 1);
}

#[test]
fn allowlists_by_path_glob_secret_regex_and_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base) = scan(&image("custom-token-v2"), &[]);
    let fp = base["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["location"]["path"] == "app/deploy.yml")
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    for (what, allow) in [
        ("glob", "paths = [\"app/deploy.*\"]".to_string()),
        ("regex", "regexes = ['TUNINGtokenTwo']".to_string()),
        ("fingerprint", format!("fingerprints = [\"{fp}\"]")),
    ] {
        let cfg = write(
            dir.path(),
            &format!("{what}.toml"),
            &format!("[[allowlist]]\ndescription = \"{what}\"\n{allow}\n"),
        );
        let (code, r) = scan(
            &image("custom-token-v2"),
            &["--config", cfg.to_str().unwrap()],
        );
        assert_eq!(code, 1, "{what}");
        assert_eq!(
            found(&r),
            vec![t("github-pat-classic", "app/.env", 2)],
            "{what}"
        );
        assert_eq!(r["summary"]["suppressed"]["allowlist"], 1, "{what}");
    }
    // Scoped to another rule, the allowlist does nothing.
    let cfg = write(
        dir.path(),
        "scoped.toml",
        "[[allowlist]]\nrules = [\"aws-access-key-id\"]\npaths = [\"app/**\"]\n",
    );
    let (_, r) = scan(
        &image("custom-token-v2"),
        &["--config", cfg.to_str().unwrap()],
    );
    assert_eq!(found(&r).len(), 2);
}

#[test]
fn severity_overrides_and_disabled_rules() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "sev.toml",
        "[severity]\n\"tag:github\" = \"low\"\n\n[scan]\nfail_on = \"high\"\n",
    );
    let (code, r) = scan(&image("custom-token"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(r["findings"][0]["severity"], "low");
    assert_eq!(code, 0, "below the configured fail_on");
    let (code, _) = scan(
        &image("custom-token"),
        &["--config", cfg.to_str().unwrap(), "--fail-on", "low"],
    );
    assert_eq!(code, 1, "the flag wins over the file");
    let cfg = write(
        dir.path(),
        "off.toml",
        "[rules]\ndisable = [\"github-pat-classic\"]\n",
    );
    let (code, r) = scan(&image("custom-token"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(r["summary"]["suppressed"]["disabled"], 1);
}

#[test]
fn baseline_reports_only_new_secrets_across_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let out = caulk(&[
        "image",
        image("custom-token").to_str().unwrap(),
        "--format",
        "json",
        "-o",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let b = baseline.to_str().unwrap();
    // The same image: nothing new.
    let (code, r) = scan(&image("custom-token"), &["--baseline", b]);
    assert_eq!((code, found(&r).len()), (0, 0));
    assert_eq!(r["summary"]["suppressed"]["baseline"], 1);
    // The rebuilt image: every layer digest differs, yet only the new secret is reported.
    let (_, v1) = scan(&image("custom-token"), &[]);
    let (_, v2) = scan(&image("custom-token-v2"), &[]);
    let digests = |r: &Value| {
        r["images"][0]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].clone())
            .collect::<Vec<_>>()
    };
    assert!(digests(&v1).iter().all(|d| !digests(&v2).contains(d)) || digests(&v1) != digests(&v2));
    let (code, r) = scan(&image("custom-token-v2"), &["--baseline", b]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&r),
        vec![t("github-pat-classic", "app/deploy.yml", 1)]
    );
    // A file that is not a report is a clear error.
    let bad = write(dir.path(), "bad.json", "{}");
    let out = caulk(&[
        "image",
        image("custom-token").to_str().unwrap(),
        "--baseline",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("baseline"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rules_bench_reports_time_per_rule() {
    let out = caulk(&[
        "rules",
        "bench",
        image("copy-env-rm").to_str().unwrap(),
        "--top",
        "10000",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with("scanned ") && s.contains("runs"), "{s}");
    // The rules that matched in that image are listed with their runs and matches.
    for rule in ["github-pat-classic", "database-url-password"] {
        let row = s
            .lines()
            .find(|l| l.split_whitespace().next() == Some(rule))
            .unwrap_or_else(|| panic!("{rule} missing:\n{s}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        let matches: u64 = cols[cols.len() - 1].parse().unwrap();
        let runs: u64 = cols[cols.len() - 2].parse().unwrap();
        assert!(runs >= 1 && matches >= 1, "{row}");
    }
}

#[test]
fn rules_show_and_check() {
    let out = caulk(&["rules", "show", "github-pat-classic"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("examples (must match)") && s.contains("references:"),
        "{s}"
    );
    assert_eq!(
        caulk(&["rules", "show", "no-such-rule"]).status.code(),
        Some(2)
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yml",
        "rules:\n  - id: acme-x\n    name: x\n    description: x\n    severity: high\n    keywords: [acme_x_]\n    regex: 'acme_x_[0-9]{4}'\n    examples: ['acme_x_12']\n    negative_examples: ['acme_y_1234']\n",
    );
    let out = caulk(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme-x"));
}
