//! Lints the files that build and run images (Dockerfiles, `.dockerignore`, Compose, Kubernetes
//! and CI files) for secret leaks before any build, and rewrites Dockerfiles to the safe form.

pub mod discover;
pub mod dockerfile;
pub mod dockerignore;
pub mod docs;
pub mod fix;
pub mod rules;
pub mod yaml;

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

/// Lints one file of any kind caulk knows (see [`discover::kind_of`]).
pub fn lint_file(
    path: &Path,
    shown: &str,
    kind: discover::FileKind,
    scanner: &mut Scanner,
    with_context: bool,
) -> (FileOutcome, Option<String>) {
    use discover::FileKind;
    let target = match kind {
        FileKind::Dockerfile => return lint_dockerfile_file(path, shown, scanner, with_context),
        FileKind::Compose => rules::Target::Compose,
        FileKind::Kubernetes => rules::Target::Kubernetes,
        FileKind::Ci => rules::Target::Ci,
    };
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
    let linted = rules::lint_text_file(shown, &text, target, scanner);
    (FileOutcome::Linted(linted), Some(text))
}

/// The file's text with every secret the rules find masked after its first four characters, same
/// length, so that code frames keep their columns and never show a whole secret.
pub fn mask_secrets(text: &str, path: &str, scanner: &mut Scanner) -> String {
    let mut found = Vec::new();
    scanner.scan(
        text.as_bytes(),
        &caulk_rules::Context {
            path: Some(path),
            binary: false,
        },
        &mut found,
    );
    let mut bytes = text.as_bytes().to_vec();
    for m in found {
        for b in bytes[m.secret.clone()].iter_mut().skip(4) {
            if *b != b'\n' && *b != b'\r' && b.is_ascii() {
                *b = b'*';
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
