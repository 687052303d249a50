//! caulk's finding model and the reporters that write it.
//! Sources and scanners produce a [`Report`]; each reporter writes one format.

pub mod confidence;
pub mod filter;
mod json;
pub mod lint;
pub mod model;
pub mod redact;
pub mod remediation;
mod sarif;
mod text;

pub use model::*;

use std::io::{self, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            other => Err(format!(
                "unknown format `{other}` (expected text, json or sarif)"
            )),
        }
    }
}

/// Writes `report` in `format`.
pub fn write_report(report: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Text => text::write(report, out),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
    }
}

/// SARIF `level` for a severity.
pub(crate) fn sarif_level(sev: caulk_rules::Severity) -> &'static str {
    sarif::level(sev)
}

/// SARIF `security-severity` (GitHub's 0-10 scale) for a severity.
pub(crate) fn sarif_security_severity(sev: caulk_rules::Severity) -> &'static str {
    sarif::security_severity(sev)
}
