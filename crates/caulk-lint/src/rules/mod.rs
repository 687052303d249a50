//! The lint rules, one per file, and the table that maps their codes to them. Each rule file
//! holds its documentation (`DOCS`, rendered into `docs/rules/`) and one check function.

use std::ops::Range;

use caulk_report::lint::{FixSafety, LintFinding, LintLocation};
use caulk_rules::{Context, Scanner, Severity};

use crate::dockerfile::{Dockerfile, Instruction};

pub(crate) mod broad_copy_of_sensitive_context_file;
pub(crate) mod build_arg_secret_used_by_run;
mod committed_kubernetes_secret;
mod copy_of_sensitive_file;
mod host_key_checking_disabled;
mod inline_credentials_in_run;
mod secret_build_arg_in_ci;
mod secret_in_arg_or_env_value;
mod secret_in_build_stage;
mod secret_in_compose_environment;
mod secret_in_configmap;
mod secret_in_dockerfile;
mod secret_in_kubernetes_env_value;
mod secret_mount_copied_into_image;
mod secret_name_in_arg_or_env;
mod secret_removed_in_later_layer;
mod ssh_directory_bind_mount;
mod ssh_directory_host_path;
mod ssh_directory_in_docker_run;
mod ssh_mount_without_known_hosts;
mod world_readable_secret_mount;
mod yaml_walk;

pub(crate) mod names;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Dockerfile,
    /// Docker Compose files.
    Compose,
    /// Kubernetes manifests (every document of a multi-document YAML).
    Kubernetes,
    /// CI files and scripts: shell scripts, Makefiles, GitHub Actions and GitLab CI YAML.
    Ci,
}

/// How a rule checks: Dockerfile rules see the parsed Dockerfile; the others see the file's text.
pub(crate) enum Check {
    Dockerfile(fn(&mut Checker<'_>)),
    File(fn(&mut FileChecker<'_>)),
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
    pub(crate) check: Check,
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
    &secret_in_build_stage::RULE,
    &secret_in_compose_environment::RULE,
    &ssh_directory_bind_mount::RULE,
    &secret_in_kubernetes_env_value::RULE,
    &secret_in_configmap::RULE,
    &committed_kubernetes_secret::RULE,
    &ssh_directory_host_path::RULE,
    &secret_build_arg_in_ci::RULE,
    &ssh_directory_in_docker_run::RULE,
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
        self.df.staged()
    }

    /// Runs the secret rules over `text`, as found in the Dockerfile at `path`.
    pub(crate) fn secrets_in(&mut self, text: &str) -> Vec<(Range<usize>, String)> {
        secrets_in(self.scanner, self.path, text)
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
        let location = LintLocation {
            kind: "dockerfile".into(),
            path: self.path.into(),
            line,
            column,
            end_line,
            end_column,
            key: None,
        };
        self.out.push(finding(
            self.rule,
            severity,
            location,
            message,
            remediation,
            fix,
            secret,
        ));
    }
}

/// Codes silenced by a `# caulk:ignore` or `# caulk:ignore=CK101,CK102` comment on the line
/// before: `None` when there is no such comment, `Some(empty)` for all codes.
fn comment_suppressions(text: &str) -> Vec<(usize, Option<Vec<String>>)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
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

/// What a text-file rule (Compose, Kubernetes, CI) sees, and where it reports. Spans are byte
/// ranges of `text`.
pub struct FileChecker<'a> {
    pub(crate) path: &'a str,
    pub(crate) text: &'a str,
    /// The location kind reported (`compose`, `kubernetes`, `ci`).
    pub(crate) kind: &'static str,
    pub(crate) scanner: &'a mut Scanner,
    rule: &'static RuleInfo,
    out: Vec<LintFinding>,
}

impl FileChecker<'_> {
    /// (1-based line, 1-based column in characters) of a byte offset of `text`.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(self.text, offset)
    }

    /// Runs the secret rules over `value` (a value found in this file): (range in `value`, rule
    /// name).
    pub(crate) fn secrets_in(&mut self, value: &str) -> Vec<(Range<usize>, String)> {
        secrets_in(self.scanner, self.path, value)
    }

