//! `caulk fix`: rewrites a Dockerfile (and its `.dockerignore`) to the safe form, as edits on the
//! original text, each fix marked safe or unsafe.

mod ssh;

use std::ops::Range;

use caulk_report::lint::FixSafety;
pub use ssh::{ssh_target, SshTarget};

use crate::dockerfile::Dockerfile;
use crate::rules::names::{harmless_value, secret_name, sensitive_file};
use crate::rules::BuildContext;

/// Which file an edit changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRef {
    Dockerfile,
    /// The `.dockerignore` that applies (created when missing).
    Dockerignore,
}

/// Replace `range` of a file with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub file: FileRef,
    pub range: Range<usize>,
    pub replacement: String,
}

/// One fix: what it does, how safe it is, its edits, and what the user must run afterwards.
#[derive(Debug, Clone)]
pub struct Fix {
    pub rule_id: &'static str,
    pub safety: FixSafety,
    pub description: String,
    pub edits: Vec<Edit>,
    /// How to build once the fix is applied (`docker build --secret ...`), one command each.
    pub instructions: Vec<String>,
    /// What else to do or check (CI forms, run-time injection, fingerprints to verify).
    pub notes: Vec<String>,
}

/// The fixes caulk knows for this Dockerfile. `ignore_text` is the current `.dockerignore` (empty
/// when there is none); `context` lists the build context; `is_secret` tells whether a
/// `KEY=value` text holds a secret (caulk's detection rules).
pub fn plan(
    df: &Dockerfile,
    ignore_text: &str,
    context: Option<&dyn BuildContext>,
    is_secret: &mut dyn FnMut(&str) -> bool,
) -> Vec<Fix> {
    let mut fixes = Vec::new();
    build_arg_secrets(df, &mut fixes);
    env_secrets(df, is_secret, &mut fixes);
    ssh::plan(df, &mut fixes);
    if let Some(ctx) = context {
        dockerignore_entries(df, ignore_text, ctx, &mut fixes);
    }
    fixes
}

/// Applies non-overlapping edits to `text`.
pub fn apply(text: &str, edits: &[&Edit]) -> String {
    let mut sorted: Vec<&&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.range.start, e.range.end)));
    let mut out = text.to_string();
    let mut floor = usize::MAX;
    for e in sorted {
        if e.range.end > floor || e.range.end > out.len() {
            continue; // overlaps an edit already applied: keep the first
        }
        out.replace_range(e.range.clone(), &e.replacement);
        floor = e.range.start;
    }
    out
}

/// The whole lines holding `span`, with the line ending.
fn whole_lines(source: &str, span: Range<usize>) -> Range<usize> {
    let start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = source[span.end..]
        .find('\n')
        .map_or(source.len(), |i| span.end + i + 1);
    start..end
}

/// CK104: each secret build arg used by a `RUN` becomes a secret mount of that `RUN`.
fn build_arg_secrets(df: &Dockerfile, fixes: &mut Vec<Fix>) {
    let staged: Vec<(usize, &crate::dockerfile::Instruction)> = df.staged().collect();
    for (k, (st, ins)) in staged.iter().enumerate() {
        if ins.name != "arg" {
            continue;
        }
        for pair in &ins.pairs {
            let name = &pair.key.value;
            if !crate::rules::build_arg_secret_used_by_run::secret_arg(pair) {
                continue;
            }
            let runs: Vec<_> = staged[k + 1..]
                .iter()
                .filter(|(s, i)| s == st && i.name == "run" && !i.json && i.heredocs.is_empty())
                .filter(|(_, i)| {
                    crate::rules::build_arg_secret_used_by_run::references(&i.rest.value, name)
                })
                .map(|(_, i)| *i)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let id = name.to_ascii_lowercase();
            let mut edits = Vec::new();
            // Remove the ARG (the whole instruction when it declares only this).
            let range = if ins.pairs.len() == 1 {
                whole_lines(&df.source, ins.span.clone())
            } else {
                let end = pair
                    .value
                    .as_ref()
                    .map_or(pair.key.span.end, |v| v.span.end);
                let mut start = pair.key.span.start;
                while start > 0 && matches!(df.source.as_bytes()[start - 1], b' ' | b'\t') {
                    start -= 1;
                }
                start..end
            };
            edits.push(Edit {
                file: FileRef::Dockerfile,
                range,
                replacement: String::new(),
            });
            for run in &runs {
                // `env=` in secret mounts needs BuildKit 1.10+ and is refused by buildah 1.28; the
                // file form works with both.
                edits.push(Edit {
                    file: FileRef::Dockerfile,
                    range: run.keyword.end..run.keyword.end,
                    replacement: format!(" --mount=type=secret,id={id}"),
                });
                edits.push(Edit {
                    file: FileRef::Dockerfile,
                    range: run.rest.span.start..run.rest.span.start,
                    replacement: format!("export {name}=\"$(cat /run/secrets/{id})\" && "),
                });
            }
            let lines: Vec<String> = runs.iter().map(|r| r.start_line.to_string()).collect();
            fixes.push(Fix {
                rule_id: "CK104",
                safety: FixSafety::Unsafe,
                description: format!(
                    "build arg {name} becomes a secret mount in the RUN at line{} {} (the ARG is removed)",
                    if lines.len() == 1 { "" } else { "s" },
                    lines.join(", ")
                ),
                edits,
                instructions: vec![
                    format!("docker build --secret id={id},env={name} ."),
                    format!("buildah build --secret id={id},src=<file holding {name}> ."),
                ],
                notes: vec![format!(
                    "GitHub Actions (docker/build-push-action): secrets: |\n      {id}=${{{{ secrets.{name} }}}}"
                )],
            });
        }
    }
}

