//! Reads a Dockerfile the way BuildKit's parser does (directives, comments, continuation lines,
//! flags, per-instruction argument rules, heredocs), keeping a byte span for every piece.

use std::fmt;
use std::ops::Range;

use super::shell::Lexer;
use super::{Directive, Dockerfile, Flag, Heredoc, Instruction, Pair, Word};

/// Why BuildKit would refuse the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 1-based line where the problem starts.
    pub line: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A physical line: its text without the line ending, and where it starts.
struct Line<'a> {
    text: &'a str,
    start: usize,
    /// Offset just past the line ending.
    next: usize,
}

fn physical_lines(source: &str, from: usize) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut at = from;
    while at < source.len() {
        let end = source[at..].find('\n').map_or(source.len(), |i| at + i + 1);
        let text = source[at..end].trim_end_matches(['\r', '\n']);
        lines.push(Line {
            text,
            start: at,
            next: end,
        });
        at = end;
    }
    lines
}

/// Logical text assembled from pieces of physical lines, mapped back to the source.
struct Logical {
    text: String,
    /// (offset in `text`, offset in source, length)
    pieces: Vec<(usize, usize, usize)>,
}

impl Logical {
    fn push(&mut self, piece: &str, source_offset: usize) {
        self.pieces
            .push((self.text.len(), source_offset, piece.len()));
        self.text.push_str(piece);
    }

    fn source(&self, pos: usize) -> usize {
        let k = self
            .pieces
            .partition_point(|&(l, _, _)| l <= pos)
            .saturating_sub(1);
        match self.pieces.get(k) {
            Some(&(l, s, len)) => s + (pos - l).min(len),
            None => 0,
        }
    }

    fn span(&self, r: Range<usize>) -> Range<usize> {
        if r.is_empty() {
            let at = self.source(r.start);
            return at..at;
        }
        self.source(r.start)..self.source(r.end - 1) + 1
    }

    fn word(&self, value: String, r: Range<usize>) -> Word {
        Word {
            value,
            span: self.span(r),
        }
    }
}

struct State {
    escape: char,
    done: bool,
    directives: Vec<Directive>,
}

fn directive_match(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, after) = rest.split_at(name_len);
    let value = after.trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then(|| (name.to_string(), value.to_string()))
}

impl State {
    /// BuildKit checks every line for a directive until the first line that is not one.
    fn directive(
        &mut self,
        line: &str,
        span: Range<usize>,
        line_no: usize,
    ) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive_match(line) else {
            self.done = true;
            return Ok(());
        };
        let key = name.to_ascii_lowercase();
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.directives.iter().any(|d| d.name == key) {
            return Err(ParseError {
                message: format!("only one {key} parser directive can be used"),
                line: line_no,
            });
        }
        if key == "escape" {
            self.escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(ParseError {
                        message: format!("invalid escape token '{value}' does not match ` or \\"),
                        line: line_no,
                    })
                }
            };
        }
        self.directives.push(Directive {
            name: key,
            value,
            span,
        });
        Ok(())
    }

    /// Removes a trailing escape (line continuation) unless it is itself escaped.
    fn continuation<'a>(&self, line: &'a str) -> (&'a str, bool) {
        let trimmed = line.trim_end_matches([' ', '\t']);
        let Some(body) = trimmed.strip_suffix(self.escape) else {
            return (line, true);
        };
        if body.is_empty() || !body.ends_with(self.escape) {
            (body, false)
        } else {
            (line, true)
        }
    }
}

fn is_comment(text: &str) -> bool {
    text.trim_start().starts_with('#')
}

fn is_go_space(c: char) -> bool {
    c.is_whitespace()
}

