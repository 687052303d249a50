//! `caulk fix` end to end: leaky Containerfiles are built with buildah and leak; fixed by
//! `caulk fix`, they build with buildah the way caulk prints (`--secret`, `--ssh default`), still
//! do their job, and `caulk image` finds no secret in the result. The SSH cases fetch from a real
//! `sshd` on 127.0.0.1 through a real `ssh-agent`.

mod support;

use std::path::Path;
use std::process::Command;
use support::{caulk, listening, repo_root, run, wait_for, KillOnDrop};

fn buildah(store: &Path, args: &[&str]) {
    let out = buildah_output(store, args, &[]);
    assert!(
        out.status.success(),
        "buildah {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn buildah_output(store: &Path, args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    Command::new("buildah")
        .arg("--root")
        .arg(store.join("root"))
        .arg("--runroot")
        .arg(store.join("run"))
        .args(["--storage-driver", "vfs"])
        .args(args)
        .env("BUILDAH_ISOLATION", "chroot")
        .envs(env.iter().copied())
        .output()
        .expect("buildah (apt-get install buildah)")
}

fn build_and_scan(
    ctx: &Path,
    store: &Path,
    flags: &[&str],
    name: &str,
) -> (i32, serde_json::Value) {
    let out = build(ctx, store, flags, name, &[]);
    assert!(
        out.status.success(),
        "buildah build {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    push_and_scan(store, name)
}

fn build(
    ctx: &Path,
    store: &Path,
    flags: &[&str],
    name: &str,
    env: &[(&str, &Path)],
) -> std::process::Output {
    let mut args = vec![
        "build",
        "--isolation",
        "chroot",
        "--layers",
        "--no-cache",
        "--pull=never",
    ];
    args.extend_from_slice(flags);
    let file = ctx.join("Containerfile");
    let tag = format!("caulk-fix-e2e-{name}");
    args.extend_from_slice(&[
        "-f",
        file.to_str().unwrap(),
        "-t",
        &tag,
        ctx.to_str().unwrap(),
    ]);
    buildah_output(store, &args, env)
}

fn push_and_scan(store: &Path, name: &str) -> (i32, serde_json::Value) {
    let tag = format!("caulk-fix-e2e-{name}");
    let archive = store.join(format!("{name}.tar"));
    let dest = format!("docker-archive:{}:{tag}:latest", archive.display());
    let policy = store.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    buildah(
        store,
        &[
            "push",
            "--signature-policy",
            policy.to_str().unwrap(),
            &tag,
            &dest,
        ],
    );
    support::scan_json(&archive, &[])
}

#[test]
fn fixed_build_arg_dockerfile_builds_with_the_printed_secret_and_scans_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    let src = repo_root().join("tests/fixtures/images/build-arg/Containerfile");
    std::fs::copy(&src, ctx.join("Containerfile")).unwrap();
    std::fs::copy(
        std::env::var("CAULK_FIXTURE_BUSYBOX").unwrap_or("/bin/busybox".into()),
        ctx.join("busybox"),
    )
    .unwrap();
    // A well-formed npm token (valid checksum), made up for this test.
    let token = support::github_token("npm_", 7);

    // The leak, as the fixture builds it: the token is in the image history.
    let build_arg = format!("NPM_TOKEN={token}");
    let (code, before) = build_and_scan(&ctx, &store, &["--build-arg", &build_arg], "before");
    assert_eq!(code, 1, "the unfixed build leaks: {before}");

    // caulk fix --unsafe --write rewrites it and says how to build.
    let out = caulk(&[
        "fix",
        "--unsafe",
        "--write",
        ctx.join("Containerfile").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("CK104 (unsafe) applied"), "{stdout}");
    let printed = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("build: buildah build "))
        .expect("a buildah command is printed");
    assert!(
        printed.starts_with("--secret id=npm_token,src="),
        "{printed}"
    );
    let fixed = std::fs::read_to_string(ctx.join("Containerfile")).unwrap();
    assert!(!fixed.contains("ARG NPM_TOKEN"), "{fixed}");
    assert!(
        fixed.contains("--mount=type=secret,id=npm_token"),
        "{fixed}"
    );

    // Built the printed way, the RUN still sees the token (its `test -n` passes), and the
    // image holds no secret.
    let secret_file = tmp.path().join("npm_token");
    std::fs::write(&secret_file, &token).unwrap();
    let secret = format!("id=npm_token,src={}", secret_file.display());
    let (code, after) = build_and_scan(&ctx, &store, &["--secret", &secret], "after");
    assert_eq!(code, 0, "the fixed build is clean: {after}");
    assert_eq!(after["findings"].as_array().unwrap().len(), 0);
    // and the lint agrees
    let lint = caulk(&[
        "lint",
        "--no-context",
        ctx.join("Containerfile").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&lint.stdout);
    assert!(!text.contains("CK104") && !text.contains("CK101"), "{text}");
}

#[test]
fn fixed_env_containerfile_builds_and_scans_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    let fixture = repo_root().join("tests/fixtures/images/env");
    for f in ["Containerfile", "app.txt"] {
        std::fs::copy(fixture.join(f), ctx.join(f)).unwrap();
    }
    let (code, before) = build_and_scan(&ctx, &store, &[], "env-before");
    assert_eq!(code, 1, "the unfixed image leaks: {before}");

    let out = caulk(&[
        "fix",
        "--unsafe",
        "--write",
        ctx.join("Containerfile").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("docker run -e GITHUB_TOKEN"), "{stdout}");
    let fixed = std::fs::read_to_string(ctx.join("Containerfile")).unwrap();
    assert!(fixed.contains("ENV APP_MODE=production"), "{fixed}");
    assert!(
        !fixed.contains("GITHUB_TOKEN") && !fixed.contains("AWS_"),
        "{fixed}"
    );

    let (code, after) = build_and_scan(&ctx, &store, &[], "env-after");
    assert_eq!(code, 0, "the fixed image is clean: {after}");
}

/// A real `sshd` on 127.0.0.1 that lets one key in and answers every session with a fixed line.
struct Sshd {
    _process: KillOnDrop,
    port: u16,
    user: String,
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "caulk-test-FAKE-key",
            "-f",
        ])
        .arg(path));
}

