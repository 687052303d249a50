//! `.dockerignore` support that reproduces moby/patternmatcher and its `ignorefile` reader (what
//! BuildKit applies), so caulk knows exactly which files of a build context reach the builder.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;

/// A parsed `.dockerignore`: an ordered list of patterns where later ones override earlier ones.
#[derive(Debug, Clone, Default)]
pub struct Dockerignore {
    patterns: Vec<Pattern>,
}

/// A pattern Docker would refuse, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The offending pattern (the trimmed source line for [`Dockerignore::parse`]).
    pub pattern: String,
    /// 1-based line for [`Dockerignore::parse`], 1-based position for
    /// [`Dockerignore::from_patterns`], `None` for [`glob_match`].
    pub line: Option<usize>,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "line {line}: pattern {:?}: {}",
                self.pattern, self.message
            ),
            None => write!(f, "pattern {:?}: {}", self.pattern, self.message),
        }
    }
}

impl std::error::Error for PatternError {}

/// One compiled pattern.
#[derive(Debug, Clone)]
struct Pattern {
    /// Cleaned pattern without its `!`.
    text: String,
    exclusion: bool,
    line: usize,
    matcher: Matcher,
}

/// How patternmatcher tests a pattern. It skips its regexp when a plain string test will do, and
/// those shortcuts are not always what the regexp would say (`**file` also matches `xfile`), so
/// they are reproduced rather than replaced by the regexp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    Regexp,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact,
    /// Starts with the pattern minus its trailing `**`.
    Prefix,
    /// Ends with the pattern minus its leading `**`, compared as bytes because Go slices bytes
    /// here and can cut into a multi-byte character.
    Suffix,
    Regexp {
        whole: Regex,
        /// The same regexp followed by `/` or the end, so one search covers a relative path and
        /// all its ancestors; `None` where that is not equivalent (see [`compile`]).
        or_ancestor: Option<Regex>,
    },
}

impl Pattern {
    /// patternmatcher's per-pattern step of MatchesOrParentMatches: the clean `path` itself, or
    /// else each ancestor of `parent` (its Go `filepath.Dir`, `None` for `.`).
    fn matches_or_parent(&self, path: &str, parent: Option<&str>) -> bool {
        // For a relative clean path the ancestors are exactly the prefixes that end just before
        // a `/`, which lets the common kinds avoid testing each one.
        if !path.starts_with('/') {
            match &self.matcher {
                Matcher::Exact => {
                    return path
                        .strip_prefix(self.text.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                }
                // Every ancestor is a prefix of the path, so none can add a match.
                Matcher::Prefix => return self.is_match(path),
                Matcher::Regexp {
                    or_ancestor: Some(re),
                    ..
                } => return re.is_match(path),
                _ => {}
            }
        }
        self.is_match(path) || parent.is_some_and(|dir| ancestors(dir).any(|d| self.is_match(d)))
    }

    fn is_match(&self, path: &str) -> bool {
        let text = self.text.as_bytes();
        let path_b = path.as_bytes();
        match &self.matcher {
            Matcher::Exact => path == self.text,
            Matcher::Prefix => path_b.starts_with(&text[..text.len() - 2]),
            Matcher::Suffix => {
                let suffix = &text[2..];
                path_b.ends_with(suffix)
                    || (suffix.first() == Some(&b'/') && path_b == &suffix[1..])
            }
            Matcher::Regexp { whole, .. } => whole.is_match(path),
        }
    }
}

/// bufio.Scanner's default token limit: Docker fails to read an ignore file with a longer line.
const MAX_LINE_BYTES: usize = 64 * 1024;

impl Dockerignore {
    /// Parses file contents (ignorefile semantics). Keeps each pattern's 1-based source line.
    ///
    /// Only lines whose very first character is `#` are comments: `  # x` is the pattern `# x`.
    pub fn parse(text: &str) -> Result<Dockerignore, PatternError> {
        let mut patterns = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            if raw.len() >= MAX_LINE_BYTES {
                return Err(PatternError {
                    pattern: raw.chars().take(40).collect::<String>() + "...",
                    line: Some(line),
                    message: format!("line is longer than Docker's {MAX_LINE_BYTES}-byte limit"),
                });
            }
            let raw = if index == 0 {
                raw.strip_prefix('\u{feff}').unwrap_or(raw)
            } else {
                raw
            };
            if let Some(pattern) = ignorefile_line(raw) {
                if let Some(p) = compile(&pattern, line, raw.trim())? {
                    patterns.push(p);
                }
            }
        }
        Ok(Dockerignore { patterns })
    }

    /// Builds from already-read patterns (patternmatcher.New semantics, `!` prefix allowed).
    ///
    /// Unlike [`Dockerignore::parse`] this keeps a leading `/` (so `/foo` never matches a
    /// relative path) and has no comments. Positions are 1-based and count skipped blank items.
    pub fn from_patterns<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Dockerignore, PatternError> {
        let mut compiled = Vec::new();
        for (index, item) in patterns.into_iter().enumerate() {
            if let Some(p) = compile(item, index + 1, item.trim())? {
                compiled.push(p);
            }
        }
        Ok(Dockerignore { patterns: compiled })
    }

    /// MatchesOrParentMatches: is `path` (slash-separated, relative to the context root) excluded from the build context?
    ///
    /// The path is cleaned first, like patternmatcher's package-level function; the context
    /// root itself (`.` or empty) is never excluded.
    pub fn matches(&self, path: &str) -> bool {
        self.decide(path).0
    }

