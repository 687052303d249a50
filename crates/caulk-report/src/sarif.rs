//! The SARIF 2.1.0 reporter, for GitHub code scanning and other SARIF consumers.

use crate::model::{Finding, LocationKind, Report};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};

pub(crate) fn level(sev: caulk_rules::Severity) -> &'static str {
    use caulk_rules::Severity::*;
    match sev {
        Critical | High => "error",
        Medium => "warning",
        Low | Info => "note",
    }
}

pub(crate) fn security_severity(sev: caulk_rules::Severity) -> &'static str {
    use caulk_rules::Severity::*;
    match sev {
        Critical => "9.5",
        High => "8.0",
        Medium => "5.5",
        Low => "3.0",
        Info => "1.0",
    }
}

fn result(f: &Finding, rule_index: usize, target: &str) -> Value {
    let loc = &f.location;
    let where_ = crate::text::describe(loc);
    let physical = match loc.kind {
        LocationKind::Layer => {
            let mut region = serde_json::Map::new();
            if let Some(line) = loc.line {
                region.insert("startLine".into(), json!(line));
            }
            let mut p =
                json!({ "artifactLocation": { "uri": loc.path.clone().unwrap_or_default() } });
            if !region.is_empty() {
                p["region"] = Value::Object(region);
            }
            p
        }
        _ => json!({ "artifactLocation": { "uri": target } }),
    };
    json!({
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": format!("{} ({}) in {}: {}. Fix: {}", f.rule_name, f.preview, f.image, where_, f.remediation) },
        "locations": [{
            "physicalLocation": physical,
            "logicalLocations": [{ "fullyQualifiedName": format!("{}/{}", f.image, where_), "kind": loc.kind.as_str() }]
        }],
        "partialFingerprints": { "caulkSecret/v1": f.fingerprint },
        "properties": { "image": f.image, "location": loc }
    })
}

pub(crate) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut rules: BTreeMap<&str, (usize, &Finding)> = BTreeMap::new();
    for f in &report.findings {
        let n = rules.len();
        rules.entry(f.rule_id.as_str()).or_insert((n, f));
    }
    let mut rule_list: Vec<(usize, &Finding)> = rules.values().copied().collect();
    rule_list.sort_by_key(|(i, _)| *i);
    let driver_rules: Vec<Value> = rule_list
        .iter()
        .map(|(_, f)| {
            json!({
                "id": f.rule_id,
                "name": f.rule_id,
                "shortDescription": { "text": f.rule_name },
                "defaultConfiguration": { "level": level(f.severity) },
                "properties": { "security-severity": security_severity(f.severity), "tags": ["security", "secret"] }
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, rules[f.rule_id.as_str()].0, &report.target))
        .collect();
    let notifications: Vec<Value> = report
        .skipped
        .iter()
        .map(|s| json!({ "level": "warning", "message": { "text": format!("not scanned: {} {}", s.path.clone().unwrap_or_default(), s.reason) } }))
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "caulk",
                "version": report.tool.version,
                "rules": driver_rules
            }},
            "invocations": [{ "executionSuccessful": true, "toolExecutionNotifications": notifications }],
            "results": results
        }]
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
