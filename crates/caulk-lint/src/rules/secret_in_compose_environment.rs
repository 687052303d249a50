//! CK201: a literal secret in a Compose service's `environment:` or `build.args`.

use std::collections::HashSet;

use super::names::{literal_value, secret_key};
use super::yaml_walk::{assignments, documents, first_line_span, secrets_in_value, value_span};
use super::{Check, FileChecker, RuleInfo, SecretValue, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK201",
    name: "secret-in-compose-environment",
    severity: Severity::High,
    summary: "A literal secret in a Compose service's environment or build args",
    docs: DOCS,
    target: Target::Compose,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Looks at every service's `environment:` and `build.args` in a Compose file, in both forms
(`KEY: value` and `- KEY=value`), and flags a value that:

- caulk's secret rules (the same ones `caulk image` uses) recognise as a credential: a GitHub or
  npm token, an AWS secret key, a password in a database URL, a private key, ...; or
- is a literal assigned to a name that says it holds a secret (`POSTGRES_PASSWORD`, `API_KEY`,
  `NPM_TOKEN`, see CK101).

Interpolated values (`${DB_PASSWORD}`, `$TOKEN`), entries without a value (`- API_KEY`, which
Compose passes through from the host), placeholders (`changeme`, `<password>`) and values that
are paths, booleans, numbers or versions are not flagged.

## Why is this bad
The Compose file is committed: everyone who can read the repository has the credential, and it
stays in the history after it is removed. At run time the value is in the container's
environment, which `docker inspect` and `docker compose config` print. A build arg is also
recorded in the history of the image it builds.

## Example
```yaml
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: S3cr3tPw9x
  api:
    build:
      context: .
      args:
        NPM_TOKEN: npm_...
```

## Use instead
Rotate the credential, then give it to the service as a secret:
```yaml
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password
    secrets: [postgres_password]
  api:
    build:
      context: .
      secrets: [npm_token]   # RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN in the Dockerfile
secrets:
  postgres_password:
    environment: POSTGRES_PASSWORD   # or file: ./secrets/postgres_password.txt (not committed)
  npm_token:
    environment: NPM_TOKEN
```
or, for a runtime variable, list it without a value (`environment: [API_KEY]`) so that Compose
passes it through from the environment it runs in.

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut FileChecker<'_>) {
    let docs = documents(cx.text);
    let mut seen = HashSet::new();
    for doc in &docs {
        let Some(services) = doc.get("services").and_then(|s| s.as_map()) else {
            continue;
        };
        for (name, service) in services {
            let service_name = name.as_str().unwrap_or("?");
            if let Some(env) = service.get("environment") {
                check_assignments(cx, &mut seen, service_name, env, false);
            }
            if let Some(args) = service.get("build").and_then(|b| b.get("args")) {
                check_assignments(cx, &mut seen, service_name, args, true);
            }
        }
    }
}

fn check_assignments(
    cx: &mut FileChecker<'_>,
    seen: &mut HashSet<(usize, usize)>,
    service: &str,
    node: &crate::yaml::Node,
    build_arg: bool,
) {
    for a in assignments(node) {
        let value = a.value_text().to_string();
        let key = a.key.clone();
        let id = key.to_ascii_lowercase();
        let (what, why) = if build_arg {
            (
                format!("build arg {key}"),
                "it is committed with the Compose file and recorded in the history of the image it builds",
            )
        } else {
            (
                format!("environment variable {key}"),
                "it is committed with the Compose file and shown by `docker inspect` and `docker compose config`",
            )
        };
        let remediation = if build_arg {
            format!(
                "rotate it and pass it as a build secret: `build: {{secrets: [{id}]}}` on service `{service}`, a top-level `secrets: {{{id}: {{environment: {key}}}}}`, and `RUN --mount=type=secret,id={id},env={key}` in the Dockerfile in place of `ARG {key}`"
            )
        } else {
            format!(
                "rotate it and take the value out of the file: a top-level `secrets: {{{id}: {{environment: {key}}}}}` with `secrets: [{id}]` on service `{service}` (the value is then in /run/secrets/{id}; images that read `{key}_FILE` take that path), or `environment: [{key}]` with no value, so that Compose passes it through from the host"
            )
        };
        let literal = format!("{what}, named like a secret, to a literal value");
        let found = secrets_in_value(cx, &key, &value);
        if found.is_empty() {
            if !secret_key(&key) || !literal_value(&value) {
                continue;
            }
            let span = first_line_span(cx.text, a.node, a.value.clone());
            if !seen.insert((span.start, span.end)) {
                continue;
            }
            cx.report(
                span,
                Some(key.clone()),
                format!("service `{service}` sets {literal}: {why}"),
                remediation,
                Some(SecretValue {
                    bytes: value.trim().as_bytes(),
                }),
            );
            continue;
        }
        for f in found {
            let span = value_span(
                a.node,
                a.value.start + f.range.start..a.value.start + f.range.end,
            );
            if !seen.insert((span.start, span.end)) {
                continue;
            }
            let sets = match &f.what {
                Some(secret) => format!("{what} to {secret}"),
                None => literal.clone(),
            };
            cx.report(
                span,
                Some(key.clone()),
                format!("service `{service}` sets {sets}: {why}"),
                remediation.clone(),
                Some(SecretValue {
                    bytes: &value.as_bytes()[f.range],
                }),
            );
        }
    }
}
