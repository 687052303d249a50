//! The report of `caulk lint`: findings in Dockerfiles, Compose, Kubernetes and CI files, and the
//! text (code frames), JSON and SARIF writers for it.

use caulk_rules::Severity;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::Format;

/// Where a lint finding is: a file and a region of it (1-based lines and columns, in characters).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LintLocation {
    /// `dockerfile`, `dockerignore`, `compose`, `kubernetes`, `ci`, `build-context`.
    pub kind: String,
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// The instruction, YAML key or variable concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// How safe an automatic fix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FixSafety {
    /// Keeps the build working; applied by `caulk fix --write`.
    Safe,
    /// Changes how the build must be run (new `--secret` flags) or what the image contains;
    /// applied only with `--unsafe`.
    Unsafe,
}

/// One problem found by a lint rule.
#[derive(Debug, Clone, Serialize)]
pub struct LintFinding {
    /// The rule's code (`CK101`).
    pub rule_id: String,
    /// The rule's name (`secret-in-env`).
    pub rule_name: String,
    pub severity: Severity,
    /// What is wrong here, specifically.
    pub message: String,
    /// `sha256:` + hex of the secret, when a secret value is involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A redacted preview of that secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    pub location: LintLocation,
    /// The concrete fix.
    pub remediation: String,
    /// Whether `caulk fix` can apply a fix, and how safe it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixSafety>,
}

/// A file that could not be linted.
#[derive(Debug, Clone, Serialize)]
pub struct LintSkipped {
    pub path: String,
    pub reason: String,
}

/// Everything `caulk lint` found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub schema_version: u32,
    pub tool: crate::Tool,
    /// The files linted, by kind.
    pub files: BTreeMap<String, usize>,
    pub findings: Vec<LintFinding>,
    pub skipped: Vec<LintSkipped>,
    pub summary: LintSummary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LintSummary {
    pub findings: usize,
    pub by_severity: BTreeMap<String, usize>,
    /// Findings silenced by `# caulk:ignore` comments or the config file's ignores.
    pub suppressed: usize,
}

impl LintReport {
    pub fn new(findings: Vec<LintFinding>, files: BTreeMap<String, usize>) -> LintReport {
        let mut summary = LintSummary {
            findings: findings.len(),
            ..Default::default()
        };
        for f in &findings {
            *summary
                .by_severity
                .entry(f.severity.as_str().to_string())
                .or_default() += 1;
        }
        LintReport {
            schema_version: 1,
            tool: crate::Tool {
                name: "caulk".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            files,
            findings,
            skipped: Vec::new(),
            summary,
        }
    }
}

/// Writes a lint report. `sources` maps each path to its text, for code frames.
pub fn write_lint(
    report: &LintReport,
    format: Format,
    sources: &BTreeMap<String, String>,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text(report, sources, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Sarif => sarif(report, out),
    }
}

/// The lines of a finding's region with a caret underline, like rustc and ruff.
pub fn code_frame(source: &str, loc: &LintLocation) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let width = loc.end_line.to_string().len();
    let mut out = String::new();
    let last = loc.end_line.min(loc.line + 5);
    for n in loc.line..=last {
        let Some(text) = lines.get(n - 1) else { break };
        let text = text.trim_end_matches('\r');
        out.push_str(&format!("{n:>width$} | {text}\n"));
        let chars = text.chars().count();
        let from = if n == loc.line { loc.column } else { 1 };
        let to = if n == loc.end_line {
            loc.end_column
        } else {
            chars + 1
        };
        if to > from {
            out.push_str(&format!(
                "{:>width$} | {}{}\n",
                "",
                " ".repeat(from - 1),
                "^".repeat(to - from)
            ));
        }
    }
    if loc.end_line > last {
        out.push_str(&format!("{:>width$} | ...\n", ""));
    }
    out
}

