//! The text reporter: grouped by image, then config, history and layer; each distinct secret once,
//! with its other locations listed under it.

use crate::model::{Finding, Location, LocationKind, Report};
use std::collections::HashMap;
use std::io::{self, Write};

const WIDTH: usize = 100;

#[derive(PartialEq, Eq, Clone, Copy)]
enum Section {
    Config,
    History,
    Layer(usize),
}

fn section(loc: &Location) -> Section {
    match loc.kind {
        LocationKind::History => Section::History,
        LocationKind::Layer => Section::Layer(loc.layer_index.unwrap_or(0)),
        _ => Section::Config,
    }
}

/// A one-line description of a location.
pub(crate) fn describe(loc: &Location) -> String {
    let key = loc.key.as_deref().unwrap_or("");
    match loc.kind {
        LocationKind::ConfigEnv => format!("config ENV {key}"),
        LocationKind::ConfigLabel => format!("config LABEL {key}"),
        LocationKind::ConfigCmd => "config CMD".to_string(),
        LocationKind::ConfigEntrypoint => "config ENTRYPOINT".to_string(),
        LocationKind::ConfigOther => format!("config {key}"),
        LocationKind::Attestation => format!(
            "attestation {} {key}",
            loc.layer_digest
                .as_deref()
                .map(|d| &d[..d.len().min(19)])
                .unwrap_or("")
        ),
        LocationKind::History => {
            let mut s = format!("history #{}", loc.history_index.unwrap_or(0));
            if !key.is_empty() {
                s.push_str(&format!(" build arg {key}"));
            }
            if let Some(i) = &loc.instruction {
                s.push_str(&format!(": {}", truncate(i, 70)));
            }
            s
        }
        LocationKind::Layer => {
            let mut s = format!(
                "layer {} /{}",
                loc.layer_index.unwrap_or(0),
                loc.path.as_deref().unwrap_or("")
            );
            if let Some(line) = loc.line {
                s.push_str(&format!(":{line}"));
            }
            s.push_str(&format!(" ({})", visibility(loc)));
            s
        }
    }
}

fn visibility(loc: &Location) -> String {
    match (loc.visible, loc.shadow, loc.shadowed_by_layer) {
        (Some(true), _, _) => "visible in the final filesystem".to_string(),
        (Some(false), Some(shadow), Some(by)) => {
            format!(
                "{} by layer {by}, still extractable from layer {}",
                shadow.verb(),
                loc.layer_index.unwrap_or(0)
            )
        }
        _ => "visibility unknown".to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Words for wrapping: a `code span` stays on one line so commands can be copied.
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for w in text.split_whitespace() {
        if open {
            let last = out.last_mut().expect("an open span has a start");
            last.push(' ');
            last.push_str(w);
        } else {
            out.push(w.to_string());
        }
        if w.matches('`').count() % 2 == 1 {
            open = !open;
        }
    }
    out
}

fn wrap(text: &str, indent: &str, first: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(first);
    for word in words(text) {
        if line.len() + word.len() + 1 > WIDTH && line.trim().len() > first.trim().len() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
        }
        line.push_str(&word);
        line.push(' ');
    }
    out.push_str(line.trim_end());
    out
}

