//! Command-line options (clap) and their validation into a run configuration.

use caulk_image::{Limits, PlatformChoice, ScanOptions, Selection};
use caulk_report::{Confidence, Format};
use caulk_rules::Severity;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "caulk", version, about = "Find, explain and seal secret leaks in container images", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan an image: every layer, the config and the history.
    Image(ImageArgs),
    /// Lint Dockerfiles and their build contexts for secret leaks, before any build.
    Lint(LintArgs),
    /// Rewrite Dockerfiles (and .dockerignore) to the safe form: a diff by default.
    Fix(FixArgs),
    /// List or show the detection rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Scan every tagged image of a registry (or one shard of them): each layer once.
    Registry(RegistryArgs),
    /// Show or clear the layer cache.
    #[command(subcommand)]
    Cache(CacheCommand),
}

/// How to reach registries: credentials, TLS, plain HTTP.
#[derive(Args, Debug)]
pub struct RegistryAccess {
    /// Registry user name (with --password-stdin); default: docker/podman login credentials.
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Read the registry password (or token) from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Reach this registry (host[:port]) over plain HTTP; repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// Trust the CA certificates in this PEM file for registries, beside the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

impl RegistryAccess {
    /// The registry options, reading the password from standard input when asked to.
    pub fn options(&self) -> Result<caulk_image::registry::RegistryOptions, String> {
        if self.password_stdin != self.username.is_some() {
            return Err("--username and --password-stdin go together".into());
        }
        let password = if self.password_stdin {
            let mut p = String::new();
            std::io::stdin()
                .read_line(&mut p)
                .map_err(|e| format!("--password-stdin: {e}"))?;
            Some(p.trim_end_matches(['\r', '\n']).to_string())
        } else {
            None
        };
        Ok(caulk_image::registry::RegistryOptions {
            insecure: self.insecure_registry.clone(),
            ca_file: self.ca_file.clone(),
            username: self.username.clone(),
            password,
            retries: 3,
        })
    }
}

#[derive(Args, Debug)]
pub struct RegistryArgs {
    /// HOST[:PORT][/PREFIX]: the registry, and only repositories under PREFIX.
    pub target: String,
    /// Scan only shard I of N (images split by a hash of their name); I may be `auto` to read
    /// JOB_COMPLETION_INDEX (a Kubernetes indexed Job).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Directory for one report per image and summary.json.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "caulk-reports")]
    pub output_dir: PathBuf,
    /// Format of the per-image reports: json, sarif or text.
    #[arg(long, short = 'f', default_value = "json")]
    pub format: Format,
    /// Exit 1 when an image has a finding at or above this severity.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Configuration file (default: caulk.toml or .caulk.toml in the working directory).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryAccess,
    /// Layer cache directory, shared by workers (default: $CAULK_CACHE_DIR, $XDG_CACHE_HOME/caulk
    /// or ~/.cache/caulk).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Platform to scan from multi-platform indexes: os/arch[/variant], or `all`. Default: the
    /// host's.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Worker threads for layers (0: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// No progress on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Where the layer cache is, how many layers it holds and their size.
    Info {
        /// Cache directory (default: $CAULK_CACHE_DIR, $XDG_CACHE_HOME/caulk or ~/.cache/caulk).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Output format: text or json.
        #[arg(long, short = 'f', default_value = "text")]
        format: String,
    },
    /// Remove every cached layer.
    Clean {
        /// Cache directory (default: $CAULK_CACHE_DIR, $XDG_CACHE_HOME/caulk or ~/.cache/caulk).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct FixArgs {
    /// Dockerfiles, or directories to search for them (default: the current directory).
    pub paths: Vec<PathBuf>,
    /// Apply the fixes to the files instead of printing a diff.
    #[arg(long)]
    pub write: bool,
    /// Also apply unsafe fixes (they change how the build must be run, e.g. `--secret`).
    #[arg(long = "unsafe")]
    pub unsafe_fixes: bool,
}

#[derive(Args, Debug)]
pub struct LintArgs {
    /// Files or directories to lint (default: the current directory). Directories are searched
    /// for Dockerfiles/Containerfiles; each Dockerfile's directory is taken as its build context.
    pub paths: Vec<PathBuf>,
    /// Output format: text, json or sarif.
    #[arg(long, short = 'f', default_value = "text")]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding at or above this severity is found: info, low, medium, high, critical
    /// (default: low, or `[lint] fail_on` in the configuration file).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Do not report this rule (code such as CK101, or name); repeatable.
    #[arg(long = "ignore", value_name = "RULE")]
    pub ignore: Vec<String>,
    /// Do not look at the build context (`.dockerignore` and the files `COPY .` would send).
    #[arg(long)]
    pub no_context: bool,
    /// Print the documentation of a rule (code or name) and exit.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// Write the rules' documentation pages into this directory and exit (for docs/rules).
    #[arg(long, hide = true, value_name = "DIR")]
    pub write_docs: Option<PathBuf>,
    /// Configuration file (default: caulk.toml or .caulk.toml in the working directory).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List every rule with its severity (built-in and from the configuration file).
    List {
        /// Configuration file (default: caulk.toml or .caulk.toml in the working directory).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Show one rule with its examples and references.
    Show {
        /// The rule id, e.g. github-pat-classic.
        id: String,
        /// Configuration file (default: caulk.toml or .caulk.toml in the working directory).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Time each rule on an image, to find a slow rule by measurement.
    Bench {
        /// An image as for `caulk image`.
        input: String,
        /// How many rules to list, slowest first.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Configuration file (default: caulk.toml or .caulk.toml in the working directory).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check rule files: they load with the built-in rules, and every example and negative
    /// example behaves. Exit 1 when one does not.
    Check {
        /// YAML rule files in caulk's format.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ImageArgs {
    /// A docker-save or OCI archive (tar, optionally gzip/zstd-compressed), an OCI layout
    /// directory, `-` for an archive on standard input, or an image reference (`app:1.4`) read from
    /// the local Docker or Podman API socket.
    pub input: String,
    /// When the input holds several images, scan only this one (tag or reference name).
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Platform to scan from a multi-platform index: os/arch[/variant], or `all`. Default: the host's.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Output format: text, json or sarif.
    #[arg(long, short = 'f', default_value = "text")]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding at or above this severity is found: info, low, medium, high, critical
    /// (default: low, or `[scan] fail_on` in the configuration file).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Report findings at or above this confidence: low (everything, including vendor samples and
    /// test keys inside packages), medium (default), high.
    #[arg(long, value_name = "LEVEL")]
    pub min_confidence: Option<Confidence>,
    /// Configuration file: caulk.toml, or a gitleaks configuration (default: caulk.toml or
    /// .caulk.toml in the working directory).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report only findings not in this earlier `--format json` report.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Include raw secret values in the output (never the default).
    #[arg(long)]
    pub show_secrets: bool,
    /// How deep to open archives inside archives.
    #[arg(long, default_value_t = Limits::default().max_nested_depth, value_name = "N")]
    pub max_depth: u32,
    /// Most uncompressed bytes to read from one layer (suffixes K, M, G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_layer_size: Option<u64>,
    /// Most uncompressed bytes to read from one nested archive member (suffixes K, M, G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_nested_size: Option<u64>,
    /// Worker threads for layers (0: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Benchmark baseline: read and verify every layer with no rules (hidden).
    #[arg(long, hide = true)]
    pub decompress_only: bool,
    /// Where an image reference is looked up, in order: `daemon` (the local Docker/Podman API),
    /// `registry`. Comma-separated.
    #[arg(
        long,
        value_name = "SOURCES",
        default_value = "daemon,registry",
        value_delimiter = ','
    )]
    pub image_src: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryAccess,
    /// Neither read nor write the layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Layer cache directory (default: $CAULK_CACHE_DIR, $XDG_CACHE_HOME/caulk or ~/.cache/caulk).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// No progress on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--platform`: os/arch[/variant], `all`, or the host's when not given.
pub fn parse_platform(p: Option<&str>) -> Result<PlatformChoice, String> {
    Ok(match p {
        None => PlatformChoice::Host,
        Some("all") => PlatformChoice::All,
        Some(p) if p.split('/').count() >= 2 && p.split('/').all(|c| !c.is_empty()) => {
            PlatformChoice::Only(p.to_string())
        }
        Some(p) => {
            return Err(format!(
                "--platform `{p}`: expected os/arch[/variant] or `all`"
            ))
        }
    })
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|_| format!("`{s}` is not a size (e.g. 512M)"))
}

impl ImageArgs {
    /// Validates the options into scan options.
    pub fn scan_options(&self) -> Result<ScanOptions, String> {
        let platform = parse_platform(self.platform.as_deref())?;
        let mut limits = Limits {
            max_nested_depth: self.max_depth,
            ..Limits::default()
        };
        if let Some(n) = self.max_layer_size {
            limits.max_layer_bytes = n;
        }
        if let Some(n) = self.max_nested_size {
            limits.max_nested_bytes = n;
        }
        Ok(ScanOptions {
            selection: Selection {
                image: self.image.clone(),
                platform,
            },
            limits,
            show_secrets: self.show_secrets,
            threads: self.threads,
            profile: None,
            cache: None,
            cache_stats: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("10").unwrap(), 10);
        assert!(parse_size("ten").is_err());
    }
}
