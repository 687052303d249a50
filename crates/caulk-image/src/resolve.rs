//! From a store to the images in it: docker-save `manifest.json` or an OCI index (nested indexes,
//! platforms, attestation manifests), with each manifest and config verified against its digest.

use crate::digest::{Digest, HashingReader};
use crate::error::ImageError;
use crate::limits::Limits;
use crate::manifest::*;
use crate::source::Store;
use std::io::Read;

/// Which platform to scan when an index offers several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformChoice {
    /// The host's (linux/amd64 on x86_64, linux/arm64 on aarch64).
    Host,
    All,
    /// `os/arch[/variant]`.
    Only(String),
}

/// What to pick from an input holding several images.
#[derive(Debug, Clone)]
pub struct Selection {
    /// A tag or reference name (`app:1.2`, `localhost/app:1.2`, or an OCI ref name such as `latest`).
    pub image: Option<String>,
    pub platform: PlatformChoice,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            image: None,
            platform: PlatformChoice::Host,
        }
    }
}

/// A layer to read.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Name of the blob in the store.
    pub name: String,
    /// Digest the blob must have, when the source names one.
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    /// Digest the uncompressed tar must have (config `rootfs.diff_ids`).
    pub diff_id: Option<Digest>,
    pub media_type: String,
}

/// An in-toto statement attached to an image by an attestation manifest (BuildKit provenance,
/// SBOMs).
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The attestation manifest's digest.
    pub manifest_digest: String,
    /// The statement blob's digest.
    pub blob_digest: String,
    pub predicate_type: Option<String>,
    pub statement: Vec<u8>,
}

/// One image found in the input.
pub struct ImageTarget {
    pub name: String,
    pub manifest_digest: Option<String>,
    pub config_digest: String,
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
    /// Statements of the attestation manifests that refer to this image.
    pub attestations: Vec<Attestation>,
}

/// Images found, plus what was listed but not scanned.
pub struct Resolved {
    pub images: Vec<ImageTarget>,
    pub notes: Vec<String>,
}

pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

fn blob_name(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm_name(), d.hex)
}

/// Reads a small file, bounded, and checks it against `expected` when given.
fn read_json_bytes(
    store: &dyn Store,
    name: &str,
    expected: Option<&Digest>,
    limits: &Limits,
) -> Result<(Vec<u8>, String), ImageError> {
    let input = store.input();
    let reader = store
        .open(name)
        .map_err(|e| ImageError::io(input, name, e))?;
    let Some(reader) = reader else {
        return Err(match expected {
            Some(d) => ImageError::MissingBlob {
                input: input.into(),
                digest: d.to_string(),
            },
            None => ImageError::invalid(input, format!("`{name}` is missing")),
        });
    };
    let alg = expected
        .map(|d| d.algorithm)
        .unwrap_or(crate::digest::Algorithm::Sha256);
    let mut hashing = HashingReader::new(reader, alg);
    let handle = hashing.handle();
    let mut buf = Vec::new();
    (&mut hashing)
        .take(limits.max_json_bytes + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ImageError::io(input, name, e))?;
    if buf.len() as u64 > limits.max_json_bytes {
        return Err(ImageError::invalid(
            input,
            format!("`{name}` is larger than {} bytes", limits.max_json_bytes),
        ));
    }
    let (actual, _) = handle.finish();
    if let Some(d) = expected {
        if actual != d.to_string() {
            return Err(ImageError::DigestMismatch {
                input: input.into(),
                what: name.into(),
                expected: d.to_string(),
                actual,
            });
        }
    }
    Ok((buf, actual))
}

fn parse<T: serde::de::DeserializeOwned>(
    input: &str,
    name: &str,
    bytes: &[u8],
) -> Result<T, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImageError::invalid(input, format!("`{name}` is not valid: {e}")))
}

fn parse_digest(input: &str, s: &str) -> Result<Digest, ImageError> {
    Digest::parse(s).map_err(|e| ImageError::invalid(input, e))
}