/// CK101/CK102: `ENV` secrets are removed; the value must come at run time instead.
fn env_secrets(df: &Dockerfile, is_secret: &mut dyn FnMut(&str) -> bool, fixes: &mut Vec<Fix>) {
    for ins in df.instructions.iter().filter(|i| i.name == "env") {
        let secret: Vec<&crate::dockerfile::Pair> = ins
            .pairs
            .iter()
            .filter(|p| {
                let v = p.value.as_ref().map_or("", |v| v.value.as_str());
                (secret_name(&p.key.value) && !harmless_value(v))
                    || is_secret(&format!("{}={v}", p.key.value))
            })
            .collect();
        if secret.is_empty() {
            continue;
        }
        let mut edits = Vec::new();
        if secret.len() == ins.pairs.len() {
            edits.push(Edit {
                file: FileRef::Dockerfile,
                range: whole_lines(&df.source, ins.span.clone()),
                replacement: String::new(),
            });
        } else {
            for p in &secret {
                let end = p.value.as_ref().map_or(p.key.span.end, |v| v.span.end);
                let mut start = p.key.span.start;
                while start > 0 && matches!(df.source.as_bytes()[start - 1], b' ' | b'\t') {
                    start -= 1;
                }
                edits.push(Edit {
                    file: FileRef::Dockerfile,
                    range: start..end,
                    replacement: String::new(),
                });
            }
        }
        let names: Vec<&str> = secret.iter().map(|p| p.key.value.as_str()).collect();
        let first = names[0];
        let lower = first.to_ascii_lowercase();
        fixes.push(Fix {
            rule_id: "CK102",
            safety: FixSafety::Unsafe,
            description: format!(
                "remove ENV {} at line {} (rotate the value: it is in every image built so far)",
                names.join(", "),
                ins.start_line
            ),
            edits,
            instructions: Vec::new(),
            notes: vec![
                format!("give it at run time: docker run -e {first} ... (value from the host environment)"),
                format!("Compose: environment: [{first}] (passed through from the host), or secrets: [{lower}] with a top-level secrets: {{{lower}: {{environment: {first}}}}}"),
                format!("Kubernetes: env: [{{name: {first}, valueFrom: {{secretKeyRef: {{name: app-secrets, key: {lower}}}}}}}]"),
            ],
        });
    }
}

/// CK107: credentials files the build context would send go into `.dockerignore`.
fn dockerignore_entries(
    df: &Dockerfile,
    ignore_text: &str,
    ctx: &dyn BuildContext,
    fixes: &mut Vec<Fix>,
) {
    let broad = df
        .instructions
        .iter()
        .any(crate::rules::broad_copy_of_sensitive_context_file::broad_copy);
    if !broad {
        return;
    }
    let files: Vec<String> = ctx
        .included()
        .into_iter()
        .filter(|p| sensitive_file(p).is_some())
        .collect();
    if files.is_empty() {
        return;
    }
    let mut add = String::new();
    if !ignore_text.is_empty() && !ignore_text.ends_with('\n') {
        add.push('\n');
    }
    add.push_str("# added by caulk fix: credentials must not reach the build context\n");
    for f in &files {
        add.push_str(f);
        add.push('\n');
    }
    fixes.push(Fix {
        rule_id: "CK107",
        safety: FixSafety::Safe,
        description: format!("add {} to .dockerignore", files.join(", ")),
        edits: vec![Edit {
            file: FileRef::Dockerignore,
            range: ignore_text.len()..ignore_text.len(),
            replacement: add,
        }],
        instructions: Vec::new(),
        notes: Vec::new(),
    });
}

