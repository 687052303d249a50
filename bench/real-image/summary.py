#!/usr/bin/env python3
"""Validate the three exports of build.sh and print a per-layer summary.

    summary.py DIR   (DIR holds oci-gzip/, oci-zstd/ and docker-archive.tar)

For every layer of every form: the blob's sha256 and size match the manifest, it decompresses to a
tar whose sha256 is the config's diff_id, and the three forms hold the same entries. Exits non-zero
on any mismatch.
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile


class Reader:
    """File-like wrapper hashing and counting what is read through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, n=-1):
        b = self.f.read(n)
        self.h.update(b)
        self.n += len(b)
        return b

    def drain(self):
        while self.read(1 << 20):
            pass


def tar_stats(f):
    """(sha256 of the tar stream, its size, entry count) of a tar read from file object f."""
    r = Reader(f)
    with tarfile.open(fileobj=r, mode="r|") as t:
        entries = sum(1 for _ in t)
    r.drain()
    return "sha256:" + r.h.hexdigest(), r.n, entries


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(1 << 20):
            h.update(b)
    return "sha256:" + h.hexdigest()


def fail(msg):
    sys.exit(f"summary.py: INVALID: {msg}")


def oci(layout):
    def blob(d):
        return os.path.join(layout, "blobs", *d.split(":"))

    index = json.load(open(os.path.join(layout, "index.json")))
    if len(index["manifests"]) != 1:
        fail(f"{layout}: expected one manifest, got {len(index['manifests'])}")
    md = index["manifests"][0]
    if md.get("annotations", {}).get("org.opencontainers.image.ref.name") != "latest":
        fail(f"{layout}: no 'latest' ref")
    manifest = json.load(open(blob(md["digest"])))
    config = json.load(open(blob(manifest["config"]["digest"])))
    layers = []
    for l in manifest["layers"]:
        p = blob(l["digest"])
        if os.path.getsize(p) != l["size"] or file_sha256(p) != l["digest"]:
            fail(f"{p}: size or digest differs from the manifest")
        if l["mediaType"].endswith("+gzip"):
            stats = tar_stats(gzip.open(p))
        elif l["mediaType"].endswith("+zstd"):
            z = subprocess.Popen(["zstd", "-dcq", p], stdout=subprocess.PIPE)
            stats = tar_stats(z.stdout)
            if z.wait() != 0:
                fail(f"{p}: zstd failed")
        else:
            fail(f"{p}: unexpected media type {l['mediaType']}")
        layers.append((l["size"], l["mediaType"]) + stats)
    return config, layers


def docker_archive(path):
    with tarfile.open(path) as t:
        m = json.load(t.extractfile("manifest.json"))
        if len(m) != 1:
            fail(f"{path}: expected one image")
        config = json.load(t.extractfile(m[0]["Config"]))
        layers = [tar_stats(t.extractfile(name)) for name in m[0]["Layers"]]
    return config, layers


def main():
    d = sys.argv[1]
    gz_conf, gz = oci(os.path.join(d, "oci-gzip"))
    zs_conf, zs = oci(os.path.join(d, "oci-zstd"))
    da_conf, da = docker_archive(os.path.join(d, "docker-archive.tar"))
    diff_ids = gz_conf["rootfs"]["diff_ids"]
    for name, conf, layers in (("oci-zstd", zs_conf, zs), ("docker-archive", da_conf, da)):
        if conf["rootfs"]["diff_ids"] != diff_ids:
            fail(f"{name}: diff_ids differ from oci-gzip's")
    if not (len(gz) == len(zs) == len(da) == len(diff_ids)):
        fail("layer counts differ")
    history = [h for h in gz_conf.get("history", []) if not h.get("empty_layer")]
    if len(history) != len(diff_ids):
        history = [{}] * len(diff_ids)

    rows = []
    for i, diff_id in enumerate(diff_ids):
        (gsize, _, gdiff, usize, gn), (zsize, _, zdiff, _, zn), (ddiff, dsize, dn) = gz[i], zs[i], da[i]
        if not (gdiff == zdiff == ddiff == diff_id) or not (gn == zn == dn) or dsize != usize:
            fail(f"layer {i}: contents differ between forms or from diff_id {diff_id}")
        how = " ".join(history[i].get("created_by", "?").split())
        how = how.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ")
        rows.append((i, usize, gsize, zsize, gn, how[:90]))

    mb = lambda n: f"{n / 1e6:9.1f}"
    print(f"image: {len(rows)} layers; uncompressed {mb(sum(r[1] for r in rows)).strip()} MB, "
          f"oci-gzip {mb(sum(r[2] for r in rows)).strip()} MB, oci-zstd {mb(sum(r[3] for r in rows)).strip()} MB, "
          f"docker-archive.tar {mb(os.path.getsize(os.path.join(d, 'docker-archive.tar'))).strip()} MB, "
          f"{sum(r[4] for r in rows)} tar entries")
    print(f"{'#':>2} {'tar MB':>9} {'gzip MB':>9} {'zstd MB':>9} {'entries':>8}  instruction")
    for i, u, g, z, n, how in rows:
        print(f"{i:>2} {mb(u)} {mb(g)} {mb(z)} {n:>8}  {how}")
    print("validated: digests, sizes and diff_ids match the manifests; the three forms hold the same tars")


if __name__ == "__main__":
    main()
