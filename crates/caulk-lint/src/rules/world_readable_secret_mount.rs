//! CK112: a secret or ssh mount with a world-readable `mode`.

use super::{Check, Checker, RuleInfo, Target};
use crate::dockerfile::MountKind;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK112",
    name: "world-readable-secret-mount",
    severity: Severity::Medium,
    summary: "A secret or ssh mount whose mode lets every user read it",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Flags `--mount=type=secret` and `--mount=type=ssh` whose `mode` gives read (or write) access to
other users (`mode=0444`, `mode=0666`, `mode=0777`).

## Why is this bad
Every process of the `RUN` can read the secret, whatever user it runs as: a post-install script of
a dependency running as `nobody` reads your registry token. The defaults (0400 for secrets, 0600
for the ssh socket) limit it to the owner; set `uid`/`gid` instead of widening the mode.

## Example
```dockerfile
RUN --mount=type=secret,id=npm,mode=0444 npm ci
```

## Use instead
```dockerfile
RUN --mount=type=secret,id=npm,uid=1000 npm ci
```

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut Checker<'_>) {
    let mut hits = Vec::new();
    for ins in &cx.df.instructions {
        for mount in ins.mounts().into_iter().flatten() {
            if !matches!(mount.kind, MountKind::Secret | MountKind::Ssh) {
                continue;
            }
            if let Some(mode) = mount.mode.filter(|m| m & 0o006 != 0) {
                hits.push((mount.span.clone(), mount.kind.as_str(), mode));
            }
        }
    }
    for (span, kind, mode) in hits {
        cx.report(
            span,
            format!("{kind} mount with mode {mode:04o}: every user in the RUN can read it"),
            "drop `mode` (the default is owner-only) and set `uid`/`gid` to the user that needs it"
                .into(),
            None,
            None,
        );
    }
}
