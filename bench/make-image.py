#!/usr/bin/env python3
"""Writes the build context of the benchmark image: text that looks like logs and config,
a few secrets, a single large file, and a nested .tar.gz. Deterministic (seeded)."""
import gzip, io, os, random, sys, tarfile

out = sys.argv[1]
mb = int(sys.argv[2]) if len(sys.argv) > 2 else 200
rng = random.Random(42)
os.makedirs(out, exist_ok=True)
words = ("GET POST /api/v1/users /healthz status=200 status=500 latency_ms user_id request_id "
         "INFO WARN ERROR debug connection pool timeout retry backoff cache hit miss").split()

def text(n_bytes):
    lines, size = [], 0
    while size < n_bytes:
        line = "2026-11-22T10:%02d:%02d %s\n" % (rng.randrange(60), rng.randrange(60),
                                              " ".join(rng.choice(words) for _ in range(12)))
        lines.append(line)
        size += len(line)
    return "".join(lines)

for layer in range(3):
    d = os.path.join(out, "layer%d" % layer)
    os.makedirs(d, exist_ok=True)
    for i in range(mb // 3 // 2):  # ~2 MB files
        with open(os.path.join(d, "app%04d.log" % i), "w") as f:
            f.write(text(2 << 20))
    with open(os.path.join(d, "settings.env"), "w") as f:
        f.write("DATABASE_URL=postgres://app:Bench%dPassw0rdXyz@db/app\n" % layer)
# One big file: memory must not grow with it.
with open(os.path.join(out, "big.log"), "w") as f:
    for _ in range(mb // 4 // 4):
        f.write(text(4 << 20))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz") as t:
    data = text(8 << 20).encode()
    ti = tarfile.TarInfo("logs/archived.log"); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
open(os.path.join(out, "archive.tar.gz"), "wb").write(buf.getvalue())
with open(os.path.join(out, "Containerfile"), "w") as f:
    f.write("FROM scratch\nCOPY layer0 /srv/a\nCOPY layer1 /srv/b\nCOPY layer2 /srv/c\n"
            "COPY big.log /var/log/big.log\nCOPY archive.tar.gz /srv/archive.tar.gz\n")
