//! CK109: a secret mount whose content is copied into the image.

use super::{Check, Checker, RuleInfo, Target};
use crate::dockerfile::MountKind;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK109",
    name: "secret-mount-copied-into-image",
    severity: Severity::Critical,
    summary: "A RUN copies a secret mount's content into a file of the layer",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
For each `RUN --mount=type=secret`, flags commands that copy the secret into the image: `cp` or
`install` of the mount's target, `cat /run/secrets/x > file` or `>> file`, and writing the mount's
`env` variable into a file (`echo "...$NPM_TOKEN" > ~/.npmrc`), unless the same `RUN` removes
that file again.

## Why is this bad
A secret mount is only safe because its content never reaches a layer. Copying it into a file of
the filesystem puts it in the layer this `RUN` creates, where anyone with the image can read it.

## Example
```dockerfile
RUN --mount=type=secret,id=npmrc cp /run/secrets/npmrc /root/.npmrc && npm ci
```

## Use instead
```dockerfile
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
```
Mount the secret where the tool looks for it; or remove the copy in the same `RUN`.

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut Checker<'_>) {
    let runs: Vec<_> = cx
        .df
        .instructions
        .iter()
        .filter(|i| i.name == "run")
        .cloned()
        .collect();
    for run in runs {
        let mut body = run.rest.value.clone();
        for h in &run.heredocs {
            body.push('\n');
            body.push_str(&h.content);
        }
        for mount in run.mounts().into_iter().flatten() {
            if mount.kind != MountKind::Secret {
                continue;
            }
            let mut sources: Vec<String> = Vec::new();
            if let Some(t) = &mount.target {
                sources.push(t.clone());
            }
            if let Some(e) = &mount.env {
                sources.push(format!("${e}"));
                sources.push(format!("${{{e}}}"));
            }
            for command in body.split(['\n', ';', '&', '|']) {
                let c = command.trim();
                let Some(src) = sources.iter().find(|s| c.contains(s.as_str())) else {
                    continue;
                };
                let dest = if c.starts_with("cp ") || c.starts_with("install ") {
                    c.split_whitespace().last().map(str::to_string)
                } else {
                    c.split_once('>').map(|(_, d)| {
                        d.trim_start_matches('>')
                            .trim()
                            .trim_matches(['"', '\''])
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
                };
                let Some(dest) =
                    dest.filter(|d| !d.is_empty() && d != src && !d.starts_with("/dev/"))
                else {
                    continue;
                };
                let name = dest.rsplit('/').next().unwrap_or(&dest);
                if body
                    .split(['\n', ';', '&', '|'])
                    .any(|x| x.trim().starts_with("rm ") && x.contains(name))
                {
                    continue;
                }
                cx.report(
                    mount.span.clone(),
                    format!("the secret `{}` is copied into `{dest}`, which stays in this RUN's layer", mount.id.clone().unwrap_or_default()),
                    format!("mount the secret where it is needed (`--mount=type=secret,id={},target={dest}`) instead of copying it", mount.id.clone().unwrap_or_default()),
                    None,
                    None,
                );
            }
        }
    }
}
