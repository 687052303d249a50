//! CK202: a Compose service that bind-mounts the host's SSH keys (`~/.ssh`) into its container.

use std::collections::HashSet;

use super::yaml_walk::{documents, first_line_span, ssh_source, volume_source};
use super::{Check, FileChecker, RuleInfo, Target};
use crate::yaml::Node;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK202",
    name: "ssh-directory-bind-mount",
    severity: Severity::High,
    summary: "A Compose service bind-mounts an SSH directory or private key",
    docs: DOCS,
    target: Target::Compose,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Flags a service volume that bind-mounts SSH keys from the host: a source of `~/.ssh`,
`$HOME/.ssh`, `${HOME}/.ssh`, `/root/.ssh`, `/home/<user>/.ssh`, any other path ending in `/.ssh`,
or a private key in such a directory (`~/.ssh/id_ed25519`), in the short form
(`- ~/.ssh:/root/.ssh:ro`) or the long form (`type: bind` with `source:`). Mounting only
`known_hosts`, `config` or a public key (`*.pub`) is not flagged.

## Why is this bad
Every private key in the directory is readable by every process in the container (read-only
does not help: reading is enough to copy a key), by anything that compromises the container, and
by anyone who can `docker exec` into it or `docker cp` out of it. The keys usually open far more
than what the service needs: every server and repository the developer can reach.

## Example
```yaml
services:
  dev:
    build: .
    volumes:
      - ~/.ssh:/root/.ssh:ro
```

## Use instead
Forward the SSH agent: the container can then use the keys for as long as it runs but never
read them.
```yaml
services:
  dev:
    build: .
    volumes:
      - ${SSH_AUTH_SOCK}:/ssh-agent
      - ~/.ssh/known_hosts:/root/.ssh/known_hosts:ro
    environment:
      SSH_AUTH_SOCK: /ssh-agent
```
On Docker Desktop (macOS, Windows) mount the socket it provides instead:
`/run/host-services/ssh-auth.sock:/run/host-services/ssh-auth.sock` with
`SSH_AUTH_SOCK: /run/host-services/ssh-auth.sock`. A build that needs SSH uses
`build: {ssh: [default]}` and `RUN --mount=type=ssh`.

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut FileChecker<'_>) {
    let docs = documents(cx.text);
    let mut seen = HashSet::new();
    for doc in &docs {
        let Some(services) = doc.get("services").and_then(Node::as_map) else {
            continue;
        };
        for (name, node) in services {
            let service = name.as_str().unwrap_or("?");
            let Some(volumes) = node.get("volumes").and_then(Node::as_seq) else {
                continue;
            };
            for volume in volumes {
                let Some((source_node, range, source, target)) = bind_source(volume) else {
                    continue;
                };
                if !ssh_source(&source) {
                    continue;
                }
                let span = first_line_span(cx.text, source_node, range);
                if !seen.insert((span.start, span.end)) {
                    continue;
                }
                let into = match &target {
                    Some(t) => format!(" at {t}"),
                    None => String::new(),
                };
                let what = if source.trim_end_matches('/').ends_with(".ssh") {
                    "the SSH directory"
                } else {
                    "the SSH private key"
                };
                let target_dir = target
                    .as_deref()
                    .and_then(|t| {
                        t.rsplit_once("/.ssh")
                            .map(|(home, _)| format!("{home}/.ssh"))
                    })
                    .unwrap_or_else(|| "/root/.ssh".to_string());
                cx.report(
                    span,
                    Some(source.clone()),
                    format!(
                        "service `{service}` bind-mounts {what} {source} into its container{into}: every process in the container can read and copy the private keys"
                    ),
                    format!(
                        "forward the SSH agent instead of mounting keys: on service `{service}`, `volumes: [\"${{SSH_AUTH_SOCK}}:/ssh-agent\"]` and `environment: {{SSH_AUTH_SOCK: /ssh-agent}}` (Docker Desktop: `/run/host-services/ssh-auth.sock:/run/host-services/ssh-auth.sock` and `SSH_AUTH_SOCK: /run/host-services/ssh-auth.sock`); mount only `~/.ssh/known_hosts:{target_dir}/known_hosts:ro` if host keys are needed"
                    ),
                    None,
                );
            }
        }
    }
}

/// A bind mount's source: (the scalar holding it, its bytes in that scalar, the source, the
/// target). Named and anonymous volumes give `None`.
fn bind_source(volume: &Node) -> Option<(&Node, std::ops::Range<usize>, String, Option<String>)> {
    if let Some(spec) = volume.as_str() {
        let lead = spec.len() - spec.trim_start().len();
        let source = volume_source(spec.trim_start())?;
        let rest = &spec[lead + source.len() + 1..];
        let target = rest.split(':').next().filter(|t| !t.is_empty());
        return Some((
            volume,
            lead..lead + source.len(),
            source.to_string(),
            target.map(str::to_string),
        ));
    }
    let kind = volume.get("type").and_then(Node::as_str)?;
    if kind != "bind" {
        return None;
    }
    let source_node = volume.get("source")?;
    let source = source_node.as_str()?;
    let target = volume
        .get("target")
        .and_then(Node::as_str)
        .map(str::to_string);
    Some((source_node, 0..source.len(), source.to_string(), target))
}
