//! `caulk image REF` against a real registry: Debian's `docker-registry` on 127.0.0.1, with
//! images pushed by buildah/skopeo. Anonymous over plain HTTP; htpasswd basic auth over TLS with a
//! CA the test makes (credentials from the command line and from a Docker config.json); a
//! multi-platform index; and the failures: a wrong password, an unknown tag, a corrupted blob and
//! the registry going away mid-download, each a clear error (exit 2).

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use support::{github_token, listening, run, tuples, wait_for, KillOnDrop};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry` process with its own storage, killed on drop.
struct Registry {
    _process: KillOnDrop,
    port: u16,
    storage: PathBuf,
}

/// The `auth:` section for htpasswd basic auth.
fn htpasswd_auth(file: &Path) -> String {
    format!(
        "auth:\n  htpasswd:\n    realm: caulk-test\n    path: {}\n",
        file.display()
    )
}

impl Registry {
    /// `auth` is the config's `auth:` section, empty for anonymous access.
    fn start(dir: &Path, tls: Option<&Tls>, auth: &str) -> Registry {
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
        config.push_str(auth);
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
            _process: KillOnDrop(child),
            port,
            storage,
        };
        wait_for("docker-registry", || listening(port));
        r
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

/// An RSA key and a self-signed certificate for it, valid two days (openssl).
fn self_signed(key: &Path, cert: &Path, cn: &str) {
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert));
}

fn make_tls(dir: &Path) -> Tls {
    std::fs::create_dir_all(dir).unwrap();
    let p = |n: &str| dir.join(n);
    self_signed(&p("ca.key"), &p("ca.crt"), "caulk test CA");
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
    let reg = Registry::start(&tmp.path().join("reg"), None, "");
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
    let reg = Registry::start(
        &tmp.path().join("reg"),
        Some(&tls),
        &htpasswd_auth(&htpasswd),
    );
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
    // From a credential helper named in config.json (`credHelpers`): a real program on PATH.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-caulktest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\necho \"$server\" > \"$(dirname \"$0\")/asked\"\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"scanner\",\"Secret\":\"s3cret-pass\"}' \"$server\"\n",
    )
    .unwrap();
    run(Command::new("chmod").arg("755").arg(&helper));
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"caulktest"}}}}"#, reg.host()),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let (code, report, err) = caulk_env(
        &["image", &dest, "--ca-file", ca],
        &[
            ("DOCKER_CONFIG", docker_config.to_str().unwrap()),
            ("PATH", &path),
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(tuples(&report), tuples(&from_file));
    assert_eq!(
        std::fs::read_to_string(bin.join("asked")).unwrap().trim(),
        reg.host()
    );
    // From Podman's auth.json (`podman login` writes it; REGISTRY_AUTH_FILE points at it).
    let auth_json = tmp.path().join("auth.json");
    std::fs::write(
        &auth_json,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let (code, report, err) = caulk_env(
        &["image", &dest, "--ca-file", ca],
        &[("REGISTRY_AUTH_FILE", auth_json.to_str().unwrap())],
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
    let reg = Registry::start(&tmp.path().join("reg"), None, "");
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

    // The fleet command selects platforms the same way.
    let out_dir = tmp.path().join("fleet");
    let target = format!("{}/team", reg.host());
    let host = reg.host();
    let out = support::caulk(&[
        "registry",
        &target,
        "--insecure-registry",
        &host,
        "--platform",
        "linux/arm64",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join(summary["images"][0]["report"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(report["images"][0]["platform"], "linux/arm64");
    assert_eq!(
        report["findings"][0]["fingerprint"],
        arm_report["findings"][0]["fingerprint"]
    );
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
    let reg = Registry::start(&tmp.path().join("reg"), None, "");
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

/// Every request a test server saw: (path, the whole request head).
type RequestLog = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// Serves one HTTP/1.1 request per connection with `answer(path, headers) -> (status line,
/// headers, body)`; records every request's path and headers.
fn http_server(
    answer: impl Fn(&str, &str) -> (String, String, Vec<u8>) + Send + 'static,
) -> (u16, RequestLog) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req).into_owned();
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push((path.clone(), text.clone()));
            let (status, headers, body) = answer(&path, &text);
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        }
    });
    (port, seen)
}

