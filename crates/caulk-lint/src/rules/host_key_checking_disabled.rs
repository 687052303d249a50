//! CK111: SSH host key checking turned off (`StrictHostKeyChecking no`).

use std::sync::OnceLock;

use regex::Regex;

use super::{Check, Checker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK111",
    name: "host-key-checking-disabled",
    severity: Severity::Medium,
    summary: "StrictHostKeyChecking no or UserKnownHostsFile=/dev/null",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Flags `StrictHostKeyChecking no` (or `=no`, `=accept-new` is fine) and
`UserKnownHostsFile=/dev/null` in `RUN` commands, heredocs and `ENV` values such as
`GIT_SSH_COMMAND`.

## Why is this bad
It makes `ssh` accept any server. With an ssh mount or a key in the build, a machine in the
network path gets to authenticate as you (agent forwarding signs whatever it asks) and to serve
the source code that goes into the image.

## Example
```dockerfile
ENV GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=no"
```

## Use instead
Seed `known_hosts` with `ssh-keyscan <host> >> ~/.ssh/known_hosts` (and check the fingerprint) or
copy a reviewed `known_hosts` file.

## Fix safety
`caulk fix --unsafe` removes the options (and `echo ... >> ssh_config` lines that set them) and
seeds `known_hosts` with `ssh-keyscan` for the host the command uses. Unsafe: the build now fails
when the host key changes, which is the point.
"#;

fn pattern() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)StrictHostKeyChecking\s*[= ]\s*(?:no|off|false)\b|UserKnownHostsFile\s*[= ]\s*/dev/null").unwrap()
    })
}

fn check(cx: &mut Checker<'_>) {
    let mut hits = Vec::new();
    for ins in &cx.df.instructions {
        let mut texts = vec![(ins.rest.value.as_str(), ins.rest.span.clone())];
        for h in &ins.heredocs {
            texts.push((h.content.as_str(), h.span.clone()));
        }
        for (text, span) in texts {
            for m in pattern().find_iter(text) {
                let at = if text.len() == span.len() {
                    span.start + m.start()..span.start + m.end()
                } else {
                    span.clone()
                };
                hits.push((at, m.as_str().to_string()));
            }
        }
    }
    for (span, what) in hits {
        cx.report(
            span,
            format!("`{what}` turns off SSH host key verification"),
            "seed known_hosts with `ssh-keyscan <host> >> ~/.ssh/known_hosts` (or copy a reviewed known_hosts) and keep host key checking on".into(),
            None,
            None,
        );
    }
}
