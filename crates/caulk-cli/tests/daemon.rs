//! `caulk image NAME` against a real Docker Engine API: Podman's API service on a socket of the
//! test's own, serving images that buildah built into the same storage. The image streams from
//! `GET /images/{name}/get` into the scanner, and the report matches a scan of the same image
//! pushed to a docker-archive file. Also `caulk image -` (an archive on standard input).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::{github_token, repo_root, tuples, wait_for, KillOnDrop};

struct Storage {
    dir: PathBuf,
}

impl Storage {
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "vfs"]);
        c
    }
    fn buildah(&self, args: &[&str]) {
        let out = self
            .cmd("buildah")
            .args(args)
            .env("BUILDAH_ISOLATION", "chroot")
            .output()
            .expect("buildah (apt-get install buildah)");
        assert!(
            out.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `podman system service` on `sock`, killed on drop.
fn serve(storage: &Storage, sock: &Path) -> KillOnDrop {
    let child = storage
        .cmd("podman")
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", sock.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("podman (apt-get install podman)");
    let service = KillOnDrop(child);
    wait_for("podman system service", || {
        std::os::unix::net::UnixStream::connect(sock).is_ok()
    });
    service
}

fn caulk_with_host(sock: &Path, args: &[&str]) -> std::process::Output {
    let cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_caulk"))
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env("CAULK_CACHE_DIR", cache.path())
        .output()
        .unwrap()
}

#[test]
fn image_from_the_podman_api_matches_the_same_image_as_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage {
        dir: tmp.path().join("storage"),
    };
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(
        std::env::var("CAULK_FIXTURE_BUSYBOX").unwrap_or("/bin/busybox".into()),
        ctx.join("busybox"),
    )
    .unwrap();
    let file_token = github_token("ghp_", 31);
    let env_token = github_token("ghp_", 32);
    std::fs::write(ctx.join(".env"), format!("GITHUB_TOKEN={file_token}\n")).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n\
             COPY .env /app/.env\nRUN rm /app/.env\nENV DEPLOY_TOKEN={env_token}\n"
        ),
    )
    .unwrap();
    storage.buildah(&[
        "build",
        "--isolation",
        "chroot",
        "--layers",
        "--pull=never",
        "-q",
        "-t",
        "caulk-daemon-test:1",
        ctx.to_str().unwrap(),
    ]);
    let archive = tmp.path().join("image.tar");
    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    storage.buildah(&[
        "push",
        "--signature-policy",
        policy.to_str().unwrap(),
        "caulk-daemon-test:1",
        &format!("docker-archive:{}:caulk-daemon-test:1", archive.display()),
    ]);
    let (code, from_file) = support::scan_json(&archive, &[]);
    assert_eq!(code, 1, "{from_file}");

    let sock = tmp.path().join("api.sock");
    let _service = serve(&storage, &sock);
    let out = caulk_with_host(&sock, &["image", "caulk-daemon-test:1", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_api: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tuples(&from_api), tuples(&from_file));
    assert_eq!(from_api["target"], "caulk-daemon-test:1");
    let kinds: Vec<&str> = from_api["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["location"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"config.env") && kinds.contains(&"layer"),
        "{kinds:?}"
    );
    let layer = from_api["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["location"]["kind"] == "layer")
        .unwrap();
    assert_eq!(layer["location"]["path"], "app/.env");
    assert_eq!(layer["location"]["visible"], false);
    // the report never holds a whole token
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&file_token) && !text.contains(&env_token));

    // An image the daemon does not have: exit 2, naming the socket.
    let out = caulk_with_host(
        &sock,
        &["image", "caulk-no-such-image:9", "--image-src", "daemon"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("caulk-no-such-image:9") && err.contains("api.sock"),
        "{err}"
    );
}

#[test]
fn no_daemon_and_remote_hosts_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = caulk_with_host(
        &tmp.path().join("none.sock"),
        &["image", "app:1.4", "--image-src", "daemon"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Docker or Podman API answered"), "{err}");
    assert!(err.contains("none.sock"), "{err}");
    // Then the registry (unreachable here: no network): both failures are named.
    let out = caulk_with_host(
        &tmp.path().join("none.sock"),
        &[
            "image",
            "127.0.0.1:9/app:1.4",
            "--insecure-registry",
            "127.0.0.1:9",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("none.sock")
            && err.contains("then from the registry")
            && err.contains("127.0.0.1:9"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_caulk"))
        .args(["image", "app:1.4", "--image-src", "daemon"])
        .env("DOCKER_HOST", "tcp://10.0.0.1:2375")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp://10.0.0.1:2375"));
}

#[test]
fn archive_on_standard_input_matches_the_file_and_truncation_is_an_error() {
    let archive = repo_root().join("examples/leaky-app/leaky-app.tar");
    let bytes = std::fs::read(&archive).unwrap();
    let run = |data: &[u8]| {
        let cache = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_caulk"))
            .args(["image", "-", "--format", "json"])
            .env("CAULK_CACHE_DIR", cache.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = data.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    };
    let out = run(&bytes);
    assert_eq!(out.status.code(), Some(1));
    let piped: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, file) = support::scan_json(&archive, &[]);
    assert_eq!(tuples(&piped), tuples(&file));
    assert_eq!(piped["images"], file["images"]);

    for cut in [1000, bytes.len() / 2, bytes.len() - 3000] {
        let out = run(&bytes[..cut]);
        assert_eq!(out.status.code(), Some(2), "cut at {cut}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("standard input"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
