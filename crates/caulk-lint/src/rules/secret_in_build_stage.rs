//! CK113: a build stage that handles secrets, and `COPY --from` of a whole stage.

use super::names::{secret_name, sensitive_file};
use super::{Check, Checker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK113",
    name: "secret-in-build-stage",
    severity: Severity::Info,
    summary:
        "A build stage handles a secret (it stays in the build cache); COPY --from of a whole stage",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Notes (severity info) each stage other than the last that handles a secret in a way that leaves
it in the stage's layers: a secret-named `ARG` or `ENV`, or a `COPY` of a credentials file. (A
secret or ssh mount does not: its content is never in a layer or the cache.) Flags (severity high) a
`COPY --from=<stage>` of that stage's whole filesystem (`/`, `/.`, `/*`).

## Why is this bad
A multi-stage build keeps secrets out of the final image only if nothing copies them across: the
builder stage's layers stay in the build cache of the machine that built it (and in a registry
cache with `--cache-to`), so whoever reads that cache reads the secret, and a `COPY --from` of the
whole stage drags every file of it, `.npmrc` and keys included, into the final image.

## Example
```dockerfile
FROM node:20 AS build
COPY .npmrc /root/.npmrc
RUN npm ci && npm run build
FROM node:20-slim
COPY --from=build / /
```

## Use instead
```dockerfile
FROM node:20 AS build
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci && npm run build
FROM node:20-slim
COPY --from=build /app/dist /app/dist
```
Copy only the artifact, and use secret mounts in the builder too, so the cache holds no secret.

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut Checker<'_>) {
    let staged: Vec<_> = cx.staged().map(|(s, i)| (s, i.clone())).collect();
    let last = staged.iter().map(|(s, _)| *s).max().unwrap_or(0);
    // stage index -> (name, line of the first thing that handles a secret, what)
    let mut names: Vec<Option<String>> = Vec::new();
    let mut handled: Vec<Option<(usize, String, std::ops::Range<usize>)>> = Vec::new();
    for (stage, ins) in &staged {
        while names.len() <= *stage {
            names.push(None);
            handled.push(None);
        }
        if ins.name == "from" {
            let words: Vec<&str> = ins.args.iter().map(|w| w.value.as_str()).collect();
            if let [_, kw, name] = words[..] {
                if kw.eq_ignore_ascii_case("as") {
                    names[*stage] = Some(name.to_ascii_lowercase());
                }
            }
            continue;
        }
        if handled[*stage].is_some() {
            continue;
        }
        let what = match ins.name.as_str() {
            "arg" | "env" => ins
                .pairs
                .iter()
                .find(|p| secret_name(&p.key.value))
                .map(|p| format!("{} {}", ins.name.to_ascii_uppercase(), p.key.value)),
            "copy" | "add" if ins.flag_values("from").next().is_none() && ins.args.len() >= 2 => {
                ins.args[..ins.args.len() - 1]
                    .iter()
                    .find(|a| sensitive_file(&a.value).is_some())
                    .map(|a| format!("a copy of `{}`", a.value))
            }
            _ => None,
        };
        if let Some(what) = what {
            handled[*stage] = Some((ins.start_line, what, ins.keyword.clone()));
        }
    }
    for (stage, h) in handled.iter().enumerate() {
        let Some((line, what, span)) = h else {
            continue;
        };
        if stage == last {
            continue;
        }
        let stage_name = names[stage].clone().unwrap_or_else(|| stage.to_string());
        cx.report(
            span.clone(),
            format!("build stage `{stage_name}` handles a secret ({what}, line {line}): it is not in the final image, but its layers stay in the build cache"),
            "use secret mounts in build stages too, and copy only the built artifact out of the stage".into(),
            None,
            None,
        );
    }
    for (stage, ins) in &staged {
        if !matches!(ins.name.as_str(), "copy" | "add") {
            continue;
        }
        let Some(from) = ins.flag_values("from").next().and_then(|f| f.value.clone()) else {
            continue;
        };
        let from_l = from.to_ascii_lowercase();
        let src_stage = names
            .iter()
            .position(|n| n.as_deref() == Some(from_l.as_str()))
            .or_else(|| from.parse::<usize>().ok().filter(|&i| i < *stage));
        let Some(src) = src_stage else { continue };
        let Some((_, what, _)) = &handled[src] else {
            continue;
        };
        let whole = ins.args.len() >= 2
            && ins.args[..ins.args.len() - 1]
                .iter()
                .any(|a| matches!(a.value.as_str(), "/" | "/." | "/*" | "." | "./"));
        if whole {
            cx.report_with(
                Severity::High,
                ins.args[0].span.clone(),
                format!("COPY --from={from} copies the whole stage, which handled a secret ({what}): its files come along into this image"),
                "copy only the built artifacts (`COPY --from=... /app/dist /app/dist`)".into(),
                None,
                None,
            );
        }
    }
}