pub(crate) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "caulk image scan of {}", report.target)?;
    for image in &report.images {
        writeln!(out)?;
        writeln!(
            out,
            "{}  {}  {} layers  config {}",
            image.name,
            image.platform.as_deref().unwrap_or("unknown platform"),
            image.layers.len(),
            short_digest(&image.config_digest)
        )?;
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.image == image.name)
            .collect();
        if findings.is_empty() {
            writeln!(out, "  no secrets found")?;
            continue;
        }
        // Each distinct secret once, at its first location; the rest listed under it.
        let mut order: Vec<(&str, &str)> = Vec::new();
        let mut groups: HashMap<(&str, &str), Vec<&Finding>> = HashMap::new();
        for f in &findings {
            let key = (f.fingerprint.as_str(), f.rule_id.as_str());
            groups.entry(key).or_insert_with(|| {
                order.push(key);
                Vec::new()
            });
            groups.get_mut(&key).expect("inserted").push(f);
        }
        let mut current: Option<Section> = None;
        let mut last_fix: Option<&str> = None;
        for key in order {
            let group = &groups[&key];
            let first = group[0];
            let sec = section(&first.location);
            if current != Some(sec) {
                current = Some(sec);
                last_fix = None;
                match sec {
                    Section::Config => writeln!(out, "  image config")?,
                    Section::History => writeln!(out, "  history")?,
                    Section::Layer(i) => {
                        let layer = image.layers.get(i);
                        writeln!(
                            out,
                            "  layer {i}  {}  {}",
                            layer.map(|l| short_digest(&l.digest)).unwrap_or_default(),
                            layer
                                .and_then(|l| l.instruction.as_deref())
                                .map(|s| truncate(s, 70))
                                .unwrap_or_else(|| "(instruction unknown)".into())
                        )?;
                    }
                }
            }
            let conf = match first.confidence {
                crate::Confidence::High => String::new(),
                c => format!("  ({} confidence)", c.as_str()),
            };
            writeln!(
                out,
                "    {:<8} {}  {}{conf}",
                first.severity.as_str().to_uppercase(),
                first.rule_id,
                first.rule_name
            )?;
            writeln!(out, "      at:    {}", describe(&first.location))?;
            writeln!(
                out,
                "      value: {}",
                first.secret.as_deref().unwrap_or(&first.preview)
            )?;
            for other in &group[1..] {
                writeln!(out, "      also:  {}", describe(&other.location))?;
            }
            if last_fix == Some(first.remediation.as_str()) {
                writeln!(out, "      fix:   as above")?;
            } else {
                writeln!(
                    out,
                    "{}",
                    wrap(&first.remediation, "             ", "      fix:   ")
                )?;
                last_fix = Some(&first.remediation);
            }
        }
    }
    writeln!(out)?;
    if report.findings.is_empty() {
        writeln!(out, "No secrets found.")?;
    } else {
        let sev: Vec<String> = ["critical", "high", "medium", "low", "info"]
            .iter()
            .filter_map(|s| {
                report
                    .summary
                    .by_severity
                    .get(*s)
                    .map(|n| format!("{n} {s}"))
            })
            .collect();
        writeln!(
            out,
            "Found {} secret{} in {} location{} ({}).",
            report.summary.secrets,
            if report.summary.secrets == 1 { "" } else { "s" },
            report.summary.locations,
            if report.summary.locations == 1 {
                ""
            } else {
                "s"
            },
            sev.join(", ")
        )?;
    }
    let sup = &report.summary.suppressed;
    if !sup.is_empty() {
        let mut parts = Vec::new();
        for (key, what) in [
            (
                "confidence",
                "below the confidence threshold (--min-confidence low shows them)",
            ),
            ("allowlist", "allowlisted"),
            ("baseline", "already in the baseline"),
            ("disabled", "from disabled rules"),
        ] {
            if let Some(n) = sup.get(key) {
                parts.push(format!("{n} {what}"));
            }
        }
        writeln!(out, "Not shown: {}.", parts.join(", "))?;
    }
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    if !report.skipped.is_empty() {
        writeln!(out, "Not scanned ({}):", report.skipped.len())?;
        for s in &report.skipped {
            let mut place = Vec::new();
            if let Some(img) = &s.image {
                place.push(img.clone());
            }
            if let Some(l) = s.layer_index {
                place.push(format!("layer {l}"));
            }
            if let Some(p) = &s.path {
                place.push(format!("/{p}"));
            }
            writeln!(out, "  {}: {}", place.join(" "), s.reason)?;
        }
    }
    Ok(())
}

pub(crate) fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", &hex[..hex.len().min(12)]),
        None => d.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_are_not_broken() {
        let text = "Use `RUN --mount=type=secret,id=npm-token,env=NPM_TOKEN npm ci` and then build with `docker build --secret id=npm-token,env=NPM_TOKEN .` and rotate the token now.";
        let wrapped = wrap(text, "  ", "fix: ");
        for line in wrapped.lines() {
            assert_eq!(line.matches('`').count() % 2, 0, "split span in {line:?}");
        }
        let rewrapped: Vec<&str> = wrapped.split_whitespace().skip(1).collect();
        assert_eq!(rewrapped, text.split_whitespace().collect::<Vec<_>>());
    }
}
