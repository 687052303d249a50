#!/usr/bin/env python3
"""Writes the synthetic seeds under fuzz/seeds/: tiny docker-save and OCI archives (`archive/`),
NUL-chunked index/manifest/config sets (`manifest/`, format in fuzz_targets/manifest.rs) and
.dockerignore cases from the patternmatcher conformance tables (`dockerignore/`).

Deterministic (fixed mtimes), so rerunning it changes nothing. The Dockerfile and YAML seeds are
copies of the repository's own test fixtures, with flagged fixture secrets replaced.
"""

import gzip
import hashlib
import io
import json
import os
import tarfile

ROOT = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(ROOT, "seeds")
CONFORMANCE = os.path.join(ROOT, "..", "crates", "caulk-lint", "tests", "conformance", "dockerignore")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def tar_of(members, fmt=tarfile.USTAR_FORMAT):
    """members: list of (name, bytes | ('dir',) | ('sym', target) | ('link', target))."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.mode = 0o644
            if isinstance(content, tuple):
                kind = content[0]
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                elif kind == "sym":
                    info.type = tarfile.SYMTYPE
                    info.linkname = content[1]
                elif kind == "link":
                    info.type = tarfile.LNKTYPE
                    info.linkname = content[1]
                t.addfile(info)
            else:
                info.size = len(content)
                t.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def gz(b):
    return gzip.compress(b, mtime=0)


def layer_one():
    nested = gz(tar_of([("inner/notes.txt", b"nothing to see\n")]))
    return tar_of([
        ("etc/", ("dir",)),
        ("etc/app.conf", b"listen = 8080\nuser = app\n"),
        ("app/", ("dir",)),
        ("app/.env.example", b"API_KEY=changeme\n"),
        ("app/vendor.tar.gz", nested),
        ("app/link", ("sym", "../etc/app.conf")),
        ("app/hard", ("link", "etc/app.conf")),
    ])


def layer_two():
    return tar_of([
        ("etc/.wh.app.conf", b""),
        ("app/.wh..wh..opq", b""),
        ("app/main.py", b"print('hello')\n"),
    ])


def config(diff_ids, history):
    return json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/bin:/bin", "APP_MODE=prod"],
            "Cmd": ["python", "/app/main.py"],
            "Labels": {"org.opencontainers.image.title": "demo"},
            "WorkingDir": "/app",
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in diff_ids]},
        "history": history,
    }, separators=(",", ":")).encode()


HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created_by": "/bin/sh -c #(nop) ENV APP_MODE=prod", "empty_layer": True},
    {"created_by": "RUN |1 VERSION=1.2 /bin/sh -c make install # buildkit"},
]


def docker_save(layers):
    diff_ids = [sha(l) for l in layers]
    cfg = config(diff_ids, HISTORY)
    members = [(f"{d}/layer.tar", l) for d, l in zip(diff_ids, layers)]
    members.append((sha(cfg) + ".json", cfg))
    manifest = [{
        "Config": sha(cfg) + ".json",
        "RepoTags": ["localhost/demo:latest"],
        "Layers": [f"{d}/layer.tar" for d in diff_ids],
    }]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    members.append(("repositories", b'{"localhost/demo":{"latest":"' + diff_ids[-1].encode() + b'"}}'))
    return tar_of(members)


def oci_archive(layers, compress):
    diff_ids = [sha(l) for l in layers]
    blobs = [gz(l) if compress else l for l in layers]
    cfg = config(diff_ids, HISTORY)
    mt_layer = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sha(cfg), "size": len(cfg)},
        "layers": [{"mediaType": mt_layer, "digest": "sha256:" + sha(b), "size": len(b)} for b in blobs],
    }).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + sha(manifest),
            "size": len(manifest),
            "platform": {"os": "linux", "architecture": "amd64"},
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    }).encode()
    members = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
    for b in [cfg, manifest] + blobs:
        members.append(("blobs/sha256/" + sha(b), b))
    return tar_of(members, fmt=tarfile.GNU_FORMAT if compress else tarfile.USTAR_FORMAT)


def resolve_chunks(chunks):
    """What fuzz_targets/manifest.rs does: `@k` -> hex of chunk k (k > j), hashed last first."""
    hexes = [None] * len(chunks)
    finals = [None] * len(chunks)
    for k in reversed(range(len(chunks))):
        b = chunks[k]
        out = bytearray()
        i = 0
        while i < len(b):
            if b[i:i + 1] == b"@" and i + 1 < len(b) and chr(b[i + 1]).isdigit():
                j = b[i + 1] - 48
                if j < len(hexes) and hexes[j] is not None:
                    out += hexes[j].encode()
                    i += 2
                    continue
            out.append(b[i])
            i += 1
        finals[k] = bytes(out)
        hexes[k] = sha(finals[k])
    return finals


def manifest_sets():
    cfg = config(["0" * 64], HISTORY[:1])
    docker = [json.dumps([{"Config": "c1.json", "RepoTags": ["demo:1"], "Layers": ["layer.tar"]}]).encode(), cfg]

    # index -> manifest -> config (+ one layer blob never read by resolve).
    layer = b"layer bytes"
    config2 = config(["1" * 64], HISTORY)
    chunks = [b"", b"", config2, layer]
    manifest = lambda: json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:@2", "size": len(config2)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:@3", "size": len(layer)}],
    }).encode()
    chunks[1] = manifest()
    size1 = len(resolve_chunks(chunks)[1])
    chunks[0] = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:@1", "size": size1,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}).encode()
    oci = chunks

    # index -> nested index (two platforms + an attestation) -> manifests -> configs.
    c_amd, c_arm = config([], []), config([], [{"created_by": "COPY . /app # buildkit"}])
    m = lambda k: json.dumps({"schemaVersion": 2, "config": {"digest": f"sha256:@{k}", "size": -1}, "layers": []}).encode()
    nested = [b"", b"", m(4), m(5), c_amd, c_arm]
    f = resolve_chunks(nested)
    nested[1] = json.dumps({"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:@2", "size": len(f[2]),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:@3", "size": len(f[3]),
         "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:@2", "size": len(f[2]),
         "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    ]}).encode()
    f = resolve_chunks(nested)
    nested[0] = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:@1", "size": len(f[1])}]}).encode()
    return {"docker-save": docker, "oci": oci, "oci-nested-index": nested}


def dockerignore_seeds():
    out = {}
    with open(os.path.join(CONFORMANCE, "multi.tsv"), encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t") for l in f][1:]
    for i, row in enumerate(rows[:12]):
        patterns, path = row[0], row[1]
        out[f"multi-{i:02}"] = ("\n".join(patterns.split(",")) + "\n\0" + path).encode()
    with open(os.path.join(CONFORMANCE, "match.tsv"), encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t") for l in f][1:]
    for i, row in enumerate(rows[::6][:12]):
        out[f"match-{i:02}"] = (row[0] + "\n\0" + row[1]).encode()
    out["comments-bom-negation"] = "\ufeff# comment\n  # not a comment\n/abs/**/x\n!keep/me\n**/*.key\n[a-c]?.txt\nsub/\\*\n".encode()
    return out


def write(dirname, name, data):
    d = os.path.join(SEEDS, dirname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    layers = [layer_one(), layer_two()]
    write("archive", "docker-save.tar", docker_save(layers))
    write("archive", "oci-gzip-layers.tar", oci_archive(layers, compress=True))
    write("archive", "oci-archive.tar.gz", gz(oci_archive(layers[:1], compress=False)))
    write("archive", "layer.tar", layers[0])
    for name, chunks in manifest_sets().items():
        write("manifest", name, b"\0".join(chunks))
    for name, data in dockerignore_seeds().items():
        write("dockerignore", name, data)


if __name__ == "__main__":
    main()
