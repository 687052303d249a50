//! `caulk fix`: plans the fixes for each Dockerfile, prints them as a diff or writes them, and
//! prints how to build afterwards.

use anyhow::{Context as _, Result};
use caulk_lint::discover::{discover, DirContext, FileKind};
use caulk_lint::fix::{apply, plan, unified_diff, Edit, FileRef};
use caulk_report::lint::FixSafety;
use std::io::Write;
use std::path::PathBuf;

use crate::exit_codes;
use crate::opts::FixArgs;

pub fn run(args: &FixArgs) -> Result<i32> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let files = discover(&paths).context("finding Dockerfiles")?;
    let (_, rules) = crate::configured(None)?;
    let mut scanner = rules.scanner();
    let mut out = std::io::stdout().lock();
    let (mut applied, mut held_back) = (0usize, 0usize);
    for (path, _) in files.iter().filter(|(_, k)| *k == FileKind::Dockerfile) {
        let shown = path
            .strip_prefix("./")
            .unwrap_or(path)
            .display()
            .to_string();
        let source = std::fs::read_to_string(path).with_context(|| format!("reading {shown}"))?;
        let df = match caulk_lint::dockerfile::parse(&source) {
            Ok(df) => df,
            Err(e) => {
                eprintln!("caulk: {shown}: not a valid Dockerfile, not fixed: {e}");
                continue;
            }
        };
        let context = DirContext::for_dockerfile(path).ok();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let ignore_path = caulk_lint::dockerignore::find_ignore_file(dir, Some(path))
            .unwrap_or_else(|| dir.join(".dockerignore"));
        let ignore_text = std::fs::read_to_string(&ignore_path).unwrap_or_default();
        let mut is_secret = |text: &str| {
            let mut found = Vec::new();
            scanner.scan(
                text.as_bytes(),
                &caulk_rules::Context {
                    path: Some(&shown),
                    binary: false,
                },
                &mut found,
            );
            !found.is_empty()
        };
        let fixes = plan(
            &df,
            &ignore_text,
            context
                .as_ref()
                .map(|c| c as &dyn caulk_lint::rules::BuildContext),
            &mut is_secret,
        );
        let (chosen, skipped): (Vec<_>, Vec<_>) = fixes
            .iter()
            .partition(|f| f.safety == FixSafety::Safe || args.unsafe_fixes);
        held_back += skipped.len();
        for f in &skipped {
            writeln!(
                out,
                "{shown}: {} (unsafe, not applied: use --unsafe): {}",
                f.rule_id, f.description
            )?;
        }
        if chosen.is_empty() {
            continue;
        }
        let edits = |which: FileRef| -> Vec<&Edit> {
            chosen
                .iter()
                .flat_map(|f| f.edits.iter())
                .filter(|e| e.file == which)
                .collect()
        };
        let new_source = apply(&source, &edits(FileRef::Dockerfile));
        let ignore_edits = edits(FileRef::Dockerignore);
        let new_ignore = apply(&ignore_text, &ignore_edits);
        let ignore_shown = ignore_path
            .strip_prefix("./")
            .unwrap_or(&ignore_path)
            .display()
            .to_string();
        if args.write {
            if new_source != source {
                std::fs::write(path, &new_source).with_context(|| format!("writing {shown}"))?;
            }
            if new_ignore != ignore_text {
                std::fs::write(&ignore_path, &new_ignore)
                    .with_context(|| format!("writing {ignore_shown}"))?;
            }
        } else {
            write!(out, "{}", unified_diff(&shown, &source, &new_source))?;
            write!(
                out,
                "{}",
                unified_diff(&ignore_shown, &ignore_text, &new_ignore)
            )?;
        }
        for f in &chosen {
            applied += 1;
            let safety = if f.safety == FixSafety::Safe {
                "safe"
            } else {
                "unsafe"
            };
            writeln!(
                out,
                "{shown}: {} ({safety}){}: {}",
                f.rule_id,
                if args.write { " applied" } else { "" },
                f.description
            )?;
            for i in &f.instructions {
                writeln!(out, "  build: {i}")?;
            }
            for n in &f.notes {
                writeln!(out, "  note: {n}")?;
            }
        }
    }
    writeln!(
        out,
        "{applied} fix{} {}{}",
        if applied == 1 { "" } else { "es" },
        if args.write {
            "applied"
        } else {
            "shown (use --write to apply)"
        },
        if held_back > 0 {
            format!(
                "; {held_back} unsafe fix{} held back (--unsafe)",
                if held_back == 1 { "" } else { "es" }
            )
        } else {
            String::new()
        }
    )?;
    Ok(exit_codes::CLEAN)
}