    /// The 1-based line of the last pattern that decided `path`'s fate, if any (for diagnostics).
    pub fn deciding_line(&self, path: &str) -> Option<usize> {
        self.decide(path).1.map(|i| self.patterns[i].line)
    }

    /// The patterns as written (after cleaning), in order, with `!` kept.
    pub fn patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                let bang = if p.exclusion { "!" } else { "" };
                format!("{bang}{}", p.text)
            })
            .collect()
    }

    /// Returns the verdict and the index of the last pattern that matched.
    fn decide(&self, path: &str) -> (bool, Option<usize>) {
        let path = clean_cow(path);
        if path == "." {
            return (false, None);
        }
        // Go's filepath.Dir; the path is clean, so its parent is a plain prefix.
        let parent = match path.rfind('/') {
            None => None,
            Some(0) => Some("/"),
            Some(i) => Some(&path[..i]),
        };
        let mut excluded = false;
        let mut decider = None;
        for (index, pattern) in self.patterns.iter().enumerate() {
            // An include cannot change an excluded path and vice versa, so Go skips them.
            if pattern.exclusion != excluded {
                continue;
            }
            if pattern.matches_or_parent(&path, parent) {
                excluded = !pattern.exclusion;
                decider = Some(index);
            }
        }
        (excluded, decider)
    }
}

/// Each ancestor of the clean directory `dir`, outermost first, ending with `dir` itself. For a
/// rooted `dir` the first is the empty string, as Go's split-and-join produces.
fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    dir.match_indices('/')
        .map(move |(i, _)| &dir[..i])
        .chain(std::iter::once(dir))
}

/// One pattern exactly as Docker would judge it: `Ok(true)` when `pattern` alone excludes `path`
/// (the path or one of its parent directories matches), `Err` when Docker rejects the pattern.
///
/// This is patternmatcher's package-level `MatchesOrParentMatches(path, [pattern])`, which is what
/// the `match.tsv` table records. It is not Go's bare `filepath.Match` (that one says `a*` does not
/// match `ab/c`, while Docker excludes `ab/c` because its parent `ab` matches); `filepath.Match`
/// only supplies the syntax rules.
pub fn glob_match(pattern: &str, path: &str) -> Result<bool, PatternError> {
    match compile(pattern, 1, pattern.trim()) {
        Ok(compiled) => Ok(Dockerignore {
            patterns: compiled.into_iter().collect(),
        }
        .matches(path)),
        Err(e) => Err(PatternError { line: None, ..e }),
    }
}

/// The ignore file that applies to a build: `<dockerfile>.dockerignore` beside the Dockerfile if it exists, else `<context>/.dockerignore` if it exists.
///
/// A relative `dockerfile` is taken relative to `context` (pass an absolute path for a `-f` that
/// is relative to the working directory). Without one, BuildKit's default `Dockerfile` in the
/// context is assumed, so `<context>/Dockerfile.dockerignore` still wins over `.dockerignore`.
pub fn find_ignore_file(context: &Path, dockerfile: Option<&Path>) -> Option<PathBuf> {
    let dockerfile = context.join(dockerfile.unwrap_or(Path::new("Dockerfile")));
    let mut specific = dockerfile.into_os_string();
    specific.push(".dockerignore");
    let specific = PathBuf::from(specific);
    if specific.is_file() {
        return Some(specific);
    }
    let general = context.join(".dockerignore");
    general.is_file().then_some(general)
}

/// ignorefile.ReadAll for one line (BOM already removed): `None` for comments and blank lines.
fn ignorefile_line(line: &str) -> Option<String> {
    // The comment test comes before trimming, so an indented `#` is a pattern.
    if line.starts_with('#') {
        return None;
    }
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let (invert, rest) = match line.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, line),
    };
    let mut pattern = String::new();
    if invert {
        pattern.push('!');
    }
    if !rest.is_empty() {
        let cleaned = clean(rest);
        match cleaned.strip_prefix('/') {
            Some(relative) if !relative.is_empty() => pattern.push_str(relative),
            _ => pattern.push_str(&cleaned),
        }
    }
    Some(pattern)
}

