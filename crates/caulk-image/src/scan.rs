//! Scans an input end to end: resolve images, scan each distinct layer once (in parallel, one
//! scanner per worker), verify digests, then turn hits into findings with visibility and fixes.

use crate::cache::LayerCache;
use crate::config::{clean_instruction, layer_history, scan_config, scan_history, TextHit};
use crate::content::Scratch;
use crate::digest::Algorithm;
use crate::error::ImageError;
use crate::layer::{scan_layer, CachedEvidence, LayerHit, LayerScan};
use crate::limits::Limits;
use crate::overlay::{visibility, LayerIndex, Visibility};
use crate::resolve::{resolve, ImageTarget, LayerRef, Selection};
use crate::source::{open_input, Store};
use caulk_report::redact::{fingerprint, preview, redact_all};
use caulk_report::remediation::{advice, FixInput};
use caulk_report::*;
use caulk_rules::RuleSet;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub selection: Selection,
    pub limits: Limits,
    /// Put raw secrets in findings (`--show-secrets`).
    pub show_secrets: bool,
    /// Worker threads for layers; 0 = one per core.
    pub threads: usize,
    /// When set, workers time each rule and add their timings here (`caulk rules bench`).
    pub profile: Option<std::sync::Arc<Mutex<Vec<caulk_rules::RuleTiming>>>>,
    /// Layer results are read from and written to this cache (not read with `show_secrets`,
    /// which needs the secrets themselves).
    pub cache: Option<std::sync::Arc<LayerCache>>,
    /// Layers taken from the cache / scanned, counted during the scan.
    pub cache_stats: std::sync::Arc<CacheStats>,
}

/// How many layers a scan took from the cache and how many it read.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicUsize,
    pub misses: AtomicUsize,
    /// The first error writing an entry (the scan goes on without it).
    pub write_error: Mutex<Option<String>>,
}

/// Told about progress; the library prints nothing itself.
pub trait Progress: Sync {
    fn layer_done(&self, _done: usize, _total: usize, _uncompressed_bytes: u64) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Scans the image(s) in `input` (a path to an archive or a layout directory).
pub fn scan_input(
    input: &str,
    rules: &RuleSet,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<Report, ImageError> {
    let store = open_input(input)?;
    scan_store(store.as_ref(), rules, opts, progress)
}

/// Scans the images of an opened store.
pub fn scan_store(
    store: &dyn Store,
    rules: &RuleSet,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<Report, ImageError> {
    scan_store_prescanned(store, HashMap::new(), rules, opts, progress)
}

/// Scans the images of a store whose layers named in `prescanned` (by canonical name) were
/// already scanned, as they streamed past.
pub(crate) fn scan_store_prescanned(
    store: &dyn Store,
    prescanned: HashMap<String, LayerScan>,
    rules: &RuleSet,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<Report, ImageError> {
    let prescanned = Mutex::new(prescanned);
    let resolved = resolve(store, &opts.selection, &opts.limits)?;
    // Each distinct blob once, even when images share it.
    let mut jobs: Vec<&LayerRef> = Vec::new();
    let mut job_of: HashMap<&str, usize> = HashMap::new();
    for img in &resolved.images {
        for l in &img.layers {
            job_of.entry(l.name.as_str()).or_insert_with(|| {
                jobs.push(l);
                jobs.len() - 1
            });
        }
    }
    let results = run_jobs(store, &prescanned, rules, opts, &jobs, progress)?;
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        target: store.input().to_string(),
        images: Vec::new(),
        findings: Vec::new(),
        skipped: Vec::new(),
        warnings: resolved.notes.clone(),
        summary: Summary::default(),
    };
    let mut scanner = rules.scanner();
    for img in &resolved.images {
        let scans: Vec<&LayerScan> = img
            .layers
            .iter()
            .map(|l| &results[job_of[l.name.as_str()]])
            .collect();
        build_image(
            &mut report,
            img,
            &scans,
            rules,
            &mut scanner,
            opts.show_secrets,
        );
    }
    report
        .findings
        .sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    report.summary = Summary::of(&report.findings, report.skipped.len());
    Ok(report)
}

type SortKey<'a> = (
    &'a str,
    LocationKind,
    Option<usize>,
    Option<usize>,
    Option<&'a str>,
    Option<u64>,
    Option<u64>,
    &'a str,
);

fn sort_key(f: &Finding) -> SortKey<'_> {
    let l = &f.location;
    (
        &f.image,
        l.kind,
        l.layer_index,
        l.history_index,
        l.path.as_deref(),
        l.line,
        l.column,
        &f.rule_id,
    )
}

fn run_jobs(
    store: &dyn Store,
    prescanned: &Mutex<HashMap<String, LayerScan>>,
    rules: &RuleSet,
    opts: &ScanOptions,
    jobs: &[&LayerRef],
    progress: &dyn Progress,
) -> Result<Vec<LayerScan>, ImageError> {
    let threads = match opts.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    }
    .min(jobs.len().max(1));
    // Largest layers first: the scan ends when the last layer does, so a big layer started last
    // would run alone on one worker while the others sit idle.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    let size = |j: &LayerRef| j.size.or_else(|| store.size(&j.name)).unwrap_or(0);
    order.sort_by_key(|&i| std::cmp::Reverse(size(jobs[i])));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<LayerScan, ImageError>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut scanner = rules.scanner();
                scanner.set_profiling(opts.profile.is_some());
                let mut scratch = Scratch::default();
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let job = jobs[i];
                    let r =
                        cached_or_scan(store, prescanned, job, opts, &mut scanner, &mut scratch);
                    let bytes = r.as_ref().map(|s| s.uncompressed).unwrap_or(0);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    progress.layer_done(
                        done.fetch_add(1, Ordering::Relaxed) + 1,
                        jobs.len(),
                        bytes,
                    );
                }
                if let Some(total) = &opts.profile {
                    let mut total = total.lock().unwrap_or_else(|e| e.into_inner());
                    let len = scanner.profile().len().max(total.len());
                    total.resize(len, Default::default());
                    for (t, mine) in total.iter_mut().zip(scanner.profile()) {
                        t.runs += mine.runs;
                        t.nanos += mine.nanos;
                        t.matches += mine.matches;
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every job ran")
        })
        .collect()
}

