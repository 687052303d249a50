//! The `caulk` command: options in, reports out, and the exit-code contract.

mod config;
mod exit_codes;
mod fix;
mod lint;
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
    match cli.command {
        Command::Image(args) => image(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Fix(args) => fix::run(&args),
        Command::Rules(RulesCommand::Check { files }) => check_rules(&files),
        Command::Rules(RulesCommand::List { config }) => {
            let (_, rules) = configured(config.as_deref())?;
            let mut out = io::stdout().lock();
            for r in rules.rules() {
                writeln!(out, "{:<40} {:<9} {}", r.id, r.severity.as_str(), r.name)?;
            }
            writeln!(out, "{} rules", rules.rules().len())?;
            Ok(exit_codes::CLEAN)
        }
        Command::Rules(RulesCommand::Show { id, config }) => {
            let (_, rules) = configured(config.as_deref())?;
            let Some(idx) = rules.rule_index(&id) else {
                eprintln!("caulk: error: no rule `{id}` (see `caulk rules list`)");
                return Ok(exit_codes::ERROR);
            };
            show_rule(&rules, idx)?;
            Ok(exit_codes::CLEAN)
        }
        Command::Rules(RulesCommand::Bench { input, top, config }) => {
            bench(&input, top, config.as_deref())
        }
    }
}

/// The configuration and the rule set it makes.
pub(crate) fn configured(path: Option<&std::path::Path>) -> Result<(config::Loaded, RuleSet)> {
    let loaded = config::load(path).map_err(anyhow::Error::msg)?;
    let rules = loaded
        .rule_set()
        .map_err(anyhow::Error::msg)
        .context("loading rules")?;
    Ok((loaded, rules))
}

fn show_rule(rules: &RuleSet, idx: usize) -> Result<()> {
    let r = rules.rule(idx);
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
    let (pos, neg) = rules.examples(idx);
    // Examples are made-up values written for the rule; they are shown redacted all the same so
    // that no output of caulk ever carries a whole token.
    let redacted = |text: &str| -> String {
        let mut found = Vec::new();
        let mut scanner = rules.scanner();
        scanner.scan(
            text.as_bytes(),
            &caulk_rules::Context {
                path: None,
                binary: false,
            },
            &mut found,
        );
        let secrets: Vec<Vec<u8>> = found
            .iter()
            .map(|m| text.as_bytes()[m.secret.clone()].to_vec())
            .collect();
        caulk_report::redact::redact_all(text, &secrets)
    };
    for (title, list) in [
        ("examples (must match)", pos),
        ("negative examples (must not match)", neg),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "\n{title}:")?;
        for (path, text) in list {
            let shown = redacted(text);
            let one_line = shown.trim_end().replace('\n', "\n      ");
            match path {
                Some(p) if !p.is_empty() => writeln!(out, "  - [{p}] {one_line}")?,
                _ => writeln!(out, "  - {one_line}")?,
            }
        }
    }
    if !r.references.is_empty() {
        writeln!(out, "\nreferences:")?;
        for link in &r.references {
            writeln!(out, "  - {link}")?;
        }
    }
    Ok(())
}

/// `caulk rules bench`: scans an image with per-rule timing and lists the slowest rules.
fn bench(input: &str, top: usize, config: Option<&std::path::Path>) -> Result<i32> {
    let (_, rules) = configured(config)?;
    let profile = std::sync::Arc::new(Mutex::new(Vec::new()));
    let opts = caulk_image::ScanOptions {
        profile: Some(profile.clone()),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let report = match caulk_image::scan_input(input, &rules, &opts, &caulk_image::NoProgress) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("caulk: error: {e}");
            return Ok(exit_codes::ERROR);
        }
    };
    let wall = started.elapsed();
    let timings = profile.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut rows: Vec<(usize, caulk_rules::RuleTiming)> = timings
        .into_iter()
        .enumerate()
        .filter(|(_, t)| t.runs > 0)
        .collect();
    rows.sort_by_key(|(_, t)| std::cmp::Reverse(t.nanos));
    let total: u64 = rows.iter().map(|(_, t)| t.nanos).sum();
    let bytes: u64 = report
        .images
        .iter()
        .flat_map(|i| &i.layers)
        .map(|l| l.uncompressed_size)
        .sum();
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "scanned {:.1} MB in {:.2} s; time in rule regexes (all workers): {:.2} s",
        bytes as f64 / 1e6,
        wall.as_secs_f64(),
        total as f64 / 1e9
    )?;
    writeln!(
        out,
        "{:<40} {:>10} {:>8} {:>9} {:>7}",
        "rule", "ms", "share", "runs", "matches"
    )?;
    for (idx, t) in rows.iter().take(top) {
        writeln!(
            out,
            "{:<40} {:>10.1} {:>7.1}% {:>9} {:>7}",
            rules.rule(*idx).id,
            t.nanos as f64 / 1e6,
            100.0 * t.nanos as f64 / total.max(1) as f64,
            t.runs,
            t.matches
        )?;
    }
    Ok(exit_codes::CLEAN)
}

/// `caulk rules check`: the files are loaded beside the built-in rules (so ids must not clash and
/// overlaps resolve as they will in a scan), then every example is run.
fn check_rules(files: &[std::path::PathBuf]) -> Result<i32> {
    let mut texts = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        texts.push((f.display().to_string(), text));
    }
    let builtin: Vec<(&str, &str)> = caulk_rules::BUILTIN_RULE_FILES
        .iter()
        .copied()
        .filter(|(name, _)| {
            !files
                .iter()
                .any(|f| f.file_name().and_then(|n| n.to_str()) == Some(name))
        })
        .collect();
    let all = builtin
        .into_iter()
        .chain(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())));
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
    println!(
        "{} rules loaded, {} example failures",
        set.rules().len(),
        failures.len()
    );
    Ok(if failures.is_empty() {
        exit_codes::CLEAN
    } else {
        exit_codes::FINDINGS
    })
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

fn image(args: &ImageArgs) -> Result<i32> {
    let (mut loaded, configured_rules) = match configured(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("caulk: error: {e:#}");
            return Ok(exit_codes::ERROR);
        }
    };
    let rules = &configured_rules;
    if let Some(c) = args.min_confidence {
        loaded.filters.min_confidence = c;
    }
    if let Some(b) = &args.baseline {
        let bytes =
            std::fs::read(b).with_context(|| format!("reading baseline {}", b.display()))?;
        match caulk_report::filter::Baseline::from_json(&bytes) {
            Ok(base) => loaded.filters.baseline = Some(base),
            Err(e) => {
                eprintln!("caulk: error: baseline {}: {e}", b.display());
                return Ok(exit_codes::ERROR);
            }
        }
    }
    let fail_on = args
        .fail_on
        .or(loaded.fail_on)
        .unwrap_or(caulk_rules::Severity::Low);
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
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("caulk: error: {e}");
            return Ok(exit_codes::ERROR);
        }
    };
    let tags = |id: &str| {
        rules
            .rule_index(id)
            .map(|i| rules.rule(i).tags.clone())
            .unwrap_or_default()
    };
    loaded.filters.apply(&mut report, &tags);
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
    let failing = report.findings.iter().any(|f| f.severity >= fail_on);
    Ok(if failing {
        exit_codes::FINDINGS
    } else {
        exit_codes::CLEAN
    })
}
