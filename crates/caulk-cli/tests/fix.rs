//! `caulk fix` end to end: the build-arg fixture's Containerfile, fixed with `--unsafe --write`,
//! builds with buildah using the `--secret` form caulk prints, and `caulk image` finds no secret
//! in the result; the unfixed file, built the old way, leaks the same token.

mod support;

use std::path::Path;
use std::process::Command;
use support::{caulk, repo_root};

fn buildah(store: &Path, args: &[&str]) {
    let out = Command::new("buildah")
        .arg("--root")
        .arg(store.join("root"))
        .arg("--runroot")
        .arg(store.join("run"))
        .args(["--storage-driver", "vfs"])
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

fn build_and_scan(
    ctx: &Path,
    store: &Path,
    flags: &[&str],
    name: &str,
) -> (i32, serde_json::Value) {
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
    buildah(store, &args);
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
        .find_map(|l| l.trim().strip_prefix("then build with: buildah build "))
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
