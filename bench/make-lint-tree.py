#!/usr/bin/env python3
"""Writes N service directories, each a Dockerfile with its build context, for bench/lint.sh.

Realistic shapes: multi-stage builds, continuation lines, a heredoc, cache and secret mounts, a
.dockerignore and a few context files per directory; every 10th declares a secret build arg and
every 25th has a .env in its context, so the rules have something to report.
"""
import os
import random
import sys

root, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
PKGS = ["curl", "git", "ca-certificates", "openssh-client", "make", "gcc", "python3", "jq", "unzip", "tzdata"]
for i in range(n):
    d = os.path.join(root, f"svc{i:04d}")
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    leak = "ARG NPM_TOKEN\n" if i % 10 == 0 else ""
    pkgs = " \\\n    ".join(random.sample(PKGS, 6))
    heredoc = "RUN <<" + "BUILD\nset -eux\nnpm run build\nnpm prune --omit=dev\n" + "BUILD\n"
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM node:20-bookworm AS build\n"
        f"{leak}WORKDIR /app\n"
        f"RUN apt-get update && apt-get install -y --no-install-recommends \\\n    {pkgs} \\\n && rm -rf /var/lib/apt/lists/*\n"
        "COPY package.json package-lock.json ./\n"
        "RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci\n"
        "COPY . .\n"
        f"{heredoc}"
        "FROM node:20-slim\n"
        "ENV NODE_ENV=production PORT=8080\n"
        "COPY --from=build /app/dist /app/dist\n"
        "USER node\n"
        'CMD ["node", "/app/dist/server.js"]\n'
    )
    with open(os.path.join(d, "Dockerfile"), "w") as f:
        f.write(text)
    with open(os.path.join(d, ".dockerignore"), "w") as f:
        f.write("node_modules\n.git\n*.log\n")
    for name in ["package.json", "package-lock.json", "src/index.js", "src/util.js"]:
        with open(os.path.join(d, name), "w") as f:
            f.write("{}\n" if name.endswith(".json") else "module.exports = {};\n")
    if i % 25 == 0:
        with open(os.path.join(d, ".env"), "w") as f:
            f.write("API_KEY=dev\n")