/// patternmatcher.New for one item: `Ok(None)` for a blank item.
fn compile(item: &str, line: usize, source: &str) -> Result<Option<Pattern>, PatternError> {
    let fail = |message: String| PatternError {
        pattern: source.to_string(),
        line: Some(line),
        message,
    };
    let item = item.trim();
    if item.is_empty() {
        return Ok(None);
    }
    // Cleaning happens before the `!` is looked at, so `!a/../b` loses its `!` and `!/` is a
    // lone `!`.
    let cleaned = clean(item);
    let (exclusion, text) = match cleaned.strip_prefix('!') {
        Some("") => return Err(fail("illegal exclusion pattern: \"!\"".to_string())),
        Some(rest) => (true, rest),
        None => (false, cleaned.as_str()),
    };
    check_glob_syntax(text).map_err(|m| fail(format!("syntax error in pattern: {m}")))?;
    let (kind, go_regexp) = translate(text);
    let matcher = match kind {
        Kind::Exact => Matcher::Exact,
        Kind::Prefix => Matcher::Prefix,
        Kind::Suffix => Matcher::Suffix,
        Kind::Regexp => {
            // Docker only notices a bad regexp on the first match attempt and then fails the
            // build; rejecting it up front reports the same pattern without a walk.
            let rust = go_regexp_to_rust(&go_regexp).map_err(|m| {
                fail(format!(
                    "Docker cannot compile it (regexp {go_regexp:?}: {m})"
                ))
            })?;
            let no_equivalent =
                |e: regex::Error| fail(format!("regexp {go_regexp:?} has no Rust equivalent: {e}"));
            let whole = Regex::new(&rust).map_err(no_equivalent)?;
            // Only the appended final `$` tests for the end of the text unless the pattern has
            // escapes (`\z`, `\Q`), so elsewhere the ancestor test can be folded into the regexp.
            let or_ancestor = if text.contains('\\') {
                None
            } else {
                let body = go_regexp_to_rust(&go_regexp[..go_regexp.len() - 1])
                    .map_err(|m| fail(format!("regexp {go_regexp:?}: {m}")))?;
                Some(Regex::new(&format!("{body}(?:/|$)")).map_err(no_equivalent)?)
            };
            Matcher::Regexp { whole, or_ancestor }
        }
    };
    Ok(Some(Pattern {
        text: text.to_string(),
        exclusion,
        line,
        matcher,
    }))
}

/// Go's `filepath.Clean` for slash-separated paths.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    // `..` elements kept at the front of a relative path; they cannot be cancelled.
    let mut kept_dotdots = 0;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.len() > kept_dotdots {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                    kept_dotdots += 1;
                }
            }
            name => parts.push(name),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// [`clean`] without allocating for the paths a directory walk produces, which are already clean.
fn clean_cow(path: &str) -> Cow<'_, str> {
    let body = path.strip_prefix('/').unwrap_or(path);
    let rooted = body.len() != path.len();
    let mut named = false;
    let mut is_clean = path == "/" || !body.is_empty();
    if path != "/" {
        for part in body.split('/') {
            match part {
                "" | "." => is_clean = false,
                ".." if rooted || named => is_clean = false,
                ".." => {}
                _ => named = true,
            }
        }
    }
    if is_clean {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(clean(path))
    }
}

/// The syntax rules of Go's `filepath.Match` (Unix): every malformed pattern is an error there,
/// whatever the name, so the check needs no name.
fn check_glob_syntax(pattern: &str) -> Result<(), &'static str> {
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next().ok_or("trailing backslash")?;
            }
            '[' => {
                if chars.peek() == Some(&'^') {
                    chars.next();
                }
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chars.peek() == Some(&']') {
                        chars.next();
                        break;
                    }
                    class_char(&mut chars)?;
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        class_char(&mut chars)?;
                    }
                    ranges += 1;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// One possibly escaped character of a `[...]` class; Go insists something follows it.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<(), &'static str> {
    match chars.next() {
        None => return Err("unterminated character class"),
        Some('-') => return Err("unescaped '-' in character class"),
        Some(']') => return Err("empty character class or unescaped ']'"),
        Some('\\') => {
            chars.next().ok_or("trailing backslash")?;
        }
        Some(_) => {}
    }
    match chars.peek() {
        Some(_) => Ok(()),
        None => Err("unterminated character class"),
    }
}

/// patternmatcher's glob-to-regexp translation, producing Go regexp syntax plus the shortcut the
/// pattern qualifies for.
///
/// Only `*`, `?` and `**` are translated; `[`, `]` and escapes pass through to the regexp engine
/// verbatim, which is why the result must be read with Go's regexp rules.
fn translate(pattern: &str) -> (Kind, String) {
    let mut re = String::from("^");
    let mut kind = Kind::Exact;
    let mut chars = pattern.chars().peekable();
    // Go reads the pattern with text/scanner, which drops a leading byte-order mark.
    if chars.peek() == Some(&'\u{feff}') {
        chars.next();
    }
    let mut first = true;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_some() {
                    re.push_str("(.*/)?");
                    kind = Kind::Regexp;
                } else if kind == Kind::Exact {
                    kind = Kind::Prefix;
                } else {
                    re.push_str(".*");
                    kind = Kind::Regexp;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regexp;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regexp;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(c);
            }
            '\\' => match chars.next() {
                Some(next) => {
                    re.push('\\');
                    re.push(next);
                    kind = Kind::Regexp;
                }
                None => re.push('\\'),
            },
            '[' | ']' => {
                re.push(c);
                kind = Kind::Regexp;
            }
            _ => re.push(c),
        }
        first = false;
    }
    re.push('$');
    (kind, re)
}

/// A piece of the Rust regex being built; alternation bars cannot take a quantifier.
enum Atom {
    Operand(String),
    Bar,
}

fn concat(atoms: &[Atom]) -> String {
    atoms
        .iter()
        .map(|a| match a {
            Atom::Operand(s) => s.as_str(),
            Atom::Bar => "|",
        })
        .collect()
}

