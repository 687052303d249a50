//! `caulk lint` end to end: exit codes, the three formats, ignores, and no whole secret in any
//! output.

mod support;

use std::path::PathBuf;
use support::{caulk, repo_root};

fn rules_fixtures() -> PathBuf {
    repo_root().join("crates/caulk-lint/tests/fixtures/rules")
}

/// Every well-formed fake token written in the lint fixtures.
fn fixture_tokens() -> Vec<String> {
    let re = regex::Regex::new(r"\b(?:ghp|npm)_[A-Za-z0-9]{36}\b").unwrap();
    let mut out = Vec::new();
    let mut stack = vec![rules_fixtures()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != "snapshot.txt" {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                // Only real-looking tokens (valid checksum): the fixtures also hold GitHub's
                // documentation sample, which is not a secret and may be shown.
                out.extend(
                    re.find_iter(&text)
                        .map(|m| m.as_str().to_string())
                        .filter(|t| {
                            caulk_rules::validate::github_checksum(t.as_bytes())
                                || caulk_rules::validate::npm_checksum(t.as_bytes())
                        }),
                );
            }
        }
    }
    out
}

#[test]
fn findings_exit_1_in_every_format_and_never_print_a_whole_secret() {
    let tokens = fixture_tokens();
    assert!(tokens.len() >= 5, "fixtures hold tokens: {tokens:?}");
    let dir = rules_fixtures();
    for format in ["text", "json", "sarif"] {
        let out = caulk(&["lint", "-f", format, dir.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        for t in &tokens {
            assert!(!stdout.contains(t.as_str()), "{format} output shows {t}");
        }
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let findings = v["findings"].as_array().unwrap();
            let codes: std::collections::BTreeSet<&str> = findings
                .iter()
                .map(|f| f["rule_id"].as_str().unwrap())
                .collect();
            // every rule fires on its own fixture
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let code = entry.file_name().to_string_lossy().into_owned();
                assert!(
                    codes.contains(code.as_str()),
                    "{code} missing from {codes:?}"
                );
            }
            let f = &findings[0];
            for key in [
                "rule_id",
                "rule_name",
                "severity",
                "message",
                "location",
                "remediation",
            ] {
                assert!(!f[key].is_null(), "{key}");
            }
            for key in ["path", "line", "column", "end_line", "end_column"] {
                assert!(!f["location"][key].is_null(), "location.{key}");
            }
            assert!(findings.iter().any(|f| f["fingerprint"]
                .as_str()
                .is_some_and(|s| s.starts_with("sha256:"))));
        }
        if format == "sarif" {
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let r = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
            assert!(r["region"]["startLine"].as_u64().unwrap() >= 1);
            assert!(r["region"]["endLine"].as_u64().is_some());
            assert!(r["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .contains("CK"));
        }
    }
}

#[test]
fn clean_files_exit_0_broken_ones_exit_2_and_fail_on_raises_the_bar() {
    let tmp = tempfile::tempdir().unwrap();
    let df = tmp.path().join("Dockerfile");
    std::fs::write(
        &df,
        "# syntax=docker/dockerfile:1\nFROM node:20\nRUN --mount=type=secret,id=npm,target=/root/.npmrc npm ci\n",
    )
    .unwrap();
    let out = caulk(&["lint", tmp.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 findings in 1 file"));

    // medium findings only: fail at medium, pass at high
    std::fs::write(
        &df,
        "FROM node:20\nENV GIT_SSH_COMMAND=\"ssh -o StrictHostKeyChecking=no\"\n",
    )
    .unwrap();
    assert_eq!(
        caulk(&["lint", df.to_str().unwrap()]).status.code(),
        Some(1)
    );
    assert_eq!(
        caulk(&["lint", "--fail-on", "high", df.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );

    std::fs::write(&df, "# only a comment\n").unwrap();
    let out = caulk(&["lint", df.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a valid Dockerfile"));

    assert_eq!(
        caulk(&["lint", "--ignore", "CK999", df.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn ignores_from_comments_flags_and_the_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("legacy")).unwrap();
    let text = "FROM node:20\nARG NPM_TOKEN\n";
    std::fs::write(tmp.path().join("Dockerfile"), text).unwrap();
    std::fs::write(tmp.path().join("legacy/Dockerfile"), text).unwrap();
    let json = |args: &[&str]| {
        let mut all = vec!["lint", "-f", "json"];
        all.extend_from_slice(args);
        let out = caulk(&all);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let root = tmp.path().to_str().unwrap();
    let base = json(&[root]);
    assert_eq!(base["summary"]["findings"], 2);
    let flagged = json(&["--ignore", "CK101", root]);
    assert_eq!(flagged["summary"]["findings"], 0);
    assert_eq!(flagged["summary"]["suppressed"], 2);

    let cfg = tmp.path().join("caulk.toml");
    std::fs::write(&cfg, "[lint]\n[[lint.paths]]\npath = \"**/legacy/**\"\nignore = [\"secret-name-in-arg-or-env\"]\n").unwrap();
    let by_path = json(&["-c", cfg.to_str().unwrap(), root]);
    assert_eq!(by_path["summary"]["findings"], 1);
    assert!(!by_path["findings"][0]["location"]["path"]
        .as_str()
        .unwrap()
        .contains("legacy"));

    std::fs::write(
        tmp.path().join("Dockerfile"),
        "FROM node:20\n# caulk:ignore=CK101\nARG NPM_TOKEN\n",
    )
    .unwrap();
    let commented = json(&[
        "--no-context",
        tmp.path().join("Dockerfile").to_str().unwrap(),
    ]);
    assert_eq!(commented["summary"]["findings"], 0);
    assert_eq!(commented["summary"]["suppressed"], 1);
}

#[test]
fn explain_prints_a_rule_and_docs_are_written() {
    let out = caulk(&["lint", "--explain", "CK104"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("build-arg-secret-used-by-run") && text.contains("## Use instead"));
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        caulk(&["lint", "--write-docs", tmp.path().to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert!(tmp.path().join("README.md").is_file() && tmp.path().join("CK201.md").is_file());
}

#[test]
fn shipped_deploy_manifests_lint_clean_and_use_real_options() {
    let root = support::repo_root();
    let out = caulk(&["lint", root.join("deploy").to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Every --option the CronJob passes to `caulk registry` exists.
    let cron = std::fs::read_to_string(root.join("deploy/kubernetes/cronjob.yaml")).unwrap();
    let help = String::from_utf8_lossy(&caulk(&["registry", "--help"]).stdout).into_owned();
    let options: Vec<&str> = cron
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- --"))
        .collect();
    assert!(options.len() >= 3, "{options:?}");
    for o in options {
        assert!(
            help.contains(&format!("--{o}")),
            "caulk registry has no --{o}"
        );
    }
}