/// Replaces the characters of `text` from (line, column) to (end_line, end_column) after the
/// first four with `*`, keeping every other column where it was.
pub fn mask_region(text: &str, loc: &LintLocation) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut line, mut col) = (1usize, 1usize);
    let mut kept = 0;
    for c in text.chars() {
        let inside =
            (line, col) >= (loc.line, loc.column) && (line, col) < (loc.end_line, loc.end_column);
        if inside && c != '\n' && c != '\r' {
            kept += 1;
            out.push(if kept <= 4 { c } else { '*' });
        } else {
            out.push(c);
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    out
}

fn text(
    report: &LintReport,
    sources: &BTreeMap<String, String>,
    out: &mut dyn Write,
) -> io::Result<()> {
    // Code frames never show a whole secret: the regions of findings about a secret are masked.
    let mut masked: BTreeMap<&str, String> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.fingerprint.is_some()) {
        let l = &f.location;
        if let Some(src) = masked
            .get(l.path.as_str())
            .cloned()
            .or_else(|| sources.get(&l.path).cloned())
        {
            masked.insert(l.path.as_str(), mask_region(&src, l));
        }
    }
    for f in &report.findings {
        let l = &f.location;
        writeln!(
            out,
            "{}:{}:{}: {} {} [{}] {}",
            l.path,
            l.line,
            l.column,
            f.rule_id,
            f.severity.as_str(),
            f.rule_name,
            f.message
        )?;
        if let Some(src) = masked.get(l.path.as_str()).or_else(|| sources.get(&l.path)) {
            write!(out, "{}", code_frame(src, l))?;
        }
        let fix = match f.fix {
            Some(FixSafety::Safe) => " (caulk fix can apply this)",
            Some(FixSafety::Unsafe) => " (caulk fix --unsafe can apply this)",
            None => "",
        };
        writeln!(out, "  fix: {}{fix}\n", f.remediation)?;
    }
    for s in &report.skipped {
        writeln!(out, "skipped {}: {}", s.path, s.reason)?;
    }
    let files: usize = report.files.values().sum();
    let by: Vec<String> = report
        .summary
        .by_severity
        .iter()
        .rev()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let mut summary = format!(
        "{} finding{} in {files} file{}",
        report.summary.findings,
        if report.summary.findings == 1 {
            ""
        } else {
            "s"
        },
        if files == 1 { "" } else { "s" }
    );
    if !by.is_empty() {
        summary.push_str(&format!(" ({})", by.join(", ")));
    }
    if report.summary.suppressed > 0 {
        summary.push_str(&format!("; {} suppressed", report.summary.suppressed));
    }
    writeln!(out, "{summary}")
}

fn sarif(report: &LintReport, out: &mut dyn Write) -> io::Result<()> {
    let mut rules: BTreeMap<&str, &LintFinding> = BTreeMap::new();
    for f in &report.findings {
        rules.entry(f.rule_id.as_str()).or_insert(f);
    }
    let ids: Vec<&str> = rules.keys().copied().collect();
    let driver_rules: Vec<Value> = rules
        .values()
        .map(|f| {
            json!({
                "id": f.rule_id,
                "name": f.rule_name,
                "shortDescription": { "text": f.rule_name },
                "helpUri": format!("https://github.com/caulk-dev/caulk/blob/main/docs/rules/{}.md", f.rule_id),
                "defaultConfiguration": { "level": crate::sarif_level(f.severity) },
                "properties": { "security-severity": crate::sarif_security_severity(f.severity), "tags": ["security", "secret"] }
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let l = &f.location;
            let mut r = json!({
                "ruleId": f.rule_id,
                "ruleIndex": ids.iter().position(|i| *i == f.rule_id).unwrap_or(0),
                "level": crate::sarif_level(f.severity),
                "message": { "text": format!("{} Fix: {}", f.message, f.remediation) },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": l.path },
                    "region": { "startLine": l.line, "startColumn": l.column, "endLine": l.end_line, "endColumn": l.end_column }
                }}],
            });
            if let Some(fp) = &f.fingerprint {
                r["partialFingerprints"] = json!({ "caulkSecret/v1": fp });
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "caulk", "version": env!("CARGO_PKG_VERSION"), "informationUri": "https://github.com/caulk-dev/caulk", "rules": driver_rules } },
            "results": results
        }]
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_columns_and_hides_all_but_four() {
        let loc = LintLocation {
            kind: "dockerfile".into(),
            path: "D".into(),
            line: 2,
            column: 11,
            end_line: 2,
            end_column: 21,
            key: None,
        };
        assert_eq!(
            mask_region("FROM x\nENV TOKEN=abcdefghij rest\n", &loc),
            "FROM x\nENV TOKEN=abcd****** rest\n"
        );
    }

    #[test]
    fn code_frame_underlines_the_span() {
        let src = "FROM x\nENV TOKEN=abc\n";
        let loc = LintLocation {
            kind: "dockerfile".into(),
            path: "Dockerfile".into(),
            line: 2,
            column: 5,
            end_line: 2,
            end_column: 10,
            key: None,
        };
        assert_eq!(code_frame(src, &loc), "2 | ENV TOKEN=abc\n  |     ^^^^^\n");
    }
}
