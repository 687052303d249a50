//! The layer cache: what a scan learned from one layer blob, kept by the blob's digest so that a
//! rescan, or a scan of another image sharing the layer, does not read it again.
//!
//! An entry holds the layer's path index (visibility is recomputed per image from it) and its
//! hits with their fingerprints and redacted previews, never a secret: the allowlist decisions
//! that need the secret's text are made at scan time and kept as verdicts. Entries live under a
//! key made of caulk's version, the rule set's fingerprint, the limits and the allowlists' text
//! criteria, so a change to any of them misses. Files are written to a temporary name and renamed,
//! so workers sharing one cache directory never read half an entry.

use crate::layer::{CachedEvidence, LayerHit, LayerScan, LayerSkip};
use crate::limits::Limits;
use crate::overlay::LayerIndex;
use crate::resolve::LayerRef;
use crate::source::Compression;
use caulk_report::filter::Filters;
use caulk_report::redact::{fingerprint, preview};
use caulk_report::Evidence;
use caulk_rules::RuleSet;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::io;
use std::path::{Path, PathBuf};

const FORMAT: u32 = 1;

/// A cache directory, opened for one rule set, limits and filters.
pub struct LayerCache {
    dir: PathBuf,
    key: String,
    rules: RuleSet,
    filters: Filters,
}

impl std::fmt::Debug for LayerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerCache")
            .field("dir", &self.dir)
            .field("key", &self.key)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    format: u32,
    layer: String,
    index: LayerIndex,
    hits: Vec<Hit>,
    skipped: Vec<(Option<String>, String)>,
    warnings: Vec<String>,
    blob_digest: String,
    size: u64,
    diff_id: Option<String>,
    uncompressed: u64,
    compression: String,
}

#[derive(Serialize, Deserialize)]
struct Hit {
    rule: String,
    top_path: String,
    ordinal: u32,
    path: String,
    line: Option<u64>,
    column: Option<u64>,
    fingerprint: String,
    preview: String,
    file_digest: Option<(String, u64)>,
    verdicts: Vec<[bool; 2]>,
}

/// What `caulk cache info` shows.
#[derive(Debug, Default, Serialize)]
pub struct CacheInfo {
    pub dir: PathBuf,
    pub entries: u64,
    pub bytes: u64,
    /// Distinct keys (rule set, limits, allowlists) with entries.
    pub keys: u64,
}

/// `$CAULK_CACHE_DIR`, else `$XDG_CACHE_HOME/caulk`, else `~/.cache/caulk`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CAULK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("caulk"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| PathBuf::from(h).join(".cache/caulk"))
}

fn layers_dir(dir: &Path) -> PathBuf {
    dir.join(format!("layers-v{FORMAT}"))
}