fn b64url(b: &[u8]) -> String {
    base64_encode(b)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

#[test]
fn bearer_token_flow_against_docker_registry_token_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The token service's signing key and certificate; the registry trusts the certificate.
    self_signed(
        &dir.join("token.key"),
        &dir.join("token.crt"),
        "caulk token issuer",
    );
    run(Command::new("openssl")
        .args(["x509", "-outform", "DER"])
        .arg("-in")
        .arg(dir.join("token.crt"))
        .arg("-out")
        .arg(dir.join("token.der")));
    let cert_der = std::fs::read(dir.join("token.der")).unwrap();
    let key = dir.join("token.key");
    let issued = Arc::new(AtomicU64::new(0));
    let count = issued.clone();
    let (token_port, token_log) = http_server(move |path, req| {
        // Basic credentials are required: scanner / tok3n-pass.
        let ok = req.contains(&format!("Basic {}", base64_encode(b"scanner:tok3n-pass")));
        if !ok {
            return ("401 Unauthorized".into(), String::new(), b"{}".to_vec());
        }
        let query = path.split_once('?').map_or("", |(_, q)| q);
        let mut access = Vec::new();
        for kv in query.split('&') {
            if let Some(scope) = kv.strip_prefix("scope=") {
                let scope = scope
                    .replace("%3A", ":")
                    .replace("%2F", "/")
                    .replace("%2C", ",");
                let parts: Vec<&str> = scope.split(':').collect();
                if parts.len() == 3 {
                    access.push(serde_json::json!({"type": parts[0], "name": parts[1],
                        "actions": parts[2].split(',').collect::<Vec<_>>()}));
                }
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header =
            serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [base64_encode(&cert_der)]});
        let claims = serde_json::json!({"iss": "caulk-test-issuer", "sub": "scanner",
            "aud": "caulk-test-registry", "exp": now + 600, "nbf": now - 60, "iat": now,
            "jti": format!("t{now}"), "access": access});
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(signing_input.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        count.fetch_add(1, Ordering::SeqCst);
        let token = format!("{signing_input}.{}", b64url(&out.stdout));
        (
            "200 OK".into(),
            "Content-Type: application/json\r\n".into(),
            serde_json::to_vec(&serde_json::json!({"token": token})).unwrap(),
        )
    });
    // docker-registry with token auth pointing at that service.
    let reg = Registry::start(
        &dir.join("reg"),
        None,
        &format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: caulk-test-registry\n    issuer: caulk-test-issuer\n    rootcertbundle: {}\n",
            dir.join("token.crt").display()
        ),
    );
    let (archive, _) = leaky(dir, 45);
    let dest = format!("{}/team/app:2", reg.host());
    skopeo_push(
        dir,
        &format!("docker-archive:{}", archive.display()),
        &dest,
        &[
            "--dest-tls-verify=false",
            "--dest-creds",
            "scanner:tok3n-pass",
        ],
    );
    let before = issued.load(Ordering::SeqCst);
    let (_, from_file) = support::scan_json(&archive, &[]);
    let (code, report, err) = caulk_env(
        &[
            "image",
            &dest,
            "--insecure-registry",
            &reg.host(),
            "--username",
            "scanner",
            "--password-stdin",
        ],
        &[],
        Some("tok3n-pass\n"),
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(tuples(&report), tuples(&from_file));
    assert!(
        issued.load(Ordering::SeqCst) > before,
        "caulk fetched a token"
    );
    let requests = token_log.lock().unwrap().clone();
    let last = &requests.last().unwrap().0;
    assert!(last.contains("service=caulk-test-registry"), "{last}");
    assert!(
        last.contains("scope=repository") && last.contains("team%2Fapp")
            || last.contains("team/app"),
        "{last}"
    );
    // Wrong password: the token service refuses, and caulk says so.
    let (code, _, err) = caulk_env(
        &[
            "image",
            &dest,
            "--insecure-registry",
            &reg.host(),
            "--username",
            "scanner",
            "--password-stdin",
        ],
        &[],
        Some("nope\n"),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("token service") && err.contains("refused"),
        "{err}"
    );
}

#[test]
fn authorization_is_not_sent_along_a_redirect_to_another_host() {
    // Blob storage on another host name (localhost vs 127.0.0.1), as registries redirect to S3.
    let (storage_port, storage_log) = http_server(|_, _| {
        ("200 OK".into(), String::new(), b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{}}".to_vec())
    });
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{}}".to_vec();
    let config_digest = support::sha256(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": []})).unwrap();
    let expected_auth = format!("Basic {}", base64_encode(b"scanner:pw"));
    let auth = expected_auth.clone();
    let (api_port, api_log) = http_server(move |path, req| {
        if !req.contains(&auth) {
            return (
                "401 Unauthorized".into(),
                "WWW-Authenticate: Basic realm=\"test\"\r\n".into(),
                Vec::new(),
            );
        }
        if path.contains("/manifests/") {
            return (
                "200 OK".into(),
                "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".into(),
                manifest.clone(),
            );
        }
        (
            "307 Temporary Redirect".into(),
            format!("Location: http://localhost:{storage_port}/storage/blob\r\n"),
            Vec::new(),
        )
    });
    let reference = format!("127.0.0.1:{api_port}/team/app:1");
    let (code, report, err) = caulk_env(
        &[
            "image",
            &reference,
            "--insecure-registry",
            &format!("127.0.0.1:{api_port}"),
            "--username",
            "scanner",
            "--password-stdin",
        ],
        &[],
        Some("pw\n"),
    );
    assert_eq!(code, 0, "{err} {report}");
    let api = api_log.lock().unwrap().clone();
    assert!(api
        .iter()
        .any(|(p, h)| p.contains("/blobs/") && h.contains(&expected_auth)));
    let storage = storage_log.lock().unwrap().clone();
    assert_eq!(storage.len(), 1, "the redirect was followed");
    assert!(
        !storage[0].1.to_ascii_lowercase().contains("authorization"),
        "credentials leaked to the storage host: {}",
        storage[0].1
    );
}

#[test]
fn fleet_scan_reads_each_shared_layer_once_and_shards_split_the_images() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let reg = Registry::start(&work.join("reg"), None, "");
    let token = github_token("ghp_", 46);
    let base = "FROM scratch\nCOPY base.txt /base/base.txt\nCOPY mid.txt /base/mid.txt\nCOPY app.txt /app.txt\n";
    let common = |app: String| {
        vec![
            ("base.txt", "shared base layer\n".to_string()),
            ("mid.txt", "shared middle layer\n".to_string()),
            ("app.txt", app),
        ]
    };
    let a = build(
        work,
        "fleet-a",
        &common(format!("GITHUB_TOKEN={token}\n")),
        base,
        "amd64",
    );
    let b = build(
        work,
        "fleet-b",
        &common("no secret here\n".into()),
        base,
        "amd64",
    );
    let c = build(
        work,
        "fleet-c",
        &common("other team\n".into()),
        base,
        "amd64",
    );
    for (archive, dest) in [
        (&a, "team/a:1"),
        (&b, "team/b:1"),
        (&b, "team/b:2"),
        (&c, "other/c:1"),
    ] {
        skopeo_push(
            work,
            &format!("docker-archive:{}", archive.display()),
            &format!("{}/{dest}", reg.host()),
            &["--dest-tls-verify=false"],
        );
    }
    let fleet = |extra: &[&str], name: &str| {
        let out_dir = work.join(format!("reports-{name}"));
        let cache = work.join(format!("cache-{name}"));
        let target = format!("{}/team", reg.host());
        let mut args = vec![
            "registry",
            target.as_str(),
            "--insecure-registry",
            "",
            "-o",
            out_dir.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ];
        let host = reg.host();
        args[3] = host.as_str();
        args.extend_from_slice(extra);
        let out = support::caulk(&args);
        let summary: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out_dir.join("summary.json"))
                .unwrap_or_else(|_| panic!("no summary: {}", String::from_utf8_lossy(&out.stderr))),
        )
        .unwrap();
        (
            out.status.code().unwrap(),
            summary,
            out_dir,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    let (code, summary, out_dir, stdout) = fleet(&[], "all");
    assert_eq!(code, 1, "{stdout}");
    let names: Vec<String> = summary["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap().to_string())
        .collect();
    let h = reg.host();
    assert_eq!(
        names,
        [
            format!("{h}/team/a:1"),
            format!("{h}/team/b:1"),
            format!("{h}/team/b:2")
        ]
    );
    // 3 images x 3 layers; 4 distinct layers (base, middle, two apps), each read once.
    assert_eq!(summary["distinct_layers"], 4);
    assert_eq!(summary["layers_scanned"], 4);
    assert_eq!(summary["layers_from_cache"], 5);
    assert_eq!(summary["images_with_findings"], 1);
    let a_report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join(summary["images"][0]["report"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(a_report["findings"][0]["location"]["path"], "app.txt");
    assert!(!std::fs::read_to_string(out_dir.join("summary.json"))
        .unwrap()
        .contains(&token));

    // Two workers: every image in exactly one shard.
    let mut union: Vec<String> = Vec::new();
    for i in 0..2 {
        let shard = format!("{i}/2");
        let (code, s, _, stdout) = fleet(&["--shard", &shard], &format!("shard{i}"));
        assert!(code == 0 || code == 1, "{stdout}");
        union.extend(
            s["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["image"].as_str().unwrap().to_string()),
        );
    }
    union.sort();
    assert_eq!(union, names);
}

/// An OCI layout whose index carries, beside the image, a BuildKit-style provenance attestation
/// (`mode=max`) that recorded a build argument's value.
fn image_with_provenance(dir: &Path, token: &str) {
    use support::{layer, Entry, Image};
    let img = Image::new(vec![layer(&[Entry::File(
        "app/main.txt",
        b"hello\n".to_vec(),
    )])]);
    img.oci_layout(
        dir,
        support::gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    let blobs = dir.join("blobs/sha256");
    let put = |data: &[u8]| {
        let d = support::sha256(data);
        std::fs::write(blobs.join(&d[7..]), data).unwrap();
        d
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let image = index["manifests"][0].clone();
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "_", "digest": {"sha256": image["digest"].as_str().unwrap()[7..].to_string()}}],
        "predicate": {
            "builder": {"id": ""},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "invocation": {"configSource": {"entryPoint": "Dockerfile"}, "parameters": {
                "frontend": "dockerfile.v0",
                "args": {"build-arg:NPM_TOKEN": token, "build-arg:APP_ENV": "production"}}}
        }
    }))
    .unwrap();
    let st = put(&statement);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [st]}}))
    .unwrap();
    let cfg = put(&config);
    let attestation = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": st, "size": statement.len(),
            "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]}))
    .unwrap();
    let att = put(&attestation);
    let mut image_desc = image.clone();
    image_desc.as_object_mut().unwrap().remove("annotations");
    image_desc["platform"] = serde_json::json!({"os": "linux", "architecture": "amd64"});
    let inner = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [image_desc, {
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": att, "size": attestation.len(),
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                            "vnd.docker.reference.digest": image["digest"]}}]}))
    .unwrap();
    let inner_digest = put(&inner);
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": inner_digest,
            "size": inner.len(), "annotations": {"org.opencontainers.image.ref.name": "prov"}}]}))
        .unwrap(),
    )
    .unwrap();
}

