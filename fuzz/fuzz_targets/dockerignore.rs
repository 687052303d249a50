//! `.dockerignore` parsing and matching on arbitrary text.
//!
//! Input: the ignore file, optionally followed by a NUL byte and newline-separated paths to test
//! (the ignore file's own lines, with a few variations, are tested as paths too).
//!
//! Checks: nothing panics; a path that is excluded has a deciding line; `./p` is judged like `p`;
//! the patterns a parsed file reports (`patterns()`) rebuild a matcher that decides every path the
//! same way; `glob_match` of each line agrees with a one-line ignore file where both accept it.

#![no_main]

use caulk_fuzz::text_of;
use caulk_lint::dockerignore::{glob_match, Dockerignore};
use libfuzzer_sys::fuzz_target;

const PATHS: &[&str] = &[
    "",
    ".",
    "a",
    "a/b",
    "a/b/c.txt",
    ".env",
    "dir/.env",
    "node_modules/x/y.js",
    "/abs/path",
    "../up",
    "a//b/./c/",
    "é/ü",
];

fuzz_target!(|data: &[u8]| {
    let text = text_of(data);
    let (ignore_text, extra) = match text.split_once('\0') {
        Some((a, b)) => (a, Some(b)),
        None => (&*text, None),
    };

    // Paths from the input first: the per-pattern checks below only look at the first few.
    let mut paths: Vec<String> = Vec::new();
    if let Some(extra) = extra {
        paths.extend(extra.split('\n').take(32).map(str::to_string));
    }
    for line in ignore_text.lines().take(16) {
        let l = line.trim().trim_start_matches('!');
        paths.push(l.to_string());
        paths.push(format!("{l}/x"));
        if let Some((parent, _)) = l.rsplit_once('/') {
            paths.push(parent.to_string());
        }
    }
    paths.extend(PATHS.iter().map(|s| s.to_string()));

    let parsed = Dockerignore::parse(ignore_text);
    match &parsed {
        Ok(d) => {
            let patterns = d.patterns();
            let rebuilt = Dockerignore::from_patterns(patterns.iter().map(String::as_str));
            for p in &paths {
                let excluded = d.matches(p);
                let line = d.deciding_line(p);
                assert!(
                    !excluded || line.is_some(),
                    "{p:?} is excluded but no line decided it"
                );
                if let Some(line) = line {
                    assert!(
                        line >= 1 && line <= ignore_text.split('\n').count(),
                        "{p:?} decided by line {line}"
                    );
                }
                if !p.starts_with('/') {
                    assert_eq!(
                        excluded,
                        d.matches(&format!("./{p}")),
                        "{p:?} and ./{p} are judged differently"
                    );
                }
                match &rebuilt {
                    Ok(r) => assert_eq!(
                        excluded,
                        r.matches(p),
                        "{p:?}: patterns() {patterns:?} rebuild a different matcher"
                    ),
                    Err(e) => panic!("patterns() {patterns:?} of a valid file are refused: {e}"),
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    // One pattern at a time, as `glob_match` judges it. A lone line that is neither a comment nor
    // blank must be judged the same way by a one-line ignore file. (Each `glob_match` compiles its
    // pattern, so only a few lines and paths are tried.)
    for line in ignore_text.split('\n').take(4) {
        let trimmed = line.trim();
        let plain = !line.starts_with('#')
            && !trimmed.is_empty()
            && !trimmed.starts_with('!')
            && !trimmed.starts_with('/')
            && !line.starts_with('\u{feff}');
        let one_line = if plain && line.len() < 1024 {
            Dockerignore::parse(line).ok()
        } else {
            None
        };
        for p in paths.iter().take(6) {
            if let (Ok(m), Some(d)) = (glob_match(line, p), &one_line) {
                assert_eq!(
                    m,
                    d.matches(p),
                    "glob_match({line:?}, {p:?}) disagrees with a one-line ignore file"
                );
            }
        }
    }
});
