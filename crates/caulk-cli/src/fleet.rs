//! `caulk registry HOST[/PREFIX]`: scans every tagged image of a registry (or this worker's shard
//! of them), each distinct layer once through the shared layer cache, and writes one report per
//! image plus a summary.

use anyhow::{Context as _, Result};
use caulk_image::cache::LayerCache;
use caulk_image::registry::{catalog, Reference, RegistryStore};
use caulk_image::ScanOptions;
use caulk_report::Format;
use serde::Serialize;
use sha2::Digest as _;
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::exit_codes;
use crate::opts::RegistryArgs;

#[derive(Serialize)]
struct ImageRow {
    image: String,
    report: Option<String>,
    findings: usize,
    max_severity: Option<String>,
    layers: usize,
    layers_scanned: usize,
    layers_from_cache: usize,
    error: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    registry: String,
    prefix: String,
    shard: Option<String>,
    images: Vec<ImageRow>,
    images_scanned: usize,
    images_failed: usize,
    images_with_findings: usize,
    /// Distinct layer digests across the images of this run.
    distinct_layers: usize,
    layers_scanned: usize,
    layers_from_cache: usize,
}

/// `I/N` (I may be `auto`: the Kubernetes indexed Job's `JOB_COMPLETION_INDEX`).
fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("--shard `{s}`: expected I/N, e.g. 0/4"))?;
    let i = if i == "auto" {
        std::env::var("JOB_COMPLETION_INDEX")
            .map_err(|_| format!("--shard `{s}`: JOB_COMPLETION_INDEX is not set"))?
    } else {
        i.to_string()
    };
    let (i, n): (u64, u64) = match (i.trim().parse(), n.trim().parse()) {
        (Ok(i), Ok(n)) if n > 0 && i < n => (i, n),
        _ => return Err(format!("--shard `{s}`: expected I/N with 0 <= I < N")),
    };
    Ok((i, n))
}

