//! CK402: `docker run` / `podman run` that bind-mounts the host's SSH keys, in CI and scripts.

use std::sync::OnceLock;

use regex::Regex;

use super::yaml_walk::{
    commands, documents, is_yaml, scripts, ssh_source, volume_source, words, Joined,
};
use super::{Check, FileChecker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK402",
    name: "ssh-directory-in-docker-run",
    severity: Severity::High,
    summary: "A docker run in CI or a script that mounts an SSH directory or private key",
    docs: DOCS,
    target: Target::Ci,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Flags `docker run`/`docker create`, `podman run`, `nerdctl run` and `docker compose run`
commands that bind-mount SSH keys from the host: `-v`/`--volume` with a source of `~/.ssh`,
`$HOME/.ssh`, `${HOME}/.ssh`, `/root/.ssh`, `/home/<user>/.ssh`, any path ending in `/.ssh` or a
private key in such a directory (`~/.ssh/id_ed25519`), and `--mount type=bind,source=...` with
such a source. It reads shell scripts, Makefiles, Jenkinsfiles, the `run:` steps of GitHub Actions
workflows and the `script:` of GitLab CI jobs, with backslash-continued lines joined. Mounting only
`known_hosts`, `config` or a public key (`*.pub`) is not flagged.

## Why is this bad
Every private key in the directory is readable by every process in the container, including the
image's entrypoint and whatever the job runs from third parties (`npm install` scripts, test
dependencies); on a CI runner these are often deploy keys with write access. Read-only does not
help: reading is enough to copy a key.

## Example
```sh
docker run --rm -v ~/.ssh:/root/.ssh:ro -v "$PWD":/src builder make release
```

## Use instead
Forward the SSH agent, so that the container can use the keys but never read them:
```sh
docker run --rm \
  -v "$SSH_AUTH_SOCK:/ssh-agent" -e SSH_AUTH_SOCK=/ssh-agent \
  -v ~/.ssh/known_hosts:/root/.ssh/known_hosts:ro \
  -v "$PWD":/src builder make release
```
On Docker Desktop, mount `/run/host-services/ssh-auth.sock` and set `SSH_AUTH_SOCK` to it. In
GitHub Actions, `webfactory/ssh-agent` loads a deploy key into an agent for the job.

## Fix safety
No automatic fix.
"#;

fn run_command() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"\b(?:(?:docker|podman|nerdctl)(?:\s+container)?\s+(?:run|create)|docker(?:-|\s+)compose\s+run)\b",
        )
        .unwrap()
    })
}

/// The source of a `--mount` value if it is a bind mount (`type=bind,source=~/.ssh,target=...`).
fn mount_source(spec: &str) -> Option<(&str, Option<&str>)> {
    let mut bind = false;
    let mut source = None;
    let mut target = None;
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k.trim() {
            "type" => bind = v.trim() == "bind",
            "source" | "src" => source = Some(v.trim()),
            "target" | "destination" | "dst" => target = Some(v.trim()),
            _ => {}
        }
    }
    source.filter(|_| bind).map(|s| (s, target))
}

fn check(cx: &mut FileChecker<'_>) {
    let (text, path) = (cx.text, cx.path);
    let docs = if is_yaml(path) {
        documents(text)
    } else {
        Vec::new()
    };
    for script in scripts(path, text, &docs) {
        let joined = Joined::new(script.text);
        for (name_range, command) in commands(&joined.text, run_command()) {
            let tool = joined.text[name_range]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let ws = words(&joined.text, command);
            for (i, (range, word)) in ws.iter().enumerate() {
                // (option, its value, the span of both)
                let (option, value, span) = match word.as_str() {
                    "-v" | "--volume" | "--mount" => {
                        let Some((next_range, next)) = ws.get(i + 1) else {
                            continue;
                        };
                        (word.as_str(), next.as_str(), range.start..next_range.end)
                    }
                    w => match w.split_once('=') {
                        Some((o @ ("-v" | "--volume" | "--mount"), v)) => (o, v, range.clone()),
                        _ => continue,
                    },
                };
                let (source, target) = if option == "--mount" {
                    match mount_source(value) {
                        Some(st) => st,
                        None => continue,
                    }
                } else {
                    let Some(source) = volume_source(value) else {
                        continue;
                    };
                    let rest = &value[source.len() + 1..];
                    (source, rest.split(':').next().filter(|t| !t.is_empty()))
                };
                if !ssh_source(source) {
                    continue;
                }
                let what = if source.trim_end_matches('/').ends_with(".ssh") {
                    "the SSH directory"
                } else {
                    "the SSH private key"
                };
                let into = target.map(|t| format!(" at {t}")).unwrap_or_default();
                let known_hosts = target
                    .and_then(|t| {
                        t.rsplit_once("/.ssh")
                            .map(|(home, _)| format!("{home}/.ssh"))
                    })
                    .unwrap_or_else(|| "/root/.ssh".to_string());
                let written = joined.text[span.clone()].to_string();
                let span = script.file_span(joined.original(span));
                cx.report(
                    span,
                    Some(source.to_string()),
                    format!(
                        "`{tool}` bind-mounts {what} {source} into the container{into}: every process in the container can read and copy the private keys"
                    ),
                    format!(
                        "forward the SSH agent instead: `-v \"$SSH_AUTH_SOCK:/ssh-agent\" -e SSH_AUTH_SOCK=/ssh-agent` in place of `{written}` (Docker Desktop: `-v /run/host-services/ssh-auth.sock:/run/host-services/ssh-auth.sock -e SSH_AUTH_SOCK=/run/host-services/ssh-auth.sock`); add `-v ~/.ssh/known_hosts:{known_hosts}/known_hosts:ro` if host keys are needed"
                    ),
                    None,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::{lint_text_file, Target};

    /// (line, column, end column) of each CK402 finding.
    fn lint(path: &str, text: &str) -> Vec<(usize, usize, usize)> {
        static SET: std::sync::OnceLock<caulk_rules::RuleSet> = std::sync::OnceLock::new();
        let mut scanner = SET
            .get_or_init(|| caulk_rules::RuleSet::builtin().unwrap())
            .scanner();
        lint_text_file(path, text, Target::Ci, &mut scanner)
            .findings
            .into_iter()
            .filter(|f| f.rule_id == "CK402")
            .map(|f| (f.location.line, f.location.column, f.location.end_column))
            .collect()
    }

    #[test]
    fn workflow_run_steps() {
        let text = r#"jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: |
          docker run --rm \
            -v "${HOME}/.ssh:/root/.ssh:ro" \
            -v "$SSH_AUTH_SOCK:/ssh-agent" ghcr.io/acme/ci make test
      - run: docker run --rm -v ${{ github.workspace }}:/src -v ~/.ssh/known_hosts:/root/.ssh/known_hosts:ro ghcr.io/acme/ci true
"#;
        assert_eq!(lint(".github/workflows/test.yml", text), [(7, 13, 44)]);
    }

    #[test]
    fn makefiles_and_mount_syntax() {
        let text = "dev:\n\tdocker run -it --mount type=bind,src=$(HOME)/.ssh,dst=/root/.ssh acme/dev\n\tdocker run -it --mount src=$(HOME)/.ssh,dst=/root/.ssh acme/dev\n";
        // The second `--mount` has no `type=bind`: a named volume, not the host directory.
        assert_eq!(lint("Makefile", text), [(2, 17, 66)]);
    }
}
