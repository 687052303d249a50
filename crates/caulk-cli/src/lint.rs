//! `caulk lint`: finds the files, lints them, filters by ignores, writes the report, and picks
//! the exit code.

use anyhow::{Context as _, Result};
use caulk_lint::rules::{rule, RULES};
use caulk_lint::FileOutcome;
use caulk_report::lint::{write_lint, LintReport};
use caulk_rules::Severity;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::exit_codes;
use crate::opts::LintArgs;

pub fn run(args: &LintArgs) -> Result<i32> {
    if let Some(dir) = &args.write_docs {
        std::fs::create_dir_all(dir)?;
        for (name, text) in caulk_lint::docs::pages() {
            std::fs::write(dir.join(&name), text).with_context(|| format!("writing {name}"))?;
        }
        return Ok(exit_codes::CLEAN);
    }
    if let Some(code) = &args.explain {
        let Some(r) = rule(code) else {
            eprintln!(
                "caulk: error: no lint rule `{code}` (codes: {})",
                RULES.iter().map(|r| r.code).collect::<Vec<_>>().join(", ")
            );
            return Ok(exit_codes::ERROR);
        };
        println!(
            "{} {} ({})\n\n{}",
            r.code,
            r.name,
            r.severity.as_str(),
            r.docs.trim()
        );
        return Ok(exit_codes::CLEAN);
    }
    for code in &args.ignore {
        if rule(code).is_none() {
            eprintln!(
                "caulk: error: --ignore `{code}` is not a lint rule (see `caulk lint --explain`)"
            );
            return Ok(exit_codes::ERROR);
        }
    }
    let (loaded, rules) = crate::configured(args.config.as_deref())?;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let files = caulk_lint::discover::discover(&paths).context("finding files to lint")?;
    if files.is_empty() {
        eprintln!(
            "caulk: no Dockerfiles found under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let per_path: Vec<(globset::GlobMatcher, Vec<String>)> = loaded
        .lint
        .paths
        .iter()
        .filter_map(|p| {
            globset::Glob::new(&p.path)
                .ok()
                .map(|g| (g.compile_matcher(), p.ignore.clone()))
        })
        .collect();
    let ignored = |path: &str, code: &str, name: &str| {
        let hit = |list: &[String]| {
            list.iter()
                .any(|c| c.eq_ignore_ascii_case(code) || c == name)
        };
        hit(&args.ignore)
            || hit(&loaded.lint.ignore)
            || per_path
                .iter()
                .any(|(g, list)| g.is_match(path) && (list.is_empty() || hit(list)))
    };
    let mut scanner = rules.scanner();
    let mut findings = Vec::new();
    let mut skipped = Vec::new();
    let mut sources = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut suppressed = 0;
    for (path, kind) in &files {
        let shown = path
            .strip_prefix("./")
            .unwrap_or(path)
            .display()
            .to_string();
        *counts.entry(kind.as_str().to_string()).or_default() += 1;
        let (outcome, text) =
            caulk_lint::lint_file(path, &shown, *kind, &mut scanner, !args.no_context);
        match outcome {
            FileOutcome::Skipped(s) => skipped.push(s),
            FileOutcome::Linted(l) => {
                suppressed += l.suppressed;
                for f in l.findings {
                    if ignored(&shown, &f.rule_id, &f.rule_name) {
                        suppressed += 1;
                    } else {
                        findings.push(f);
                    }
                }
            }
        }
        if let Some(t) = text {
            sources.insert(
                shown.clone(),
                caulk_lint::mask_secrets(&t, &shown, &mut scanner),
            );
        }
    }
    let mut report = LintReport::new(findings, counts);
    report.skipped = skipped;
    report.summary.suppressed = suppressed;
    let fail_on = args
        .fail_on
        .or(loaded.lint.fail_on)
        .unwrap_or(Severity::Low);
    match &args.output {
        Some(p) => {
            let mut f =
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            write_lint(&report, args.format, &sources, &mut f)?;
        }
        None => {
            let mut out = io::stdout().lock();
            write_lint(&report, args.format, &sources, &mut out)?;
            out.flush()?;
        }
    }
    if !report.skipped.is_empty() && report.findings.is_empty() {
        // A file that cannot be parsed is an input error, as for `caulk image`.
        return Ok(exit_codes::ERROR);
    }
    Ok(if report.findings.iter().any(|f| f.severity >= fail_on) {
        exit_codes::FINDINGS
    } else {
        exit_codes::CLEAN
    })
}
