//! CK107: `COPY . .` that would bring a credentials file from the build context, because
//! `.dockerignore` does not exclude it.

use super::names::sensitive_file;
use super::{Check, Checker, RuleInfo, Target};
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK107",
    name: "broad-copy-of-sensitive-context-file",
    severity: Severity::High,
    summary: "COPY . (or ADD .) brings a credentials file from the build context",
    docs: DOCS,
    target: Target::Dockerfile,
    check: Check::Dockerfile(check),
};

const DOCS: &str = r#"## What it does
For a broad copy of the build context (`COPY . .`, `COPY ./ /app`, `ADD . /srv`), lists the files
of the actual build context that `.dockerignore` (or `<Dockerfile>.dockerignore`) lets through,
and flags every credentials file among them (`.env`, SSH keys, `.npmrc`, `*.pem`, ... as in
CK106), naming it. It runs when `caulk lint` is given a directory, which it takes as the build
context of the Dockerfiles in it.

## Why is this bad
The file lands in a layer of the image. Developers' working copies hold such files even when the
repository does not, and CI checkouts often write them (`.npmrc` from a setup step).

## Example
```dockerfile
COPY . /app
```
with a `.env` in the directory and no `.dockerignore` entry for it.

## Use instead
Add the file to `.dockerignore` (`.env`, `**/*.pem`, `.npmrc`, ...), or copy only what the image
needs (`COPY package.json package-lock.json ./`, `COPY src/ ./src/`).

## Fix safety
`caulk fix` appends the named files to `.dockerignore`: safe, the image only loses files that
should not be in it.
"#;

fn check(cx: &mut Checker<'_>) {
    let Some(context) = cx.context else { return };
    let broad: Vec<_> = cx
        .df
        .instructions
        .iter()
        .filter(|i| broad_copy(i))
        .cloned()
        .collect();
    if broad.is_empty() {
        return;
    }
    let included = context.included();
    let mut sensitive: Vec<(String, &'static str)> = included
        .iter()
        .filter_map(|p| sensitive_file(p).map(|w| (p.clone(), w)))
        .collect();
    sensitive.sort();
    for ins in broad {
        let src = ins.args[..ins.args.len() - 1]
            .iter()
            .find(|a| matches!(a.value.as_str(), "." | "./" | "*" | "./*"))
            .map_or(ins.span.clone(), |a| a.span.clone());
        for (path, what) in &sensitive {
            cx.report(
                src.clone(),
                format!("{} copies `{path}` ({what}) from the build context: .dockerignore does not exclude it", ins.name.to_ascii_uppercase()),
                format!("add `{path}` to .dockerignore"),
                Some(caulk_report::lint::FixSafety::Safe),
                None,
            );
        }
    }
}

/// `COPY . .`, `ADD ./* /app`: a copy of the whole build context (not from a stage).
pub(crate) fn broad_copy(i: &crate::dockerfile::Instruction) -> bool {
    matches!(i.name.as_str(), "copy" | "add")
        && i.flag_values("from").next().is_none()
        && i.args.len() >= 2
        && i.args[..i.args.len() - 1]
            .iter()
            .any(|a| matches!(a.value.as_str(), "." | "./" | "*" | "./*"))
}