/// Finds the images in `store`.
pub fn resolve(
    store: &dyn Store,
    sel: &Selection,
    limits: &Limits,
) -> Result<Resolved, ImageError> {
    let mut resolved = if store.exists("manifest.json") {
        resolve_docker(store, limits)?
    } else {
        resolve_oci(store, sel, limits)?
    };
    if let Some(want) = &sel.image {
        let available: Vec<String> = resolved.images.iter().map(|i| i.name.clone()).collect();
        resolved.images.retain(|i| name_matches(&i.name, want));
        if resolved.images.is_empty() {
            return Err(ImageError::Selection {
                input: store.input().into(),
                message: format!(
                    "no image named `{want}`; the input holds: {}",
                    available.join(", ")
                ),
            });
        }
    }
    if resolved.images.is_empty() {
        return Err(ImageError::invalid(
            store.input(),
            "the input holds no image",
        ));
    }
    Ok(resolved)
}

/// `want` matches a full name, the name without a default registry, or an OCI ref name.
fn name_matches(name: &str, want: &str) -> bool {
    let strip = |s: &str| {
        let s = s.strip_prefix("docker.io/").unwrap_or(s);
        let s = s.strip_prefix("library/").unwrap_or(s);
        s.strip_prefix("localhost/").unwrap_or(s).to_string()
    };
    let with_tag = |s: String| {
        if s.rsplit('/')
            .next()
            .is_some_and(|l| l.contains(':') || l.contains('@'))
        {
            s
        } else {
            format!("{s}:latest")
        }
    };
    name == want
        || with_tag(strip(name)) == with_tag(strip(want))
        || name.rsplit_once(':').is_some_and(|(_, tag)| tag == want)
}