/// BuildKit's `[\t\v\f\r ]+` separator.
fn is_sep(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Parses a Dockerfile. Errors are the ones BuildKit would stop the build with.
pub fn parse(source: &str) -> Result<Dockerfile, ParseError> {
    let bom = if source.starts_with('\u{feff}') { 3 } else { 0 };
    let lines = physical_lines(source, bom);
    let mut st = State {
        escape: '\\',
        done: false,
        directives: Vec::new(),
    };
    let mut instructions = Vec::new();
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let line_no = i + 1;
        if is_comment(line.text) {
            comments.push(line.text.trim_start()[1..].trim().to_string());
        }
        let stripped = line.text.trim_start_matches(is_go_space);
        let lead = line.text.len() - stripped.len();
        st.directive(stripped, line.start..line.start + line.text.len(), line_no)?;
        i += 1;
        let first = if stripped.starts_with('#') {
            ""
        } else {
            stripped
        };
        let (piece, mut end_of_line) = st.continuation(first);
        if end_of_line && piece.is_empty() {
            continue;
        }
        let mut logical = Logical {
            text: String::new(),
            pieces: Vec::new(),
        };
        logical.push(piece, line.start + lead);
        let mut last = line;
        let mut empty_continuation = false;
        while !end_of_line && i < lines.len() {
            let next = &lines[i];
            st.directive(next.text, next.start..next.start + next.text.len(), i + 1)?;
            i += 1;
            last = next;
            if is_comment(next.text) {
                continue;
            }
            if next.text.trim_start_matches(is_go_space).is_empty() {
                empty_continuation = true;
                continue;
            }
            let (piece, eol) = st.continuation(next.text);
            logical.push(piece, next.start);
            end_of_line = eol;
        }
        if empty_continuation {
            warnings.push(format!(
                "empty continuation line in the instruction at line {line_no}"
            ));
        }
        let err = |message: String| ParseError {
            message,
            line: line_no,
        };
        let mut ins = instruction(&logical, 0..logical.text.len(), &st).map_err(err)?;
        ins.comments = std::mem::take(&mut comments);
        let mut end = last.start + last.text.len();
        if can_contain_heredoc(&ins) {
            for (name, chomp, expand, fd) in heredocs_in(&logical.text) {
                let body_start = lines.get(i).map_or(source.len(), |l| l.start);
                let mut content = String::new();
                let mut terminated = false;
                while i < lines.len() {
                    let l = &lines[i];
                    i += 1;
                    let candidate = if chomp {
                        l.text.trim_start_matches('\t')
                    } else {
                        l.text
                    };
                    if candidate == name {
                        terminated = true;
                        end = l.start + l.text.len();
                        break;
                    }
                    content.push_str(&source[l.start..l.next]);
                }
                if !terminated {
                    return Err(ParseError {
                        message: format!("unterminated heredoc `{name}`"),
                        line: line_no,
                    });
                }
                let body_end = body_start + content.len();
                ins.heredocs.push(Heredoc {
                    name,
                    chomp,
                    expand,
                    file_descriptor: fd,
                    content,
                    span: body_start..body_end,
                });
            }
        }
        ins.span = ins.keyword.start..end;
        ins.start_line = line_no;
        ins.end_line = i.max(line_no);
        instructions.push(ins);
    }
    if instructions.is_empty() {
        return Err(ParseError {
            message: "file with no instructions".into(),
            line: lines.len().max(1),
        });
    }
    Ok(Dockerfile {
        source: source.to_string(),
        escape: st.escape,
        directives: st.directives,
        instructions,
        warnings,
    })
}

fn can_contain_heredoc(ins: &Instruction) -> bool {
    let ins = match &ins.onbuild {
        Some(sub) if ins.name == "onbuild" => sub,
        _ => ins,
    };
    matches!(ins.name.as_str(), "run" | "copy" | "add") && !ins.json
}

/// The heredocs a logical line opens: (name, chomp, expand, file descriptor).
fn heredocs_in(line: &str) -> Vec<(String, bool, bool, u32)> {
    let raw = Lexer {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset_env: true,
        ..Lexer::new('\\')
    };
    let env: Vec<(String, String)> = Vec::new();
    let words = raw.process_words(line, &env).unwrap_or_default();
    let mut out = Vec::new();
    for word in words {
        let digits = word.bytes().take_while(u8::is_ascii_digit).count();
        let Some(after) = word[digits..].strip_prefix("<<") else {
            continue;
        };
        let (chomp, rest) = match after.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, after),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        let plain = Lexer {
            skip_unset_env: true,
            ..Lexer::new('\\')
        };
        let quoted = Lexer {
            raw_quotes: true,
            skip_unset_env: true,
            ..Lexer::new('\\')
        };
        let (Ok(words), Ok(raw_words)) = (
            plain.process_words(rest, &env),
            quoted.process_words(rest, &env),
        ) else {
            continue;
        };
        if words.len() != 1 || raw_words.len() != 1 {
            continue;
        }
        let quotes = |s: &str| s.matches(['\'', '"']).count();
        let expand = quotes(&words[0]) == quotes(&raw_words[0]);
        let fd = word[..digits].parse().unwrap_or(0);
        out.push((words[0].clone(), chomp, expand, fd));
    }
    out
}