/// A layer from the cache (when its blob is still in the store and agrees with the manifest), or
/// scanned and then cached.
fn cached_or_scan(
    store: &dyn Store,
    prescanned: &Mutex<HashMap<String, LayerScan>>,
    layer: &LayerRef,
    opts: &ScanOptions,
    scanner: &mut caulk_rules::Scanner,
    scratch: &mut Scratch,
) -> Result<LayerScan, ImageError> {
    let ready = prescanned
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&store.canonical(&layer.name));
    let scan = match ready {
        Some(scan) => {
            verify(store.input(), layer, &scan)?;
            scan
        }
        None => {
            if let Some(cache) = opts.cache.as_deref() {
                if !opts.show_secrets && store.exists(&layer.name) {
                    if let Some(scan) = cache.get(layer) {
                        verify(store.input(), layer, &scan)?;
                        opts.cache_stats.hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(scan);
                    }
                }
            }
            scan_one(store, layer, scanner, scratch, &opts.limits)?
        }
    };
    if let Some(cache) = opts.cache.as_deref() {
        let stats = &opts.cache_stats;
        stats.misses.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = cache.put(layer, &scan) {
            let mut w = stats.write_error.lock().unwrap_or_else(|e| e.into_inner());
            w.get_or_insert_with(|| e.to_string());
        }
    }
    Ok(scan)
}

