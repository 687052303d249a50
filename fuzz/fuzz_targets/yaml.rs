//! The position-keeping YAML parser and the Compose, Kubernetes and CI rules on arbitrary text.
//!
//! Checks: nothing panics (panics raised inside yaml-rust2 itself are caught by
//! `caulk_lint::yaml::parse_documents` by design; see `install_panic_filter`); every position the
//! tree reports is consistent with the text (offset on a character boundary, line and column as
//! counted independently); characters of exactly-mapped scalars map to themselves; findings point
//! inside the file.

#![no_main]

use caulk_fuzz::{install_panic_filter, note, text_of, with_scanner};
use caulk_lint::rules::{lint_text_file, Target};
use caulk_lint::yaml::{parse_documents, Node, Pos, Style, Value};
use libfuzzer_sys::fuzz_target;

/// Line and column of a byte offset, counted without the parser: lines end at `\n`, `\r\n` or a
/// lone `\r`; a column is a character; a leading BOM takes bytes but no column.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let (mut line, mut col) = (1, 1);
    let mut chars = text[bom.min(offset)..offset].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' || (c == '\r' && chars.peek() != Some(&'\n')) {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

fn check_pos(text: &str, pos: Pos, what: &str) {
    assert!(pos.offset <= text.len(), "{what} {pos:?} past the end");
    assert!(
        text.is_char_boundary(pos.offset),
        "{what} {pos:?} not on a char boundary"
    );
    assert_eq!(
        line_col(text, pos.offset),
        (pos.line, pos.column),
        "{what} {pos:?} inconsistent with its offset"
    );
}

fn check_tree(text: &str, node: &Node, depth: usize) {
    assert!(
        depth <= caulk_lint::yaml::MAX_DEPTH + 1,
        "nesting past MAX_DEPTH"
    );
    check_pos(text, node.start, "start");
    check_pos(text, node.end, "end");
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| check_tree(text, n, depth + 1)),
        Value::Map(entries) => entries.iter().for_each(|(k, v)| {
            check_tree(text, k, depth + 1);
            check_tree(text, v, depth + 1);
            if let Some(key) = k.as_str() {
                let _ = node.entry(key);
                let _ = node.path(&[key, key]);
            }
        }),
        Value::Null => {}
        Value::Scalar(s) => {
            assert!(node.start.offset <= node.end.offset, "{node:?}");
            for ls in node.line_starts() {
                check_pos(text, ls, "line start");
            }
            let src = &text[node.start.offset..node.end.offset];
            let exact = match node.style {
                Style::Plain | Style::Literal => true,
                Style::SingleQuoted => !src.contains("''"),
                Style::DoubleQuoted => !src.contains('\\'),
                _ => false,
            };
            // Bounded so that a huge scalar costs linear, not quadratic, time.
            for (i, ch) in s.char_indices().take(2048) {
                let at = node.pos_in_value(i);
                check_pos(text, at, "pos_in_value");
                if exact && !ch.is_whitespace() {
                    assert!(
                        text[at.offset..].starts_with(ch),
                        "{ch:?} at byte {i} of {s:?} maps to {at:?}"
                    );
                }
            }
            check_pos(text, node.pos_in_value(s.len()), "pos_in_value(len)");
        }
    }
}

/// Each target with a file name that selects it (CI rules read YAML or shell by name).
const LINTS: &[(&str, Target)] = &[
    ("compose.yaml", Target::Compose),
    ("manifests.yaml", Target::Kubernetes),
    (".github/workflows/ci.yml", Target::Ci),
    (".gitlab-ci.yml", Target::Ci),
    ("build.sh", Target::Ci),
    ("Makefile", Target::Ci),
];

fuzz_target!(
    init: {
        install_panic_filter();
        caulk_fuzz::warm_up();
    },
    |data: &[u8]| {
        let text = text_of(data);
        match parse_documents(&text) {
            Ok(docs) => docs.iter().for_each(|d| check_tree(&text, d, 0)),
            Err(e) => {
                if e.message == "internal error in the YAML parser" {
                    // A yaml-rust2 panic, caught: not a caulk crash, but worth knowing about.
                    note("yaml-rust2-panic", data);
                }
                if let Some(pos) = e.pos {
                    check_pos(&text, pos, "error");
                }
            }
        }
        let last_line = line_col(&text, text.len()).0;
        with_scanner(|scanner| {
            for (path, target) in LINTS {
                let linted = lint_text_file(path, &text, *target, scanner);
                for f in &linted.findings {
                    let l = &f.location;
                    assert!(
                        l.line >= 1 && l.column >= 1 && l.line <= last_line,
                        "{path}: {} at {l:?}, in a {last_line}-line file",
                        f.rule_id
                    );
                }
            }
            let _ = caulk_lint::mask_secrets(&text, "compose.yaml", scanner);
        });
    }
);
