//! Lints the files that build and run images (Dockerfiles, `.dockerignore`, Compose, Kubernetes
//! and CI files) for secret leaks before any build, and rewrites Dockerfiles to the safe form.

pub mod discover;
pub mod dockerfile;
pub mod dockerignore;
pub mod docs;
pub mod rules;

use caulk_report::lint::{LintFinding, LintSkipped};
use caulk_rules::Scanner;
use std::path::Path;

/// The outcome of linting one file.
pub enum FileOutcome {
    Linted(rules::Linted),
    /// The file could not be read or parsed; BuildKit would refuse it too.
    Skipped(LintSkipped),
}

/// Lints one Dockerfile (read from `path`, reported as `shown`), with its directory as the build
/// context when `with_context` is set.
pub fn lint_dockerfile_file(
    path: &Path,
    shown: &str,
    scanner: &mut Scanner,
    with_context: bool,
) -> (FileOutcome, Option<String>) {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            return (
                FileOutcome::Skipped(LintSkipped {
                    path: shown.into(),
                    reason: format!("cannot read: {e}"),
                }),
                None,
            )
        }
    };
    let df = match dockerfile::parse(&text) {
        Ok(df) => df,
        Err(e) => {
            return (
                FileOutcome::Skipped(LintSkipped {
                    path: shown.into(),
                    reason: format!("not a valid Dockerfile: {e}"),
                }),
                Some(text),
            )
        }
    };
    let context = if with_context {
        discover::DirContext::for_dockerfile(path)
    } else {
        Err(String::new())
    };
    let mut linted = match &context {
        Ok(c) => rules::lint_dockerfile(shown, &df, scanner, Some(c)),
        Err(_) => rules::lint_dockerfile(shown, &df, scanner, None),
    };
    if let Err(e) = context {
        if !e.is_empty() {
            linted.findings.push(LintFinding {
                rule_id: "CK000".into(),
                rule_name: "invalid-dockerignore".into(),
                severity: caulk_rules::Severity::Medium,
                message: format!("the .dockerignore cannot be used: {e}"),
                fingerprint: None,
                preview: None,
                location: caulk_report::lint::LintLocation {
                    kind: "dockerignore".into(),
                    path: shown.into(),
                    line: 1,
                    column: 1,
                    end_line: 1,
                    end_column: 1,
                    key: None,
                },
                remediation: "fix the pattern; Docker refuses to build with it".into(),
                fix: None,
            });
        }
    }
    (FileOutcome::Linted(linted), Some(text))
}
