//! CK110: `RUN --mount=type=ssh` with no `known_hosts` seeded before it.

use super::{Check, Checker, RuleInfo, Target};
use crate::dockerfile::MountKind;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK110",
    name: "ssh-mount-without-known-hosts",
    severity: Severity::Medium,
    summary: "An ssh mount used without seeding known_hosts first (ssh-keyscan)",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Flags a `RUN --mount=type=ssh` when nothing earlier in the stage (nor the same `RUN`, before the
first use) seeds `known_hosts`: no `ssh-keyscan`, no `COPY` of a `known_hosts` file.

## Why is this bad
Without a known host key, `ssh` and `git` either fail ("Host key verification failed") or, after
someone "fixes" that with `StrictHostKeyChecking no`, accept any server: whoever sits on the network
path receives the forwarded agent's signatures and serves the code you build.

## Example
```dockerfile
RUN --mount=type=ssh git clone git@github.com:acme/private.git
```

## Use instead
```dockerfile
RUN mkdir -p -m 0700 ~/.ssh && ssh-keyscan github.com >> ~/.ssh/known_hosts
RUN --mount=type=ssh git clone git@github.com:acme/private.git
```
built with `docker build --ssh default .` (check the scanned key against the host's published
fingerprints, or copy a reviewed `known_hosts`).

## Fix safety
`caulk fix` inserts the `ssh-keyscan` step for the host the command uses: safe.
"#;

fn check(cx: &mut Checker<'_>) {
    let staged: Vec<_> = cx.staged().map(|(s, i)| (s, i.clone())).collect();
    let mut seeded_stage: Option<usize> = None;
    for (stage, ins) in &staged {
        let text = ins.rest.value.clone()
            + &ins
                .heredocs
                .iter()
                .map(|h| h.content.as_str())
                .collect::<String>();
        let seeds = text.contains("ssh-keyscan")
            || (matches!(ins.name.as_str(), "copy" | "add")
                && ins.args.iter().any(|a| a.value.contains("known_hosts")));
        if ins.name == "run" {
            let ssh = ins
                .mounts()
                .into_iter()
                .flatten()
                .find(|m| m.kind == MountKind::Ssh);
            if let Some(mount) = ssh {
                let keyscan_first = text.find("ssh-keyscan").is_some_and(|k| {
                    ["git ", "ssh ", "scp ", "rsync "]
                        .iter()
                        .filter_map(|c| text.find(c))
                        .all(|u| k < u)
                });
                if seeded_stage != Some(*stage) && !keyscan_first {
                    cx.report(
                        mount.span.clone(),
                        "ssh mount with no known_hosts seeded earlier in the stage: the host key cannot be verified".into(),
                        "add `RUN mkdir -p -m 0700 ~/.ssh && ssh-keyscan <host> >> ~/.ssh/known_hosts` before this RUN".into(),
                        Some(caulk_report::lint::FixSafety::Safe),
                        None,
                    );
                }
            }
        }
        if seeds {
            seeded_stage = Some(*stage);
        }
    }
}
