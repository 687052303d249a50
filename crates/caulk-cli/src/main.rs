//! The `caulk` command: options in, reports out, and the exit-code contract.

mod config;
mod exit_codes;
mod fix;
mod fleet;
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
        Command::Cache(c) => cache(c),
        Command::Registry(args) => fleet::run(&args),
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
        let of = if total > 0 {
            format!("/{total}")
        } else {
            String::new()
        };
        eprint!(
            "\rcaulk: scanned layer {done}{of} ({:.1} MB)   ",
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

fn cache(c: opts::CacheCommand) -> Result<i32> {
    let (dir, json) = match &c {
        opts::CacheCommand::Info { cache_dir, format } => (cache_dir.clone(), format == "json"),
        opts::CacheCommand::Clean { cache_dir } => (cache_dir.clone(), false),
    };
    let Some(dir) = dir.or_else(caulk_image::cache::default_dir) else {
        eprintln!("caulk: error: no cache directory: set --cache-dir, CAULK_CACHE_DIR or HOME");
        return Ok(exit_codes::ERROR);
    };
    let mut out = io::stdout().lock();
    match c {
        opts::CacheCommand::Info { .. } => {
            let info = caulk_image::cache::info(&dir)
                .with_context(|| format!("reading the cache {}", dir.display()))?;
            if json {
                serde_json::to_writer_pretty(&mut out, &info)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{}: {} layer{}, {} bytes ({} rule set/limit key{})",
                    dir.display(),
                    info.entries,
                    if info.entries == 1 { "" } else { "s" },
                    info.bytes,
                    info.keys,
                    if info.keys == 1 { "" } else { "s" }
                )?;
            }
        }
        opts::CacheCommand::Clean { .. } => {
            let was = caulk_image::cache::clean(&dir)
                .with_context(|| format!("cleaning the cache {}", dir.display()))?;
            writeln!(
                out,
                "{}: removed {} layer{} ({} bytes)",
                dir.display(),
                was.entries,
                if was.entries == 1 { "" } else { "s" },
                was.bytes
            )?;
        }
    }
    Ok(exit_codes::CLEAN)
}

/// A path is read as an archive or layout; `-` is an archive on standard input; anything else is
/// an image reference, streamed from the local Docker or Podman API, else from its registry.
fn scan_target(
    args: &ImageArgs,
    rules: &RuleSet,
    opts: &caulk_image::ScanOptions,
    progress: &dyn caulk_image::Progress,
) -> Result<caulk_report::Report, caulk_image::ImageError> {
    use caulk_image::{daemon, registry, ImageError};
    let input = args.input.as_str();
    if input == "-" {
        // `docker save app | caulk image -`
        return caulk_image::scan_stream(io::stdin(), "standard input", rules, opts, progress);
    }
    if std::path::Path::new(input).exists() || !looks_like_reference(input) {
        return caulk_image::scan_input(input, rules, opts, progress);
    }
    let mut tried: Vec<String> = Vec::new();
    for src in &args.image_src {
        match src.as_str() {
            "daemon" => {
                if let Some(host) = daemon::unsupported_host() {
                    tried.push(format!(
                        "{host} is not a unix:// socket (only local sockets are supported)"
                    ));
                    continue;
                }
                let Some(d) = daemon::Daemon::find() else {
                    let sockets: Vec<String> = daemon::candidate_sockets()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    tried.push(format!(
                        "no Docker or Podman API answered (tried {})",
                        sockets.join(", ")
                    ));
                    continue;
                };
                let socket = d.socket.display().to_string();
                let io = |e: std::io::Error| {
                    ImageError::invalid(input, format!("the API at {socket}: {e}"))
                };
                if !d.has_image(input).map_err(io)? {
                    tried.push(format!("the API at {socket} has no such image"));
                    continue;
                }
                let body = d.save(input).map_err(io)?;
                return caulk_image::scan_stream(body, input, rules, opts, progress);
            }
            "registry" => {
                let reference =
                    registry::Reference::parse(input).map_err(|e| ImageError::invalid(input, e))?;
                let ropts = args
                    .registry
                    .options()
                    .map_err(|e| ImageError::invalid(input, e))?;
                // Say what the daemon said too: the user may have meant a local image.
                let not_local = |e: ImageError| {
                    if tried.is_empty() {
                        e
                    } else {
                        ImageError::invalid(
                            input,
                            format!("{}; then from the registry: {e}", tried.join("; ")),
                        )
                    }
                };
                let store = registry::RegistryStore::open(&reference, &ropts).map_err(not_local)?;
                return caulk_image::scan_store(&store, rules, opts, progress);
            }
            other => {
                return Err(ImageError::invalid(
                    input,
                    format!("--image-src `{other}`: expected daemon or registry"),
                ))
            }
        }
    }
    Err(ImageError::invalid(
        input,
        format!("no such file; {}", tried.join("; ")),
    ))
}

/// `nginx:1.27`, `ghcr.io/org/app@sha256:…`, `localhost/app`: no spaces, not a relative path,
/// not an archive's file name.
fn looks_like_reference(s: &str) -> bool {
    let archive = [".tar", ".tgz", ".gz", ".zst", ".tar.gz", ".tar.zst", ".oci"]
        .iter()
        .any(|ext| s.ends_with(ext));
    !s.is_empty()
        && !archive
        && !s.starts_with(['.', '/', '~'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:@._-".contains(&b))
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
    let mut opts = match args.scan_options() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("caulk: error: {msg}");
            return Ok(exit_codes::ERROR);
        }
    };
    let cache_dir = args
        .cache_dir
        .clone()
        .or_else(caulk_image::cache::default_dir);
    if let (false, false, Some(dir)) = (args.no_cache, args.decompress_only, &cache_dir) {
        opts.cache = Some(std::sync::Arc::new(caulk_image::cache::LayerCache::new(
            dir,
            rules,
            &opts.limits,
            &loaded.filters,
        )));
    }
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
        scan_target(args, rules, &opts, &progress)
    } else {
        scan_target(args, rules, &opts, &caulk_image::NoProgress)
    };
    progress.clear();
    if let (Some(dir), Some(w)) = (
        &cache_dir,
        opts.cache_stats
            .write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(),
    ) {
        eprintln!(
            "caulk: warning: layer cache {} not written: {w}",
            dir.display()
        );
    }
    if show_progress && opts.cache.is_some() {
        let hits = opts
            .cache_stats
            .hits
            .load(std::sync::atomic::Ordering::Relaxed);
        let misses = opts
            .cache_stats
            .misses
            .load(std::sync::atomic::Ordering::Relaxed);
        if hits > 0 {
            eprintln!("caulk: {hits} of {} layers from the cache", hits + misses);
        }
    }
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