/// `splitCommand` + dispatch for the logical text `l.text[r]`.
fn instruction(l: &Logical, r: Range<usize>, st: &State) -> Result<Instruction, String> {
    let text = &l.text[r.clone()];
    let trimmed_start = r.start + (text.len() - text.trim_start_matches(is_go_space).len());
    let trimmed_end = r.start + text.trim_end_matches(is_go_space).len();
    let line = &l.text[trimmed_start..trimmed_end];
    let cmd_len = line.find(is_sep).unwrap_or(line.len());
    let name = line[..cmd_len].to_ascii_lowercase();
    let keyword = l.span(trimmed_start..trimmed_start + cmd_len);
    let after_cmd = line[cmd_len..]
        .find(|c: char| !is_sep(c))
        .map_or(line.len(), |k| cmd_len + k);
    let (flags, args_at) = builder_flags(l, trimmed_start + after_cmd, trimmed_end);
    // Arguments: what follows the flags, trimmed.
    let rest_text = &l.text[args_at..trimmed_end];
    let a_start = args_at + (rest_text.len() - rest_text.trim_start_matches(is_go_space).len());
    let a_end = args_at + rest_text.trim_end_matches(is_go_space).len();
    let args_range = a_start..a_end.max(a_start);
    let mut ins = Instruction {
        name: name.clone(),
        span: keyword.clone(),
        keyword,
        start_line: 0,
        end_line: 0,
        flags,
        args: Vec::new(),
        pairs: Vec::new(),
        json: false,
        rest: l.word(l.text[args_range.clone()].to_string(), args_range.clone()),
        heredocs: Vec::new(),
        comments: Vec::new(),
        onbuild: None,
    };
    let a = args_range;
    match name.as_str() {
        "add" | "copy" | "volume" => match json(l, a.clone())? {
            Some(words) => {
                ins.args = words;
                ins.json = true;
            }
            None => ins.args = whitespace_words(l, a),
        },
        "cmd" | "entrypoint" | "run" | "shell" if !a.is_empty() => match json(l, a.clone())? {
            Some(words) => {
                ins.args = words;
                ins.json = true;
            }
            None => ins.args = vec![l.word(l.text[a.clone()].to_string(), a)],
        },
        "arg" => {
            let words = parse_words(l, a, st.escape);
            for w in &words {
                let (key, value) = match w.0.split_once('=') {
                    Some((k, v)) => {
                        let ks = w.1.start;
                        (
                            l.word(k.to_string(), ks..ks + k.len()),
                            Some(l.word(v.to_string(), ks + k.len() + 1..w.1.end)),
                        )
                    }
                    None => (l.word(w.0.clone(), w.1.clone()), None),
                };
                ins.pairs.push(Pair {
                    key,
                    value,
                    equals: w.0.contains('='),
                });
            }
            ins.args = words.into_iter().map(|(v, r)| l.word(v, r)).collect();
        }
        "env" | "label" => name_val(l, a, st, &name, &mut ins)?,
        "expose" | "from" => ins.args = whitespace_words(l, a),
        "maintainer" | "stopsignal" | "user" | "workdir" if !a.is_empty() => {
            ins.args = vec![l.word(l.text[a.clone()].to_string(), a)];
        }
        "healthcheck" => {
            let t = &l.text[a.clone()];
            let sep = t
                .bytes()
                .position(|b| (b as char).is_whitespace())
                .unwrap_or(t.len());
            if sep > 0 {
                let next = t[sep..]
                    .bytes()
                    .position(|b| !(b as char).is_whitespace())
                    .map_or(t.len(), |k| sep + k);
                ins.args
                    .push(l.word(t[..sep].to_string(), a.start..a.start + sep));
                let c = a.start + next..a.end;
                if !c.is_empty() {
                    match json(l, c.clone())? {
                        Some(words) => {
                            ins.args.extend(words);
                            ins.json = true;
                        }
                        None => ins.args.push(l.word(l.text[c.clone()].to_string(), c)),
                    }
                }
            }
        }
        "onbuild" if !a.is_empty() => {
            ins.onbuild = Some(Box::new(instruction(l, a, st)?));
        }
        _ => {}
    }
    Ok(ins)
}