    /// Reports a finding at byte range `span` of the file, about `key` (a YAML key, variable or
    /// command) when there is one.
    pub(crate) fn report(
        &mut self,
        span: Range<usize>,
        key: Option<String>,
        message: String,
        remediation: String,
        secret: Option<SecretValue<'_>>,
    ) {
        let (line, column) = self.line_col(span.start);
        let (end_line, end_column) = self.line_col(span.end);
        let location = LintLocation {
            kind: self.kind.into(),
            path: self.path.into(),
            line,
            column,
            end_line,
            end_column,
            key,
        };
        let severity = self.rule.severity;
        self.out.push(finding(
            self.rule,
            severity,
            location,
            message,
            remediation,
            None,
            secret,
        ));
    }
}

/// The secrets caulk's detection rules find in `text` (from the file at `path`): (range in `text`,
/// rule name).
fn secrets_in(scanner: &mut Scanner, path: &str, text: &str) -> Vec<(Range<usize>, String)> {
    let mut matches = Vec::new();
    let ctx = Context {
        path: Some(path),
        binary: false,
    };
    scanner.scan(text.as_bytes(), &ctx, &mut matches);
    let set = scanner.rule_set();
    matches
        .into_iter()
        .map(|m| (m.secret, set.rule(m.rule).name.clone()))
        .collect()
}

/// A finding of `rule` with its region and, when it is about a secret, the secret's fingerprint and
/// redacted preview.
fn finding(
    rule: &RuleInfo,
    severity: Severity,
    location: LintLocation,
    message: String,
    remediation: String,
    fix: Option<FixSafety>,
    secret: Option<SecretValue<'_>>,
) -> LintFinding {
    LintFinding {
        rule_id: rule.code.into(),
        rule_name: rule.name.into(),
        severity,
        message,
        fingerprint: secret
            .as_ref()
            .map(|s| caulk_report::redact::fingerprint(s.bytes)),
        preview: secret.map(|s| caulk_report::redact::preview(s.bytes)),
        location,
        remediation,
        fix,
    }
}

/// Whether an ignore comment's code list (`None`: every rule) covers `f`.
fn covers(codes: &Option<Vec<String>>, f: &LintFinding) -> bool {
    match codes {
        None => true,
        Some(c) => c
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&f.rule_id) || c.eq_ignore_ascii_case(&f.rule_name)),
    }
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Runs the rules of `target` on a text file. `# caulk:ignore[=CODE,...]` on the line before a
/// finding silences it, as in Dockerfiles.
pub fn lint_text_file(path: &str, text: &str, target: Target, scanner: &mut Scanner) -> Linted {
    let kind = match target {
        Target::Dockerfile => "dockerfile",
        Target::Compose => "compose",
        Target::Kubernetes => "kubernetes",
        Target::Ci => "ci",
    };
    let mut all = Vec::new();
    for rule in RULES.iter().copied().filter(|r| r.target == target) {
        let Check::File(check) = rule.check else {
            continue;
        };
        let mut checker = FileChecker {
            path,
            text,
            kind,
            scanner: &mut *scanner,
            rule,
            out: Vec::new(),
        };
        check(&mut checker);
        all.extend(checker.out);
    }
    let ignores = comment_suppressions(text);
    Linted::new(all, |f| {
        ignores
            .iter()
            .any(|(line, codes)| *line == f.location.line && covers(codes, f))
    })
}

/// The result of linting one file.
pub struct Linted {
    pub findings: Vec<LintFinding>,
    /// Findings silenced by `# caulk:ignore` comments.
    pub suppressed: usize,
}

impl Linted {
    /// Drops the findings an ignore comment covers (counting them) and sorts the rest by place.
    fn new(mut all: Vec<LintFinding>, covered: impl Fn(&LintFinding) -> bool) -> Linted {
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
        let Check::Dockerfile(check) = rule.check else {
            continue;
        };
        let mut checker = Checker {
            path,
            df,
            scanner: &mut *scanner,
            context,
            rule,
            out: Vec::new(),
        };
        check(&mut checker);
        all.extend(checker.out);
    }
    // An ignore comment covers the instruction that starts on the next line.
    let ignores = comment_suppressions(&df.source);
    let covered = |f: &LintFinding| {
        let ins_start = df
            .instructions
            .iter()
            .find(|i| i.start_line <= f.location.line && f.location.line <= i.end_line)
            .map_or(f.location.line, |i| i.start_line);
        ignores.iter().any(|(line, codes)| {
            (*line == ins_start || *line == f.location.line) && covers(codes, f)
        })
    };
    Linted::new(all, covered)
}
