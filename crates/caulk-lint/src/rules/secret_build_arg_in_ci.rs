//! CK401: a secret passed with `--build-arg` (or build-push-action's `build-args`) in CI and
//! scripts.

use std::sync::OnceLock;

use regex::Regex;

use super::names::{harmless_value, secret_key};
use super::yaml_walk::{commands, documents, is_yaml, scripts, value_span, words, Joined};
use super::{Check, FileChecker, RuleInfo, Target};
use crate::yaml::Node;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK401",
    name: "secret-build-arg-in-ci",
    severity: Severity::High,
    summary: "A secret passed as a build arg by a CI job or script",
    docs: DOCS,
    target: Target::Ci,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Flags `docker build`, `docker buildx build`, `docker compose build`, `podman build`,
`buildah bud`/`buildah build` (and `nerdctl build`) commands that pass `--build-arg NAME=...` (or
`--build-arg NAME`, which takes the value from the environment) where `NAME` says it holds a
secret (`NPM_TOKEN`, `DB_PASSWORD`, `API_KEY`, see CK101), whether the value is a literal, a
variable (`$NPM_TOKEN`) or a GitHub Actions secret (`${{ secrets.NPM_TOKEN }}`). It reads shell
scripts, Makefiles, Jenkinsfiles, the `run:` steps of GitHub Actions workflows and the
`script:`/`before_script:`/`after_script:` of GitLab CI jobs, with backslash-continued lines
joined; and the `build-args:` input of `docker/build-push-action`.

## Why is this bad
It does not matter where the value comes from: a build arg's value is recorded in the history of
every `RUN` that sees it (`docker history --no-trunc` prints `|1 NPM_TOKEN=npm_... /bin/sh -c npm
ci`), and in the provenance attestation when that is built in `max` mode, which
`docker/build-push-action` does by default for public repositories. Anyone who can pull the image
can read the secret. A literal value is also committed with the file.

## Example
```yaml
      - run: |
          docker build \
            --build-arg NPM_TOKEN=${{ secrets.NPM_TOKEN }} \
            -t ghcr.io/acme/app .
```

## Use instead
Pass it as a build secret, which is never stored in the image:
```yaml
      - run: docker build --secret id=npm_token,env=NPM_TOKEN -t ghcr.io/acme/app .
        env:
          NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
```
with, in the Dockerfile, in place of `ARG NPM_TOKEN`:
```dockerfile
RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci
```
With `docker/build-push-action`, use its `secrets` input:
```yaml
        with:
          secrets: |
            npm_token=${{ secrets.NPM_TOKEN }}
```

## Fix safety
No automatic fix.
"#;

fn build_command() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"\b(?:(?:docker|podman|nerdctl)(?:\s+(?:image|buildx))?\s+build|docker(?:-|\s+)compose\s+build|buildah\s+(?:bud|build-using-dockerfile|build))\b",
        )
        .unwrap()
    })
}

/// `NPM_TOKEN` in `${{ secrets.NPM_TOKEN }}`.
fn github_secret(value: &str) -> Option<&str> {
    static R: OnceLock<Regex> = OnceLock::new();
    let re = R.get_or_init(|| Regex::new(r"\$\{\{\s*secrets\.([A-Za-z0-9_-]+)\s*\}\}").unwrap());
    re.captures(value)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

/// Where the value of a build arg comes from, for messages.
fn source(value: Option<&str>) -> String {
    match value {
        None => "its value taken from the environment".into(),
        Some(v) => match github_secret(v) {
            Some(s) => format!("from the GitHub secret {s}"),
            None if v.contains('$') => format!("from {v}"),
            None => "a literal value, committed with this file".into(),
        },
    }
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
        for (name_range, command) in commands(&joined.text, build_command()) {
            let tool = joined.text[name_range]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let ws = words(&joined.text, command);
            for (i, (range, word)) in ws.iter().enumerate() {
                let (arg, span) = if word == "--build-arg" {
                    let Some((next_range, next)) = ws.get(i + 1) else {
                        continue;
                    };
                    (next.as_str(), range.start..next_range.end)
                } else if let Some(arg) = word.strip_prefix("--build-arg=") {
                    (arg, range.clone())
                } else {
                    continue;
                };
                let (name, value) = match arg.split_once('=') {
                    Some((n, v)) => (n.trim(), Some(v)),
                    None => (arg.trim(), None),
                };
                if !secret_key(name) || value.is_some_and(|v| v.is_empty() || harmless_value(v)) {
                    continue;
                }
                let id = name.to_ascii_lowercase();
                let env = match value.and_then(github_secret) {
                    Some(s) => format!(
                        "; set it on the step with `env: {{{name}: ${{{{ secrets.{s} }}}}}}`"
                    ),
                    None => String::new(),
                };
                let span = script.file_span(joined.original(span));
                cx.report(
                    span,
                    Some(name.to_string()),
                    format!(
                        "`{tool}` passes {name} as a build arg ({}): build-arg values are recorded in the image history and in max-mode provenance attestations, readable by anyone who can pull the image",
                        source(value)
                    ),
                    format!(
                        "pass it as a build secret: `--secret id={id},env={name}` in place of `--build-arg`, with {name} in the command's environment{env}, and `RUN --mount=type=secret,id={id},env={name} ...` in the Dockerfile in place of `ARG {name}`"
                    ),
                    None,
                );
            }
        }
    }
    if !docs.is_empty() {
        for doc in &docs {
            build_push_action(cx, doc, 0);
        }
    }
}