impl LayerCache {
    /// A cache in `dir` for results of `rules` under `limits` and `filters`' allowlists.
    pub fn new(dir: &Path, rules: &RuleSet, limits: &Limits, filters: &Filters) -> LayerCache {
        let mut h = sha2::Sha256::new();
        for part in [
            env!("CARGO_PKG_VERSION"),
            rules.fingerprint(),
            &format!("{limits:?}"),
            &filters.evidence_key(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let key = format!("{:x}", h.finalize())[..16].to_string();
        LayerCache {
            dir: dir.to_path_buf(),
            key,
            rules: rules.clone(),
            filters: filters.clone(),
        }
    }

    /// The blob digest (or diff_id) a layer is cached under, as a file name.
    fn file(&self, layer: &LayerRef) -> Option<PathBuf> {
        let d = layer
            .digest
            .as_ref()
            .or(layer.diff_id.as_ref())?
            .to_string();
        let (alg, hex) = d.split_once(':')?;
        if !alg.bytes().all(|b| b.is_ascii_alphanumeric())
            || hex.is_empty()
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        Some(
            layers_dir(&self.dir)
                .join(&self.key)
                .join(format!("{alg}-{hex}.zst")),
        )
    }

    /// The cached scan of `layer`, if any. A damaged entry is a miss.
    pub fn get(&self, layer: &LayerRef) -> Option<LayerScan> {
        let path = self.file(layer)?;
        let bytes = std::fs::read(path).ok()?;
        let json = zstd::stream::decode_all(&bytes[..]).ok()?;
        let e: Entry = serde_json::from_slice(&json).ok()?;
        if e.format != FORMAT {
            return None;
        }
        let mut hits = Vec::with_capacity(e.hits.len());
        for h in e.hits {
            hits.push(LayerHit {
                rule: self.rules.rule_index(&h.rule)?,
                top_path: h.top_path,
                ordinal: h.ordinal,
                path: h.path,
                line: h.line,
                column: h.column,
                secret: Vec::new(),
                file_digest: h.file_digest,
                matched: Vec::new(),
                line_text: Vec::new(),
                cached: Some(CachedEvidence {
                    fingerprint: h.fingerprint,
                    preview: h.preview,
                    verdicts: h.verdicts,
                }),
            });
        }
        Some(LayerScan {
            index: e.index,
            hits,
            skipped: e
                .skipped
                .into_iter()
                .map(|(path, reason)| LayerSkip { path, reason })
                .collect(),
            warnings: e.warnings,
            blob_digest: e.blob_digest,
            size: e.size,
            diff_id: e.diff_id,
            uncompressed: e.uncompressed,
            compression: match e.compression.as_str() {
                "gzip" => Compression::Gzip,
                "zstd" => Compression::Zstd,
                _ => Compression::None,
            },
        })
    }

    /// Stores the scan of `layer` (its secrets reduced to fingerprints, previews and verdicts).
    pub fn put(&self, layer: &LayerRef, scan: &LayerScan) -> io::Result<()> {
        let Some(path) = self.file(layer) else {
            return Ok(());
        };
        let hits = scan
            .hits
            .iter()
            .map(|h| {
                let evidence = Evidence {
                    secret: h.secret.clone(),
                    matched: h.matched.clone(),
                    line: h.line_text.clone(),
                    verdicts: None,
                };
                let (fp, pv) = match &h.cached {
                    Some(c) => (c.fingerprint.clone(), c.preview.clone()),
                    None => (fingerprint(&h.secret), preview(&h.secret)),
                };
                Hit {
                    rule: self.rules.rule(h.rule).id.clone(),
                    top_path: h.top_path.clone(),
                    ordinal: h.ordinal,
                    path: h.path.clone(),
                    line: h.line,
                    column: h.column,
                    fingerprint: fp,
                    preview: pv,
                    file_digest: h.file_digest.clone(),
                    verdicts: match &h.cached {
                        Some(c) => c.verdicts.clone(),
                        None => self.filters.evidence_verdicts(&evidence),
                    },
                }
            })
            .collect();
        let entry = Entry {
            format: FORMAT,
            layer: layer
                .digest
                .as_ref()
                .or(layer.diff_id.as_ref())
                .map(|d| d.to_string())
                .unwrap_or_default(),
            index: scan.index.clone(),
            hits,
            skipped: scan
                .skipped
                .iter()
                .map(|s| (s.path.clone(), s.reason.clone()))
                .collect(),
            warnings: scan.warnings.clone(),
            blob_digest: scan.blob_digest.clone(),
            size: scan.size,
            diff_id: scan.diff_id.clone(),
            uncompressed: scan.uncompressed,
            compression: scan.compression.as_str().to_string(),
        };
        let json = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        let packed = zstd::stream::encode_all(&json[..], 3)?;
        let dir = path.parent().expect("entries live in a directory");
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        std::fs::write(&tmp, packed)?;
        std::fs::rename(&tmp, &path)
    }
}

/// Counts the entries under `dir`.
pub fn info(dir: &Path) -> io::Result<CacheInfo> {
    let mut info = CacheInfo {
        dir: dir.to_path_buf(),
        ..CacheInfo::default()
    };
    let root = layers_dir(dir);
    let keys = match std::fs::read_dir(&root) {
        Ok(k) => k,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(info),
        Err(e) => return Err(e),
    };
    for key in keys {
        let key = key?;
        if !key.file_type()?.is_dir() {
            continue;
        }
        let mut any = false;
        for f in std::fs::read_dir(key.path())? {
            let f = f?;
            let m = f.metadata()?;
            if m.is_file() && f.file_name().to_string_lossy().ends_with(".zst") {
                info.entries += 1;
                info.bytes += m.len();
                any = true;
            }
        }
        info.keys += u64::from(any);
    }
    Ok(info)
}

/// Removes every entry under `dir` (the directory itself stays).
pub fn clean(dir: &Path) -> io::Result<CacheInfo> {
    let before = info(dir)?;
    match std::fs::remove_dir_all(layers_dir(dir)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(before),
    }
}
