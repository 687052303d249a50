//! `caulk image REF` against a real registry: Debian's `docker-registry` on 127.0.0.1, with
//! images pushed by buildah/skopeo. Anonymous over plain HTTP; htpasswd basic auth over TLS with a
//! CA the test makes (credentials from the command line and from a Docker config.json); a
//! multi-platform index; and the failures: a wrong password, an unknown tag, a corrupted blob and
//! the registry going away mid-download, each a clear error (exit 2).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use support::{github_token, tuples};

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry` process with its own storage, killed on drop.
struct Registry {
    child: Child,
    port: u16,
    storage: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    fn start(dir: &Path, tls: Option<&Tls>, htpasswd: Option<&Path>) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let storage = dir.join("storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        if let Some(t) = tls {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.cert.display(),
                t.key.display()
            ));
        }
        if let Some(h) = htpasswd {
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: caulk-test\n    path: {}\n",
                h.display()
            ));
        }
        let file = dir.join("config.yml");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (apt-get install docker-registry)");
        let r = Registry {
            child,
            port,
            storage,
        };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("docker-registry did not listen on 127.0.0.1:{port}");
    }
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it (openssl).
struct Tls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// `ca.crt` alone, for skopeo's --dest-cert-dir.
    cert_dir: PathBuf,
}

fn make_tls(dir: &Path) -> Tls {
    std::fs::create_dir_all(dir).unwrap();
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=caulk test CA",
        ])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(p("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("san.ext"))
        .arg("-out")
        .arg(p("server.crt")));
    let cert_dir = dir.join("certs.d");
    std::fs::create_dir_all(&cert_dir).unwrap();
    std::fs::copy(p("ca.crt"), cert_dir.join("ca.crt")).unwrap();
    Tls {
        ca: p("ca.crt"),
        cert: p("server.crt"),
        key: p("server.key"),
        cert_dir,
    }
}

/// Builds `Containerfile` text with buildah (FROM scratch, COPY only: no RUN, so any --arch
/// builds here) and writes a docker-archive.
fn build(
    work: &Path,
    name: &str,
    files: &[(&str, String)],
    containerfile: &str,
    arch: &str,
) -> PathBuf {
    let ctx = work.join(format!("ctx-{name}"));
    std::fs::create_dir_all(&ctx).unwrap();
    for (f, text) in files {
        std::fs::write(ctx.join(f), text).unwrap();
    }
    std::fs::write(ctx.join("Containerfile"), containerfile).unwrap();
    let store = work.join("store");
    let b = |args: &[&str]| {
        run(Command::new("buildah")
            .arg("--root")
            .arg(store.join("root"))
            .arg("--runroot")
            .arg(store.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .env("BUILDAH_ISOLATION", "chroot"))
    };
    let tag = format!("caulk-reg-{name}");
    b(&[
        "build",
        "-q",
        "--layers",
        "--pull=never",
        "--arch",
        arch,
        "-t",
        &tag,
        ctx.to_str().unwrap(),
    ]);
    let archive = work.join(format!("{name}.tar"));
    let policy = work.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    b(&[
        "push",
        "--signature-policy",
        policy.to_str().unwrap(),
        &tag,
        &format!("docker-archive:{}:{tag}:latest", archive.display()),
    ]);
    archive
}

fn skopeo_push(work: &Path, src: &str, dest: &str, extra: &[&str]) {
    let policy = work.join("policy.json");
    run(Command::new("skopeo")
        .arg("copy")
        .arg("--policy")
        .arg(&policy)
        .args(extra)
        .arg(src)
        .arg(format!("docker://{dest}")));
}

fn caulk_env(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> (i32, serde_json::Value, String) {
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_caulk"));
    cmd.args(args)
        .args(["--format", "json", "--image-src", "registry"])
        .env("CAULK_CACHE_DIR", cache.path())
        .env("DOCKER_CONFIG", cache.path().join("no-docker-config"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env("XDG_RUNTIME_DIR", cache.path().join("no-runtime"))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn leaky(work: &Path, seed: u8) -> (PathBuf, String) {
    let token = github_token("ghp_", seed);
    let archive = build(
        work,
        &format!("leaky{seed}"),
        &[
            (".env", format!("GITHUB_TOKEN={token}\n")),
            ("app.txt", "hello\n".into()),
        ],
        "FROM scratch\nCOPY app.txt /app/app.txt\nCOPY .env /app/.env\n",
        "amd64",
    );
    (archive, token)
}

#[test]
fn anonymous_plain_http_registry_matches_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::start(&tmp.path().join("reg"), None, None);
    let (archive, token) = leaky(tmp.path(), 41);
    let dest = format!("{}/team/app:1.4", reg.host());
    skopeo_push(
        tmp.path(),
        &format!("docker-archive:{}", archive.display()),
        &dest,
        &["--dest-tls-verify=false"],
    );
    let (_, from_file) = support::scan_json(&archive, &[]);

    // Plain HTTP only when asked for.
    let (code, _, err) = caulk_env(&["image", &dest], &[], None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&dest) && err.contains("--insecure-registry"),
        "{err}"
    );

    let (code, report, err) = caulk_env(
        &["image", &dest, "--insecure-registry", &reg.host()],
        &[],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(tuples(&report), tuples(&from_file));
    assert_eq!(report["target"], dest);
    assert!(!report.to_string().contains(&token));

    // Pinned by digest: the same image.
    let digest = report["images"][0]["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    let pinned = format!("{}/team/app@{digest}", reg.host());
    let (code, by_digest, err) = caulk_env(
        &["image", &pinned, "--insecure-registry", &reg.host()],
        &[],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(tuples(&by_digest), tuples(&from_file));

    // An unknown tag and an unknown repository.
    for missing in [
        format!("{}/team/app:9.9", reg.host()),
        format!("{}/team/nope:1", reg.host()),
    ] {
        let (code, _, err) = caulk_env(
            &["image", &missing, "--insecure-registry", &reg.host()],
            &[],
            None,
        );
        assert_eq!(code, 2, "{missing}: {err}");
        assert!(
            err.contains("no manifest") || err.contains("404") || err.contains("unknown"),
            "{err}"
        );
    }
}

#[test]
fn basic_auth_over_tls_with_a_test_ca_and_credentials_from_flags_or_docker_config() {
    let tmp = tempfile::tempdir().unwrap();
    let tls = make_tls(&tmp.path().join("tls"));
    let htpasswd = tmp.path().join("htpasswd");
    let line = run(Command::new("htpasswd").args(["-Bbn", "scanner", "s3cret-pass"]));
    std::fs::write(&htpasswd, line).unwrap();
    let reg = Registry::start(&tmp.path().join("reg"), Some(&tls), Some(&htpasswd));
    let (archive, _) = leaky(tmp.path(), 42);
    let dest = format!("{}/team/private:1", reg.host());
    skopeo_push(
        tmp.path(),
        &format!("docker-archive:{}", archive.display()),
        &dest,
        &[
            "--dest-cert-dir",
            tls.cert_dir.to_str().unwrap(),
            "--dest-creds",
            "scanner:s3cret-pass",
        ],
    );
    let (_, from_file) = support::scan_json(&archive, &[]);
    let ca = tls.ca.to_str().unwrap();

    // Without the CA: TLS fails, clearly.
    let (code, _, err) = caulk_env(&["image", &dest], &[], None);
    assert_eq!(code, 2);
    assert!(err.contains("TLS") && err.contains("--ca-file"), "{err}");
    // Without credentials: 401.
    let (code, _, err) = caulk_env(&["image", &dest, "--ca-file", ca], &[], None);
    assert_eq!(code, 2);
    assert!(
        err.contains("user name and password") || err.contains("401"),
        "{err}"
    );
    // A wrong password.
    let (code, _, err) = caulk_env(
        &[
            "image",
            &dest,
            "--ca-file",
            ca,
            "--username",
            "scanner",
            "--password-stdin",
        ],
        &[],
        Some("wrong\n"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("401") && err.contains("credentials"), "{err}");
    assert!(!err.contains("wrong"), "the password is not echoed: {err}");
    // The right one, on stdin.
    let (code, report, err) = caulk_env(
        &[
            "image",
            &dest,
            "--ca-file",
            ca,
            "--username",
            "scanner",
            "--password-stdin",
        ],
        &[],
        Some("s3cret-pass\n"),
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(tuples(&report), tuples(&from_file));
    // From a Docker config.json (`docker login` writes `auths`).
    let docker_config = tmp.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let auth = base64_encode(b"scanner:s3cret-pass");
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let (code, report, err) = caulk_env(
        &["image", &dest, "--ca-file", ca],
        &[("DOCKER_CONFIG", docker_config.to_str().unwrap())],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(tuples(&report), tuples(&from_file));
}

fn base64_encode(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn multi_platform_index_selects_a_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::start(&tmp.path().join("reg"), None, None);
    let amd = github_token("ghp_", 43);
    let arm = github_token("ghp_", 44);
    let cf = "FROM scratch\nCOPY secret.txt /app/secret.txt\n";
    let a = build(
        tmp.path(),
        "amd",
        &[("secret.txt", format!("token={amd}\n"))],
        cf,
        "amd64",
    );
    let b = build(
        tmp.path(),
        "arm",
        &[("secret.txt", format!("token={arm}\n"))],
        cf,
        "arm64",
    );
    // An OCI index of the two, pushed as one tag.
    let layout = tmp.path().join("multi");
    for (archive, arch) in [(&a, "amd64"), (&b, "arm64")] {
        skopeo_push_oci(tmp.path(), archive, &layout, arch);
    }
    let index_path = layout.join("index.json");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let mut manifests = Vec::new();
    for m in index["manifests"].as_array().unwrap() {
        let arch = m["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap()
            .to_string();
        let mut m = m.clone();
        m["platform"] = serde_json::json!({"os": "linux", "architecture": arch});
        m.as_object_mut().unwrap().remove("annotations");
        manifests.push(m);
    }
    let inner = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}))
    .unwrap();
    let hex = support::sha256(&inner);
    std::fs::write(layout.join("blobs/sha256").join(&hex[7..]), &inner).unwrap();
    std::fs::write(
        &index_path,
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": hex, "size": inner.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
        .unwrap(),
    )
    .unwrap();
    let dest = format!("{}/team/multi:1", reg.host());
    skopeo_push(
        tmp.path(),
        &format!("oci:{}:multi", layout.display()),
        &dest,
        &["--all", "--dest-tls-verify=false"],
    );

    let insecure = ["--insecure-registry", &reg.host()];
    let scan = |platform: &str| {
        let mut args = vec!["image", dest.as_str(), "--platform", platform];
        args.extend_from_slice(&insecure);
        caulk_env(&args, &[], None)
    };
    let (code, arm_report, err) = scan("linux/arm64");
    assert_eq!(code, 1, "{err}");
    assert_eq!(arm_report["images"].as_array().unwrap().len(), 1);
    assert_eq!(arm_report["images"][0]["platform"], "linux/arm64");
    let (_, amd_report, _) = scan("linux/amd64");
    assert_eq!(amd_report["images"][0]["platform"], "linux/amd64");
    assert_ne!(
        arm_report["findings"][0]["fingerprint"],
        amd_report["findings"][0]["fingerprint"]
    );
    let (code, all, err) = scan("all");
    assert_eq!(code, 1, "{err}");
    assert_eq!(all["images"].as_array().unwrap().len(), 2);
}

/// Copies a docker-archive into an OCI layout under the tag `arch`.
fn skopeo_push_oci(work: &Path, archive: &Path, layout: &Path, arch: &str) {
    let policy = work.join("policy.json");
    run(Command::new("skopeo")
        .arg("copy")
        .arg("--policy")
        .arg(&policy)
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("oci:{}:{arch}", layout.display())));
}

/// Forwards 127.0.0.1:port → `to`; once `cut_after` response bytes have passed it closes every
/// connection and stops listening: the registry "goes away" mid-download.
struct Proxy {
    port: u16,
}

fn proxy(to: u16, cut_after: u64) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let gone = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        while !gone.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((client, _)) => {
                    client.set_nonblocking(false).unwrap();
                    let server = TcpStream::connect(("127.0.0.1", to)).unwrap();
                    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let (sent, gone2) = (sent.clone(), gone.clone());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut &c2, &mut &s2);
                    });
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 << 10];
                        let (mut from, mut to) = (server, client);
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if sent.fetch_add(n as u64, Ordering::SeqCst) > cut_after {
                                gone2.store(true, Ordering::SeqCst);
                                break;
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        // dropping the listener: new connections are refused
    });
    Proxy { port }
}

#[test]
fn corrupted_blob_and_registry_gone_mid_download_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = Registry::start(&tmp.path().join("reg"), None, None);
    // A layer big enough to be cut in the middle: 4 MB of incompressible bytes.
    let mut noise = Vec::with_capacity(4 << 20);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while noise.len() < 4 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let ctx_file = tmp.path().join("noise.bin");
    std::fs::write(&ctx_file, &noise).unwrap();
    let archive = build(
        tmp.path(),
        "big",
        &[("noise.b64", String::from_utf8_lossy(&noise).into_owned())],
        "FROM scratch\nCOPY noise.b64 /data/noise.bin\n",
        "amd64",
    );
    let dest = format!("{}/team/big:1", reg.host());
    skopeo_push(
        tmp.path(),
        &format!("docker-archive:{}", archive.display()),
        &dest,
        &["--dest-tls-verify=false"],
    );
    let insecure = ["--insecure-registry".to_string(), reg.host()];

    // The registry goes away after 1 MB of the layer: retries fail, the error names the blob.
    let p = proxy(reg.port, 1 << 20);
    let via = format!("127.0.0.1:{}/team/big:1", p.port);
    let host = format!("127.0.0.1:{}", p.port);
    let (code, _, err) = caulk_env(&["image", &via, "--insecure-registry", &host], &[], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("blobs/sha256/"), "{err}");
    assert!(err.contains("connection closed after"), "{err}");
    assert!(err.contains("resuming failed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // A blob corrupted in the registry's storage: the digest check refuses it.
    let (code, good, err) = caulk_env(
        &["image", &dest, "--insecure-registry", &insecure[1]],
        &[],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let layer = good["images"][0]["layers"][0]["digest"].as_str().unwrap();
    let hex = &layer[7..];
    let data = reg
        .storage
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();
    let (code, _, err) = caulk_env(
        &["image", &dest, "--insecure-registry", &insecure[1]],
        &[],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(hex), "{err}");
}