fn resolve_docker(store: &dyn Store, limits: &Limits) -> Result<Resolved, ImageError> {
    let input = store.input();
    let (bytes, _) = read_json_bytes(store, "manifest.json", None, limits)?;
    let entries: Vec<DockerManifestEntry> = parse(input, "manifest.json", &bytes)?;
    let mut images = Vec::new();
    for entry in entries {
        // The config's name carries its digest in both the old (`<hex>.json`) and new (`blobs/sha256/<hex>`) forms.
        let expected = digest_in_name(&entry.config);
        let (cfg_bytes, actual) = read_json_bytes(store, &entry.config, expected.as_ref(), limits)?;
        let config: ImageConfig = parse(input, &entry.config, &cfg_bytes)?;
        if config.rootfs.diff_ids.len() != entry.layers.len() {
            return Err(ImageError::invalid(
                input,
                format!(
                    "image config {} lists {} diff_ids but manifest.json lists {} layers",
                    entry.config,
                    config.rootfs.diff_ids.len(),
                    entry.layers.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (i, name) in entry.layers.iter().enumerate() {
            let diff_id = parse_digest(input, &config.rootfs.diff_ids[i])?;
            let digest = name
                .strip_prefix("blobs/")
                .and_then(|_| digest_in_name(name));
            layers.push(LayerRef {
                name: name.clone(),
                digest,
                size: None,
                diff_id: Some(diff_id),
                media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
            });
        }
        let name = entry.repo_tags.as_ref().and_then(|t| {
            t.iter()
                .find(|t| t.starts_with("localhost/"))
                .or(t.first())
                .cloned()
        });
        images.push(ImageTarget {
            name: name.unwrap_or_else(|| actual.clone()),
            manifest_digest: None,
            config_digest: actual,
            config,
            layers,
            attestations: Vec::new(),
        });
    }
    Ok(Resolved {
        images,
        notes: Vec::new(),
    })
}

/// `blobs/sha256/<hex>` or `<hex>.json` → the digest they name.
fn digest_in_name(name: &str) -> Option<Digest> {
    if let Some(rest) = name.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return Digest::parse(&format!("{alg}:{hex}")).ok();
    }
    let stem = name.strip_suffix(".json")?;
    Digest::parse(&format!("sha256:{stem}")).ok()
}

const ATTESTATION: &str = "attestation-manifest";

fn resolve_oci(
    store: &dyn Store,
    sel: &Selection,
    limits: &Limits,
) -> Result<Resolved, ImageError> {
    let input = store.input();
    let (bytes, _) = read_json_bytes(store, "index.json", None, limits)?;
    let index: Index = parse(input, "index.json", &bytes)?;
    let mut out = Resolved {
        images: Vec::new(),
        notes: Vec::new(),
    };
    for desc in &index.manifests {
        // A bare tag (`latest`) reads as `DIR:latest`, as in the `oci:DIR:TAG` transport syntax.
        let name = desc
            .annotation("io.containerd.image.name")
            .or(desc.annotation("org.opencontainers.image.ref.name"))
            .map(|r| {
                if r.contains('/') || r.contains(':') {
                    r.to_string()
                } else {
                    format!("{input}:{r}")
                }
            });
        walk(store, desc, name, sel, limits, 0, &mut out)?;
    }
    Ok(out)
}

fn is_attestation(d: &Descriptor) -> bool {
    d.annotation("vnd.docker.reference.type") == Some(ATTESTATION)
        || d.platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
}

fn walk(
    store: &dyn Store,
    desc: &Descriptor,
    name: Option<String>,
    sel: &Selection,
    limits: &Limits,
    depth: u32,
    out: &mut Resolved,
) -> Result<(), ImageError> {
    let input = store.input();
    if depth > 4 {
        return Err(ImageError::invalid(
            input,
            "image indexes nested more than 4 deep",
        ));
    }
    let digest = parse_digest(input, &desc.digest)?;
    let blob = blob_name(&digest);
    let (bytes, _) = read_json_bytes(store, &blob, Some(&digest), limits)?;
    if desc.size >= 0 && desc.size as usize != bytes.len() {
        return Err(ImageError::invalid(
            input,
            format!(
                "{blob}: size is {} but the descriptor says {}",
                bytes.len(),
                desc.size
            ),
        ));
    }
    let value: serde_json::Value = parse(input, &blob, &bytes)?;
    let media_type = value
        .get("mediaType")
        .and_then(|v| v.as_str())
        .unwrap_or(&desc.media_type)
        .to_string();
    if is_index(&media_type) || (media_type.is_empty() && value.get("manifests").is_some()) {
        let index: Index = parse(input, &blob, &bytes)?;
        let (attest, images): (Vec<&Descriptor>, Vec<&Descriptor>) =
            index.manifests.iter().partition(|d| is_attestation(d));
        let mut statements: Vec<(Option<String>, Attestation)> = Vec::new();
        for a in attest {
            let subject = a
                .annotation("vnd.docker.reference.digest")
                .map(str::to_string);
            statements.extend(
                read_attestation(store, a, limits, &mut out.notes)?
                    .into_iter()
                    .map(|s| (subject.clone(), s)),
            );
        }
        let first_new = out.images.len();
        let chosen: Vec<&Descriptor> = if images.len() <= 1 {
            images
        } else {
            let available: Vec<String> = images
                .iter()
                .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                .collect();
            let want = match &sel.platform {
                PlatformChoice::All => None,
                PlatformChoice::Host => Some(host_platform()),
                PlatformChoice::Only(p) => Some(p.clone()),
            };
            match want {
                None => images,
                Some(want) => {
                    let picked: Vec<&Descriptor> = images
                        .into_iter()
                        .filter(|d| {
                            d.platform
                                .as_ref()
                                .is_some_and(|p| platform_matches(p, &want))
                        })
                        .collect();
                    if picked.is_empty() {
                        return Err(ImageError::Selection {
                            input: input.into(),
                            message: format!(
                                "no image for platform {want}; available: {} (use --platform os/arch or --platform all)",
                                available.join(", ")
                            ),
                        });
                    }
                    picked
                }
            }
        };
        let multi = chosen.len() > 1;
        for d in chosen {
            let child_name = match (&name, &d.platform) {
                (Some(n), Some(p)) if multi => Some(format!("{n} ({p})")),
                (n, _) => n.clone(),
            };
            walk(store, d, child_name, sel, limits, depth + 1, out)?;
        }
        // Statements go to the image they name (images of platforms not chosen are not scanned,
        // and neither are their statements).
        for (subject, st) in statements {
            let target = out.images[first_new..].iter_mut().find(|i| match &subject {
                Some(s) => i.manifest_digest.as_deref() == Some(s.as_str()),
                None => true,
            });
            if let Some(img) = target {
                img.attestations.push(st);
            }
        }
        return Ok(());
    }
    let manifest: ImageManifest = parse(input, &blob, &bytes)?;
    let cfg_digest = parse_digest(input, &manifest.config.digest)?;
    let (cfg_bytes, _) =
        read_json_bytes(store, &blob_name(&cfg_digest), Some(&cfg_digest), limits)?;
    let config: ImageConfig = parse(input, &manifest.config.digest, &cfg_bytes)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::invalid(
            input,
            format!(
                "manifest {} lists {} layers but its config lists {} diff_ids",
                desc.digest,
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::new();
    for (i, l) in manifest.layers.iter().enumerate() {
        let d = parse_digest(input, &l.digest)?;
        layers.push(LayerRef {
            name: blob_name(&d),
            digest: Some(d),
            size: (l.size >= 0).then_some(l.size as u64),
            diff_id: Some(parse_digest(input, &config.rootfs.diff_ids[i])?),
            media_type: l.media_type.clone(),
        });
    }
    out.images.push(ImageTarget {
        name: name.unwrap_or_else(|| desc.digest.clone()),
        manifest_digest: Some(desc.digest.clone()),
        config_digest: cfg_digest.to_string(),
        config,
        layers,
        attestations: Vec::new(),
    });
    Ok(())
}

/// The in-toto statements of an attestation manifest (bounded like any JSON document).
fn read_attestation(
    store: &dyn Store,
    desc: &Descriptor,
    limits: &Limits,
    notes: &mut Vec<String>,
) -> Result<Vec<Attestation>, ImageError> {
    let input = store.input();
    let digest = parse_digest(input, &desc.digest)?;
    let name = blob_name(&digest);
    let (bytes, _) = read_json_bytes(store, &name, Some(&digest), limits)?;
    let manifest: ImageManifest = parse(input, &name, &bytes)?;
    let mut out = Vec::new();
    for l in &manifest.layers {
        if !l.media_type.contains("in-toto") {
            continue;
        }
        let d = parse_digest(input, &l.digest)?;
        if l.size > limits.max_json_bytes as i64 {
            notes.push(format!(
                "attestation {}: statement {} ({} bytes) is larger than {} bytes: not scanned",
                desc.digest, l.digest, l.size, limits.max_json_bytes
            ));
            continue;
        }
        let (statement, _) = read_json_bytes(store, &blob_name(&d), Some(&d), limits)?;
        out.push(Attestation {
            manifest_digest: desc.digest.clone(),
            blob_digest: l.digest.clone(),
            predicate_type: l
                .annotation("in-toto.io/predicate-type")
                .map(str::to_string),
            statement,
        });
    }
    Ok(out)
}

fn platform_matches(p: &Platform, want: &str) -> bool {
    let mut parts = want.split('/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    os == Some(p.os.as_str())
        && arch == Some(p.architecture.as_str())
        && (variant.is_none() || variant == p.variant.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_loosely_but_not_wrongly() {
        assert!(name_matches("localhost/leaky-app:latest", "leaky-app"));
        assert!(name_matches(
            "localhost/leaky-app:latest",
            "leaky-app:latest"
        ));
        assert!(name_matches("docker.io/library/alpine:3.20", "alpine:3.20"));
        assert!(name_matches("latest", "latest"));
        assert!(!name_matches("localhost/leaky-app:latest", "other"));
        assert!(!name_matches("localhost/leaky-app:v1", "leaky-app"));
    }

    #[test]
    fn digest_names() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(digest_in_name(&format!("blobs/sha256/{hex}")).is_some());
        assert!(digest_in_name(&format!("{hex}.json")).is_some());
        assert!(digest_in_name("abc/layer.tar").is_none());
    }
}