/// Rewrites regexp text from [`translate`] (Go RE2 syntax) as an equivalent Rust regex.
///
/// The dialects differ exactly where user text reaches the regexp: Go reads `[` inside a class
/// literally where Rust nests classes, Go's `\d` `\s` `\w` `\b` are ASCII-only, Go has octal
/// escapes and `\Q...\E`, Rust has class set operators. Every literal is therefore re-emitted
/// as a hex escape. Constructs the translation cannot produce (`(?`, `{`) are refused.
fn go_regexp_to_rust(src: &str) -> Result<String, String> {
    let s: Vec<char> = src.chars().collect();
    let mut outer: Vec<Vec<Atom>> = Vec::new();
    let mut cur: Vec<Atom> = Vec::new();
    let mut i = 0;
    let mut after_repeat = false;
    while i < s.len() {
        let mut repeat = false;
        match s[i] {
            '(' => {
                if s.get(i + 1) == Some(&'?') {
                    return Err("unsupported group syntax".into());
                }
                outer.push(std::mem::take(&mut cur));
                i += 1;
            }
            ')' => {
                let parent = outer.pop().ok_or("unexpected )")?;
                let inner = std::mem::replace(&mut cur, parent);
                cur.push(Atom::Operand(format!("(?:{})", concat(&inner))));
                i += 1;
            }
            '|' => {
                cur.push(Atom::Bar);
                i += 1;
            }
            '*' | '+' | '?' => {
                let mut op = s[i].to_string();
                i += 1;
                if s.get(i) == Some(&'?') {
                    op.push('?');
                    i += 1;
                }
                if after_repeat {
                    return Err(format!("invalid nested repetition operator: {op}"));
                }
                match cur.last_mut() {
                    Some(Atom::Operand(text)) => *text = format!("(?:{text}){op}"),
                    _ => return Err(format!("missing argument to repetition operator: {op}")),
                }
                repeat = true;
            }
            '{' => return Err("unsupported repetition syntax".into()),
            '^' | '$' | '.' => {
                cur.push(Atom::Operand(s[i].to_string()));
                i += 1;
            }
            '[' => {
                let (class, next) = parse_class(&s, i + 1)?;
                cur.push(Atom::Operand(class));
                i = next;
            }
            '\\' => i = parse_top_escape(&s, i, &mut cur)?,
            c => {
                cur.push(Atom::Operand(literal(c)));
                i += 1;
            }
        }
        after_repeat = repeat;
    }
    if !outer.is_empty() {
        return Err("missing closing )".into());
    }
    Ok(concat(&cur))
}

/// A backslash sequence outside a class; returns the index after it.
fn parse_top_escape(s: &[char], i: usize, cur: &mut Vec<Atom>) -> Result<usize, String> {
    let simple = match s.get(i + 1) {
        Some('A') => Some(r"\A"),
        Some('z') => Some(r"\z"),
        Some('b') => Some(r"(?-u:\b)"),
        Some('B') => Some(r"(?-u:\B)"),
        _ => None,
    };
    if let Some(text) = simple {
        cur.push(Atom::Operand(text.to_string()));
        return Ok(i + 2);
    }
    match s.get(i + 1) {
        Some('C') => Err(r"invalid escape sequence: \C".into()),
        Some('Q') => {
            // Everything up to `\E` (or the end, swallowing the closing `$`) is literal.
            let start = i + 2;
            let end = (start..s.len())
                .find(|&j| s[j] == '\\' && s.get(j + 1) == Some(&'E'))
                .unwrap_or(s.len());
            cur.extend(s[start..end].iter().map(|&c| Atom::Operand(literal(c))));
            Ok((end + 2).min(s.len()))
        }
        Some('p' | 'P') => {
            let (item, next) = unicode_class(s, i)?;
            cur.push(Atom::Operand(format!("[{item}]")));
            Ok(next)
        }
        Some(&c) => match perl_class(c) {
            Some(item) => {
                cur.push(Atom::Operand(format!("[{item}]")));
                Ok(i + 2)
            }
            None => {
                let (c, next) = parse_escape(s, i)?;
                cur.push(Atom::Operand(literal(c)));
                Ok(next)
            }
        },
        None => Err("trailing backslash at end of expression".into()),
    }
}

/// Go's single-character escapes; `s[i]` is the backslash.
fn parse_escape(s: &[char], i: usize) -> Result<(char, usize), String> {
    let c = *s
        .get(i + 1)
        .ok_or("trailing backslash at end of expression")?;
    let mut next = i + 2;
    let invalid = || format!("invalid escape sequence: \\{c}");
    let value = match c {
        // A lone non-zero digit would be a backreference, which RE2 lacks.
        '1'..='7' if !matches!(s.get(next), Some('0'..='7')) => return Err(invalid()),
        '0'..='7' => {
            let mut value = c as u32 - '0' as u32;
            for _ in 0..2 {
                match s.get(next) {
                    Some(&d @ '0'..='7') => {
                        value = value * 8 + (d as u32 - '0' as u32);
                        next += 1;
                    }
                    _ => break,
                }
            }
            char::from_u32(value).ok_or_else(invalid)?
        }
        // `\x{...}` cannot occur: the translation escapes every `{`.
        'x' => {
            let hi = s.get(next).and_then(|d| d.to_digit(16));
            let lo = s.get(next + 1).and_then(|d| d.to_digit(16));
            match (hi, lo) {
                (Some(hi), Some(lo)) => {
                    next += 2;
                    char::from_u32(hi * 16 + lo).ok_or_else(invalid)?
                }
                _ => return Err(invalid()),
            }
        }
        'a' => '\u{7}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => c,
        _ => return Err(invalid()),
    };
    Ok((value, next))
}

