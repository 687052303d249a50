#!/usr/bin/env bash
set -euo pipefail

# flagged: the SSH directory or a private key, however it is written
docker run --rm -v ~/.ssh:/root/.ssh:ro -v "$PWD":/src acme/builder make release
docker run --rm \
  --volume "$HOME/.ssh:/home/builder/.ssh" \
  acme/builder ./deploy.sh
podman run --rm --mount type=bind,source=${HOME}/.ssh/id_ed25519,target=/root/.ssh/id_ed25519,readonly acme/builder git fetch
docker compose run -v /root/.ssh:/root/.ssh deploy

# not flagged: the agent socket and known_hosts, a named volume, a commented-out command
docker run --rm -v "$SSH_AUTH_SOCK:/ssh-agent" -e SSH_AUTH_SOCK=/ssh-agent \
  -v ~/.ssh/known_hosts:/root/.ssh/known_hosts:ro acme/builder git fetch
docker run --rm -v ssh-cache:/cache --mount type=volume,source=ssh,target=/root/.ssh acme/builder true
# docker run -v ~/.ssh:/root/.ssh acme/builder
