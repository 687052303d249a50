//! CK103: a literal secret anywhere else in the Dockerfile (RUN commands, heredocs, comments).

use super::{Check, Checker, RuleInfo, SecretValue, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK103",
    name: "secret-in-dockerfile",
    severity: Severity::High,
    summary: "A literal secret in a RUN command, a heredoc or a comment",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Runs caulk's secret rules on the whole Dockerfile text and flags every recognised credential
outside `ARG`/`ENV`/`LABEL` values (those are CK102): in `RUN` commands, heredoc bodies, `COPY`
arguments and comments.

## Why is this bad
The Dockerfile is committed, so the credential is in the repository's history. A credential in a
`RUN` command is also recorded in the image history (`docker history --no-trunc`), and a heredoc
body written to a file is in a layer.

## Example
```dockerfile
RUN curl -H "Authorization: token ghp_..." https://api.github.com/...
```

## Use instead
```dockerfile
RUN --mount=type=secret,id=gh,env=GH_TOKEN \
    curl -H "Authorization: token $GH_TOKEN" https://api.github.com/...
```
built with `docker build --secret id=gh,env=GH_TOKEN .`. Rotate the exposed credential.

## Fix safety
No automatic fix: the credential must be rotated and the command rewritten by hand.
"#;

fn check(cx: &mut Checker<'_>) {
    let source = cx.df.source.clone();
    // Spans already covered by CK102.
    let values: Vec<std::ops::Range<usize>> = cx
        .df
        .instructions
        .iter()
        .filter(|i| matches!(i.name.as_str(), "arg" | "env" | "label"))
        .flat_map(|i| {
            i.pairs
                .iter()
                .filter_map(|p| p.value.as_ref().map(|v| v.span.clone()))
        })
        .collect();
    for (range, rule_name) in cx.secrets_in(&source) {
        if values
            .iter()
            .any(|v| v.start <= range.start && range.end <= v.end)
        {
            continue;
        }
        let (line, _) = cx.df.line_col(range.start);
        let place = cx
            .df
            .instructions
            .iter()
            .find(|i| i.start_line <= line && line <= i.end_line)
            .map_or("a comment".to_string(), |i| {
                format!("a {} instruction", i.name.to_ascii_uppercase())
            });
        let bytes = source.as_bytes()[range.clone()].to_vec();
        cx.report(
            range,
            format!("a {rule_name} in {place}: it is in the repository and the image history"),
            "rotate it, and pass it with `RUN --mount=type=secret,id=...,env=...` and `docker build --secret id=...,env=...`".into(),
            None,
            Some(SecretValue { bytes: &bytes }),
        );
    }
}
