//! CK101: an `ARG` or `ENV` whose name says it holds a secret.

use super::names::{harmless_value, secret_name};
use super::{Check, Checker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK101",
    name: "secret-name-in-arg-or-env",
    severity: Severity::Medium,
    summary: "An ARG or ENV named like a secret (TOKEN, PASSWORD, API_KEY, ...)",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Flags `ARG` and `ENV` instructions whose variable name says it holds a credential: a `_`-separated
part of the name is `TOKEN`, `SECRET`, `PASSWORD`/`PASSWD`/`PWD`, `KEY`, `API_KEY`, `AUTH`,
`CREDENTIAL(S)`, `PRIVATE_KEY` or `ACCESS_KEY`.

It does not flag the names BuildKit's `SecretsUsedInArgOrEnv` is known to get wrong: GPG key
fingerprints (`GPG_KEY`, `PYTHON_GPG_KEY`, `GPG_KEYS` in official images), names of files, paths,
URLs, hosts, versions and ids (`TOKEN_FILE`, `KEY_PATH`, `AUTH_URL`, `NODE_VERSION`,
`AWS_ACCESS_KEY_ID`), `PUBLIC_*`, keyrings and keyservers; nor values that are paths, versions,
booleans or hex fingerprints.

## Why is this bad
An `ENV` value is stored in the image config: `docker inspect` shows it to anyone who can pull
the image. An `ARG` value given with `--build-arg` is recorded in the history of every later `RUN`
(`docker history --no-trunc` shows `|1 TOKEN=...`).

## Example
```dockerfile
FROM node:20
ARG NPM_TOKEN
ENV DATABASE_PASSWORD=changeit
```

## Use instead
```dockerfile
# syntax=docker/dockerfile:1
FROM node:20
RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci
```
and pass the password at run time (Compose `secrets:`, Kubernetes `secretKeyRef`).

## Fix safety
No automatic fix for the name alone; CK104 rewrites build args that a `RUN` uses.
"#;

fn check(cx: &mut Checker<'_>) {
    for (_, ins) in cx.staged().collect::<Vec<_>>() {
        if !matches!(ins.name.as_str(), "arg" | "env") {
            continue;
        }
        for pair in &ins.pairs {
            if !secret_name(&pair.key.value) {
                continue;
            }
            let value = pair.value.as_ref().map(|v| v.value.as_str());
            if value.is_some_and(harmless_value) {
                continue;
            }
            let (message, remediation) = if ins.name == "env" {
                (
                    format!(
                        "ENV {} looks like a secret: ENV values are stored in the image config, readable by anyone who pulls the image",
                        pair.key.value
                    ),
                    format!(
                        "remove the ENV and inject {} at run time (Compose `secrets:` or `environment:` from the host, Kubernetes `secretKeyRef`)",
                        pair.key.value
                    ),
                )
            } else {
                (
                    format!(
                        "ARG {} looks like a secret: a value passed with --build-arg is recorded in the history of every later RUN",
                        pair.key.value
                    ),
                    format!(
                        "use `RUN --mount=type=secret,id={id},env={name}` where it is needed and build with `--secret id={id},env={name}`",
                        id = pair.key.value.to_ascii_lowercase(),
                        name = pair.key.value
                    ),
                )
            };
            cx.report(pair.key.span.clone(), message, remediation, None, None);
        }
    }
}