/// The shard an image belongs to: a hash of its name, so the split does not depend on the order
/// or the number of images listed.
fn shard_of(image: &str, n: u64) -> u64 {
    let h = sha2::Sha256::digest(image.as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % n
}

fn file_name(image: &str, format: Format) -> String {
    let ext = match format {
        Format::Json => "json",
        Format::Sarif => "sarif",
        Format::Text => "txt",
    };
    let stem: String = image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.{ext}")
}

pub fn run(args: &RegistryArgs) -> Result<i32> {
    let (host, prefix) = match args.target.split_once('/') {
        Some((h, p)) => (h.to_string(), p.trim_end_matches('/').to_string()),
        None => (args.target.clone(), String::new()),
    };
    let platform = match crate::opts::parse_platform(args.platform.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("caulk: error: {e}");
            return Ok(exit_codes::ERROR);
        }
    };
    let shard = match args.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("caulk: error: {e}");
            return Ok(exit_codes::ERROR);
        }
    };
    let (loaded, rules) = match crate::configured(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("caulk: error: {e:#}");
            return Ok(exit_codes::ERROR);
        }
    };
    let ropts = match args.registry.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("caulk: error: {e}");
            return Ok(exit_codes::ERROR);
        }
    };
    let mut images = match catalog(&host, &prefix, &ropts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("caulk: error: listing {}: {e}", args.target);
            return Ok(exit_codes::ERROR);
        }
    };
    if let Some((i, n)) = shard {
        images.retain(|img| shard_of(img, n) == i);
    }
    // The cache is what makes each layer be scanned once across images (and across workers that
    // share the directory); without a configured one, a temporary one serves this run.
    let temp;
    let cache_dir = match args
        .cache_dir
        .clone()
        .or_else(caulk_image::cache::default_dir)
    {
        Some(d) => d,
        None => {
            temp = tempfile::tempdir().context("a temporary layer cache")?;
            temp.path().to_path_buf()
        }
    };
    let limits = caulk_image::Limits::default();
    let cache = Arc::new(LayerCache::new(
        &cache_dir,
        &rules,
        &limits,
        &loaded.filters,
    ));
    std::fs::create_dir_all(&args.output_dir)
        .with_context(|| format!("creating {}", args.output_dir.display()))?;
    let fail_on = args
        .fail_on
        .or(loaded.fail_on)
        .unwrap_or(caulk_rules::Severity::Low);
    let tags = |id: &str| {
        rules
            .rule_index(id)
            .map(|i| rules.rule(i).tags.clone())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let mut distinct: BTreeSet<String> = BTreeSet::new();
    let mut failing = false;
    let show = !args.quiet && std::io::IsTerminal::is_terminal(&io::stderr());
    for (k, image) in images.iter().enumerate() {
        if show {
            eprintln!("caulk: [{}/{}] {host}/{image}", k + 1, images.len());
        }
        let opts = ScanOptions {
            selection: caulk_image::Selection {
                image: None,
                platform: platform.clone(),
            },
            threads: args.threads,
            cache: Some(cache.clone()),
            limits: limits.clone(),
            ..ScanOptions::default()
        };
        let full = format!("{host}/{image}");
        let result = Reference::parse(&full)
            .map_err(|e| caulk_image::ImageError::invalid(&full, e))
            .and_then(|r| RegistryStore::open(&r, &ropts))
            .and_then(|store| {
                caulk_image::scan_store(&store, &rules, &opts, &caulk_image::NoProgress)
            });
        let (hits, misses) = (
            opts.cache_stats.hits.load(Ordering::Relaxed),
            opts.cache_stats.misses.load(Ordering::Relaxed),
        );
        match result {
            Ok(mut report) => {
                loaded.filters.apply(&mut report, &tags);
                let name = file_name(image, args.format);
                let path: PathBuf = args.output_dir.join(&name);
                let mut f = io::BufWriter::new(
                    std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?,
                );
                caulk_report::write_report(&report, args.format, &mut f)?;
                f.flush()?;
                let layers: usize = report.images.iter().map(|i| i.layers.len()).sum();
                for i in &report.images {
                    distinct.extend(i.layers.iter().map(|l| l.digest.clone()));
                }
                failing |= report.findings.iter().any(|f| f.severity >= fail_on);
                rows.push(ImageRow {
                    image: full,
                    report: Some(name),
                    findings: report.findings.len(),
                    max_severity: report
                        .findings
                        .iter()
                        .map(|f| f.severity)
                        .max()
                        .map(|s| s.to_string()),
                    layers,
                    layers_scanned: misses,
                    layers_from_cache: hits,
                    error: None,
                });
            }
            Err(e) => rows.push(ImageRow {
                image: full,
                report: None,
                findings: 0,
                max_severity: None,
                layers: 0,
                layers_scanned: misses,
                layers_from_cache: hits,
                error: Some(e.to_string()),
            }),
        }
    }
    let summary = Summary {
        registry: host.clone(),
        prefix: prefix.clone(),
        shard: args.shard.clone(),
        images_scanned: rows.iter().filter(|r| r.error.is_none()).count(),
        images_failed: rows.iter().filter(|r| r.error.is_some()).count(),
        images_with_findings: rows.iter().filter(|r| r.findings > 0).count(),
        distinct_layers: distinct.len(),
        layers_scanned: rows.iter().map(|r| r.layers_scanned).sum(),
        layers_from_cache: rows.iter().map(|r| r.layers_from_cache).sum(),
        images: rows,
    };
    let path = args.output_dir.join("summary.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let mut out = io::stdout().lock();
    for r in &summary.images {
        match &r.error {
            None => writeln!(
                out,
                "{:<60} {:>4} finding{} {:<9} layers {} ({} scanned, {} cached)",
                r.image,
                r.findings,
                if r.findings == 1 { " " } else { "s" },
                r.max_severity.as_deref().unwrap_or("-"),
                r.layers,
                r.layers_scanned,
                r.layers_from_cache
            )?,
            Some(e) => writeln!(out, "{:<60} error: {e}", r.image)?,
        }
    }
    writeln!(
        out,
        "{} image{} ({} with findings, {} failed), {} distinct layers: {} scanned, {} from the cache; reports in {}",
        summary.images.len(),
        if summary.images.len() == 1 { "" } else { "s" },
        summary.images_with_findings,
        summary.images_failed,
        summary.distinct_layers,
        summary.layers_scanned,
        summary.layers_from_cache,
        args.output_dir.display()
    )?;
    Ok(if summary.images_failed > 0 {
        exit_codes::ERROR
    } else if failing {
        exit_codes::FINDINGS
    } else {
        exit_codes::CLEAN
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_every_image_exactly_once() {
        let images: Vec<String> = (0..200).map(|i| format!("team/app{i}:1")).collect();
        let mut seen = vec![0u32; images.len()];
        for i in 0..4 {
            for (k, img) in images.iter().enumerate() {
                if shard_of(img, 4) == i {
                    seen[k] += 1;
                }
            }
        }
        assert!(seen.iter().all(|c| *c == 1));
        let per: Vec<usize> = (0..4)
            .map(|i| images.iter().filter(|m| shard_of(m, 4) == i).count())
            .collect();
        assert!(per.iter().all(|c| *c > 20), "{per:?}");
        assert_eq!(parse_shard("1/4"), Ok((1, 4)));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("x").is_err());
    }
}