/// A `[...]` class read with Go's rules, starting just after the `[`; returns the Rust class and
/// the index after the closing `]`.
fn parse_class(s: &[char], start: usize) -> Result<(String, usize), String> {
    let mut j = start;
    let negated = s.get(j) == Some(&'^');
    if negated {
        j += 1;
    }
    let mut items = String::new();
    let mut first = true;
    loop {
        // A `]` right after `[` or `[^` is a member, not the end.
        if !first && s.get(j) == Some(&']') {
            j += 1;
            break;
        }
        first = false;
        if s.len() > j + 2 && s[j] == '[' && s[j + 1] == ':' {
            // Go looks for the closing `:]` anywhere further on, even past this class.
            if let Some(colon) = (j + 2..s.len() - 1).find(|&k| s[k] == ':' && s[k + 1] == ']') {
                let name: String = s[j..colon + 2].iter().collect();
                items.push_str(
                    &posix_class(&name)
                        .ok_or_else(|| format!("invalid character class range: {name}"))?,
                );
                j = colon + 2;
                continue;
            }
        }
        if s.get(j) == Some(&'\\') {
            if matches!(s.get(j + 1), Some('p' | 'P')) {
                let (item, next) = unicode_class(s, j)?;
                items.push_str(&item);
                j = next;
                continue;
            }
            if let Some(item) = s.get(j + 1).and_then(|&c| perl_class(c)) {
                items.push_str(item);
                j += 2;
                continue;
            }
        }
        let (lo, next) = class_member(s, j)?;
        j = next;
        let mut hi = lo;
        if s.len() >= j + 2 && s[j] == '-' && s[j + 1] != ']' {
            let (h, next) = class_member(s, j + 1)?;
            if h < lo {
                return Err(format!("invalid character class range: {lo}-{h}"));
            }
            hi = h;
            j = next;
        }
        items.push_str(&literal(lo));
        if hi != lo {
            items.push('-');
            items.push_str(&literal(hi));
        }
    }
    let caret = if negated { "^" } else { "" };
    Ok((format!("[{caret}{items}]"), j))
}

fn class_member(s: &[char], j: usize) -> Result<(char, usize), String> {
    match s.get(j) {
        None => Err("missing closing ]".into()),
        Some('\\') => parse_escape(s, j),
        Some(&c) => Ok((c, j + 1)),
    }
}

/// `\pX` / `\PX` as a Rust class item; `s[i]` is the backslash. Only one-letter names can
/// occur because the translation escapes `{`.
fn unicode_class(s: &[char], i: usize) -> Result<(String, usize), String> {
    let negated = s.get(i + 1) == Some(&'P');
    let name = s.get(i + 2).copied();
    let item = match name {
        // Go's `C` leaves out unassigned code points, Rust's includes them.
        Some('C') if negated => r"[^\p{Cc}\p{Cf}\p{Co}]".to_string(),
        Some('C') => r"\p{Cc}\p{Cf}\p{Co}".to_string(),
        Some(c @ ('L' | 'M' | 'N' | 'P' | 'S' | 'Z')) => {
            format!(r"\{}{{{c}}}", if negated { 'P' } else { 'p' })
        }
        _ => {
            let seq: String = s[i..(i + 3).min(s.len())].iter().collect();
            return Err(format!("invalid character class range: {seq}"));
        }
    };
    Ok((item, i + 3))
}

/// Go's Perl classes, which are ASCII-only (Rust's are Unicode by default).
fn perl_class(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => r"0-9",
        'D' => r"[^0-9]",
        's' => r"\t\n\x0C\r\x20",
        'S' => r"[^\t\n\x0C\r\x20]",
        'w' => r"0-9A-Za-z_",
        'W' => r"[^0-9A-Za-z_]",
        _ => return None,
    })
}

/// Go's ASCII `[:name:]` classes, spelled out so they do not depend on Rust's reading of them.
fn posix_class(name: &str) -> Option<String> {
    let (negated, bare) = match name.strip_prefix("[:^") {
        Some(rest) => (true, rest),
        None => (false, name.strip_prefix("[:")?),
    };
    let members = match bare.strip_suffix(":]")? {
        "alnum" => r"0-9A-Za-z",
        "alpha" => r"A-Za-z",
        "ascii" => r"\x00-\x7F",
        "blank" => r"\t\x20",
        "cntrl" => r"\x00-\x1F\x7F",
        "digit" => r"0-9",
        "graph" => r"\x21-\x7E",
        "lower" => r"a-z",
        "print" => r"\x20-\x7E",
        "punct" => r"\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E",
        "space" => r"\t\n\x0B\x0C\r\x20",
        "upper" => r"A-Z",
        "word" => r"0-9A-Za-z_",
        "xdigit" => r"0-9A-Fa-f",
        _ => return None,
    };
    Some(if negated {
        format!("[^{members}]")
    } else {
        members.to_string()
    })
}

