//! End-to-end: images built by real buildah from `tests/fixtures/images/*`, each exported as a
//! docker archive, an OCI archive, an OCI layout with gzip layers and one with zstd layers. Every
//! form must give exactly the findings in the fixture's `expected.json`, an oracle written from the
//! built image, not from caulk's output.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::{fixtures, repo_root};

type Key = (
    String,
    String,
    Option<u64>,
    Option<String>,
    Option<u64>,
    Option<bool>,
    Option<u64>,
    Option<String>,
    Option<u64>,
);

fn key(f: &Value, loc: &Value) -> Key {
    (
        f["rule_id"].as_str().unwrap().to_string(),
        loc["kind"].as_str().unwrap().to_string(),
        loc["layer_index"].as_u64(),
        loc["path"].as_str().map(str::to_string),
        loc["line"].as_u64(),
        loc["visible"].as_bool(),
        loc["shadowed_by_layer"].as_u64(),
        loc["key"].as_str().map(str::to_string),
        loc["history_index"].as_u64(),
    )
}

fn expected(name: &str) -> Vec<Key> {
    let path = repo_root()
        .join("tests/fixtures/images")
        .join(name)
        .join("expected.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut keys: Vec<Key> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| key(f, f))
        .collect();
    keys.sort();
    keys
}

fn actual(report: &Value) -> Vec<Key> {
    let mut keys: Vec<Key> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let loc = &f["location"];
            // history_index is only part of the oracle for history findings.
            let mut k = key(f, loc);
            if loc["kind"] != "history" {
                k.8 = None;
            }
            k
        })
        .collect();
    keys.sort();
    keys
}

const FORMS: [&str; 4] = [
    "docker-archive.tar",
    "oci-archive.tar",
    "oci-gzip",
    "oci-zstd",
];

fn check(name: &str) {
    let dir = fixtures().join(name);
    let want = expected(name);
    for form in FORMS {
        let (code, report) = support::scan_json(&dir.join(form), &[]);
        let got = actual(&report);
        assert_eq!(
            got,
            want,
            "{name}/{form}: findings differ from expected.json\n{}",
            serde_json::to_string_pretty(&report["findings"]).unwrap()
        );
        assert_eq!(
            code,
            if want.is_empty() { 0 } else { 1 },
            "{name}/{form}: exit code"
        );
        assert!(
            report["skipped"].as_array().unwrap().is_empty(),
            "{name}/{form}: skipped {}",
            report["skipped"]
        );
        // Every layer is attributed to its instruction.
        for l in report["images"][0]["layers"].as_array().unwrap() {
            assert!(
                l["instruction"].is_string(),
                "{name}/{form}: layer without instruction: {l}"
            );
        }
    }
}

