//! Our own parser cases for what BuildKit's conformance set leaves out: heredocs, `--mount`,
//! spans, and the pairs of ARG/ENV.

use caulk_lint::dockerfile::{parse, MountKind};

#[test]
fn heredoc_bodies_are_read_and_spanned() {
    let src = "FROM scratch\nRUN <<EOF\necho hi\necho there\nEOF\nCMD [\"x\"]\n";
    let df = parse(src).unwrap();
    let run = &df.instructions[1];
    assert_eq!(run.dump(), "(run \"<<EOF\")");
    assert_eq!(run.heredocs.len(), 1);
    let h = &run.heredocs[0];
    assert_eq!((h.name.as_str(), h.expand, h.chomp), ("EOF", true, false));
    assert_eq!(h.content, "echo hi\necho there\n");
    assert_eq!(&src[h.span.clone()], "echo hi\necho there\n");
    assert_eq!((run.start_line, run.end_line), (2, 5));
    assert_eq!(
        &src[run.span.clone()],
        "RUN <<EOF\necho hi\necho there\nEOF"
    );
    assert_eq!(df.instructions[2].dump(), "(cmd \"x\")");
}

#[test]
fn several_heredocs_quoted_chomped_and_with_a_descriptor() {
    let src = "FROM scratch\nCOPY <<A <<\"B\" /dst/\na\nA\nb $X\nB\nRUN <<-EOT 3<<'Q' cat /dev/fd/3\n\techo tab\n\tEOT\nq\nQ\n";
    let df = parse(src).unwrap();
    let copy = &df.instructions[1];
    let names: Vec<_> = copy
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.expand))
        .collect();
    assert_eq!(names, [("A", true), ("B", false)]);
    assert_eq!(copy.heredocs[1].content, "b $X\n");
    let run = &df.instructions[2];
    assert_eq!(run.heredocs.len(), 2);
    assert!(run.heredocs[0].chomp);
    assert_eq!(run.heredocs[0].content, "\techo tab\n");
    assert_eq!(
        (run.heredocs[1].file_descriptor, run.heredocs[1].expand),
        (3, false)
    );
    assert_eq!(run.end_line, 11);
}

#[test]
fn heredocs_only_in_shell_form_of_run_copy_add() {
    let df = parse("FROM scratch\nRUN [\"<<EOF\"]\nENV A=<<B\n").unwrap();
    assert!(df.instructions.iter().all(|i| i.heredocs.is_empty()));
    let df = parse("FROM scratch\nONBUILD RUN <<EOF\nx\nEOF\n").unwrap();
    assert_eq!(df.instructions[1].heredocs.len(), 1);
}

#[test]
fn an_unterminated_heredoc_is_refused() {
    let err = parse("FROM scratch\nRUN <<EOF\necho hi\n").unwrap_err();
    assert!(err.message.contains("unterminated heredoc"), "{err}");
    assert_eq!(err.line, 2);
}

#[test]
fn mount_flags_are_parsed_with_spans() {
    let src = "FROM node\nRUN --mount=type=secret,id=npm,target=/root/.npmrc \\\n    --mount=type=ssh npm ci\n";
    let df = parse(src).unwrap();
    let run = &df.instructions[1];
    assert_eq!(run.flags.len(), 2);
    assert_eq!(
        &src[run.flags[0].span.clone()],
        "--mount=type=secret,id=npm,target=/root/.npmrc"
    );
    assert_eq!(&src[run.flags[1].span.clone()], "--mount=type=ssh");
    let mounts: Vec<_> = run.mounts().into_iter().map(Result::unwrap).collect();
    assert_eq!(mounts[0].kind, MountKind::Secret);
    assert_eq!(mounts[0].id.as_deref(), Some("npm"));
    assert_eq!(mounts[1].kind, MountKind::Ssh);
    assert_eq!(run.rest.value, "npm ci");
    assert_eq!(&src[run.rest.span.clone()], "npm ci");
    assert_eq!(df.line_col(run.flags[1].span.start), (3, 5));
}

#[test]
fn arg_and_env_pairs_in_both_forms() {
    let src = "ARG A B=2 C=\nFROM x\nENV TOKEN=\"a b\" D=1\nENV LEGACY some value\n";
    let df = parse(src).unwrap();
    let arg = &df.instructions[0];
    let pairs: Vec<_> = arg
        .pairs
        .iter()
        .map(|p| {
            (
                p.key.value.as_str(),
                p.value.as_ref().map(|v| v.value.as_str()),
            )
        })
        .collect();
    assert_eq!(pairs, [("A", None), ("B", Some("2")), ("C", Some(""))]);
    let env = &df.instructions[2];
    assert_eq!(env.pairs[0].value.as_ref().unwrap().value, "\"a b\"");
    assert_eq!(
        &src[env.pairs[0].value.as_ref().unwrap().span.clone()],
        "\"a b\""
    );
    assert_eq!(&src[env.pairs[1].key.span.clone()], "D");
    let legacy = &df.instructions[3];
    assert!(!legacy.pairs[0].equals);
    assert_eq!(legacy.pairs[0].value.as_ref().unwrap().value, "some value");
}

#[test]
fn escape_directive_and_directives_are_recorded() {
    let src = "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=JSONArgsRecommended\nFROM x\nRUN echo a `\n  b\n";
    let df = parse(src).unwrap();
    assert_eq!(df.escape, '`');
    let names: Vec<_> = df.directives.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["syntax", "escape", "check"]);
    assert_eq!(df.instructions[1].dump(), "(run \"echo a   b\")");
    assert!(parse("# escape=x\nFROM a\n").is_err());
    assert!(parse("# escape=`\n# escape=\\\nFROM a\n").is_err());
}

#[test]
fn no_panic_on_arbitrary_input() {
    let mut seed: u64 = 7;
    let alphabet = b"FROM RUN ENV ARG COPY --mount=type,\\`#\n\"'[]<<EOF-= \t$";
    for _ in 0..3000 {
        let len = (seed % 60) as usize;
        let text: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                alphabet[(seed % alphabet.len() as u64) as usize] as char
            })
            .collect();
        if let Ok(df) = parse(&text) {
            for i in &df.instructions {
                let _ = i.dump();
                let _ = i.mounts();
                assert!(i.span.end <= text.len() && i.keyword.start <= i.span.end);
                for w in &i.args {
                    assert!(
                        w.span.start <= w.span.end && w.span.end <= text.len(),
                        "{text:?}"
                    );
                }
            }
        }
    }
}
