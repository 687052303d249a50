//! Dockerfile parser, shell lexer, lint rules and `caulk fix` on arbitrary text.
//!
//! Checks: nothing panics; every span the parser reports is a valid slice of the source; and
//! when the original parses, the text after applying the planned fixes (each fix alone, the
//! safe ones together, all of them together, as `caulk fix [--unsafe] --write` does) parses too.

#![no_main]

use caulk_fuzz::{hash, lenient, note, text_of, with_scanner};
use caulk_lint::dockerfile::shell::Lexer;
use caulk_lint::dockerfile::{parse, Dockerfile, Instruction, Word};
use caulk_lint::dockerignore::Dockerignore;
use caulk_lint::fix::{apply, plan, ssh_target, unified_diff, Edit, FileRef, Fix};
use caulk_lint::rules::{lint_dockerfile, BuildContext};
use caulk_report::lint::FixSafety;
use libfuzzer_sys::fuzz_target;

/// A build context: a few files that credentials rules care about, plus every source that the
/// Dockerfile's `COPY`/`ADD` instructions name.
struct Context(Vec<String>);

impl BuildContext for Context {
    fn included(&self) -> Vec<String> {
        self.0.clone()
    }
}

const CONTEXT_FILES: &[&str] = &[
    ".env",
    ".npmrc",
    "id_rsa",
    ".ssh/id_ed25519",
    "config/tls.key",
    "secrets/token.txt",
    "src/app.py",
    "package.json",
];

const IGNORE_TEXTS: &[&str] = &["", "node_modules\n", "*.md\n!README.md", "# c\n.git\n"];

fn check_span(df: &Dockerfile, span: &std::ops::Range<usize>, what: &str) {
    assert!(
        span.start <= span.end && df.source.get(span.clone()).is_some(),
        "{what} span {span:?} is not a slice of the {}-byte source",
        df.source.len()
    );
    df.line_col(span.start);
    df.line_col(span.end);
}

fn check_word(df: &Dockerfile, w: &Word, what: &str) {
    check_span(df, &w.span, what);
}

fn walk_instruction(df: &Dockerfile, ins: &Instruction, env: &[(String, String)], pick: u64) {
    check_span(df, &ins.span, "instruction");
    check_span(df, &ins.keyword, "keyword");
    check_word(df, &ins.rest, "rest");
    assert!(
        ins.start_line <= ins.end_line,
        "lines {}..{}",
        ins.start_line,
        ins.end_line
    );
    let _ = ins.dump();
    for f in &ins.flags {
        check_span(df, &f.span, "flag");
    }
    for w in &ins.args {
        check_word(df, w, "arg");
    }
    for p in &ins.pairs {
        check_word(df, &p.key, "pair key");
        if let Some(v) = &p.value {
            check_word(df, v, "pair value");
        }
    }
    for h in &ins.heredocs {
        check_span(df, &h.span, "heredoc");
    }
    for m in ins.mounts() {
        match m {
            Ok(m) => {
                let _ = (m.kind.as_str(), m.effective_mode());
            }
            Err(e) => {
                let _ = e.message.len();
            }
        }
    }
    let _ = ins.flag_values("from").count();
    if ins.name == "run" {
        let _ = ssh_target(&ins.rest.value);
    }

    // The shell lexer, as BuildKit's dispatcher would run it on this instruction's words: once
    // with the Dockerfile's escape character, once with options picked from the input's hash.
    let mut lexers = vec![Lexer::new(df.escape)];
    let mut other = Lexer::new(if pick & 1 == 0 { df.escape } else { '`' });
    other.raw_quotes = pick & 2 != 0;
    other.raw_escapes = pick & 4 != 0;
    other.skip_unset_env = pick & 8 != 0;
    other.skip_process_quotes = pick & 16 != 0;
    other.windows = pick & 32 != 0;
    lexers.push(other);
    for lx in &lexers {
        let words = ins
            .args
            .iter()
            .map(|w| w.value.as_str())
            .chain(std::iter::once(ins.rest.value.as_str()))
            .chain(ins.flags.iter().filter_map(|f| f.value.as_deref()))
            .chain(
                ins.pairs
                    .iter()
                    .filter_map(|p| p.value.as_ref().map(|v| v.value.as_str())),
            )
            .chain(
                ins.heredocs
                    .iter()
                    .filter(|h| h.expand)
                    .map(|h| h.content.as_str()),
            );
        for w in words {
            let _ = lx.process_word(w, &env);
            let _ = lx.process_words(w, &env);
            let _ = lx.process_word_with_refs(w, &env);
        }
    }
    if let Some(sub) = &ins.onbuild {
        walk_instruction(df, sub, env, pick);
    }
}

fn dockerfile_edits(fixes: &[&Fix]) -> Vec<Edit> {
    fixes
        .iter()
        .flat_map(|f| f.edits.iter())
        .filter(|e| e.file == FileRef::Dockerfile)
        .cloned()
        .collect()
}