macro_rules! fixture_tests {
    ($($test:ident => $name:literal,)*) => {
        $( #[test] fn $test() { check($name); } )*
    };
}

fixture_tests! {
    env_in_config_and_history => "env",
    build_arg_in_history => "build-arg",
    label => "label",
    cmd_and_entrypoint => "cmd-entrypoint",
    copied_env_removed_later => "copy-env-rm",
    copied_ssh_key_removed_later => "copy-idrsa-rm",
    file_written_by_run_and_removed => "run-write-rm",
    file_overwritten_later => "overwrite",
    opaque_directory_overlay_driver => "opaque",
    directory_replaced_vfs_driver => "opaque-vfs",
    nested_archives => "nested-archive",
    multi_stage_copy_from => "multi-stage-copy",
    negative_builder_only => "builder-only",
    negative_secret_mount => "secret-mount",
    negative_ssh_mount => "ssh-mount",
    negative_decoys => "decoys",
    tuning_base_image => "custom-token",
    tuning_rebuilt_image => "custom-token-v2",
}

#[test]
fn layer_findings_carry_instruction_digest_and_fix() {
    let (_, report) = support::scan_json(&fixtures().join("copy-env-rm/docker-archive.tar"), &[]);
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["location"]["kind"] == "layer")
        .unwrap();
    let loc = &f["location"];
    assert!(
        loc["instruction"].as_str().unwrap().starts_with("COPY "),
        "{loc}"
    );
    assert!(
        loc["layer_digest"].as_str().unwrap().starts_with("sha256:"),
        "{loc}"
    );
    assert_eq!(loc["shadow"], "deleted");
    let fix = f["remediation"].as_str().unwrap();
    assert!(
        fix.contains("deleted by layer 3")
            && fix.contains(".dockerignore")
            && fix.contains("rotate"),
        "{fix}"
    );
    assert!(f["fingerprint"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn same_findings_from_every_form() {
    // Fingerprints and layer digests of uncompressed content agree across the four exports.
    let dir = fixtures().join("copy-env-rm");
    let fps: Vec<Vec<String>> = FORMS
        .iter()
        .map(|form| {
            let (_, r) = support::scan_json(&dir.join(form), &[]);
            let mut v: Vec<String> = r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["fingerprint"].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        })
        .collect();
    assert!(fps.windows(2).all(|w| w[0] == w[1]), "{fps:?}");
}

#[test]
fn sarif_output_is_valid_shape() {
    let out = support::caulk(&[
        "image",
        fixtures().join("copy-env-rm/oci-gzip").to_str().unwrap(),
        "--format",
        "sarif",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for r in results {
        assert!(r["ruleId"].is_string() && r["partialFingerprints"]["caulkSecret/v1"].is_string());
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "app/.env"
        );
        assert!(r["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64());
    }
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
}

#[test]
fn shipped_example_shows_all_four_kinds() {
    let example = repo_root().join("examples/leaky-app/leaky-app.tar");
    let (code, report) = support::scan_json(&example, &[]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/leaky-app/expected.json")).unwrap(),
    )
    .unwrap();
    let mut want: Vec<Key> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| key(f, f))
        .collect();
    want.sort();
    assert_eq!(actual(&report), want);
    let kinds: std::collections::BTreeSet<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| match f["location"]["visible"].as_bool() {
            Some(true) => "visible".to_string(),
            Some(false) => "deleted".to_string(),
            None => f["location"]["kind"]
                .as_str()
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .to_string(),
        })
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec!["config", "deleted", "history", "visible"]
    );
}

/// A real multi-platform index (buildah manifest list) and a real two-image docker archive (podman save -m).
fn multi() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = repo_root().join("target/fixtures");
        let status = Command::new("bash")
            .arg(repo_root().join("tests/fixtures/build-multi.sh"))
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "tests/fixtures/build-multi.sh failed");
        out.join("multi")
    })
}

fn platforms(report: &Value) -> Vec<String> {
    report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["platform"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn multi_platform_index_scans_the_host_platform_by_default() {
    let index = multi().join("index-oci");
    let host = if cfg!(target_arch = "aarch64") {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let (code, r) = support::scan_json(&index, &[]);
    assert_eq!(code, 1);
    assert_eq!(platforms(&r), vec![host]);
    let (_, arm) = support::scan_json(&index, &["--platform", "linux/arm64"]);
    assert_eq!(platforms(&arm), vec!["linux/arm64"]);
    let (_, all) = support::scan_json(&index, &["--platform", "all"]);
    let mut p = platforms(&all);
    p.sort();
    assert_eq!(p, vec!["linux/amd64", "linux/arm64"]);
    // Each platform's own secret: two fingerprints, each found once, at app/app.env.
    let fps: std::collections::BTreeSet<&str> = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fps.len(), 2);
    let none = support::caulk(&[
        "image",
        index.to_str().unwrap(),
        "--platform",
        "linux/s390x",
    ]);
    assert_eq!(none.status.code(), Some(2));
    let e = String::from_utf8_lossy(&none.stderr);
    assert!(
        e.contains("linux/amd64") && e.contains("linux/arm64") && e.contains("--platform"),
        "{e}"
    );
}

#[test]
fn multi_image_archive_scans_all_or_the_one_named() {
    let tar = multi().join("two-images.tar");
    let (_, all) = support::scan_json(&tar, &[]);
    let names: Vec<&str> = all["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["localhost/multi:amd64", "localhost/multi:arm64"]
    );
    assert_eq!(all["findings"].as_array().unwrap().len(), 2);
    let (_, one) = support::scan_json(&tar, &["--image", "multi:arm64"]);
    assert_eq!(platforms(&one), vec!["linux/arm64"]);
    assert!(one["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["image"] == "localhost/multi:arm64"));
    let missing = support::caulk(&["image", tar.to_str().unwrap(), "--image", "nope:1"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("localhost/multi:amd64"),
        "lists what is there"
    );
}