#[test]
fn provenance_attestations_are_scanned_from_a_layout_and_from_a_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let token = github_token("npm_", 47);
    let layout = tmp.path().join("prov");
    image_with_provenance(&layout, &token);
    let check = |report: &serde_json::Value| {
        let found: Vec<&serde_json::Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["location"]["kind"] == "attestation")
            .collect();
        assert_eq!(found.len(), 1, "{report}");
        assert_eq!(
            found[0]["location"]["key"],
            "predicate.invocation.parameters.args.build-arg:NPM_TOKEN"
        );
        assert!(found[0]["remediation"]
            .as_str()
            .unwrap()
            .contains("--secret"));
        assert!(!report.to_string().contains(&token));
    };
    let (code, from_layout) = support::scan_json(&layout, &[]);
    assert_eq!(code, 1, "{from_layout}");
    check(&from_layout);

    std::fs::write(
        tmp.path().join("policy.json"),
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let reg = Registry::start(&tmp.path().join("reg"), None, "");
    let dest = format!("{}/team/prov:1", reg.host());
    skopeo_push(
        tmp.path(),
        &format!("oci:{}:prov", layout.display()),
        &dest,
        &["--all", "--dest-tls-verify=false"],
    );
    let (code, from_registry, err) = caulk_env(
        &["image", &dest, "--insecure-registry", &reg.host()],
        &[],
        None,
    );
    assert_eq!(code, 1, "{err}");
    check(&from_registry);
}

