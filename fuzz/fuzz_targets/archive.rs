//! The image reader on arbitrary bytes: as a docker-save / OCI archive (tar, gzip- or
//! zstd-compressed tar) opened and scanned end to end, and as one layer blob streamed on its own.
//!
//! Contract: `Ok` or `Err`, never a panic, and memory bounded by the `Limits` (libFuzzer's
//! `-rss_limit_mb` and `-malloc_limit_mb` catch anything unbounded). The limits here are smaller
//! than caulk's defaults only so that each run stays fast; they are the same knobs.

#![no_main]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use caulk_fuzz::{hash, rule_set, with_scanner};
use caulk_image::content::Scratch;
use caulk_image::digest::Algorithm;
use caulk_image::layer::scan_layer;
use caulk_image::source::{open_input, Compression};
use caulk_image::{scan_store, Limits, NoProgress, PlatformChoice, ScanOptions, Selection};
use libfuzzer_sys::fuzz_target;

fn limits() -> Limits {
    Limits {
        max_layer_bytes: 8 << 20,
        max_ratio: 1000,
        ratio_grace: 1 << 20,
        max_nested_depth: 4,
        max_nested_bytes: 4 << 20,
        max_zip_bytes: 4 << 20,
        max_json_bytes: 1 << 20,
    }
}

/// One file per process, rewritten for each input (the reader opens archives by path).
fn archive_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("caulk-fuzz-archive-{}.tar", std::process::id()))
    })
}

fuzz_target!(init: caulk_fuzz::warm_up(), |data: &[u8]| {
    let pick = hash(data);
    let path = archive_path();
    std::fs::write(path, data).expect("write the archive");
    let input = path.to_str().expect("a UTF-8 temp path");

    if let Ok(store) = open_input(input) {
        let opts = ScanOptions {
            selection: Selection {
                image: None,
                platform: match pick % 3 {
                    0 => PlatformChoice::All,
                    1 => PlatformChoice::Host,
                    _ => PlatformChoice::Only("linux/arm64/v8".into()),
                },
            },
            limits: limits(),
            show_secrets: pick & 8 != 0,
            threads: 1,
            ..ScanOptions::default()
        };
        match scan_store(store.as_ref(), rule_set(), &opts, &NoProgress) {
            Ok(report) => {
                for f in &report.findings {
                    let _ = (&f.rule_id, &f.location, &f.fingerprint);
                }
                let _ = report.summary;
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    // The same bytes as one layer blob.
    with_scanner(|scanner| {
        let mut scratch = Scratch::default();
        let alg = if pick & 16 == 0 {
            Algorithm::Sha256
        } else {
            Algorithm::Sha512
        };
        match scan_layer(
            Box::new(Cursor::new(data)),
            alg,
            scanner,
            &mut scratch,
            &limits(),
        ) {
            Ok(scan) => {
                // An uncompressed blob read to its end is hashed whole.
                if scan.diff_id.is_some() && scan.compression == Compression::None {
                    assert_eq!(scan.size, data.len() as u64, "a complete read counts every byte");
                }
                let _ = (scan.index.len(), scan.hits.len(), scan.skipped.len());
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    });
});
