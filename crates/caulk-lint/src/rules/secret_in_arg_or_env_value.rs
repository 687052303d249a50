//! CK102: a literal secret as an `ARG` default, an `ENV` value or a `LABEL`.

use super::{Check, Checker, RuleInfo, SecretValue, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK102",
    name: "secret-in-arg-or-env-value",
    severity: Severity::High,
    summary: "A literal secret as an ARG default, an ENV value or a LABEL",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Runs caulk's secret rules (the same ones `caulk image` uses) on every `ARG` default, `ENV` value
and `LABEL` value, and flags a recognised credential: a GitHub token, an AWS secret key, a private
key, a password in a database URL, ...

## Why is this bad
The value is in the Dockerfile (so in the repository) and in the image: `ENV` and `LABEL` in the
config that `docker inspect` prints, an `ARG` default in the history of every later `RUN`. Anyone
who can read either has the credential. Rotate it.

## Example
```dockerfile
FROM python:3.12
ENV OPENAI_API_KEY=sk-proj-...
```

## Use instead
Remove the value, rotate the credential, and inject it at run time (Compose `secrets:`,
Kubernetes `secretKeyRef`) or, if the build needs it, with `RUN --mount=type=secret`.

## Fix safety
`caulk fix --unsafe` removes the `ENV`/`ARG` value; the build or the program must then get the
value another way, so the fix is unsafe.
"#;

fn check(cx: &mut Checker<'_>) {
    for (_, ins) in cx.staged().collect::<Vec<_>>() {
        if !matches!(ins.name.as_str(), "arg" | "env" | "label") {
            continue;
        }
        for pair in &ins.pairs {
            let Some(value) = &pair.value else { continue };
            for (range, rule_name) in cx.secrets_in(&value.value) {
                let bytes = value.value.as_bytes()[range.clone()].to_vec();
                // Map the secret inside the value back to the file (values are verbatim text).
                let start = value.span.start + range.start;
                let span = if value.span.len() == value.value.len() {
                    start..value.span.start + range.end
                } else {
                    value.span.clone()
                };
                let where_ = match ins.name.as_str() {
                    "env" => "it is stored in the image config",
                    "label" => "labels are stored in the image config",
                    _ => "build-arg defaults are recorded in the history of every later RUN",
                };
                cx.report(
                    span,
                    format!(
                        "{} {} holds a {rule_name}: {where_}",
                        ins.name.to_ascii_uppercase(),
                        pair.key.value
                    ),
                    format!(
                        "rotate it, remove the value, and inject {} at run time (Compose `secrets:`, Kubernetes `secretKeyRef`) or use `RUN --mount=type=secret` for the build",
                        pair.key.value
                    ),
                    None,
                    Some(SecretValue { bytes: &bytes }),
                );
            }
        }
    }
}