/// A literal character, immune to Rust's metacharacters both outside and inside a class (where
/// Rust also has `&&`, `--`, `~~` and nesting).
fn literal(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!(r"\x{{{:X}}}", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    macro_rules! table {
        ($file:literal) => {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/conformance/dockerignore/",
                $file
            )
        };
    }

    /// What a table row came to.
    enum Row {
        Pass,
        Fail(String),
        /// The row itself could not be read, so nothing was checked.
        Unreadable(String),
    }

    fn parse_bool(s: &str) -> Result<bool, Row> {
        match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Row::Unreadable(format!("bad boolean {s:?}"))),
        }
    }

    /// Runs `check` on every data row of a TSV table (first line is the header) and fails
    /// with every bad row listed, or if fewer rows were checked than the file holds.
    fn run_table(path: &str, check: impl Fn(&[&str]) -> Row) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let data_rows = text
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        let mut checked = 0;
        let mut failures = Vec::new();
        for (index, line) in text.lines().enumerate().skip(1) {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let why = match check(&cols) {
                Row::Pass => {
                    checked += 1;
                    continue;
                }
                Row::Fail(why) => {
                    checked += 1;
                    why
                }
                Row::Unreadable(why) => format!("unreadable row: {why}"),
            };
            failures.push(format!("  line {} {cols:?}: {why}", index + 1));
        }
        assert!(
            failures.is_empty() && checked == data_rows && data_rows > 0,
            "{path}: {checked} of {data_rows} data rows checked, {} bad:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    fn expect_match(patterns: &[&str], path: &str, expected: &str) -> Row {
        let expected = match parse_bool(expected) {
            Ok(b) => b,
            Err(row) => return row,
        };
        match Dockerignore::from_patterns(patterns.iter().copied()) {
            Err(e) => Row::Fail(format!("unexpected error {e}")),
            Ok(di) if di.matches(path) == expected => Row::Pass,
            Ok(_) => Row::Fail(format!("expected {expected}, got {}", !expected)),
        }
    }

    #[test]
    fn conformance_matches_tsv() {
        run_table(table!("matches.tsv"), |cols| match *cols {
            [pattern, path, expected] => expect_match(&[pattern], path, expected),
            _ => Row::Unreadable("expected 3 columns".into()),
        });
    }

    #[test]
    fn conformance_multi_tsv() {
        run_table(table!("multi.tsv"), |cols| match *cols {
            [patterns, path, expected] => {
                let patterns: Vec<&str> = patterns.split(',').collect();
                expect_match(&patterns, path, expected)
            }
            _ => Row::Unreadable("expected 3 columns".into()),
        });
    }

    #[test]
    fn conformance_match_tsv() {
        run_table(table!("match.tsv"), |cols| {
            let (pattern, path, expected, error) = match *cols {
                [p, s, m] => (p, s, m, ""),
                [p, s, m, e] => (p, s, m, e),
                _ => return Row::Unreadable("expected 3 or 4 columns".into()),
            };
            let expected = match parse_bool(expected) {
                Ok(b) => b,
                Err(row) => return row,
            };
            match (error, glob_match(pattern, path)) {
                ("bad-pattern", Err(_)) => Row::Pass,
                ("bad-pattern", Ok(got)) => Row::Fail(format!("expected an error, got Ok({got})")),
                ("", Ok(got)) if got == expected => Row::Pass,
                ("", Ok(got)) => Row::Fail(format!("expected {expected}, got {got}")),
                ("", Err(e)) => Row::Fail(format!("unexpected error {e}")),
                (other, _) => Row::Unreadable(format!("unknown error column {other:?}")),
            }
        });
    }

    fn parsed(text: &str) -> Vec<String> {
        Dockerignore::parse(text).unwrap().patterns()
    }

    #[test]
    fn parse_skips_comments_and_blank_lines() {
        let text = "# comment\n\n   \nfoo\n\t bar \t\n  # indented is a pattern\n";
        assert_eq!(parsed(text), ["foo", "bar", "# indented is a pattern"]);
    }

    #[test]
    fn parse_strips_bom_on_first_line_only() {
        assert_eq!(parsed("\u{feff}foo\nbar"), ["foo", "bar"]);
        assert_eq!(parsed("\u{feff}# comment\nbar"), ["bar"]);
        assert_eq!(parsed("foo\n\u{feff}bar"), ["foo", "\u{feff}bar"]);
    }

    #[test]
    fn parse_exclusions() {
        assert_eq!(
            parsed("*.md\n!README.md\n! /docs/keep.md \n!./x"),
            ["*.md", "!README.md", "!docs/keep.md", "!x"]
        );
        let di = Dockerignore::parse("*.md\n!README.md").unwrap();
        assert!(di.matches("CHANGES.md"));
        assert!(!di.matches("README.md"));
    }

    #[test]
    fn parse_cleans_patterns() {
        assert_eq!(parsed("/foo\n/a/b/"), ["foo", "a/b"]);
        assert_eq!(
            parsed("./x\nx/../y\na//b/./c\n../up\n/"),
            ["x", "y", "a/b/c", "../up", "/"]
        );
        assert_eq!(parsed("/../etc"), ["etc"]);
        // from_patterns is patternmatcher.New: it cleans but keeps the leading slash.
        let di = Dockerignore::from_patterns(["/foo", "./bar/"]).unwrap();
        assert_eq!(di.patterns(), ["/foo", "bar"]);
        assert!(!di.matches("foo"));
        assert!(di.matches("bar/baz"));
    }

    #[test]
    fn parse_rejects_lone_bang() {
        let err = Dockerignore::parse("foo\n# c\n  !  \n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.pattern, "!");
        // Cleaning `!/` drops the slash before the `!` is examined.
        assert_eq!(Dockerignore::parse("!/").unwrap_err().line, Some(1));
        assert!(Dockerignore::from_patterns(["ok", "!"]).is_err());
        // Cleaning also swallows a `!` that is a directory name: this is the plain pattern `b`.
        assert_eq!(
            Dockerignore::from_patterns(["!a/../b"]).unwrap().patterns(),
            ["b"]
        );
    }

    #[test]
    fn parse_rejects_bad_globs_with_their_line() {
        let err = Dockerignore::parse("ok\n\nsrc/[a-\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.pattern, "src/[a-");
        assert!(err.to_string().starts_with("line 3: "));
        let err = Dockerignore::from_patterns(["a", "b\\"]).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(glob_match("[", "a").unwrap_err().line, None);
    }

    #[test]
    fn parse_rejects_overlong_lines() {
        let long = "a".repeat(MAX_LINE_BYTES);
        assert!(Dockerignore::parse(&format!("x\n{long}")).is_err());
        assert!(Dockerignore::parse(&long[1..]).is_ok());
    }

    #[test]
    fn deciding_line_names_the_last_matching_pattern() {
        let di = Dockerignore::parse("# secrets\n*.env\n!keep.env\nconf/\n").unwrap();
        assert_eq!(di.deciding_line("prod.env"), Some(2));
        assert_eq!(di.deciding_line("keep.env"), Some(3));
        assert!(!di.matches("keep.env"));
        assert_eq!(di.deciding_line("conf/db.yml"), Some(4));
        assert_eq!(di.deciding_line("src/main.rs"), None);
        assert_eq!(di.deciding_line("."), None);
    }

    #[test]
    fn parent_directories_and_exclusions() {
        let di = Dockerignore::parse("build\n!build/keep\n").unwrap();
        assert!(di.matches("build/out/a.o"));
        assert!(!di.matches("build/keep"));
        // The exception also lets the directory's contents back in, via the parent check.
        assert!(!di.matches("build/keep/x"));
        assert!(!di.matches(""));
        assert!(!di.matches("./"));
        assert!(di.matches("./build/x"));
    }

    #[test]
    fn shortcuts_behave_like_go() {
        // `**file` is a suffix test on the whole path, not a name match.
        assert!(glob_match("**file", "dir/notfile").unwrap());
        assert!(glob_match("**/foo", "foo").unwrap());
        assert!(!glob_match("abc/**", "abc").unwrap());
        assert!(glob_match("abc**", "abcdef").unwrap());
        // A regexp-special character alone does not leave the exact comparison.
        assert!(glob_match("a^b", "a^b").unwrap());
        assert!(!glob_match("a^b?", "a^bc").unwrap());
    }

    #[test]
    fn go_regexp_dialect() {
        // `[` inside a Go class is a member, and `[!...]` is not a negation.
        assert!(glob_match("[[]", "[").unwrap());
        assert!(glob_match("[!a]", "!").unwrap());
        assert!(!glob_match("[!a]", "b").unwrap());
        // Escaped letters reach Go's regexp as its escapes.
        assert!(glob_match(r"a\d", "a1").unwrap());
        assert!(!glob_match(r"a\d", "ad").unwrap());
        assert!(!glob_match(r"\d", "٣").unwrap());
        assert!(glob_match(r"\x41", "A").unwrap());
        assert!(glob_match(r"\101", "A").unwrap());
        assert!(glob_match("[[:digit:]]x", "7x").unwrap());
        assert!(glob_match(r"\pL?", "é1").unwrap());
        // `?` and `*` inside a class expand to a class of their own that ends the user's early.
        assert!(glob_match("[*]", "]").unwrap());
        assert!(!glob_match("[*]", "*").unwrap());
        // Accepted by filepath.Match but not by Go's regexp compiler.
        assert!(glob_match("[z-a]", "b").is_err());
        assert!(glob_match(r"\q", "q").is_err());
        assert!(glob_match(r"\1", "1").is_err());
        // `\Q` quotes the rest, including the `$` anchor the translation appended.
        assert!(glob_match(r"\Qa.b", "a\\.b$").unwrap());
        assert!(!glob_match(r"\Qa.b", "a.b").unwrap());
    }

    #[test]
    fn translation_agrees_with_patternmatcher() {
        use Kind::*;
        for (pattern, kind, regexp) in [
            ("*", Regexp, r"^[^/]*$"),
            ("file*", Regexp, r"^file[^/]*$"),
            ("*file", Regexp, r"^[^/]*file$"),
            ("a*/b", Regexp, r"^a[^/]*/b$"),
            ("**", Suffix, ""),
            ("**/**", Regexp, r"^(.*/)?.*$"),
            ("dir/**", Prefix, ""),
            ("**/dir", Suffix, ""),
            ("**/dir2/*", Regexp, r"^(.*/)?dir2/[^/]*$"),
            ("**/dir2/**", Regexp, r"^(.*/)?dir2/.*$"),
            ("**file", Suffix, ""),
            ("**/file*txt", Regexp, r"^(.*/)?file[^/]*txt$"),
            ("**/**/*.txt", Regexp, r"^(.*/)?(.*/)?[^/]*\.txt$"),
            ("a[b-d]e", Regexp, r"^a[b-d]e$"),
            (".*", Regexp, r"^\.[^/]*$"),
            ("abc.def", Exact, ""),
            ("abc?def", Regexp, r"^abc[^/]def$"),
            ("**/foo/bar", Suffix, ""),
            ("a(b)c/def", Exact, ""),
            ("a.|)$(}+{bc", Exact, ""),
        ] {
            let (got_kind, got_regexp) = translate(&clean(pattern));
            assert_eq!(got_kind, kind, "{pattern}");
            if kind == Regexp {
                assert_eq!(got_regexp, regexp, "{pattern}");
            }
        }
    }

    #[test]
    fn regexp_errors_are_reported_at_parse_time() {
        // moby/moby#52203: valid for filepath.Match (which never checks range order) but not
        // for Go's regexp, so Docker fails the build when it first tries to match.
        let err = Dockerignore::parse("node_modules\n[Local-Only]/\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.pattern, "[Local-Only]/");
    }

    #[test]
    fn go_clean() {
        for (input, want) in [
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("//a//b//", "/a/b"),
            ("a/./b/../c", "a/c"),
            ("../../a", "../../a"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("!foo/../bar", "bar"),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
            assert_eq!(clean_cow(input), want, "clean_cow({input:?})");
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "caulk-dockerignore-{tag}-{}-{nanos}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn find_ignore_file_precedence() {
        let tmp = TempDir::new("find");
        let ctx = tmp.0.as_path();
        let dockerfile = Path::new("docker/app.Dockerfile");
        std::fs::create_dir_all(ctx.join("docker")).unwrap();
        assert_eq!(find_ignore_file(ctx, Some(dockerfile)), None);
        assert_eq!(find_ignore_file(ctx, None), None);

        std::fs::write(ctx.join(".dockerignore"), "*.log\n").unwrap();
        assert_eq!(
            find_ignore_file(ctx, Some(dockerfile)),
            Some(ctx.join(".dockerignore"))
        );

        let specific = ctx.join("docker/app.Dockerfile.dockerignore");
        std::fs::write(&specific, "secrets/\n").unwrap();
        assert_eq!(
            find_ignore_file(ctx, Some(dockerfile)),
            Some(specific.clone())
        );
        // An absolute Dockerfile path works the same way.
        let absolute = ctx.join(dockerfile);
        assert_eq!(find_ignore_file(ctx, Some(&absolute)), Some(specific));
        // Without -f BuildKit uses `Dockerfile`, so its own ignore file wins at the root.
        assert_eq!(find_ignore_file(ctx, None), Some(ctx.join(".dockerignore")));
        std::fs::write(ctx.join("Dockerfile.dockerignore"), "x\n").unwrap();
        assert_eq!(
            find_ignore_file(ctx, None),
            Some(ctx.join("Dockerfile.dockerignore"))
        );
        // A directory is not an ignore file.
        std::fs::create_dir(ctx.join("other.Dockerfile.dockerignore")).unwrap();
        assert_eq!(
            find_ignore_file(ctx, Some(Path::new("other.Dockerfile"))),
            Some(ctx.join(".dockerignore"))
        );
    }

    fn literal_path() -> impl Strategy<Value = Vec<String>> {
        // The first character keeps `.` and `..` out, which cleaning would rewrite.
        prop::collection::vec("[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,7}", 1..6)
    }

    /// Glob-ish patterns built from pieces that exercise every matcher kind.
    fn glob_pattern() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "a",
            "b",
            "ab",
            "/",
            "*",
            "**",
            "?",
            ".",
            "[ab]",
            "[^a]",
            "[/]",
            "^",
            "$",
            "(",
            "]",
            "\\z",
            "\\b",
            "\\.",
            "\\Qa",
            "[[:alpha:]]",
            "-",
            "..",
        ]);
        prop::collection::vec(piece, 1..6).prop_map(|v| v.concat())
    }

    fn any_path() -> impl Strategy<Value = String> {
        let segment = prop::sample::select(vec!["a", "b", "ab", "ba", "a.b", ".a", "^", "$", "x"]);
        prop::collection::vec(segment, 1..5).prop_map(|v| v.join("/"))
    }

    proptest! {
        #[test]
        fn parent_pattern_excludes_and_bang_path_reincludes(
            segs in literal_path(),
            cut in 0usize..6,
        ) {
            let path = segs.join("/");
            let parent = segs[..(cut % segs.len()) + 1].join("/");
            let di = Dockerignore::parse(&format!("{parent}\n")).unwrap();
            prop_assert!(di.matches(&path));
            prop_assert_eq!(di.deciding_line(&path), Some(1));
            let di = Dockerignore::parse(&format!("/{parent}/\n!{path}\n")).unwrap();
            prop_assert!(!di.matches(&path));
            prop_assert_eq!(di.deciding_line(&path), Some(2));
            // Without glob characters a pattern matches just itself.
            prop_assert!(glob_match(&path, &path).unwrap());
        }

        #[test]
        fn shortcuts_equal_the_ancestor_walk(
            pattern in glob_pattern(),
            paths in prop::collection::vec(any_path(), 1..8),
        ) {
            let Ok(Some(compiled)) = compile(&pattern, 1, &pattern) else {
                return Ok(());
            };
            for path in &paths {
                let path = clean(path);
                let parent = path.rfind('/').map(|i| if i == 0 { "/" } else { &path[..i] });
                let walked = compiled.is_match(&path)
                    || parent.is_some_and(|dir| ancestors(dir).any(|d| compiled.is_match(d)));
                let fast = compiled.matches_or_parent(&path, parent);
                prop_assert_eq!(fast, walked, "{} on {}", pattern, path);
            }
        }
    }
}
