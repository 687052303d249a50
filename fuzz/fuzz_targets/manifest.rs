//! Image index, manifest and config JSON: parsed directly, and resolved the way a scan resolves
//! an input (`caulk_image::resolve::resolve`), through an in-memory store.
//!
//! Input: NUL-separated chunks. Chunk 0 is `manifest.json` (docker save) when it starts with `[`,
//! else `index.json` (OCI). Chunk k >= 1 is stored as `blobs/sha256/<sha256 of chunk k>` and as
//! `c<k>.json`. So that the fuzzer can reach past digest checks, `@k` (one digit) in chunk j is
//! replaced by the hex digest of chunk k when k > j (chunks are hashed from the last one back).
//!
//! Checks: `Ok` or `Err`, never a panic; every resolved layer has a digest or a name; the config
//! and history of every image resolved are scanned as a scan would.

#![no_main]

use std::collections::HashMap;
use std::io::{self, Cursor};

use caulk_fuzz::{hash, text_of, with_scanner};
use caulk_image::config::{clean_instruction, layer_history, scan_config, scan_history};
use caulk_image::digest::Digest;
use caulk_image::manifest::{is_index, DockerManifestEntry, ImageConfig, ImageManifest, Index};
use caulk_image::resolve::resolve;
use caulk_image::source::{BlobReader, Store};
use caulk_image::{Limits, PlatformChoice, Selection};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest as _, Sha256};

struct MemStore {
    files: HashMap<String, Vec<u8>>,
}

impl Store for MemStore {
    fn open(&self, name: &str) -> io::Result<Option<BlobReader<'_>>> {
        Ok(self
            .files
            .get(name)
            .map(|b| Box::new(Cursor::new(b.as_slice())) as BlobReader<'_>))
    }
    fn exists(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }
    fn input(&self) -> &str {
        "fuzz"
    }
    fn size(&self, name: &str) -> Option<u64> {
        self.files.get(name).map(|b| b.len() as u64)
    }
}

/// Replaces `@k` with `hexes[k]` where known.
fn substitute(chunk: &[u8], hexes: &[Option<String>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len());
    let mut i = 0;
    while i < chunk.len() {
        if chunk[i] == b'@' && i + 1 < chunk.len() && chunk[i + 1].is_ascii_digit() {
            let k = usize::from(chunk[i + 1] - b'0');
            if let Some(Some(hex)) = hexes.get(k) {
                out.extend_from_slice(hex.as_bytes());
                i += 2;
                continue;
            }
        }
        out.push(chunk[i]);
        i += 1;
    }
    out
}

fn exercise_config(config: &ImageConfig, layers: usize) {
    let _ = config.platform();
    with_scanner(|scanner| {
        let _ = scan_config(scanner, config);
        let _ = scan_history(scanner, config);
    });
    if let Ok(map) = layer_history(config, layers) {
        let history = config.history.as_deref().unwrap_or(&[]);
        assert_eq!(map.len(), layers);
        assert!(map.iter().all(|&i| i < history.len()), "{map:?}");
    }
    for h in config.history.iter().flatten() {
        if let Some(c) = &h.created_by {
            let _ = clean_instruction(c);
        }
    }
    for d in &config.rootfs.diff_ids {
        let _ = Digest::parse(d).map(|d| d.to_string());
    }
}

/// Each chunk parsed directly as every document type.
fn parse_directly(bytes: &[u8]) {
    if let Ok(index) = serde_json::from_slice::<Index>(bytes) {
        let _ = index.media_type.as_deref().map(is_index);
        for d in &index.manifests {
            let _ = Digest::parse(&d.digest);
            let _ = d.annotation("org.opencontainers.image.ref.name");
            let _ = d.platform.as_ref().map(|p| p.to_string());
        }
    }
    if let Ok(m) = serde_json::from_slice::<ImageManifest>(bytes) {
        let _ = Digest::parse(&m.config.digest);
        for l in &m.layers {
            let _ = Digest::parse(&l.digest);
        }
    }
    if let Ok(entries) = serde_json::from_slice::<Vec<DockerManifestEntry>>(bytes) {
        for e in &entries {
            let _ = (&e.config, &e.repo_tags, e.layers.len());
        }
    }
    if let Ok(config) = serde_json::from_slice::<ImageConfig>(bytes) {
        exercise_config(&config, config.rootfs.diff_ids.len());
    }
    if bytes.len() <= 4096 {
        let text = text_of(bytes);
        let _ = Digest::parse(&text);
        let _ = clean_instruction(&text);
    }
}

fuzz_target!(init: caulk_fuzz::warm_up(), |data: &[u8]| {
    let chunks: Vec<&[u8]> = data.split(|&b| b == 0).take(10).collect();
    let mut hexes: Vec<Option<String>> = vec![None; chunks.len()];
    let mut finals: Vec<Vec<u8>> = vec![Vec::new(); chunks.len()];
    for k in (0..chunks.len()).rev() {
        let bytes = substitute(chunks[k], &hexes);
        hexes[k] = Some(hex_of(&Sha256::digest(&bytes)));
        finals[k] = bytes;
    }
    for f in &finals {
        parse_directly(f);
    }

    let mut files = HashMap::new();
    let top = if finals[0].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        "manifest.json"
    } else {
        "index.json"
    };
    for (k, f) in finals.iter().enumerate().skip(1) {
        let hex = hexes[k].as_deref().unwrap_or_default();
        files.insert(format!("blobs/sha256/{hex}"), f.clone());
        files.insert(format!("c{k}.json"), f.clone());
    }
    files.insert(top.to_string(), finals[0].clone());
    let store = MemStore { files };

    let pick = hash(data);
    let selection = Selection {
        image: (pick & 3 == 0).then(|| "latest".to_string()),
        platform: match (pick >> 2) % 3 {
            0 => PlatformChoice::All,
            1 => PlatformChoice::Host,
            _ => PlatformChoice::Only("linux/arm/v7".into()),
        },
    };
    let limits = Limits {
        max_json_bytes: 1 << 20,
        ..Limits::default()
    };
    match resolve(&store, &selection, &limits) {
        Ok(resolved) => {
            assert!(!resolved.images.is_empty(), "resolve returned no image without an error");
            for img in &resolved.images {
                assert_eq!(img.layers.len(), img.config.rootfs.diff_ids.len());
                for l in &img.layers {
                    assert!(!l.name.is_empty(), "a layer without a name");
                    let _ = (&l.digest, l.size, &l.diff_id, &l.media_type);
                }
                exercise_config(&img.config, img.layers.len());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
