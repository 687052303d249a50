//! The lint rules, one per file, and the table that maps their codes to them. Each rule file
//! holds its documentation (`DOCS`, rendered into `docs/rules/`) and one check function.

use std::ops::Range;

use caulk_report::lint::{FixSafety, LintFinding, LintLocation};
use caulk_rules::{Context, Scanner, Severity};

use crate::dockerfile::{Dockerfile, Instruction};

mod broad_copy_of_sensitive_context_file;
mod build_arg_secret_used_by_run;
mod copy_of_sensitive_file;
mod host_key_checking_disabled;
mod inline_credentials_in_run;
mod secret_in_arg_or_env_value;
mod secret_in_dockerfile;
mod secret_mount_copied_into_image;
mod secret_name_in_arg_or_env;
mod secret_removed_in_later_layer;
mod ssh_mount_without_known_hosts;
mod world_readable_secret_mount;

pub(crate) mod names;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Dockerfile,
}

/// One rule: its code, name, default severity, documentation and check.
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// Markdown: What it does / Why is this bad / Example / Use instead / Fix safety.
    pub docs: &'static str,
    pub target: Target,
    pub(crate) check: fn(&mut Checker<'_>),
}

/// Every rule, by code.
pub static RULES: &[&RuleInfo] = &[
    &secret_name_in_arg_or_env::RULE,
    &secret_in_arg_or_env_value::RULE,
    &secret_in_dockerfile::RULE,
    &build_arg_secret_used_by_run::RULE,
    &inline_credentials_in_run::RULE,
    &copy_of_sensitive_file::RULE,
    &broad_copy_of_sensitive_context_file::RULE,
    &secret_removed_in_later_layer::RULE,
    &secret_mount_copied_into_image::RULE,
    &ssh_mount_without_known_hosts::RULE,
    &host_key_checking_disabled::RULE,
    &world_readable_secret_mount::RULE,
];

/// Looks a rule up by code (`CK101`) or name (`secret-in-env`).
pub fn rule(code_or_name: &str) -> Option<&'static RuleInfo> {
    RULES
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

/// Files of the build context, for rules that check what `COPY . .` brings in.
pub trait BuildContext {
    /// Paths (relative, `/`-separated) that the build would send, after `.dockerignore`.
    fn included(&self) -> Vec<String>;
}

/// What a check sees, and where it reports.
pub struct Checker<'a> {
    pub(crate) path: &'a str,
    pub(crate) df: &'a Dockerfile,
    pub(crate) scanner: &'a mut Scanner,
    pub(crate) context: Option<&'a dyn BuildContext>,
    rule: &'static RuleInfo,
    out: Vec<LintFinding>,
}

/// A secret value a finding is about.
pub(crate) struct SecretValue<'s> {
    pub bytes: &'s [u8],
}

impl<'a> Checker<'a> {
    /// Instructions with their stage index (0 for instructions before the first `FROM`).
    pub(crate) fn staged(&self) -> impl Iterator<Item = (usize, &'a Instruction)> + 'a {
        let mut stage = 0usize;
        let mut seen_from = false;
        self.df.instructions.iter().map(move |i| {
            if i.name == "from" {
                if seen_from {
                    stage += 1;
                }
                seen_from = true;
            }
            (stage, i)
        })
    }

    /// Runs the secret rules over `text`, as found in the Dockerfile at `path`.
    pub(crate) fn secrets_in(&mut self, text: &str) -> Vec<(Range<usize>, String)> {
        let mut matches = Vec::new();
        let ctx = Context {
            path: Some(self.path),
            binary: false,
        };
        self.scanner.scan(text.as_bytes(), &ctx, &mut matches);
        let set = self.scanner.rule_set();
        matches
            .into_iter()
            .map(|m| (m.secret, set.rule(m.rule).name.clone()))
            .collect()
    }

    pub(crate) fn report(
        &mut self,
        span: Range<usize>,
        message: String,
        remediation: String,
        fix: Option<FixSafety>,
        secret: Option<SecretValue<'_>>,
    ) {
        self.report_with(self.rule.severity, span, message, remediation, fix, secret)
    }

    pub(crate) fn report_with(
        &mut self,
        severity: Severity,
        span: Range<usize>,
        message: String,
        remediation: String,
        fix: Option<FixSafety>,
        secret: Option<SecretValue<'_>>,
    ) {
        let (line, column) = self.df.line_col(span.start);
        let (end_line, end_column) = self.df.line_col(span.end);
        self.out.push(LintFinding {
            rule_id: self.rule.code.into(),
            rule_name: self.rule.name.into(),
            severity,
            message,
            fingerprint: secret
                .as_ref()
                .map(|s| caulk_report::redact::fingerprint(s.bytes)),
            preview: secret.map(|s| caulk_report::redact::preview(s.bytes)),
            location: LintLocation {
                kind: "dockerfile".into(),
                path: self.path.into(),
                line,
                column,
                end_line,
                end_column,
                key: None,
            },
            remediation,
            fix,
        });
    }
}

/// Codes silenced by a `# caulk:ignore` or `# caulk:ignore=CK101,CK102` comment on the line
/// before: `None` when there is no such comment, `Some(empty)` for all codes.
fn suppressions(df: &Dockerfile) -> Vec<(usize, Option<Vec<String>>)> {
    let mut out = Vec::new();
    for (n, line) in df.source.lines().enumerate() {
        let t = line.trim();
        let Some(rest) = t.strip_prefix('#') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("caulk:ignore") else {
            continue;
        };
        let codes = rest.trim_start().strip_prefix('=').map(|list| {
            list.split(',')
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty())
                .collect()
        });
        // applies to the next line that is not a comment
        out.push((n + 2, codes));
    }
    out
}

/// The result of linting one Dockerfile.
pub struct Linted {
    pub findings: Vec<LintFinding>,
    /// Findings silenced by `# caulk:ignore` comments.
    pub suppressed: usize,
}

/// Runs every Dockerfile rule on a parsed Dockerfile.
pub fn lint_dockerfile(
    path: &str,
    df: &Dockerfile,
    scanner: &mut Scanner,
    context: Option<&dyn BuildContext>,
) -> Linted {
    let mut all = Vec::new();
    for rule in RULES.iter().copied() {
        if rule.target != Target::Dockerfile {
            continue;
        }
        let mut checker = Checker {
            path,
            df,
            scanner: &mut *scanner,
            context,
            rule,
            out: Vec::new(),
        };
        (rule.check)(&mut checker);
        all.extend(checker.out);
    }
    // An ignore comment covers the instruction that starts on the next line.
    let ignores = suppressions(df);
    let covered = |f: &LintFinding| {
        let ins_start = df
            .instructions
            .iter()
            .find(|i| i.start_line <= f.location.line && f.location.line <= i.end_line)
            .map_or(f.location.line, |i| i.start_line);
        ignores.iter().any(|(line, codes)| {
            (*line == ins_start || *line == f.location.line)
                && match codes {
                    None => true,
                    Some(c) => c.iter().any(|c| {
                        c.eq_ignore_ascii_case(&f.rule_id) || c.eq_ignore_ascii_case(&f.rule_name)
                    }),
                }
        })
    };
    let before = all.len();
    all.retain(|f| !covered(f));
    let suppressed = before - all.len();
    all.sort_by(|a, b| {
        (a.location.line, a.location.column, &a.rule_id).cmp(&(
            b.location.line,
            b.location.column,
            &b.rule_id,
        ))
    });
    Linted {
        findings: all,
        suppressed,
    }
}
