//! CK104: a build arg that carries a secret, followed by a `RUN` that records it in the history.

use super::names::{harmless_value, secret_name};
use super::{Check, Checker, RuleInfo, Target};
use caulk_report::lint::FixSafety;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK104",
    name: "build-arg-secret-used-by-run",
    severity: Severity::High,
    summary: "A secret build arg in scope of a RUN, which records it in the image history",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Flags an `ARG` named like a secret (see CK101) that is in scope of a later `RUN` of the same stage.

## Why is this bad
Every `RUN` after an `ARG` runs with the build arg in its environment, and the builder records it
in that step's history: `docker history --no-trunc` prints `|1 NPM_TOKEN=npm_... /bin/sh -c npm ci`
to anyone who pulls the image. This is the most common way tokens end up in published images.

## Example
```dockerfile
FROM node:20
ARG NPM_TOKEN
RUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci && rm .npmrc
```

## Use instead
```dockerfile
# syntax=docker/dockerfile:1
FROM node:20
RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN \
    echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci && rm .npmrc
```
built with `docker build --secret id=npm_token,env=NPM_TOKEN .`; in GitHub Actions,
`docker/build-push-action` with `secrets: npm_token=${{ secrets.NPM_TOKEN }}`.

## Fix safety
`caulk fix --unsafe` removes the `ARG`, adds the secret mount to each `RUN` that uses the variable,
and prints the new build command. Unsafe: the build must now be run with `--secret`.
"#;

fn check(cx: &mut Checker<'_>) {
    let staged: Vec<_> = cx.staged().collect();
    for (k, (stage, ins)) in staged.iter().enumerate() {
        if ins.name != "arg" {
            continue;
        }
        for pair in &ins.pairs {
            let name = &pair.key.value;
            if !secret_arg(pair) {
                continue;
            }
            let runs: Vec<_> = staged[k + 1..]
                .iter()
                .filter(|(s, i)| s == stage && i.name == "run")
                .map(|(_, i)| *i)
                .collect();
            let Some(first) = runs.first() else { continue };
            let uses: Vec<usize> = runs
                .iter()
                .filter(|r| {
                    references(&r.rest.value, name)
                        || r.heredocs.iter().any(|h| references(&h.content, name))
                })
                .map(|r| r.start_line)
                .collect();
            let detail = if uses.is_empty() {
                format!(
                    "the RUN at line {} records it in the image history",
                    first.start_line
                )
            } else {
                let lines: Vec<String> = uses.iter().map(|l| l.to_string()).collect();
                format!(
                    "the RUN at line{} {} use{} it and record{} it in the image history",
                    if uses.len() == 1 { "" } else { "s" },
                    lines.join(", "),
                    if uses.len() == 1 { "s" } else { "" },
                    if uses.len() == 1 { "s" } else { "" }
                )
            };
            let id = name.to_ascii_lowercase();
            cx.report(
                pair.key.span.clone(),
                format!("build arg {name} carries a secret: {detail}"),
                format!("replace the ARG with `RUN --mount=type=secret,id={id},env={name}` and build with `docker build --secret id={id},env={name}`"),
                Some(FixSafety::Unsafe),
                None,
            );
        }
    }
}

/// An `ARG` named like a secret whose default (if any) is not obviously harmless.
pub(crate) fn secret_arg(pair: &crate::dockerfile::Pair) -> bool {
    secret_name(&pair.key.value)
        && !pair
            .value
            .as_ref()
            .is_some_and(|v| harmless_value(&v.value))
}

/// Whether shell text references `$name` or `${name...}`.
pub(crate) fn references(text: &str, name: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        let candidate = after.strip_prefix('{').unwrap_or(after);
        if let Some(tail) = candidate.strip_prefix(name) {
            if !tail.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                return true;
            }
        }
        rest = after;
    }
    false
}
