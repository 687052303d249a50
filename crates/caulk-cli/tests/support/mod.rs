//! Builds small synthetic images (docker-save archives and OCI layouts) for edge cases that real
//! builders never produce, and runs the `caulk` binary on them.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Builds the buildah fixtures (tests/fixtures/images) once per test process; the script's own
/// lock and stamps make concurrent and repeated runs cheap.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = repo_root().join("target/fixtures");
        let status = Command::new("bash")
            .arg(repo_root().join("tests/fixtures/build-images.sh"))
            .arg(&out)
            .status()
            .expect(
                "running tests/fixtures/build-images.sh (needs buildah, skopeo, busybox-static)",
            );
        assert!(
            status.success(),
            "building the fixture images failed; see the output above"
        );
        out
    })
}

/// One tar entry of a synthetic layer.
pub enum Entry<'a> {
    File(&'a str, Vec<u8>),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// A name written byte for byte, bypassing the tar crate's checks (for `..` and absolute names).
    Raw(&'a [u8], Vec<u8>),
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(0);
    h
}

/// A layer tar from entries, in order.
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::File(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64);
                b.append_data(&mut h, p, &data[..]).unwrap();
            }
            Entry::Dir(p) => {
                let mut h = header(tar::EntryType::Directory, 0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::Symlink(p, t) => {
                let mut h = header(tar::EntryType::Symlink, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::Hardlink(p, t) => {
                let mut h = header(tar::EntryType::Link, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::Raw(name, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64);
                let old = h.as_old_mut();
                old.name[..name.len()].copy_from_slice(name);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A synthetic image: uncompressed layer tars plus config fields.
#[derive(Default, Clone)]
pub struct Image {
    pub layers: Vec<Vec<u8>>,
    pub env: Vec<String>,
    /// (created_by, empty_layer)
    pub history: Vec<(String, bool)>,
    /// Extra fields of the config's `config` object (`Healthcheck`, `User`, ...).
    pub extra: Vec<(&'static str, serde_json::Value)>,
}

impl Image {
    pub fn new(layers: Vec<Vec<u8>>) -> Image {
        let history = (0..layers.len())
            .map(|i| (format!("/bin/sh -c #(nop) COPY file:{i} in /"), false))
            .collect();
        Image {
            layers,
            env: vec!["PATH=/usr/bin:/bin".into()],
            history,
            extra: Vec::new(),
        }
    }

    pub fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self.layers.iter().map(|l| sha256(l)).collect();
        let history: Vec<serde_json::Value> = self
            .history
            .iter()
            .map(|(c, e)| serde_json::json!({"created_by": c, "empty_layer": e}))
            .collect();
        let mut config = serde_json::json!({"Env": self.env});
        for (k, v) in &self.extra {
            config[*k] = v.clone();
        }
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }))
        .unwrap()
    }

    /// A docker-save archive; `layer_names` overrides the manifest's layer paths.
    pub fn docker_archive(&self, path: &Path) {
        let config = self.config();
        let cfg_name = format!("{}.json", &sha256(&config)[7..]);
        let names: Vec<String> = self
            .layers
            .iter()
            .map(|l| format!("{}/layer.tar", &sha256(l)[7..19]))
            .collect();
        let manifest = serde_json::json!([{"Config": cfg_name, "RepoTags": ["synthetic:latest"], "Layers": names}]);
        let mut files: Vec<(String, Vec<u8>)> = vec![(cfg_name, config)];
        for (n, l) in names.iter().zip(&self.layers) {
            files.push((n.clone(), l.clone()));
        }
        files.push((
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ));
        write_tar(path, &files);
    }

    /// An OCI layout directory with layers compressed by `compress`.
    pub fn oci_layout(&self, dir: &Path, compress: fn(&[u8]) -> Vec<u8>, media_type: &str) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| {
            let d = sha256(data);
            std::fs::write(blobs.join(&d[7..]), data).unwrap();
            d
        };
        let config = self.config();
        let cfg_digest = put(&config);
        let layers: Vec<serde_json::Value> = self
            .layers
            .iter()
            .map(|l| {
                let c = compress(l);
                serde_json::json!({"mediaType": media_type, "digest": put(&c), "size": c.len()})
            })
            .collect();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": config.len()},
            "layers": layers,
        }))
        .unwrap();
        let m = put(&manifest);
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }
}

/// Writes a tar of (name, bytes) files.
pub fn write_tar(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, data) in files {
        let mut h = header(tar::EntryType::Regular, data.len() as u64);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.finish().unwrap();
}

/// A background process (sshd, ssh-agent, a registry, an API service), killed when dropped.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `ready` for up to 10 s; panics naming `what` when it never holds.
pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not come up within 10 s");
}

/// True once something accepts TCP connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Runs a command that must succeed; returns its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the caulk binary, with a layer cache of its own (so that no test sees another's).
pub fn caulk(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_caulk"))
        .args(args)
        .env("CAULK_CACHE_DIR", cache.path())
        .output()
        .expect("running caulk")
}

/// Runs `caulk image --format json` and parses the report (panics on exit code 2).
pub fn scan_json(target: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let t = target.to_str().unwrap();
    let mut args = vec!["image", t, "--format", "json"];
    args.extend_from_slice(extra);
    let out = caulk(&args);
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(
        code,
        2,
        "caulk failed on {t}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        code,
        serde_json::from_slice(&out.stdout).expect("JSON report"),
    )
}

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A well-formed (fake) GitHub token: prefix + 30 chars + base62(crc32) checksum.
pub fn github_token(prefix: &str, seed: u8) -> String {
    let body: String = (0..30u32)
        .map(|i| B62[((i * 7 + seed as u32 * 13 + 5) % 62) as usize] as char)
        .collect();
    let mut n = crc32fast::hash(body.as_bytes());
    let mut ck = Vec::new();
    while n > 0 {
        ck.push(B62[(n % 62) as usize]);
        n /= 62;
    }
    while ck.len() < 6 {
        ck.push(b'0');
    }
    ck.reverse();
    format!("{prefix}{body}{}", String::from_utf8(ck).unwrap())
}

/// A finding as a compact tuple: (rule_id, kind, layer_index, path, line, visible, shadowed_by).
pub type Tuple = (
    String,
    String,
    Option<u64>,
    Option<String>,
    Option<u64>,
    Option<bool>,
    Option<u64>,
);

/// The findings of a JSON report as compact tuples.
pub fn tuples(report: &serde_json::Value) -> Vec<Tuple> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let l = &f["location"];
            (
                f["rule_id"].as_str().unwrap().to_string(),
                l["kind"].as_str().unwrap().to_string(),
                l["layer_index"].as_u64(),
                l["path"].as_str().map(str::to_string),
                l["line"].as_u64(),
                l["visible"].as_bool(),
                l["shadowed_by_layer"].as_u64(),
            )
        })
        .collect()
}