/// The fixed text must still be a Dockerfile.
fn check_fixed(data: &[u8], text: &str, fixes: &[&Fix], which: &str) {
    let edits = dockerfile_edits(fixes);
    if edits.is_empty() {
        return;
    }
    for e in &edits {
        assert!(
            e.range.start <= e.range.end && text.get(e.range.clone()).is_some(),
            "{which}: edit range {:?} is not a slice of the {}-byte source",
            e.range,
            text.len()
        );
    }
    let refs: Vec<&Edit> = edits.iter().collect();
    let fixed = apply(text, &refs);
    let _ = unified_diff("Dockerfile", text, &fixed);
    if let Err(e) = parse(&fixed) {
        let rules: Vec<&str> = fixes.iter().map(|f| f.rule_id).collect();
        if lenient() {
            note("fix-breaks-parse", data);
            return;
        }
        panic!(
            "{which} ({rules:?}) turned a valid Dockerfile into one that does not parse: {e}\n\
             --- original ---\n{text}\n--- fixed ---\n{fixed}\n---"
        );
    }
}

fuzz_target!(init: caulk_fuzz::warm_up(), |data: &[u8]| {
    let text = text_of(data);
    let df = match parse(&text) {
        Ok(df) => df,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(df.source, *text, "the parsed Dockerfile keeps its source");
    let pick = hash(data);
    for d in &df.directives {
        check_span(&df, &d.span, "directive");
    }

    // Variables visible to expansion: every ENV/ARG pair, in order, plus a few BuildKit sets.
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("HOME".into(), "/root".into()),
        ("EMPTY".into(), String::new()),
    ];
    for ins in &df.instructions {
        for p in &ins.pairs {
            env.push((
                p.key.value.clone(),
                p.value.as_ref().map(|v| v.value.clone()).unwrap_or_default(),
            ));
        }
    }
    for ins in &df.instructions {
        walk_instruction(&df, ins, &env, pick);
    }
    let stages = df.stages();
    let staged: Vec<usize> = df.staged().map(|(s, _)| s).collect();
    assert_eq!(staged.len(), df.instructions.len());
    if let Some(&last) = staged.last() {
        assert!(last < stages.len().max(1), "stage {last} of {} stages", stages.len());
    }

    // The build context: fixed files plus the COPY/ADD sources.
    let mut files: Vec<String> = CONTEXT_FILES.iter().map(|s| s.to_string()).collect();
    for ins in df.instructions.iter().filter(|i| matches!(i.name.as_str(), "copy" | "add")) {
        if let Some((_, sources)) = ins.args.split_last() {
            files.extend(sources.iter().map(|w| w.value.trim_start_matches("./").to_string()));
        }
    }
    let context = Context(files);

    with_scanner(|scanner| {
        let linted = lint_dockerfile("Dockerfile", &df, scanner, Some(&context));
        for f in &linted.findings {
            assert!(f.location.line >= 1, "finding at line 0: {}", f.rule_id);
        }
        let _ = lint_dockerfile("Dockerfile", &df, scanner, None);
        let _ = caulk_lint::mask_secrets(&text, "Dockerfile", scanner);

        let ignore_text = IGNORE_TEXTS[(pick >> 8) as usize % IGNORE_TEXTS.len()];
        let mut is_secret = |t: &str| {
            let mut found = Vec::new();
            scanner.scan(
                t.as_bytes(),
                &caulk_rules::Context {
                    path: Some("Dockerfile"),
                    binary: false,
                },
                &mut found,
            );
            !found.is_empty()
        };
        let ctx = if pick & 64 == 0 {
            Some(&context as &dyn BuildContext)
        } else {
            None
        };
        let fixes = plan(&df, ignore_text, ctx, &mut is_secret);

        for (i, f) in fixes.iter().enumerate() {
            check_fixed(data, &text, &[f], &format!("fix #{i} {}", f.rule_id));
        }
        let safe: Vec<&Fix> = fixes.iter().filter(|f| f.safety == FixSafety::Safe).collect();
        check_fixed(data, &text, &safe, "the safe fixes together");
        let all: Vec<&Fix> = fixes.iter().collect();
        check_fixed(data, &text, &all, "all fixes together (--unsafe)");

        // The .dockerignore edits apply to the ignore text and leave something Docker accepts.
        let ignore_edits: Vec<&Edit> = fixes
            .iter()
            .flat_map(|f| f.edits.iter())
            .filter(|e| e.file == FileRef::Dockerignore)
            .collect();
        if !ignore_edits.is_empty() {
            let new_ignore = apply(ignore_text, &ignore_edits);
            let _ = unified_diff(".dockerignore", ignore_text, &new_ignore);
            if let Err(e) = Dockerignore::parse(&new_ignore) {
                if lenient() {
                    note("fix-breaks-dockerignore", data);
                } else {
                    panic!(
                        "the CK107 fix wrote a .dockerignore Docker refuses: {e}\n\
                         --- Dockerfile ---\n{text}\n--- .dockerignore ---\n{new_ignore}\n---"
                    );
                }
            }
        }
    });
});
