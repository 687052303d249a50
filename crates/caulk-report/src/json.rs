//! The JSON reporter: the [`Report`] as documented in docs/json-report.md.

use crate::model::Report;
use std::io::{self, Write};

pub(crate) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