#[test]
fn busy_registries_are_retried_with_backoff_and_then_given_up_on() {
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{}}".to_vec();
    let config_digest = support::sha256(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": []})).unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let n = calls.clone();
    // 429, then 503, then the image; the repository `down` always answers 503.
    let (port, log) = http_server(move |path, _| {
        if path.contains("/down/") {
            return ("503 Service Unavailable".into(), String::new(), Vec::new());
        }
        match n.fetch_add(1, Ordering::SeqCst) {
            0 => (
                "429 Too Many Requests".into(),
                "Retry-After: 1\r\n".into(),
                Vec::new(),
            ),
            1 => ("503 Service Unavailable".into(), String::new(), Vec::new()),
            _ if path.contains("/manifests/") => (
                "200 OK".into(),
                "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".into(),
                manifest.clone(),
            ),
            _ => ("200 OK".into(), String::new(), config.clone()),
        }
    });
    let host = format!("127.0.0.1:{port}");
    let (code, _, err) = caulk_env(
        &[
            "image",
            &format!("{host}/team/app:1"),
            "--insecure-registry",
            &host,
        ],
        &[],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let manifest_gets = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.contains("/manifests/"))
        .count();
    assert_eq!(manifest_gets, 3, "two refusals, then the manifest");
    let (code, _, err) = caulk_env(
        &[
            "image",
            &format!("{host}/down/app:1"),
            "--insecure-registry",
            &host,
        ],
        &[],
        None,
    );
    assert_eq!(code, 2);
    assert!(err.contains("503") && err.contains("attempts"), "{err}");
}