/// A unified diff of `old` → `new` for `path` (whole-file hunks around the changed lines).
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence on lines: files are small.
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let p = path.trim_start_matches('/');
    let mut out = format!("--- a/{p}\n+++ b/{p}\n@@ -1,{n} +1,{m} @@\n");
    for (op, line) in ops {
        out.push(op);
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;

    fn fixed(src: &str) -> (String, Vec<Fix>) {
        let df = parse(src).unwrap();
        let fixes = plan(&df, "", None, &mut |kv: &str| kv.contains("ghp_"));
        let edits: Vec<&Edit> = fixes.iter().flat_map(|f| f.edits.iter()).collect();
        (apply(src, &edits), fixes)
    }

    #[test]
    fn a_secret_build_arg_becomes_a_secret_mount() {
        let src = "FROM node:20\nARG NPM_TOKEN\nARG NODE_ENV=production\nRUN echo \"//r/:_authToken=${NPM_TOKEN}\" > .npmrc && npm ci && rm .npmrc\nRUN npm run build\n";
        let (out, fixes) = fixed(src);
        assert_eq!(fixes.len(), 1);
        assert_eq!(fixes[0].safety, FixSafety::Unsafe);
        assert_eq!(
            out,
            "FROM node:20\nARG NODE_ENV=production\nRUN --mount=type=secret,id=npm_token export NPM_TOKEN=\"$(cat /run/secrets/npm_token)\" && echo \"//r/:_authToken=${NPM_TOKEN}\" > .npmrc && npm ci && rm .npmrc\nRUN npm run build\n"
        );
        assert!(fixes[0].instructions[0].contains("--secret id=npm_token,env=NPM_TOKEN"));
        // the fixed file parses and no longer triggers the rule's fix
        let (again, more) = fixed(&out);
        assert_eq!(again, out);
        assert!(more.is_empty());
    }

    #[test]
    fn one_of_several_args_is_removed_alone() {
        let (out, _) = fixed("FROM x\nARG A=1 GITHUB_TOKEN B\nRUN curl -H \"Authorization: token $GITHUB_TOKEN\" https://x\n");
        assert!(
            out.starts_with(
                "FROM x\nARG A=1 B\nRUN --mount=type=secret,id=github_token export GITHUB_TOKEN="
            ),
            "{out}"
        );
    }

    #[test]
    fn known_hosts_is_seeded_for_the_host_used() {
        let (out, fixes) = fixed(
            "FROM alpine\nRUN --mount=type=ssh git clone git@gitlab.example.com:acme/x.git\n",
        );
        assert_eq!(fixes[0].safety, FixSafety::Safe);
        assert_eq!(out, "FROM alpine\nRUN mkdir -p -m 0700 ~/.ssh && ssh-keyscan gitlab.example.com >> ~/.ssh/known_hosts\nRUN --mount=type=ssh git clone git@gitlab.example.com:acme/x.git\n");
        let (_, none) = fixed("FROM alpine\nRUN ssh-keyscan github.com >> ~/.ssh/known_hosts\nRUN --mount=type=ssh git clone git@github.com:a/b\n");
        assert!(none.is_empty());
    }

    #[test]
    fn env_secrets_are_removed_and_the_rest_kept() {
        let (out, fixes) = fixed("FROM x\nENV GITHUB_TOKEN=ghp_x APP_MODE=prod\nENV DB_PASSWORD=hunter2\nENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n");
        assert_eq!(
            out,
            "FROM x\nENV APP_MODE=prod\nENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n"
        );
        assert_eq!(fixes.len(), 2);
        assert!(fixes.iter().all(|f| f.safety == FixSafety::Unsafe));
    }

    #[test]
    fn diff_shows_changed_lines() {
        let d = unified_diff("Dockerfile", "a\nb\nc\n", "a\nc\nd\n");
        assert_eq!(
            d,
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n"
        );
    }
}
