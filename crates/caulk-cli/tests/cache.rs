//! The layer cache: a rescan reports exactly what the first scan did without reading the cached
//! layers again; images sharing layers share entries; entries hold no secret; allowlist verdicts
//! survive the cache; `caulk cache info|clean`.

mod support;

use std::path::Path;
use support::{caulk, github_token, layer, Entry, Image};

fn scan(input: &Path, cache: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec![
        "image",
        input.to_str().unwrap(),
        "--format",
        "json",
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = caulk(&args);
    let code = out.status.code().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (code, json, stderr)
}

fn entries(cache: &Path) -> (u64, u64) {
    let out = caulk(&[
        "cache",
        "info",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["entries"].as_u64().unwrap(), v["keys"].as_u64().unwrap())
}

/// A base layer with a key file, an app layer with a token, and a layer that deletes the key.
fn images(token: &str) -> (Image, Image) {
    let base = layer(&[
        Entry::Dir("etc/"),
        Entry::File("etc/os-release", b"ID=synthetic\n".to_vec()),
        Entry::File(
            "etc/app/.env",
            format!("GITHUB_TOKEN={token}\nMODE=prod\n").into_bytes(),
        ),
    ]);
    let app1 = layer(&[Entry::File("app/one.txt", b"one\n".to_vec())]);
    let rm = layer(&[Entry::File("etc/app/.wh..env", Vec::new())]);
    let app2 = layer(&[Entry::File("app/two.txt", b"two\n".to_vec())]);
    (
        Image::new(vec![base.clone(), app1, rm.clone()]),
        Image::new(vec![base, app2, rm]),
    )
}

#[test]
fn rescan_reports_the_same_from_the_cache_and_shared_layers_are_stored_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let token = github_token("ghp_", 21);
    let (one, two) = images(&token);
    let a = tmp.path().join("one");
    let b = tmp.path().join("two");
    one.oci_layout(
        &a,
        support::gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    two.oci_layout(
        &b,
        support::gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );

    let (code, first, _) = scan(&a, &cache, &[]);
    assert_eq!(code, 1, "{first}");
    assert_eq!(entries(&cache), (3, 1));
    let (code, again, _) = scan(&a, &cache, &[]);
    assert_eq!(code, 1);
    assert_eq!(first, again, "the rescan reports exactly the first scan");
    let (_, uncached, _) = scan(&a, &cache, &["--no-cache"]);
    assert_eq!(first, uncached);
    let finding = &first["findings"][0];
    assert_eq!(finding["location"]["path"], "etc/app/.env");
    assert_eq!(finding["location"]["visible"], false);
    assert_eq!(finding["location"]["shadowed_by_layer"], 2);

    // The second image shares its base and whiteout layers: one new entry.
    let (code, second, _) = scan(&b, &cache, &[]);
    assert_eq!(code, 1);
    assert_eq!(entries(&cache), (4, 1));
    assert_eq!(
        second["findings"][0]["fingerprint"],
        first["findings"][0]["fingerprint"]
    );

    // Cached layers are not read again: a blob rewritten under the same digest goes unnoticed
    // with the cache, and is refused without it.
    let blobs = a.join("blobs/sha256");
    let base_digest = first["images"][0]["layers"][0]["digest"].as_str().unwrap();
    std::fs::write(blobs.join(&base_digest[7..]), b"not the layer").unwrap();
    let (code, cached, _) = scan(&a, &cache, &[]);
    assert_eq!(code, 1);
    assert_eq!(cached, first);
    let (code, _, err) = scan(&a, &cache, &["--no-cache"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&base_digest[7..]), "{err}");

    // No entry holds the secret; the preview and fingerprint are there.
    for e in std::fs::read_dir(cache.join("layers-v1")).unwrap() {
        for f in std::fs::read_dir(e.unwrap().path()).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            let json = String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap();
            assert!(!json.contains(&token), "a cache entry holds the secret");
            assert!(
                !json.contains(&token[4..20]),
                "a cache entry holds part of the secret"
            );
        }
    }

    let out = caulk(&["cache", "clean", "--cache-dir", cache.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 4 layers"));
    assert_eq!(entries(&cache), (0, 0));
}

#[test]
fn allowlist_verdicts_survive_the_cache_and_new_allowlists_miss_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let token = github_token("ghp_", 22);
    let (one, _) = images(&token);
    let archive = tmp.path().join("one.tar");
    one.docker_archive(&archive);
    let config = tmp.path().join("caulk.toml");
    // An allowlist that needs the secret's text: a regex on the secret.
    std::fs::write(
        &config,
        format!("[[allowlist]]\nregexes = ['^{}']\n", &token[..12]),
    )
    .unwrap();
    let cfg = ["--config", config.to_str().unwrap()];
    let (code, first, err) = scan(&archive, &cache, &cfg);
    assert_eq!(code, 0, "{first} {err}");
    assert_eq!(first["summary"]["suppressed"]["allowlist"], 1);
    let (code, again, _) = scan(&archive, &cache, &cfg);
    assert_eq!(code, 0);
    assert_eq!(first, again);
    assert_eq!(entries(&cache).1, 1);

    // Another allowlist is another key: the layers are scanned again, and the secret reported.
    std::fs::write(&config, "[[allowlist]]\nstopwords = ['sandbox']\n").unwrap();
    let (code, other, _) = scan(&archive, &cache, &cfg);
    assert_eq!(code, 1, "{other}");
    assert_eq!(entries(&cache), (6, 2));
}
