//! The image config and history as scan targets: every `Env` entry on its own, labels, commands,
//! other fields, and each history entry with its build arguments split out.

use crate::manifest::ImageConfig;
use caulk_report::LocationKind;
use caulk_rules::{Context, Match, RuleIdx, Scanner};

/// A secret found in the config or history.
#[derive(Debug, Clone)]
pub struct TextHit {
    pub rule: RuleIdx,
    pub kind: LocationKind,
    pub key: Option<String>,
    pub history_index: Option<usize>,
    pub secret: Vec<u8>,
    /// The whole match and the scanned text (the env entry, label, command or build arg).
    pub matched: Vec<u8>,
    pub line_text: Vec<u8>,
}

/// A history entry's command, cleaned for display, with its build arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// E.g. `RUN make`, `COPY file:ab12… in /app`, `ENV A=b`.
    pub text: String,
    /// `|N K=V ...` arguments, in order.
    pub build_args: Vec<(String, String)>,
}

/// Cleans `created_by` of `/bin/sh -c #(nop)` noise and splits out `|N K=V` build arguments.
pub fn clean_instruction(created_by: &str) -> Instruction {
    let mut rest = created_by.trim();
    // BuildKit writes `RUN |N K=V /bin/sh -c ...`; the classic builder and buildah omit `RUN`.
    if rest.starts_with("RUN |") {
        rest = &rest["RUN ".len()..];
    }
    let mut build_args = Vec::new();
    if let Some(after) = rest.strip_prefix('|') {
        let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse::<usize>() {
            let mut tail = after[digits.len()..].trim_start();
            for _ in 0..n {
                let end = tail.find(' ').unwrap_or(tail.len());
                let token = &tail[..end];
                if let Some((k, v)) = token.split_once('=') {
                    build_args.push((k.to_string(), v.to_string()));
                }
                tail = tail[end..].trim_start();
            }
            rest = tail;
        }
    }
    let rest = rest
        .strip_suffix("# buildkit")
        .map(str::trim_end)
        .unwrap_or(rest);
    let text = if let Some(r) = rest.strip_prefix("/bin/sh -c #(nop) ") {
        r.trim().to_string()
    } else if let Some(r) = rest.strip_prefix("/bin/sh -c ") {
        format!("RUN {}", r.trim())
    } else if let Some(r) = rest.strip_prefix("RUN /bin/sh -c ") {
        format!("RUN {}", r.trim())
    } else {
        rest.to_string()
    };
    Instruction { text, build_args }
}

/// (rule, secret, whole match) for each match in `text`.
type TextMatch = (RuleIdx, Vec<u8>, Vec<u8>);

fn scan_text(scanner: &mut Scanner, text: &str, scratch: &mut Vec<Match>) -> Vec<TextMatch> {
    scratch.clear();
    let ctx = Context {
        path: None,
        binary: false,
    };
    scanner.scan(text.as_bytes(), &ctx, scratch);
    let b = text.as_bytes();
    scratch
        .iter()
        .map(|m| {
            (
                m.rule,
                b[m.secret.clone()].to_vec(),
                b[m.span.clone()].to_vec(),
            )
        })
        .collect()
}

