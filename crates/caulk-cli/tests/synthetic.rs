//! Edge cases on synthetic images: malformed and hostile input, overlay corner cases, encodings,
//! buffer boundaries. Real builders are exercised in `buildah.rs`.

mod support;
use support::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn token() -> String {
    github_token("ghp_", 1)
}

fn secret_layer() -> Vec<u8> {
    layer(&[
        Entry::Dir("app/"),
        Entry::File(
            "app/config.env",
            format!("# app\nGITHUB_TOKEN={}\n", token()).into_bytes(),
        ),
    ])
}

#[test]
fn not_an_image_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("random.bin");
    std::fs::write(&p, b"this is not a tar archive at all").unwrap();
    let out = caulk(&["image", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("random.bin") && e.contains("not an image"),
        "{e}"
    );
    // A tar that is not an image.
    let t = dir.path().join("plain.tar");
    write_tar(&t, &[("hello.txt".into(), b"hi".to_vec())]);
    let out = caulk(&["image", t.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("neither manifest.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn truncated_archive_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    Image::new(vec![
        secret_layer(),
        layer(&[Entry::File("x", vec![b'x'; 100_000])]),
    ])
    .docker_archive(&p);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let out = caulk(&["image", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("img.tar"), "{}", stderr(&out));
}

#[test]
fn truncated_gzip_layer_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let img = Image::new(vec![
        secret_layer(),
        layer(&[Entry::File(
            "big",
            (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect(),
        )]),
    ]);
    img.oci_layout(
        dir.path(),
        gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    // Cut the biggest blob (the second layer) in half: the digest check would catch it too, so make
    // the manifest agree by cutting before the layout is written is not possible; the error must
    // name the blob either way.
    let blobs = dir.path().join("blobs/sha256");
    let biggest = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let data = std::fs::read(&biggest).unwrap();
    std::fs::write(&biggest, &data[..data.len() / 2]).unwrap();
    let out = caulk(&["image", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    let name = biggest.file_name().unwrap().to_str().unwrap();
    assert!(e.contains(name), "{e}");
    assert!(
        e.contains("truncated") || e.contains("digest mismatch"),
        "{e}"
    );
}

#[test]
fn missing_blob_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    Image::new(vec![secret_layer()]).oci_layout(
        dir.path(),
        gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    let layer_digest = sha256(&gzip(&secret_layer()));
    std::fs::remove_file(dir.path().join("blobs/sha256").join(&layer_digest[7..])).unwrap();
    let out = caulk(&["image", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("blob {layer_digest} is missing")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn digest_mismatch_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    Image::new(vec![secret_layer()]).oci_layout(
        dir.path(),
        |d| d.to_vec(),
        "application/vnd.oci.image.layer.v1.tar",
    );
    let digest = sha256(&secret_layer());
    let path = dir.path().join("blobs/sha256").join(&digest[7..]);
    let mut data = std::fs::read(&path).unwrap();
    let at = data.windows(4).position(|w| w == b"ghp_").unwrap();
    data[at + 10] ^= 1; // same size, different bytes
    std::fs::write(&path, data).unwrap();
    let out = caulk(&["image", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("digest mismatch") && e.contains(&digest), "{e}");
}

#[test]
fn diff_id_mismatch_in_docker_archive_is_an_error() {
    // A config named without its digest (`config.json`), so only the layer's diff_id can catch it.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    let layer_tar = secret_layer();
    let wrong = sha256(b"other");
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [wrong]},
        "history": [{"created_by": "COPY x"}],
    }))
    .unwrap();
    let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["layer/layer.tar"]}]);
    write_tar(
        &p,
        &[
            ("config.json".into(), config),
            ("layer/layer.tar".into(), layer_tar),
            (
                "manifest.json".into(),
                serde_json::to_vec(&manifest).unwrap(),
            ),
        ],
    );
    let out = caulk(&["image", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("digest mismatch") && e.contains("diff_id") && e.contains(&wrong),
        "{e}"
    );
}

#[test]
fn dotdot_and_absolute_names_are_read_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let secret = format!("TOKEN={}\n", token()).into_bytes();
    let l = layer(&[
        Entry::Raw(b"../../etc/evil.env", secret.clone()),
        Entry::Raw(b"/abs/path.env", secret),
    ]);
    let p = dir.path().join("img.tar");
    Image::new(vec![l]).docker_archive(&p);
    let (code, r) = scan_json(&p, &[]);
    assert_eq!(code, 1);
    let paths: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["location"]["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"etc/evil.env") && paths.contains(&"abs/path.env"),
        "{paths:?}"
    );
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("contains `..`"), "{warnings}");
}

