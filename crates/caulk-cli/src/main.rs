//! The `caulk` command: options in, reports out, and the exit-code contract.

mod exit_codes;
mod opts;

use anyhow::{Context as _, Result};
use caulk_image::Progress;
use caulk_rules::RuleSet;
use clap::Parser;
use opts::{Cli, Command, ImageArgs, RulesCommand};
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                exit_codes::CLEAN
            } else {
                eprintln!("caulk: error: {e:#}");
                exit_codes::ERROR
            }
        }
    };
    std::process::exit(code);
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<i32> {
    if let Command::Rules(RulesCommand::Check { files }) = &cli.command {
        return check_rules(files);
    }
    let rules = RuleSet::builtin().context("loading the built-in rules")?;
    match cli.command {
        Command::Image(args) => image(&args, &rules),
        Command::Rules(RulesCommand::List) => {
            let mut out = io::stdout().lock();
            for r in rules.rules() {
                writeln!(out, "{:<36} {:<9} {}", r.id, r.severity.as_str(), r.name)?;
            }
            writeln!(out, "{} rules", rules.rules().len())?;
            Ok(exit_codes::CLEAN)
        }
        Command::Rules(RulesCommand::Check { .. }) => unreachable!("handled above"),
        Command::Rules(RulesCommand::Show { id }) => {
            let Some(r) = rules.rules().iter().find(|r| r.id == id) else {
                eprintln!("caulk: error: no rule `{id}` (see `caulk rules list`)");
                return Ok(exit_codes::ERROR);
            };
            let mut out = io::stdout().lock();
            writeln!(
                out,
                "{}\n  name:     {}\n  severity: {}\n  tags:     {}",
                r.id,
                r.name,
                r.severity,
                r.tags.join(", ")
            )?;
            writeln!(out, "\n{}", r.description)?;
            for link in &r.references {
                writeln!(out, "  see: {link}")?;
            }
            Ok(exit_codes::CLEAN)
        }
    }
}

/// `caulk rules check`: the files are loaded beside the built-in rules (so ids must not clash and
/// overlaps resolve as they will in a scan), then every example is run.
fn check_rules(files: &[std::path::PathBuf]) -> Result<i32> {
    let mut texts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        texts.push((f.display().to_string(), text));
    }
    let builtin: Vec<(&str, &str)> = caulk_rules::BUILTIN_RULE_FILES
        .iter()
        .copied()
        .filter(|(name, _)| !files.iter().any(|f| f.file_name().and_then(|n| n.to_str()) == Some(name)))
        .collect();
    let all = builtin.into_iter().chain(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let set = match RuleSet::from_files(all) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("caulk: error: {e}");
            return Ok(exit_codes::ERROR);
        }
    };
    let failures = set.example_failures();
    for f in &failures {
        println!("{f}");
    }
    println!("{} rules loaded, {} example failures", set.rules().len(), failures.len());
    Ok(if failures.is_empty() { exit_codes::CLEAN } else { exit_codes::FINDINGS })
}

/// Layer progress on standard error, only when it is a terminal.
struct TermProgress {
    line: Mutex<bool>,
}

impl Progress for TermProgress {
    fn layer_done(&self, done: usize, total: usize, bytes: u64) {
        let mut shown = self.line.lock().unwrap_or_else(|e| e.into_inner());
        eprint!(
            "\rcaulk: scanned layer {done}/{total} ({:.1} MB)   ",
            bytes as f64 / 1e6
        );
        *shown = true;
    }
}

impl TermProgress {
    fn clear(&self) {
        if *self.line.lock().unwrap_or_else(|e| e.into_inner()) {
            eprint!("\r{:60}\r", "");
        }
    }
}

fn image(args: &ImageArgs, rules: &RuleSet) -> Result<i32> {
    let opts = match args.scan_options() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("caulk: error: {msg}");
            return Ok(exit_codes::ERROR);
        }
    };
    let empty;
    let rules = if args.decompress_only {
        empty = RuleSet::from_yaml("empty", "rules: []").context("empty rule set")?;
        &empty
    } else {
        rules
    };
    let progress = TermProgress {
        line: Mutex::new(false),
    };
    let show_progress = !args.quiet && io::stderr().is_terminal();
    let result = if show_progress {
        caulk_image::scan_input(&args.input, rules, &opts, &progress)
    } else {
        caulk_image::scan_input(&args.input, rules, &opts, &caulk_image::NoProgress)
    };
    progress.clear();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("caulk: error: {e}");
            return Ok(exit_codes::ERROR);
        }
    };
    match &args.output {
        Some(path) => {
            let mut f = io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            caulk_report::write_report(&report, args.format, &mut f)?;
            f.flush()?;
        }
        None => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            caulk_report::write_report(&report, args.format, &mut out)?;
            out.flush()?;
        }
    }
    let failing = report.findings.iter().any(|f| f.severity >= args.fail_on);
    Ok(if failing {
        exit_codes::FINDINGS
    } else {
        exit_codes::CLEAN
    })
}