/// Scans an in-toto statement: every string value, as `KEY=value` where KEY is the last key of
/// its JSON path (`build-arg:NPM_TOKEN` → `NPM_TOKEN`), so assignment rules apply. Hits carry
/// the whole JSON path as their key.
pub fn scan_statement(scanner: &mut Scanner, statement: &[u8]) -> Vec<TextHit> {
    let mut hits = Vec::new();
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(statement) else {
        return hits;
    };
    let mut leaves: Vec<(String, String)> = Vec::new();
    fn walk(
        v: &serde_json::Value,
        path: &mut String,
        depth: usize,
        out: &mut Vec<(String, String)>,
    ) {
        if depth > 64 || out.len() > 100_000 {
            return;
        }
        match v {
            serde_json::Value::String(s) => out.push((path.clone(), s.clone())),
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(x, path, depth + 1, out);
                    path.truncate(len);
                }
            }
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    walk(x, path, depth + 1, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    walk(&value, &mut String::new(), 0, &mut leaves);
    let mut scratch = Vec::new();
    for (path, text) in leaves {
        let last = path.rsplit('.').next().unwrap_or(&path);
        let key = last.strip_prefix("build-arg:").unwrap_or(last);
        let line = format!("{key}={text}");
        for (rule, secret, matched) in scan_text(scanner, &line, &mut scratch) {
            hits.push(TextHit {
                rule,
                kind: LocationKind::Attestation,
                key: Some(path.clone()),
                history_index: None,
                secret,
                matched,
                line_text: line.as_bytes().to_vec(),
            });
        }
    }
    hits
}

/// Scans the config fields.
pub fn scan_config(scanner: &mut Scanner, config: &ImageConfig) -> Vec<TextHit> {
    let mut hits = Vec::new();
    let mut scratch = Vec::new();
    let Some(c) = &config.config else { return hits };
    let mut push =
        |kind: LocationKind, key: Option<String>, text: &str, hits: &mut Vec<TextHit>| {
            for (rule, secret, matched) in scan_text(scanner, text, &mut scratch) {
                hits.push(TextHit {
                    rule,
                    kind,
                    key: key.clone(),
                    history_index: None,
                    secret,
                    matched,
                    line_text: text.as_bytes().to_vec(),
                });
            }
        };
    for entry in c.env.iter().flatten() {
        let key = entry.split_once('=').map(|(k, _)| k).unwrap_or(entry);
        push(
            LocationKind::ConfigEnv,
            Some(key.to_string()),
            entry,
            &mut hits,
        );
    }
    for (k, v) in c.labels.iter().flatten() {
        push(
            LocationKind::ConfigLabel,
            Some(k.clone()),
            &format!("{k}={v}"),
            &mut hits,
        );
    }
    if let Some(cmd) = &c.cmd {
        push(LocationKind::ConfigCmd, None, &cmd.join(" "), &mut hits);
    }
    if let Some(ep) = &c.entrypoint {
        push(
            LocationKind::ConfigEntrypoint,
            None,
            &ep.join(" "),
            &mut hits,
        );
    }
    if let Some(test) = c.healthcheck.as_ref().and_then(|h| h.test.as_ref()) {
        push(
            LocationKind::ConfigOther,
            Some("Healthcheck".into()),
            &test.join(" "),
            &mut hits,
        );
    }
    for ob in c.on_build.iter().flatten() {
        push(
            LocationKind::ConfigOther,
            Some("OnBuild".into()),
            ob,
            &mut hits,
        );
    }
    for (name, value) in [("User", &c.user), ("WorkingDir", &c.working_dir)] {
        if let Some(v) = value {
            push(LocationKind::ConfigOther, Some(name.into()), v, &mut hits);
        }
    }
    hits
}

/// Scans every history entry: each build argument on its own (with its name), then the command.
pub fn scan_history(scanner: &mut Scanner, config: &ImageConfig) -> Vec<TextHit> {
    let mut hits = Vec::new();
    let mut scratch = Vec::new();
    for (i, h) in config.history.iter().flatten().enumerate() {
        let Some(created_by) = &h.created_by else {
            continue;
        };
        let ins = clean_instruction(created_by);
        for (k, v) in &ins.build_args {
            let text = format!("{k}={v}");
            for (rule, secret, matched) in scan_text(scanner, &text, &mut scratch) {
                hits.push(TextHit {
                    rule,
                    kind: LocationKind::History,
                    key: Some(k.clone()),
                    history_index: Some(i),
                    secret,
                    matched,
                    line_text: text.clone().into_bytes(),
                });
            }
        }
        let arg_secrets: Vec<Vec<u8>> = hits
            .iter()
            .filter(|h| h.history_index == Some(i))
            .map(|h| h.secret.clone())
            .collect();
        for (rule, secret, matched) in scan_text(scanner, &ins.text, &mut scratch) {
            // A RUN that echoes `$TOKEN` does not repeat the value; one that repeats it literally is the same secret.
            if arg_secrets.contains(&secret) {
                continue;
            }
            hits.push(TextHit {
                rule,
                kind: LocationKind::History,
                key: None,
                history_index: Some(i),
                secret,
                matched,
                line_text: ins.text.clone().into_bytes(),
            });
        }
    }
    hits
}

/// Maps each layer to the history entry that created it, or says why it cannot.
pub fn layer_history(config: &ImageConfig, layers: usize) -> Result<Vec<usize>, String> {
    let history = config.history.as_deref().unwrap_or(&[]);
    let non_empty: Vec<usize> = history
        .iter()
        .enumerate()
        .filter(|(_, h)| h.empty_layer != Some(true))
        .map(|(i, _)| i)
        .collect();
    if history.is_empty() {
        return Err("the image has no history; layers are not attributed to instructions".into());
    }
    if non_empty.len() != layers {
        return Err(format!(
            "the history has {} entries that made layers but the image has {layers} layers; \
             instructions are not attributed to layers rather than guessed",
            non_empty.len()
        ));
    }
    Ok(non_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_buildah_and_buildkit_forms() {
        let i = clean_instruction("|2 TOKEN=abc NAME=x /bin/sh -c echo \"$TOKEN\" > /tmp/t");
        assert_eq!(i.text, "RUN echo \"$TOKEN\" > /tmp/t");
        assert_eq!(
            i.build_args,
            vec![("TOKEN".into(), "abc".into()), ("NAME".into(), "x".into())]
        );
        assert_eq!(
            clean_instruction("/bin/sh -c #(nop) ENV A=b").text,
            "ENV A=b"
        );
        assert_eq!(
            clean_instruction("RUN /bin/sh -c make # buildkit").text,
            "RUN make"
        );
        assert_eq!(clean_instruction("COPY . . # buildkit").text, "COPY . .");
        let bk = clean_instruction("RUN |1 T=v /bin/sh -c x # buildkit");
        assert_eq!(bk.text, "RUN x");
        assert_eq!(bk.build_args, vec![("T".into(), "v".into())]);
    }

    #[test]
    fn history_mapping_refuses_to_guess() {
        let cfg: ImageConfig = serde_json::from_str(
            r#"{"rootfs":{"diff_ids":[]},"history":[{"created_by":"a"},{"created_by":"b","empty_layer":true},{"created_by":"c"}]}"#,
        )
        .unwrap();
        assert_eq!(layer_history(&cfg, 2).unwrap(), vec![0, 2]);
        assert!(layer_history(&cfg, 3)
            .unwrap_err()
            .contains("not attributed"));
    }
}
