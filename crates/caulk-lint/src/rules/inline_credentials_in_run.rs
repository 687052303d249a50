//! CK105: credentials handed to a command inside `RUN` (`curl -u`, `docker login -p`, ...).

use std::sync::OnceLock;

use regex::Regex;

use super::{Check, Checker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK105",
    name: "inline-credentials-in-run",
    severity: Severity::High,
    summary: "Credentials passed on a RUN command line or written to a credentials file",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Flags `RUN` commands that put a credential on a command line or into a credentials file:
`curl -u user:pass`, an `Authorization:` header, a URL with `user:token@`, `git clone` with a
token in the URL, `docker login -p`, `npm config set ...:_authToken`, `aws configure set
aws_secret_access_key`, and `echo ... > .npmrc` (or `.pypirc`, `.netrc`, `.git-credentials`,
`.docker/config.json`). It flags them whether the value is literal or a variable: a variable here
comes from an `ARG` or `ENV`, both of which are kept in the image.

## Why is this bad
The whole command line of a `RUN` is recorded in the image history, and a file written by a `RUN`
stays in that layer even if a later `RUN` deletes it.

## Example
```dockerfile
RUN git clone https://oauth2:${GITLAB_TOKEN}@gitlab.com/acme/lib.git
```

## Use instead
```dockerfile
RUN --mount=type=secret,id=gitlab,env=GITLAB_TOKEN \
    git clone "https://oauth2:${GITLAB_TOKEN}@gitlab.com/acme/lib.git"
```
or, for SSH remotes, `RUN --mount=type=ssh git clone git@gitlab.com:acme/lib.git` with
`docker build --ssh default`. A credentials file that a command needs should come from a secret
mount (`--mount=type=secret,id=npmrc,target=/root/.npmrc`), never be written in a layer.

## Fix safety
No automatic fix: which secret mount fits depends on the command.
"#;

fn patterns() -> &'static [(Regex, &'static str)] {
    static P: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    P.get_or_init(|| {
        [
            (r#"\bcurl\b[^\n|;&]*?\s(?:-u|--user)[\s=]*['"]?[^\s'":]+:[^\s'"]+"#, "curl -u user:password"),
            (r#"(?i)\bAuthorization:\s*(?:Basic|Bearer|token)\s+[^\s'"]+"#, "an Authorization header"),
            (r#"\b[a-z][a-z0-9+.-]*://[^/\s:@'"]+:[^/\s@'"]+@[A-Za-z0-9.-]+"#, "a URL with user:password@"),
            (r#"\bgit\s+clone\b[^\n|;&]*https?://[^/\s:@'"]+@"#, "git clone with a token in the URL"),
            (r#"\bdocker\s+login\b[^\n|;&]*\s(?:-p|--password)[\s=]+[^\s-]"#, "docker login -p"),
            (r#"\b(?:npm|yarn|pnpm)\s+config\s+set\s+[^\n|;&]*_auth(?:Token)?[\s=]"#, "npm config set _authToken"),
            (r#"\baws\s+configure\s+set\s+(?:aws_secret_access_key|aws_session_token)\s"#, "aws configure set aws_secret_access_key"),
            (r#"\b(?:echo|printf|cat)\b[^\n|;&]*>>?\s*['"]?[^\s'";&|]*(?:\.npmrc|\.pypirc|\.netrc|\.git-credentials|\.docker/config\.json)\b"#, "a credentials file written in a layer"),
        ]
        .into_iter()
        .map(|(r, what)| (Regex::new(r).unwrap(), what))
        .collect()
    })
}

fn check(cx: &mut Checker<'_>) {
    let runs: Vec<_> = cx
        .df
        .instructions
        .iter()
        .filter(|i| i.name == "run" && !i.json)
        .cloned()
        .collect();
    for run in runs {
        let mounted_secret = run
            .mounts()
            .into_iter()
            .flatten()
            .any(|m| m.kind == crate::dockerfile::MountKind::Secret);
        let mut texts = vec![(run.rest.value.clone(), run.rest.span.clone())];
        for h in &run.heredocs {
            texts.push((h.content.clone(), h.span.clone()));
        }
        for (text, span) in texts {
            for (re, what) in patterns() {
                for m in re.find_iter(&text) {
                    // Variables from a secret mount are the safe form (the file-writing pattern
                    // still leaves the file in the layer, so it is reported regardless).
                    let via_variable = m.as_str().contains('$');
                    if mounted_secret && via_variable && !what.starts_with("a credentials file") {
                        continue;
                    }
                    let exact = text.len() == span.len();
                    let at = if exact {
                        span.start + m.start()..span.start + m.end()
                    } else {
                        span.clone()
                    };
                    cx.report(
                        at,
                        format!("{what} in a RUN: the command line is recorded in the image history{}",
                            if what.starts_with("a credentials file") { " and the file stays in the layer" } else { "" }),
                        "pass the credential with `RUN --mount=type=secret,id=...,env=...` (or mount the credentials file with `--mount=type=secret,id=...,target=...`) and `docker build --secret`; use `--mount=type=ssh` for git over SSH".into(),
                        None,
                        None,
                    );
                }
            }
        }
    }
}