fn scan_one(
    store: &dyn Store,
    layer: &LayerRef,
    scanner: &mut caulk_rules::Scanner,
    scratch: &mut Scratch,
    limits: &Limits,
) -> Result<LayerScan, ImageError> {
    let input = store.input();
    let what = format!("layer {}", layer.name);
    let blob = store
        .open(&layer.name)
        .map_err(|e| ImageError::io(input, &what, e))?;
    let Some(blob) = blob else {
        return Err(ImageError::MissingBlob {
            input: input.into(),
            digest: layer
                .digest
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_else(|| layer.name.clone()),
        });
    };
    let alg = layer
        .digest
        .as_ref()
        .map(|d| d.algorithm)
        .unwrap_or(Algorithm::Sha256);
    let scan = scan_layer(blob, alg, scanner, scratch, limits).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            let m = e.to_string();
            if m.contains("connection closed") {
                format!("truncated: {m}")
            } else {
                "truncated: unexpected end of data".to_string()
            }
        } else {
            format!("corrupt or unreadable: {e}")
        };
        ImageError::invalid(input, format!("{what}: {why}"))
    })?;
    verify(input, layer, &scan)?;
    Ok(scan)
}

/// Checks a layer's scan against what the manifest and config say about it.
fn verify(input: &str, layer: &LayerRef, scan: &LayerScan) -> Result<(), ImageError> {
    let what = format!("layer {}", layer.name);
    // A layer cut short by a limit cannot be verified; its skip entry says so.
    let complete = scan.diff_id.is_some();
    if let (Some(expected), true) = (&layer.digest, complete) {
        if scan.blob_digest != expected.to_string() {
            return Err(ImageError::DigestMismatch {
                input: input.into(),
                what,
                expected: expected.to_string(),
                actual: scan.blob_digest.clone(),
            });
        }
    }
    if let (Some(size), true) = (layer.size, complete) {
        if size != scan.size {
            return Err(ImageError::invalid(
                input,
                format!("{what}: size is {} but the manifest says {size}", scan.size),
            ));
        }
    }
    if let (Some(expected), Some(actual)) = (&layer.diff_id, &scan.diff_id) {
        if *actual != expected.to_string() {
            return Err(ImageError::DigestMismatch {
                input: input.into(),
                what: format!("{what} (uncompressed, config diff_id)"),
                expected: expected.to_string(),
                actual: actual.clone(),
            });
        }
    }
    Ok(())
}