/// ENV and LABEL: `key=value ...`, or the legacy `key value` (the rest of the line is the value).
fn name_val(
    l: &Logical,
    a: Range<usize>,
    st: &State,
    name: &str,
    ins: &mut Instruction,
) -> Result<(), String> {
    let words = parse_words(l, a.clone(), st.escape);
    let Some(first) = words.first() else {
        return Ok(());
    };
    if !first.0.contains('=') {
        let t = &l.text[a.clone()];
        let Some(k) = t.find(is_sep) else {
            return Err(format!(
                "{} must have two arguments",
                name.to_ascii_uppercase()
            ));
        };
        let v = t[k..].find(|c: char| !is_sep(c)).map_or(t.len(), |j| k + j);
        let key = l.word(t[..k].to_string(), a.start..a.start + k);
        let value = l.word(t[v..].to_string(), a.start + v..a.end);
        ins.args = vec![
            key.clone(),
            value.clone(),
            l.word(String::new(), a.end..a.end),
        ];
        ins.pairs.push(Pair {
            key,
            value: Some(value),
            equals: false,
        });
        return Ok(());
    }
    for (w, r) in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ));
        };
        let key = l.word(k.to_string(), r.start..r.start + k.len());
        let value = l.word(v.to_string(), r.start + k.len() + 1..r.end);
        ins.args.push(key.clone());
        ins.args.push(value.clone());
        ins.args
            .push(l.word("=".into(), r.start + k.len()..r.start + k.len() + 1));
        ins.pairs.push(Pair {
            key,
            value: Some(value),
            equals: true,
        });
    }
    Ok(())
}

/// `parseStringsWhitespaceDelimited`.
fn whitespace_words(l: &Logical, a: Range<usize>) -> Vec<Word> {
    let t = &l.text[a.clone()];
    let mut out = Vec::new();
    let mut at = 0;
    while at <= t.len() {
        let end = t[at..].find(is_sep).map_or(t.len(), |k| at + k);
        if !(t.is_empty()) {
            out.push(l.word(t[at..end].to_string(), a.start + at..a.start + end));
        }
        if end == t.len() {
            break;
        }
        at = t[end..]
            .find(|c: char| !is_sep(c))
            .map_or(t.len(), |k| end + k);
        if at == t.len() {
            // trailing separator: Go's split yields a final empty word
            out.push(l.word(String::new(), a.end..a.end));
            break;
        }
    }
    out
}

/// A JSON array of strings: `Ok(Some(words))`; not JSON: `Ok(None)`; JSON with a non-string
/// element: the error BuildKit stops on.
fn json(l: &Logical, a: Range<usize>) -> Result<Option<Vec<Word>>, String> {
    let t = &l.text[a.clone()];
    let lead = t.len() - t.trim_start_matches(is_go_space).len();
    let body = &t[lead..];
    if !body.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(body) else {
        return Ok(None);
    };
    let mut strings = Vec::new();
    for v in values {
        match v {
            serde_json::Value::String(s) => strings.push(s),
            _ => {
                return Err(
                    "when using JSON array syntax, arrays must be comprised of strings only".into(),
                )
            }
        }
    }
    let spans = json_string_spans(body);
    let base = a.start + lead;
    Ok(Some(
        strings
            .into_iter()
            .enumerate()
            .map(|(k, s)| match spans.get(k) {
                Some(r) if spans.len() == k.max(spans.len()) => {
                    l.word(s, base + r.start..base + r.end)
                }
                _ => l.word(s, a.clone()),
            })
            .collect(),
    ))
}

