//! CK108: `RUN rm` (or `shred`) of a secret that an earlier instruction put in a layer.

use std::sync::OnceLock;

use regex::Regex;

use super::names::sensitive_file;
use super::{Check, Checker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK108",
    name: "secret-removed-in-later-layer",
    severity: Severity::High,
    summary: "A secret deleted by a later RUN: it stays in the earlier layer",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Tracks the files that `COPY`/`ADD` put in the image and the files a `RUN` writes (`> file`,
`>> file`, `tee file`, `cp x file`, `curl -o file`, `wget -O file`), and flags a later `RUN`
that removes one of them with `rm` or `shred` when the file is a credentials file (see CK106) or
was written from a variable. It also flags `RUN unset X` of a variable an `ENV` set.

## Why is this bad
Each instruction makes a layer, and layers only add: `rm` in a later layer records a whiteout, the
earlier layer still holds the file, and anyone with the image extracts it
(`caulk image` reports it as "deleted by layer N, still extractable"). `unset` in a `RUN` does not
touch the `ENV` in the image config.

## Example
```dockerfile
COPY .npmrc /root/.npmrc
RUN npm ci
RUN rm /root/.npmrc
```

## Use instead
```dockerfile
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
```
with `docker build --secret id=npmrc,src=$HOME/.npmrc .`. If a file must be created and deleted,
do both in the same `RUN`, from a secret mount.

## Fix safety
No automatic fix; CK104 and CK106 fixes remove the cause.
"#;

fn writes() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r#"(?:>>?|\btee(?:\s+-a)?|\bcp\s+\S+|\bcurl\b[^\n;&|]*\s-o|\bwget\b[^\n;&|]*\s-O)\s*['"]?([~/A-Za-z0-9_.$@{}-][^\s'";&|>]*)"#).unwrap()
    })
}

fn removals() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\b(?:rm|shred)\s+((?:-[A-Za-z-]+\s+)*)([^;&|\n]+)").unwrap())
}

fn unsets() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"\bunset\s+([A-Za-z_][A-Za-z0-9_ ]*)").unwrap())
}

fn normalize(path: &str, workdir: &str) -> String {
    let p = path.trim_matches(['"', '\'']);
    let p = p
        .strip_prefix("~/")
        .map_or(p.to_string(), |r| format!("/root/{r}"));
    if p.starts_with('/') {
        p
    } else {
        format!(
            "{}/{}",
            workdir.trim_end_matches('/'),
            p.trim_start_matches("./")
        )
    }
}

fn check(cx: &mut Checker<'_>) {
    let staged: Vec<_> = cx.staged().map(|(s, i)| (s, i.clone())).collect();
    // (stage, path, line, why)
    let mut placed: Vec<(usize, String, usize, String)> = Vec::new();
    let mut envs: Vec<(usize, String, usize)> = Vec::new();
    let mut workdir = "/".to_string();
    let mut last_stage = usize::MAX;
    for (stage, ins) in &staged {
        if *stage != last_stage {
            workdir = "/".into();
            last_stage = *stage;
        }
        match ins.name.as_str() {
            "workdir" => {
                if let Some(w) = ins.args.first() {
                    workdir = normalize(&w.value, &workdir);
                }
            }
            "env" => {
                for p in &ins.pairs {
                    if super::names::secret_name(&p.key.value) {
                        envs.push((*stage, p.key.value.clone(), ins.start_line));
                    }
                }
            }
            "copy" | "add" if ins.args.len() >= 2 && ins.flag_values("from").next().is_none() => {
                let dest = &ins.args[ins.args.len() - 1].value;
                for src in &ins.args[..ins.args.len() - 1] {
                    let Some(what) = sensitive_file(&src.value) else {
                        continue;
                    };
                    let name = src
                        .value
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let target = if dest.ends_with('/') || ins.args.len() > 2 || dest == "." {
                        format!("{}/{name}", normalize(dest, &workdir).trim_end_matches('/'))
                    } else {
                        normalize(dest, &workdir)
                    };
                    placed.push((
                        *stage,
                        target,
                        ins.start_line,
                        format!("{what} copied at line {}", ins.start_line),
                    ));
                }
            }
            "run" if !ins.json => {
                let text = ins.rest.value.clone();
                // Removals first: a RUN that writes and removes a file in one step is fine.
                for c in removals().captures_iter(&text) {
                    let m = c.get(2).unwrap();
                    for target in m.as_str().split_whitespace() {
                        let target = normalize(target, &workdir);
                        let hit = placed.iter().find(|(s, p, _, _)| {
                            s == stage
                                && (*p == target
                                    || p.starts_with(&format!("{}/", target.trim_end_matches('/')))
                                    || glob_hit(&target, p))
                        });
                        if let Some((_, p, _, why)) = hit.cloned() {
                            let span = if ins.rest.span.len() == text.len() {
                                ins.rest.span.start + c.get(0).unwrap().start()
                                    ..ins.rest.span.start + m.end()
                            } else {
                                ins.rest.span.clone()
                            };
                            cx.report(
                                span,
                                format!("removes `{p}` ({why}) in a later layer: the earlier layer still holds it"),
                                "never put the file in a layer: use `RUN --mount=type=secret,id=...,target=...` in the RUN that needs it".into(),
                                None,
                                None,
                            );
                        }
                    }
                }
                for c in unsets().captures_iter(&text) {
                    for var in c[1].split_whitespace() {
                        if let Some((_, name, line)) =
                            envs.iter().find(|(s, n, _)| s == stage && n == var)
                        {
                            let span = ins.rest.span.clone();
                            cx.report(
                                span,
                                format!("`unset {name}` does not remove the ENV set at line {line}: it stays in the image config"),
                                format!("remove `ENV {name}` and inject it at run time, or use `RUN --mount=type=secret,id=...,env={name}`"),
                                None,
                                None,
                            );
                        }
                    }
                }
                for c in writes().captures_iter(&text) {
                    let path = normalize(&c[1], &workdir);
                    let from_variable =
                        c[0].contains('$') || text[..c.get(0).unwrap().start()].contains('$');
                    if let Some(what) = sensitive_file(&path)
                        .or(from_variable.then_some("a file written from a variable"))
                    {
                        if !removals()
                            .captures_iter(&text)
                            .any(|r| r[2].contains(path.rsplit('/').next().unwrap_or("")))
                        {
                            placed.push((
                                *stage,
                                path,
                                ins.start_line,
                                format!("{what}, written at line {}", ins.start_line),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn glob_hit(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return false;
    }
    let re = format!("^{}$", regex::escape(pattern).replace("\\*", "[^/]*"));
    Regex::new(&re).is_ok_and(|r| r.is_match(path))
}
