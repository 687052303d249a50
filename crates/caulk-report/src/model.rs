//! The finding model: what was found, where, and how to fix it.
//! This is the public JSON contract (see docs/json-report.md); renaming a field is a breaking change.

use caulk_rules::Severity;
use serde::Serialize;

/// Version of the JSON report's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// The result of one `caulk image` run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// What the user asked to scan.
    pub target: String,
    pub images: Vec<ImageInfo>,
    /// One entry per location: the same secret in three places is three entries sharing a fingerprint.
    pub findings: Vec<Finding>,
    /// Everything that was not scanned, so a clean report never hides a gap.
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: "caulk".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One scanned image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// Tag or reference name, else the config digest.
    pub name: String,
    pub manifest_digest: Option<String>,
    pub config_digest: String,
    /// `os/arch[/variant]` from the config.
    pub platform: Option<String>,
    pub layers: Vec<LayerInfo>,
}

/// One layer of an image, in manifest order.
#[derive(Debug, Clone, Serialize)]
pub struct LayerInfo {
    pub index: usize,
    /// Digest of the blob as stored (compressed or not).
    pub digest: String,
    /// Digest of the uncompressed tar (config `rootfs.diff_ids`).
    pub diff_id: Option<String>,
    /// `none`, `gzip` or `zstd`, decided by magic bytes.
    pub compression: String,
    pub size: u64,
    pub uncompressed_size: u64,
    /// The history entry that created the layer, cleaned and redacted; None when it cannot be told.
    pub instruction: Option<String>,
    pub history_index: Option<usize>,
}

/// Where a secret was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LocationKind {
    #[serde(rename = "config.env")]
    ConfigEnv,
    #[serde(rename = "config.label")]
    ConfigLabel,
    #[serde(rename = "config.cmd")]
    ConfigCmd,
    #[serde(rename = "config.entrypoint")]
    ConfigEntrypoint,
    #[serde(rename = "config.other")]
    ConfigOther,
    #[serde(rename = "history")]
    History,
    #[serde(rename = "layer")]
    Layer,
    /// A build attestation (BuildKit provenance in `mode=max` records build-arg values).
    #[serde(rename = "attestation")]
    Attestation,
}

impl LocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::ConfigEnv => "config.env",
            LocationKind::ConfigLabel => "config.label",
            LocationKind::ConfigCmd => "config.cmd",
            LocationKind::ConfigEntrypoint => "config.entrypoint",
            LocationKind::ConfigOther => "config.other",
            LocationKind::History => "history",
            LocationKind::Attestation => "attestation",
            LocationKind::Layer => "layer",
        }
    }
    pub fn is_config(self) -> bool {
        !matches!(self, LocationKind::History | LocationKind::Layer)
    }
}

/// Why a file found in a layer is not in the final filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shadow {
    /// A later layer has a whiteout for it (`RUN rm`).
    Deleted,
    /// A later layer (or a later entry of the same layer) wrote the same path, or replaced a parent directory.
    Overwritten,
    /// A later layer made a parent directory opaque (`.wh..wh..opq`).
    Opaque,
}

impl Shadow {
    pub fn verb(self) -> &'static str {
        match self {
            Shadow::Deleted => "deleted",
            Shadow::Overwritten => "overwritten",
            Shadow::Opaque => "hidden by an opaque directory",
        }
    }
}

/// The full provenance of one occurrence.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Location {
    pub kind: LocationKind,
    /// 0-based, manifest order; null for config and history.
    pub layer_index: Option<usize>,
    pub layer_digest: Option<String>,
    /// Path in the layer without a leading `/`; nested archive members joined with `!`.
    pub path: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// Whether the file is in the final filesystem (layers only).
    pub visible: Option<bool>,
    pub shadowed_by_layer: Option<usize>,
    pub shadow: Option<Shadow>,
    /// Env var name, label key or build-arg name.
    pub key: Option<String>,
    /// Index into the config's `history` (history findings, and the entry that made a layer).
    pub history_index: Option<usize>,
    /// The instruction that created the layer or history entry, cleaned and redacted.
    pub instruction: Option<String>,
}

impl Location {
    pub fn new(kind: LocationKind) -> Location {
        Location {
            kind,
            layer_index: None,
            layer_digest: None,
            path: None,
            line: None,
            column: None,
            visible: None,
            shadowed_by_layer: None,
            shadow: None,
            key: None,
            history_index: None,
            instruction: None,
        }
    }
}

/// How likely a finding is something the user must act on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Inside third-party packages, documentation or test trees: usually vendor samples and test keys.
    Low,
    /// Recognised by its surroundings (`password = ...`) or by a file name alone.
    Medium,
    /// A provider-specific format in the application, the config or the history.
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl std::str::FromStr for Confidence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Confidence::Low),
            "medium" => Ok(Confidence::Medium),
            "high" => Ok(Confidence::High),
            other => Err(format!(
                "unknown confidence `{other}` (expected low, medium or high)"
            )),
        }
    }
}

/// What was matched, kept in memory for filters (allowlists, baselines); never serialized.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The secret's bytes (empty for file-name findings).
    pub secret: Vec<u8>,
    /// The whole regex match.
    pub matched: Vec<u8>,
    /// The line holding the match (bounded), or the config value.
    pub line: Vec<u8>,
    /// For a finding rebuilt from the layer cache (which keeps no secret): per allowlist of the
    /// run's filters, whether its regex and its stopword criteria held when the layer was scanned.
    pub verdicts: Option<Vec<[bool; 2]>>,
}

/// One secret at one location.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: Severity,
    pub confidence: Confidence,
    /// `sha256:` + hex of the secret's bytes (of the file, for file-name findings).
    pub fingerprint: String,
    /// A redacted preview; never the whole secret.
    pub preview: String,
    /// The raw secret, only with `--show-secrets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The [`ImageInfo::name`] it was found in.
    pub image: String,
    pub location: Location,
    /// A fix specific to how the secret got there.
    pub remediation: String,
    #[serde(skip)]
    pub evidence: Evidence,
}

/// Something that was not (fully) scanned.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub image: Option<String>,
    pub layer_index: Option<usize>,
    pub path: Option<String>,
    pub reason: String,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Distinct secrets (by fingerprint and rule).
    pub secrets: usize,
    pub locations: usize,
    pub by_severity: std::collections::BTreeMap<String, usize>,
    pub by_confidence: std::collections::BTreeMap<String, usize>,
    pub skipped: usize,
    /// Locations left out of `findings`, by reason: `confidence` (below `--min-confidence`),
    /// `allowlist`, `baseline`, `disabled` (rule disabled in the config).
    pub suppressed: std::collections::BTreeMap<String, usize>,
}

impl Summary {
    pub fn of(findings: &[Finding], skipped: usize) -> Summary {
        let mut distinct = std::collections::HashSet::new();
        let mut by_severity = std::collections::BTreeMap::new();
        for f in findings {
            if distinct.insert((&f.image, &f.fingerprint, &f.rule_id)) {
                *by_severity
                    .entry(f.severity.as_str().to_string())
                    .or_insert(0) += 1;
            }
        }
        let mut by_confidence = std::collections::BTreeMap::new();
        for f in findings {
            *by_confidence
                .entry(f.confidence.as_str().to_string())
                .or_insert(0) += 1;
        }
        Summary {
            secrets: distinct.len(),
            locations: findings.len(),
            by_severity,
            by_confidence,
            skipped,
            suppressed: Default::default(),
        }
    }
}

impl Report {
    /// The highest severity among findings, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