/// Byte ranges (quotes included) of the top-level strings of a valid JSON array.
fn json_string_spans(body: &str) -> Vec<Range<usize>> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 1 {
                    out.push(start..(i + 1).min(b.len()));
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `parseWords`: space-separated words, quotes kept, the escape character kept with what it
/// escapes. Returns each word with its range in `l.text`.
fn parse_words(l: &Logical, a: Range<usize>, escape: char) -> Vec<(String, Range<usize>)> {
    let t = &l.text[a.clone()];
    let chars: Vec<(usize, char)> = t.char_indices().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut k = 0;
    let end_of = |k: usize| chars.get(k).map_or(t.len(), |&(p, _)| p);
    while k < chars.len() {
        let (pos, c) = chars[k];
        if !in_word {
            if c.is_whitespace() {
                k += 1;
                continue;
            }
            in_word = true;
            start = pos;
        }
        match quote {
            None => {
                if c.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push((std::mem::take(&mut word), a.start + start..a.start + pos));
                    }
                    word.clear();
                    blank_ok = false;
                    in_word = false;
                    k += 1;
                    continue;
                }
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    if k + 1 == chars.len() {
                        k += 1;
                        continue;
                    }
                    word.push(c);
                    k += 1;
                    word.push(chars[k].1);
                    k += 1;
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    if k + 1 == chars.len() {
                        quote = None;
                        k += 1;
                        continue;
                    }
                    word.push(c);
                    k += 1;
                    word.push(chars[k].1);
                    k += 1;
                    continue;
                }
                word.push(c);
            }
        }
        k += 1;
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push((word, a.start + start..a.start + end_of(chars.len())));
    }
    words
}

/// `extractBuilderFlags`: leading `--flag[=value]` words (a bare `--flag value` is not joined, as in
/// the BuildKit the conformance cases come from). Returns the flags and where the
/// arguments start (in `l.text`).
fn builder_flags(l: &Logical, from: usize, to: usize) -> (Vec<Flag>, usize) {
    let t = &l.text[from..to];
    let b = t.as_bytes();
    let mut flags: Vec<(String, Range<usize>)> = Vec::new();
    let mut word = Vec::new();
    let mut word_start = 0;
    let mut in_word = false;
    let mut quote: Option<u8> = None;
    let mut blank_ok = false;
    let mut pos = 0;
    let finish = |flags: Vec<(String, Range<usize>)>, at: usize| {
        let flags = flags
            .into_iter()
            .map(|(raw, r)| {
                let body = raw.strip_prefix("--").unwrap_or(&raw);
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (body.to_string(), None),
                };
                Flag {
                    name,
                    value,
                    span: l.span(from + r.start..from + r.end),
                }
            })
            .collect();
        (flags, from + at)
    };
    while pos <= b.len() {
        let at_end = pos == b.len();
        let ch = if at_end { 0 } else { b[pos] };
        if !in_word {
            if at_end {
                break;
            }
            if (ch as char).is_whitespace() {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == b.len() || b[pos + 1] != b'-' {
                return finish(flags, pos);
            }
            in_word = true;
            word_start = pos;
        }
        if at_end {
            let w = String::from_utf8_lossy(&word).into_owned();
            if w != "--" && (blank_ok || !word.is_empty()) {
                flags.push((w, word_start..pos));
            }
            break;
        }
        match quote {
            None => {
                if (ch as char).is_whitespace() {
                    let w = String::from_utf8_lossy(&word).into_owned();
                    in_word = false;
                    if w == "--" {
                        return finish(flags, pos);
                    }
                    if blank_ok || !word.is_empty() {
                        flags.push((w, word_start..pos));
                    }
                    word.clear();
                    blank_ok = false;
                    pos += 1;
                    continue;
                }
                if ch == b'\'' || ch == b'"' {
                    quote = Some(ch);
                    blank_ok = true;
                    pos += 1;
                    continue;
                }
                if ch == b'\\' {
                    if pos + 1 == b.len() {
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                }
                word.push(b[pos]);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                    pos += 1;
                    continue;
                }
                if ch == b'\\' {
                    if pos + 1 == b.len() {
                        quote = None;
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                }
                word.push(b[pos]);
            }
        }
        pos += 1;
    }
    finish(flags, b.len())
}