#[test]
fn symlinks_in_the_archive_cannot_escape_or_loop() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    let img = Image::new(vec![secret_layer()]);
    let config = img.config();
    let cfg = format!("{}.json", &sha256(&config)[7..]);
    let manifest =
        serde_json::json!([{"Config": cfg, "RepoTags": ["x:1"], "Layers": ["a/layer.tar"]}]);
    let mut b = tar::Builder::new(std::fs::File::create(&p).unwrap());
    for (name, data) in [
        (cfg.clone(), config.clone()),
        (
            "manifest.json".to_string(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "a/layer.tar", "../../../etc/passwd")
        .unwrap();
    b.finish().unwrap();
    drop(b);
    let out = caulk(&["image", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("outside the archive"),
        "{}",
        stderr(&out)
    );

    // A loop.
    let p2 = dir.path().join("loop.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&p2).unwrap());
    for (name, data) in [
        (cfg, config),
        (
            "manifest.json".to_string(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    for (from, to) in [
        ("a/layer.tar", "../b/layer.tar"),
        ("b/layer.tar", "../a/layer.tar"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, from, to).unwrap();
    }
    b.finish().unwrap();
    drop(b);
    let out = caulk(&["image", p2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("too many levels of links"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn layer_bomb_is_stopped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB of zeros in one file compresses to ~64 KiB.
    let l = layer(&[Entry::File("zeros", vec![0u8; 64 << 20])]);
    Image::new(vec![secret_layer(), l]).oci_layout(
        dir.path(),
        gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    let (code, r) = scan_json(dir.path(), &["--max-layer-size", "8M"]);
    assert_eq!(code, 1, "the secret in layer 0 is still reported");
    let skipped = r["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["layer_index"], 1);
    assert!(
        skipped[0]["reason"]
            .as_str()
            .unwrap()
            .contains("decompression bomb"),
        "{skipped:?}"
    );
    // The text report lists the skip too.
    let out = caulk(&[
        "image",
        dir.path().to_str().unwrap(),
        "--max-layer-size",
        "8M",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Not scanned (1)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn nested_bomb_and_deep_nesting_are_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = gzip(&vec![0u8; 32 << 20]);
    // tar in tar in tar ... with a secret at the bottom.
    let mut inner = layer(&[Entry::File(
        "deep.env",
        format!("TOKEN={}\n", token()).into_bytes(),
    )]);
    for i in 0..6 {
        let name = format!("level{i}.tar");
        inner = layer(&[Entry::File(&name, inner)]);
    }
    let l = layer(&[Entry::File("bomb.gz", bomb), Entry::File("nest.tar", inner)]);
    Image::new(vec![l]).oci_layout(
        dir.path(),
        gzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    let (code, r) = scan_json(dir.path(), &["--max-nested-size", "4M"]);
    assert_eq!(code, 0, "nothing found within the limits");
    let reasons: Vec<String> = r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} {}", s["path"], s["reason"]))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|s| s.contains("bomb.gz") && s.contains("decompression bomb")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|s| s.contains("nested more than 4 deep")),
        "{reasons:?}"
    );
    // With more depth the secret is found, with the whole chain in its path.
    let (code, r) = scan_json(
        dir.path(),
        &["--max-nested-size", "4M", "--max-depth", "10"],
    );
    assert_eq!(code, 1);
    let paths: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["location"]["path"].as_str())
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("nest.tar!level5.tar!level4.tar!") && p.ends_with("!deep.env")),
        "{paths:?}"
    );
}

#[test]
fn secret_across_a_window_boundary_is_found_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    // Put the token so that it straddles the 1 MiB window edge.
    let mut data = Vec::new();
    let line = "x".repeat(99) + "\n";
    while data.len() < (1 << 20) - 20 {
        data.extend_from_slice(line.as_bytes());
    }
    let lines_before = data.iter().filter(|b| **b == b'\n').count() as u64;
    data.extend_from_slice(format!("GITHUB_TOKEN={t}\n").as_bytes());
    data.extend_from_slice(line.repeat(20_000).as_bytes());
    let l = layer(&[Entry::File("big.log", data)]);
    let p = dir.path().join("img.tar");
    Image::new(vec![l]).docker_archive(&p);
    let (_, r) = scan_json(&p, &[]);
    let hits: Vec<_> = tuples(&r)
        .into_iter()
        .filter(|t| t.0 == "github-pat-classic")
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].4, Some(lines_before + 1));
}

#[test]
fn utf16_and_crlf_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    let text = format!("first line\r\nGITHUB_TOKEN={t}\r\n");
    let mut utf16 = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let l = layer(&[
        Entry::File("win/settings.ini", utf16),
        Entry::File("app/crlf.ini", text.clone().into_bytes()),
    ]);
    let p = dir.path().join("img.tar");
    Image::new(vec![l]).docker_archive(&p);
    let (_, r) = scan_json(&p, &["--show-secrets"]);
    for path in ["win/settings.ini", "app/crlf.ini"] {
        let f = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["location"]["path"] == path)
            .unwrap_or_else(|| panic!("{path} not found: {r}"));
        assert_eq!(f["rule_id"], "github-pat-classic");
        assert_eq!(f["location"]["line"], 2);
        assert_eq!(f["secret"], t.as_str(), "no CR in the secret");
    }
}

#[test]
fn zip_and_gzip_members_are_opened() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "META-INF/app.properties",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, format!("github.token={t}\n").as_bytes()).unwrap();
    let jar = zip.finish().unwrap().into_inner();
    let l = layer(&[
        Entry::File("opt/app.jar", jar),
        Entry::File(
            "etc/conf.json.gz",
            gzip(format!("{{\"token\": \"{t}\"}}").as_bytes()),
        ),
    ]);
    let p = dir.path().join("img.tar");
    Image::new(vec![l]).docker_archive(&p);
    let (_, r) = scan_json(&p, &[]);
    let paths: Vec<String> = tuples(&r)
        .into_iter()
        .filter(|t| t.0 == "github-pat-classic")
        .filter_map(|t| t.3)
        .collect();
    assert!(
        paths.contains(&"opt/app.jar!META-INF/app.properties".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"etc/conf.json.gz!conf.json".to_string()),
        "{paths:?}"
    );
}

#[test]
fn overlay_corner_cases_on_synthetic_layers() {
    let dir = tempfile::tempdir().unwrap();
    let s = |i: u8| format!("GITHUB_TOKEN={}\n", github_token("ghp_", i)).into_bytes();
    let l0 = layer(&[
        Entry::Dir("app/"),
        Entry::File("app/a.env", s(1)),
        Entry::File("app/b.env", s(2)),
        Entry::File("data/c.env", s(3)),
        Entry::File("keep/d.env", s(4)),
        Entry::Hardlink("keep/link.env", "keep/d.env"),
        Entry::File("gone/e.env", s(5)),
    ]);
    // Layer 1: opaque app/, overwrite data/c.env, delete keep/d.env (the hardlink keeps it), replace gone/ by a file.
    let l1 = layer(&[
        Entry::Dir("app/"),
        Entry::File("app/.wh..wh..opq", vec![]),
        Entry::File("data/c.env", b"clean\n".to_vec()),
        Entry::File("keep/.wh.d.env", vec![]),
        Entry::File(".wh.gone", vec![]),
        Entry::File("gone", b"now a file\n".to_vec()),
    ]);
    let p = dir.path().join("img.tar");
    Image::new(vec![l0, l1]).docker_archive(&p);
    let (_, r) = scan_json(&p, &[]);
    let find = |path: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["location"]["path"] == path)
            .unwrap_or_else(|| panic!("{path}: {r}"))
            .clone()
    };
    let a = find("app/a.env");
    assert_eq!(
        (
            a["location"]["visible"].as_bool(),
            a["location"]["shadow"].as_str(),
            a["location"]["shadowed_by_layer"].as_u64()
        ),
        (Some(false), Some("opaque"), Some(1))
    );
    let c = find("data/c.env");
    assert_eq!(
        (
            c["location"]["visible"].as_bool(),
            c["location"]["shadow"].as_str()
        ),
        (Some(false), Some("overwritten"))
    );
    let d = find("keep/d.env");
    assert_eq!(
        d["location"]["visible"], true,
        "still reachable through keep/link.env"
    );
    let e = find("gone/e.env");
    assert_eq!(e["location"]["visible"], false);
}