fn build_image(
    report: &mut Report,
    img: &ImageTarget,
    scans: &[&LayerScan],
    rules: &RuleSet,
    scanner: &mut caulk_rules::Scanner,
    show: bool,
) {
    let name = img.name.clone();
    let config_hits = scan_config(scanner, &img.config);
    let history_hits = scan_history(scanner, &img.config);
    let attestation_hits: Vec<(&crate::resolve::Attestation, TextHit)> = img
        .attestations
        .iter()
        .flat_map(|a| {
            crate::config::scan_statement(scanner, &a.statement)
                .into_iter()
                .map(move |h| (a, h))
        })
        .collect();
    // Every secret found anywhere is redacted from every instruction shown.
    let mut secrets: Vec<Vec<u8>> = config_hits
        .iter()
        .chain(&history_hits)
        .chain(attestation_hits.iter().map(|(_, h)| h))
        .map(|h| h.secret.clone())
        .chain(
            scans
                .iter()
                .flat_map(|s| s.hits.iter().map(|h| h.secret.clone())),
        )
        .filter(|s| !s.is_empty())
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let history = img.config.history.as_deref().unwrap_or(&[]);
    let shown = |i: usize| {
        history
            .get(i)
            .and_then(|h| h.created_by.as_deref())
            .map(|c| redact_all(&clean_instruction(c).text, &secrets))
    };
    let mapping = match layer_history(&img.config, img.layers.len()) {
        Ok(m) => Some(m),
        Err(why) => {
            report.warnings.push(format!("{name}: {why}"));
            None
        }
    };
    let layers: Vec<LayerInfo> = scans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let hi = mapping.as_ref().map(|m| m[i]);
            LayerInfo {
                index: i,
                digest: img.layers[i]
                    .digest
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| s.blob_digest.clone()),
                diff_id: img.layers[i].diff_id.as_ref().map(|d| d.to_string()),
                compression: s.compression.as_str().into(),
                size: s.size,
                uncompressed_size: s.uncompressed,
                instruction: hi.and_then(shown),
                history_index: hi,
            }
        })
        .collect();
    let mut push = |rule: usize,
                    location: Location,
                    evidence: Evidence,
                    file: Option<&(String, u64)>,
                    cached: Option<&CachedEvidence>| {
        let r = rules.rule(rule);
        let secret = evidence.secret.as_slice();
        let (fp, pv) = match (file, cached) {
            (Some((digest, size)), _) => {
                (digest.clone(), format!("(the whole file, {size} bytes)"))
            }
            (None, Some(c)) => (c.fingerprint.clone(), c.preview.clone()),
            (None, None) => (fingerprint(secret), preview(secret)),
        };
        let remediation = advice(&FixInput {
            rule_id: &r.id,
            location: &location,
        });
        report.findings.push(Finding {
            rule_id: r.id.clone(),
            rule_name: r.name.clone(),
            severity: r.severity,
            confidence: caulk_report::confidence::assess(r.generic, file.is_some(), &location),
            fingerprint: fp,
            preview: pv,
            secret: (show && file.is_none()).then(|| String::from_utf8_lossy(secret).into_owned()),
            image: name.clone(),
            location,
            remediation,
            evidence,
        });
    };
    for h in config_hits.iter().chain(&history_hits) {
        let TextHit {
            rule,
            kind,
            key,
            history_index,
            secret,
            matched,
            line_text,
        } = h;
        let mut loc = Location::new(*kind);
        loc.key = key.clone();
        loc.history_index = *history_index;
        loc.instruction = history_index.and_then(shown);
        let evidence = Evidence {
            secret: secret.clone(),
            matched: matched.clone(),
            line: line_text.clone(),
            verdicts: None,
        };
        push(*rule, loc, evidence, None, None);
    }
    for (a, h) in &attestation_hits {
        let mut loc = Location::new(LocationKind::Attestation);
        loc.key = h.key.clone();
        loc.layer_digest = Some(a.blob_digest.clone());
        loc.instruction = a.predicate_type.clone();
        let evidence = Evidence {
            secret: h.secret.clone(),
            matched: h.matched.clone(),
            line: h.line_text.clone(),
            verdicts: None,
        };
        push(h.rule, loc, evidence, None, None);
    }
    let indexes: Vec<&LayerIndex> = scans.iter().map(|s| &s.index).collect();
    for (i, s) in scans.iter().enumerate() {
        for h in &s.hits {
            let LayerHit {
                rule,
                top_path,
                ordinal,
                path,
                line,
                column,
                secret,
                file_digest,
                matched,
                line_text,
                cached,
            } = h;
            let mut loc = Location::new(LocationKind::Layer);
            loc.layer_index = Some(i);
            loc.layer_digest = Some(layers[i].digest.clone());
            loc.path = Some(path.clone());
            loc.line = *line;
            loc.column = *column;
            loc.history_index = layers[i].history_index;
            loc.instruction = layers[i].instruction.clone();
            let (visible, shadow, by) = match visibility(&indexes, i, top_path, *ordinal) {
                Visibility::Visible => (true, None, None),
                Visibility::Deleted { by } => (false, Some(Shadow::Deleted), Some(by)),
                Visibility::Overwritten { by } => (false, Some(Shadow::Overwritten), Some(by)),
                Visibility::Opaque { by } => (false, Some(Shadow::Opaque), Some(by)),
            };
            loc.visible = Some(visible);
            loc.shadow = shadow;
            loc.shadowed_by_layer = by;
            let evidence = Evidence {
                secret: secret.clone(),
                matched: matched.clone(),
                line: line_text.clone(),
                verdicts: cached.as_ref().map(|c| c.verdicts.clone()),
            };
            push(*rule, loc, evidence, file_digest.as_ref(), cached.as_ref());
        }
        for sk in &s.skipped {
            report.skipped.push(Skipped {
                image: Some(name.clone()),
                layer_index: Some(i),
                path: sk.path.clone(),
                reason: sk.reason.clone(),
            });
        }
        for w in &s.warnings {
            report.warnings.push(format!("{name} layer {i}: {w}"));
        }
    }
    report.images.push(ImageInfo {
        name: name.clone(),
        manifest_digest: img.manifest_digest.clone(),
        config_digest: img.config_digest.clone(),
        platform: img.config.platform(),
        layers,
    });
}