fn start_sshd(dir: &Path, client_pub: &Path) -> Sshd {
    std::fs::create_dir_all(dir).unwrap();
    keygen(&dir.join("host_key"));
    std::fs::copy(client_pub, dir.join("authorized_keys")).unwrap();
    // sshd refuses to start without its privilege-separation directory.
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd (the SSH tests run as root)");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let user = run(Command::new("id").arg("-un")).trim().to_string();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nForceCommand echo fetched-over-ssh\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("/usr/sbin/sshd (apt-get install openssh-server)");
    let sshd = Sshd {
        _process: KillOnDrop(child),
        port,
        user,
    };
    wait_for("sshd", || listening(port));
    sshd
}

/// A real `ssh-agent` holding `key`; killed on drop.
struct Agent {
    _process: KillOnDrop,
    sock: std::path::PathBuf,
}

fn start_agent(dir: &Path, key: &Path) -> Agent {
    let sock = dir.join("agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent");
    let agent = Agent {
        _process: KillOnDrop(child),
        sock,
    };
    wait_for("ssh-agent", || agent.sock.exists());
    run(Command::new("ssh-add")
        .arg("-q")
        .arg(key)
        .env("SSH_AUTH_SOCK", &agent.sock));
    agent
}

/// Copies `ssh`, `ssh-keyscan` and the shared libraries they load into `root`, with a passwd
/// entry for root, so that a `FROM scratch` image can run them.
fn ssh_client_rootfs(root: &Path) {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for bin in ["/usr/bin/ssh", "/usr/bin/ssh-keyscan"] {
        files.push(bin.into());
        let ldd = run(Command::new("ldd").arg(bin));
        for line in ldd.lines() {
            let path = line
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(std::path::PathBuf::from);
            files.extend(path);
        }
    }
    for f in files {
        let real = std::fs::canonicalize(&f).unwrap();
        let dest = root.join(f.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(real, dest).unwrap();
    }
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
}

/// A scratch context with busybox and an ssh client.
fn ssh_context(tmp: &Path, containerfile: &str) -> std::path::PathBuf {
    let ctx = tmp.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(
        std::env::var("CAULK_FIXTURE_BUSYBOX").unwrap_or("/bin/busybox".into()),
        ctx.join("busybox"),
    )
    .unwrap();
    ssh_client_rootfs(&ctx.join("sshroot"));
    std::fs::write(ctx.join("Containerfile"), containerfile).unwrap();
    ctx
}

fn fix(file: &Path, unsafe_fixes: bool) -> String {
    let mut args = vec!["fix", "--write"];
    if unsafe_fixes {
        args.push("--unsafe");
    }
    args.push(file.to_str().unwrap());
    let out = caulk(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn copied_ssh_key_becomes_an_ssh_mount_that_builds_with_the_agent_and_scans_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let key = tmp.path().join("deploy_key");
    keygen(&key);
    let sshd = start_sshd(&tmp.path().join("sshd"), &tmp.path().join("deploy_key.pub"));
    let ctx = ssh_context(
        tmp.path(),
        &format!(
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n\
             COPY sshroot/ /\n\
             COPY id_ed25519 /root/.ssh/id_ed25519\n\
             RUN mkdir -p /app && ssh -p {port} -o BatchMode=yes -o StrictHostKeyChecking=no -i /root/.ssh/id_ed25519 {user}@127.0.0.1 fetch > /app/fetched.txt && grep -q fetched-over-ssh /app/fetched.txt\n\
             RUN rm -f /root/.ssh/id_ed25519\n",
            port = sshd.port,
            user = sshd.user
        ),
    );
    std::fs::copy(&key, ctx.join("id_ed25519")).unwrap();

    // The leak: the key is in the layer under the `rm`.
    let (code, before) = build_and_scan(&ctx, &store, &[], "ssh-key-before");
    assert_eq!(code, 1, "the unfixed build leaks the key: {before}");
    assert!(
        before["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["location"]["path"] == "root/.ssh/id_ed25519"),
        "{before}"
    );

    let stdout = fix(&ctx.join("Containerfile"), true);
    assert!(stdout.contains("CK106 (unsafe) applied"), "{stdout}");
    assert!(stdout.contains("buildah build --ssh default"), "{stdout}");
    let fixed = std::fs::read_to_string(ctx.join("Containerfile")).unwrap();
    assert!(!fixed.contains("COPY id_ed25519"), "{fixed}");
    assert!(!fixed.contains("StrictHostKeyChecking"), "{fixed}");
    assert!(!fixed.contains("rm -f"), "{fixed}");
    assert!(
        fixed.contains(&format!("ssh-keyscan -p {} 127.0.0.1", sshd.port)),
        "{fixed}"
    );
    assert!(
        fixed.contains("RUN --mount=type=ssh mkdir -p /app && ssh"),
        "{fixed}"
    );
    std::fs::remove_file(ctx.join("id_ed25519")).unwrap();

    // Built as printed, with the key in an agent: the RUN still fetches over ssh, verifying the
    // host key it scanned, and the image holds no key.
    let agent = start_agent(tmp.path(), &key);
    let out = build(
        &ctx,
        &store,
        &["--ssh", "default"],
        "ssh-key-after",
        &[("SSH_AUTH_SOCK", &agent.sock)],
    );
    assert!(
        out.status.success(),
        "the fixed build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, after) = push_and_scan(&store, "ssh-key-after");
    assert_eq!(code, 0, "the fixed image is clean: {after}");
    assert_eq!(after["findings"].as_array().unwrap().len(), 0);
}

#[test]
fn ssh_mount_without_known_hosts_fails_to_build_until_fixed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let key = tmp.path().join("deploy_key");
    keygen(&key);
    let sshd = start_sshd(&tmp.path().join("sshd"), &tmp.path().join("deploy_key.pub"));
    let agent = start_agent(tmp.path(), &key);
    let ctx = ssh_context(
        tmp.path(),
        &format!(
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n\
             COPY sshroot/ /\n\
             RUN --mount=type=ssh mkdir -p /app && ssh -p {port} -o BatchMode=yes {user}@127.0.0.1 fetch > /app/fetched.txt\n",
            port = sshd.port,
            user = sshd.user
        ),
    );
    let env = [("SSH_AUTH_SOCK", agent.sock.as_path())];
    let out = build(&ctx, &store, &["--ssh", "default"], "kh-before", &env);
    assert!(!out.status.success(), "no known host key: ssh must refuse");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Host key verification failed"), "{err}");

    // The known_hosts fix is safe: applied without --unsafe.
    let stdout = fix(&ctx.join("Containerfile"), false);
    assert!(stdout.contains("CK110 (safe) applied"), "{stdout}");
    let out = build(&ctx, &store, &["--ssh", "default"], "kh-after", &env);
    assert!(
        out.status.success(),
        "the fixed build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lint = caulk(&["lint", ctx.join("Containerfile").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&lint.stdout);
    assert!(!text.contains("CK110"), "{text}");
}

#[test]
fn dockerignore_fix_keeps_context_credentials_out_of_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Containerfile"), "FROM scratch\nCOPY . /app/\n").unwrap();
    std::fs::write(ctx.join("index.html"), "<h1>hello</h1>\n").unwrap();
    std::fs::write(ctx.join(".dockerignore"), "*.log").unwrap();
    let token = support::github_token("ghp_", 11);
    std::fs::write(ctx.join(".env"), format!("GITHUB_TOKEN={token}\n")).unwrap();

    let (code, before) = build_and_scan(&ctx, &store, &[], "ignore-before");
    assert_eq!(code, 1, "the broad COPY takes .env along: {before}");

    let stdout = fix(&ctx.join("Containerfile"), false);
    assert!(stdout.contains("CK107 (safe) applied"), "{stdout}");
    let ignore = std::fs::read_to_string(ctx.join(".dockerignore")).unwrap();
    assert!(ignore.starts_with("*.log\n#"), "{ignore}");
    assert!(ignore.lines().any(|l| l == ".env"), "{ignore}");

    let (code, after) = build_and_scan(&ctx, &store, &[], "ignore-after");
    assert_eq!(code, 0, "the fixed build is clean: {after}");
    // the rest of the context still arrives
    let lint = caulk(&["lint", ctx.join("Containerfile").to_str().unwrap()]);
    assert_eq!(
        lint.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
}
