//! CK106: `COPY`/`ADD` of a file that holds credentials (`.env`, `id_rsa`, `.npmrc`, ...).

use super::names::sensitive_file;
use super::{Check, Checker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK106",
    name: "copy-of-sensitive-file",
    severity: Severity::High,
    summary: "COPY or ADD of a credentials file (.env, SSH key, .npmrc, kubeconfig, ...)",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
Flags `COPY` and `ADD` whose source names a file that holds credentials: `.env` (not
`.env.example`), SSH private keys (`id_rsa`, `id_ed25519`, ...), `*.pem`, `*.key`, `*.p12`,
`.npmrc`, `.pypirc`, `.netrc`, `.git-credentials`, `.aws/credentials`, `.docker/config.json`,
`.kube/config`, `credentials.json`, and the `.ssh`, `.aws`, `.docker`, `.kube` directories.

## Why is this bad
The file is stored in a layer. Deleting it in a later `RUN` only adds a whiteout on top: the
original layer still holds it, and `docker save` or any registry client extracts it.

## Example
```dockerfile
COPY id_rsa /root/.ssh/id_rsa
RUN git clone git@github.com:acme/private.git && rm /root/.ssh/id_rsa
```

## Use instead
```dockerfile
RUN --mount=type=ssh git clone git@github.com:acme/private.git
```
with `docker build --ssh default .`; for other files,
`RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci` with
`docker build --secret id=npmrc,src=$HOME/.npmrc .`, and `.dockerignore` entries so that the
file never reaches the build context.

## Fix safety
`caulk fix --unsafe` replaces a copied SSH key (or `.ssh` directory) used by `git`, `ssh`, `scp`
or an `ssh://` URL with `RUN --mount=type=ssh` on each `RUN` that uses it. It removes the `COPY`,
the `rm`/`chmod` clean-up and `-i KEY` and `StrictHostKeyChecking no` options, seeds `known_hosts`
with `ssh-keyscan` for the host (and port) used, and prints `docker build --ssh default`. Other
cases need a hand-written secret mount.
"#;

fn check(cx: &mut Checker<'_>) {
    let staged: Vec<_> = cx.staged().collect();
    for (_, ins) in staged {
        if !matches!(ins.name.as_str(), "copy" | "add") || ins.flag_values("from").next().is_some()
        {
            continue;
        }
        if ins.args.len() < 2 {
            continue;
        }
        for src in &ins.args[..ins.args.len() - 1] {
            if src.value.starts_with("<<") {
                continue;
            }
            if let Some(what) = sensitive_file(src.value.trim_matches('"')) {
                cx.report(
                    src.span.clone(),
                    format!("{} copies {what} into a layer; deleting it later does not remove it from the image",
                        ins.name.to_ascii_uppercase()),
                    format!("do not copy `{}`: use `RUN --mount=type=secret` (or `--mount=type=ssh` for SSH keys) where it is needed, and add it to .dockerignore", src.value),
                    None,
                    None,
                );
            }
        }
    }
}