#[test]
fn text_output_never_holds_a_whole_secret() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    let mut img = Image::new(vec![secret_layer()]);
    img.env.push(format!("GITHUB_TOKEN={t}"));
    img.history = vec![(
        format!("|1 GITHUB_TOKEN={t} /bin/sh -c echo {t} > /app/config.env"),
        false,
    )];
    let p = dir.path().join("img.tar");
    img.docker_archive(&p);
    for format in ["text", "json", "sarif"] {
        let out = caulk(&["image", p.to_str().unwrap(), "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(!s.contains(&t), "{format} output leaks the secret:\n{s}");
        assert!(s.contains("ghp_"), "{format} shows a preview");
    }
    let out = caulk(&[
        "image",
        p.to_str().unwrap(),
        "--format",
        "json",
        "--show-secrets",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&t),
        "--show-secrets shows it"
    );
}

#[test]
fn fail_on_threshold_decides_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.tar");
    Image::new(vec![secret_layer()]).docker_archive(&p);
    assert_eq!(
        caulk(&["image", p.to_str().unwrap(), "-q"]).status.code(),
        Some(1)
    );
    assert_eq!(
        caulk(&["image", p.to_str().unwrap(), "--fail-on", "critical"])
            .status
            .code(),
        Some(1)
    );
    let clean = dir.path().join("clean.tar");
    Image::new(vec![layer(&[Entry::File(
        "readme",
        b"nothing here\n".to_vec(),
    )])])
    .docker_archive(&clean);
    assert_eq!(
        caulk(&["image", clean.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_eq!(
        caulk(&["image", clean.to_str().unwrap(), "--fail-on", "bogus"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(caulk(&["image"]).status.code(), Some(2));
}

#[test]
fn compressed_outer_archive_and_zstd_layers_work() {
    let dir = tempfile::tempdir().unwrap();
    let img = Image::new(vec![secret_layer()]);
    let p = dir.path().join("img.tar");
    img.docker_archive(&p);
    let gz = dir.path().join("img.tar.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&p).unwrap())).unwrap();
    let z = dir.path().join("oci-zstd");
    img.oci_layout(&z, zstd, "application/vnd.oci.image.layer.v1.tar+zstd");
    let expect = tuples(&scan_json(&p, &[]).1);
    assert!(!expect.is_empty());
    assert_eq!(tuples(&scan_json(&gz, &[]).1), expect);
    assert_eq!(tuples(&scan_json(&z, &[]).1), expect);
}

#[test]
fn other_config_fields_are_scanned_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let t = token();
    let mut img = Image::new(vec![layer(&[Entry::File("readme", b"hi\n".to_vec())])]);
    img.extra.push(("Healthcheck", serde_json::json!({"Test": ["CMD", "curl", "-H", format!("Authorization: token {t}"), "http://localhost/"]})));
    img.extra
        .push(("OnBuild", serde_json::json!([format!("RUN echo {t}")])));
    let p = dir.path().join("img.tar");
    img.docker_archive(&p);
    let (_, r) = scan_json(&p, &[]);
    let keys: Vec<(String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["location"]["kind"].as_str().unwrap().to_string(),
                f["location"]["key"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("config.other".into(), "Healthcheck".into()),
            ("config.other".into(), "OnBuild".into())
        ]
    );
}

#[test]
fn a_sensitive_file_name_is_reported_when_no_content_rule_matches() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"some key material we cannot parse\n".to_vec();
    let l = layer(&[
        Entry::File("root/.ssh/id_ed25519", body.clone()),
        Entry::File(
            "root/.ssh/id_ed25519.pub",
            b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG user@host\n".to_vec(),
        ),
        Entry::File("app/.env.example", b"TOKEN=<your-token>\n".to_vec()),
    ]);
    let p = dir.path().join("img.tar");
    Image::new(vec![l]).docker_archive(&p);
    let (code, r) = scan_json(&p, &[]);
    assert_eq!(code, 1);
    let f = r["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["rule_id"], "sensitive-file-ssh-key");
    assert_eq!(f[0]["location"]["path"], "root/.ssh/id_ed25519");
    assert!(f[0]["location"]["line"].is_null());
    assert_eq!(
        f[0]["fingerprint"],
        sha256(&body),
        "fingerprint of the whole file"
    );
}

#[test]
fn history_that_does_not_line_up_is_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = Image::new(vec![
        secret_layer(),
        layer(&[Entry::File("b", b"b\n".to_vec())]),
    ]);
    img.history = vec![("/bin/sh -c #(nop) COPY file:a in /".into(), false)];
    let p = dir.path().join("img.tar");
    img.docker_archive(&p);
    let (_, r) = scan_json(&p, &[]);
    assert!(
        r["warnings"].to_string().contains("not attributed"),
        "{}",
        r["warnings"]
    );
    assert!(r["images"][0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["instruction"].is_null()));
    let f = &r["findings"][0]["location"];
    assert!(
        f["instruction"].is_null() && f["history_index"].is_null(),
        "{f}"
    );
}

#[test]
fn zip_bomb_member_is_stopped_by_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("zeros.txt", opts).unwrap();
    std::io::Write::write_all(&mut zip, &vec![0u8; 48 << 20]).unwrap();
    let bomb = zip.finish().unwrap().into_inner();
    let p = dir.path().join("img.tar");
    Image::new(vec![layer(&[Entry::File("opt/bomb.zip", bomb)])]).docker_archive(&p);
    let (_, r) = scan_json(&p, &[]);
    let reasons = r["skipped"].to_string();
    assert!(
        reasons.contains("opt/bomb.zip!zeros.txt") && reasons.contains("decompression bomb"),
        "{reasons}"
    );
}