/// `build-args:` of `docker/build-push-action` steps, anywhere in a workflow or action.
fn build_push_action(cx: &mut FileChecker<'_>, node: &Node, depth: usize) {
    if depth > 64 {
        return;
    }
    if let Some(items) = node.as_seq() {
        for i in items {
            build_push_action(cx, i, depth + 1);
        }
        return;
    }
    let Some(map) = node.as_map() else { return };
    let uses = node.get("uses").and_then(Node::as_str).unwrap_or("");
    if uses.starts_with("docker/build-push-action") {
        if let Some(args) = node.path(&["with", "build-args"]) {
            build_args_input(cx, args);
        }
    }
    for (_, v) in map {
        build_push_action(cx, v, depth + 1);
    }
}

fn build_args_input(cx: &mut FileChecker<'_>, args: &Node) {
    let Some(text) = args.as_str() else { return };
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let lead = content.len() - content.trim_start().len();
        let entry = content.trim();
        let Some((name, value)) = entry.split_once('=') else {
            continue;
        };
        let name = name.trim();
        if !secret_key(name) || value.is_empty() || harmless_value(value) {
            continue;
        }
        let id = name.to_ascii_lowercase();
        let from = github_secret(value).unwrap_or(name);
        let span = value_span(args, start + lead..start + lead + entry.len());
        cx.report(
            span,
            Some(name.to_string()),
            format!(
                "docker/build-push-action passes {name} as a build arg ({}): build-arg values are recorded in the image history and in the provenance attestation this action adds (max mode for public repositories), readable by anyone who can pull the image",
                source(Some(value))
            ),
            format!(
                "use the action's `secrets` input in place of this `build-args` line: `secrets: {id}=${{{{ secrets.{from} }}}}` (one `id=value` per line), and `RUN --mount=type=secret,id={id},env={name} ...` in the Dockerfile in place of `ARG {name}`"
            ),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::{lint_text_file, Target};

    /// (line, column, end column, key) of each CK401 finding.
    fn lint(path: &str, text: &str) -> Vec<(usize, usize, usize, String)> {
        static SET: std::sync::OnceLock<caulk_rules::RuleSet> = std::sync::OnceLock::new();
        let mut scanner = SET
            .get_or_init(|| caulk_rules::RuleSet::builtin().unwrap())
            .scanner();
        lint_text_file(path, text, Target::Ci, &mut scanner)
            .findings
            .into_iter()
            .filter(|f| f.rule_id == "CK401")
            .map(|f| {
                let l = f.location;
                (l.line, l.column, l.end_column, l.key.unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn makefile_with_continuation_lines() {
        let text = "IMAGE ?= ghcr.io/acme/app\nimage:\n\tdocker build \\\n\t  --build-arg NPM_TOKEN=$(NPM_TOKEN) \\\n\t  -t $(IMAGE) .\n# docker build --build-arg GITHUB_TOKEN=$(GITHUB_TOKEN) .\n\tdocker build --build-arg NODE_VERSION=20 .\n";
        assert_eq!(lint("Makefile", text), [(4, 4, 38, "NPM_TOKEN".into())]);
    }

    #[test]
    fn gitlab_ci_script_items_and_folded_scalars() {
        let text = r#"build:
  image: docker:27
  before_script:
    - docker login -u "$CI_REGISTRY_USER" -p "$CI_REGISTRY_PASSWORD" "$CI_REGISTRY"
  script:
    - docker build --build-arg "CI_JOB_TOKEN=$CI_JOB_TOKEN" -t "$CI_REGISTRY_IMAGE" .
    - >
      buildah bud
      --build-arg DEPLOY_PASSWORD=$DEPLOY_PASSWORD
      -t app .
"#;
        assert_eq!(
            lint(".gitlab-ci.yml", text),
            [
                (6, 20, 60, "CI_JOB_TOKEN".into()),
                (9, 7, 51, "DEPLOY_PASSWORD".into())
            ]
        );
    }

    #[test]
    fn scripts_and_jenkinsfiles() {
        let sh = "#!/bin/sh\r\nsudo docker build --build-arg=GITHUB_TOKEN -t app . && docker push app\r\n";
        assert_eq!(lint("build.sh", sh), [(2, 19, 43, "GITHUB_TOKEN".into())]);
        let jenkins = "pipeline {\n  stages { stage('b') { steps {\n    sh \"docker build --build-arg NEXUS_PASSWORD=${NEXUS_PASSWORD} .\"\n  } } }\n}\n";
        assert_eq!(
            lint("Jenkinsfile", jenkins),
            [(3, 22, 66, "NEXUS_PASSWORD".into())]
        );
    }

    #[test]
    fn malformed_yaml_reports_nothing() {
        let text =
            "jobs:\n  a:\n    steps:\n      - run: [docker build --build-arg TOKEN=x\n    : :\n";
        assert!(lint(".github/workflows/ci.yml", text).is_empty());
    }
}
