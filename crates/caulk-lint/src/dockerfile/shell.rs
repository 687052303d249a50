//! Dockerfile word processing and variable expansion, matching BuildKit's shell lexer.
//! caulk uses it to expand instruction arguments and to learn which build args they reference.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

/// How deeply `${...}` words may nest. BuildKit has no bound (Go stacks grow on demand), but
/// a native stack does not, and real Dockerfiles stay far below this.
const MAX_DEPTH: usize = 100;

/// An error from word processing: an unterminated quote or brace, a bad substitution, or a
/// `${VAR?message}` whose variable is unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellError {
    /// What went wrong, worded after BuildKit's messages.
    pub message: String,
}

impl ShellError {
    fn new(message: impl Into<String>) -> ShellError {
        ShellError {
            message: message.into(),
        }
    }
}

impl fmt::Display for ShellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ShellError {}

/// Variables visible to expansion, in order; later entries win.
pub trait Env {
    /// The value of the variable named exactly `name`, if it is set (possibly to "").
    fn lookup(&self, name: &str) -> Option<String>;

    /// The value of a variable whose name equals `name` ignoring case, as builds for Windows
    /// images match names. The default matches exactly; implementations that can enumerate
    /// their names should override it.
    fn lookup_ignore_case(&self, name: &str) -> Option<String> {
        self.lookup(name)
    }
}

impl Env for [(String, String)] {
    fn lookup(&self, name: &str) -> Option<String> {
        self.iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    fn lookup_ignore_case(&self, name: &str) -> Option<String> {
        self.iter()
            .rev()
            .find(|(key, _)| eq_ignore_case(key, name))
            .map(|(_, value)| value.clone())
    }
}

impl Env for Vec<(String, String)> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.as_slice().lookup(name)
    }

    fn lookup_ignore_case(&self, name: &str) -> Option<String> {
        self.as_slice().lookup_ignore_case(name)
    }
}

/// Lets a borrowed slice (`&&[(String, String)]`) stand in as `&dyn Env`.
impl<E: Env + ?Sized> Env for &E {
    fn lookup(&self, name: &str) -> Option<String> {
        (**self).lookup(name)
    }

    fn lookup_ignore_case(&self, name: &str) -> Option<String> {
        (**self).lookup_ignore_case(name)
    }
}

impl<S: BuildHasher> Env for HashMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }

    fn lookup_ignore_case(&self, name: &str) -> Option<String> {
        if let Some(value) = self.get(name) {
            return Some(value.clone());
        }
        // BuildKit picks whichever case variant its map iteration meets first; picking the
        // smallest key at least keeps our answer stable from run to run.
        self.iter()
            .filter(|(key, _)| eq_ignore_case(key, name))
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, value)| value.clone())
    }
}

/// Newer BuildKit compares Windows names with Go's `strings.EqualFold`, older with `ToUpper`;
/// comparing both case mappings char by char agrees with them on any realistic name.
fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| {
            x == y || x.to_lowercase().eq(y.to_lowercase()) || x.to_uppercase().eq(y.to_uppercase())
        })
}

/// Processes words the way BuildKit does for Dockerfile instruction arguments: quotes,
/// escapes and `$VAR` / `${VAR...}` expansion, with optional splitting into words.
#[derive(Debug, Clone)]
pub struct Lexer {
    /// The escape token: `\` unless a `# escape=` directive chose `` ` ``.
    pub escape: char,
    /// Keep quote characters in the output while still honouring what they quote.
    pub raw_quotes: bool,
    /// Keep escape tokens in the output while still honouring what they escape.
    pub raw_escapes: bool,
    /// Leave references to unset variables as written instead of expanding them.
    pub skip_unset_env: bool,
    /// Treat quote characters as ordinary characters.
    pub skip_process_quotes: bool,
    /// Match variable names ignoring case, as builds for Windows images do.
    pub windows: bool,
}

impl Default for Lexer {
    fn default() -> Lexer {
        Lexer::new('\\')
    }
}

/// Everything one pass over a word yields; the public methods each return a part.
struct Processed {
    word: String,
    words: Vec<String>,
    refs: Vec<String>,
}

impl Lexer {
    /// A lexer with the given escape token and every option off.
    pub fn new(escape: char) -> Lexer {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            skip_process_quotes: false,
            windows: false,
        }
    }

    /// Removes quotes and escapes from `word` and expands its variable references.
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ShellError> {
        self.process(word, env).map(|p| p.word)
    }

    /// Like [`Lexer::process_word`], then splits the result into words at whitespace that was
    /// neither quoted nor escaped, including whitespace that came from unquoted expansions.
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ShellError> {
        self.process(word, env).map(|p| p.words)
    }

    /// Like [`Lexer::process_word`], and also returns the names of the variables the word
    /// referenced (in order, deduplicated), whether or not they were set.
    ///
    /// Names are as written in the word, so on Windows `$foo` and `$FOO` are two entries.
    /// Positional and special parameters (`$1`, `$@`) are listed like any other name.
    pub fn process_word_with_refs(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<(String, Vec<String>), ShellError> {
        self.process(word, env).map(|p| (p.word, p.refs))
    }

    fn process(&self, word: &str, env: &dyn Env) -> Result<Processed, ShellError> {
        let chars: Vec<char> = word.chars().collect();
        // Go's text/scanner, which BuildKit reads words with, drops a leading byte-order mark.
        let pos = usize::from(chars.first() == Some(&'\u{feff}'));
        let mut scanner = Scanner {
            lexer: self,
            env,
            chars,
            pos,
            raw_escapes: self.raw_escapes,
            depth: 0,
            refs: Vec::new(),
        };
        match scanner.word_until(None, self.raw_escapes) {
            Ok((word, words)) => Ok(Processed {
                word,
                words,
                refs: scanner.refs,
            }),
            Err(err) => Err(ShellError::new(format!(
                "failed to process {word:?}: {}",
                err.message
            ))),
        }
    }
}

/// Builds the word list alongside the processed word. Expansion results are split at
/// whitespace; quoted text and escaped characters never are.
#[derive(Default)]
struct Splitter {
    current: String,
    // True once anything, even an empty quoted string, has started the current word; an
    // empty word is still never emitted.
    in_word: bool,
    words: Vec<String>,
}

impl Splitter {
    fn add_char(&mut self, c: char) {
        if !c.is_whitespace() {
            self.add_raw_char(c);
        } else if self.in_word && !self.current.is_empty() {
            self.words.push(std::mem::take(&mut self.current));
            self.in_word = false;
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.current.push(c);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_str(&mut self, s: &str) {
        self.current.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.words.push(self.current);
        }
        self.words
    }
}

/// One pass over one word.
struct Scanner<'a> {
    lexer: &'a Lexer,
    env: &'a dyn Env,
    chars: Vec<char>,
    pos: usize,
    // Patterns inside `${VAR#...}` and `${VAR/...}` keep their escapes for the pattern
    // matcher, so this changes while nested words are read.
    raw_escapes: bool,
    depth: usize,
    refs: Vec<String>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads up to and past `stop` (or to the end when `stop` is `None`), returning the
    /// processed text and its split words.
    fn word_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ShellError> {
        if self.depth >= MAX_DEPTH {
            return Err(ShellError::new("substitutions are nested too deeply"));
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.word_until_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        result
    }

    fn word_until_inner(
        &mut self,
        stop: Option<char>,
    ) -> Result<(String, Vec<String>), ShellError> {
        let escape = self.lexer.escape;
        let quotes = !self.lexer.skip_process_quotes;
        let mut out = String::new();
        let mut words = Splitter::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((out, words.finish()));
            }
            if c == '$' {
                let value = self.dollar()?;
                out.push_str(&value);
                words.add_str(&value);
            } else if quotes && (c == '\'' || c == '"') {
                let value = if c == '\'' {
                    self.single_quoted()?
                } else {
                    self.double_quoted()?
                };
                out.push_str(&value);
                words.add_raw_str(&value);
            } else {
                self.pos += 1;
                let mut c = c;
                if c == escape {
                    if self.raw_escapes {
                        words.add_raw_char(c);
                        out.push(c);
                    }
                    // An escape token at the very end escapes nothing and vanishes.
                    match self.next() {
                        Some(escaped) => c = escaped,
                        None => break,
                    }
                    words.add_raw_char(c);
                } else {
                    words.add_char(c);
                }
                out.push(c);
            }
        }
        match stop {
            Some(stop) => Err(ShellError::new(format!(
                "unexpected end of statement while looking for matching {stop}"
            ))),
            None => Ok((out, words.finish())),
        }
    }

    /// Everything up to the closing `'` is literal, escape tokens included.
    fn single_quoted(&mut self) -> Result<String, ShellError> {
        let raw = self.lexer.raw_quotes;
        self.pos += 1;
        let mut out = String::new();
        if raw {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return Err(ShellError::new(
                        "unexpected end of statement while looking for matching single-quote",
                    ))
                }
                Some('\'') => {
                    if raw {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// Variables expand inside double quotes; the escape token only escapes `"`, `$` and
    /// itself there and is otherwise kept.
    fn double_quoted(&mut self) -> Result<String, ShellError> {
        let raw = self.lexer.raw_quotes;
        let escape = self.lexer.escape;
        self.pos += 1;
        let mut out = String::new();
        if raw {
            out.push('"');
        }
        loop {
            match self.peek() {
                None => {
                    return Err(ShellError::new(
                        "unexpected end of statement while looking for matching double-quote",
                    ))
                }
                Some('"') => {
                    self.pos += 1;
                    if raw {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let value = self.dollar()?;
                    out.push_str(&value);
                }
                Some(c) => {
                    self.pos += 1;
                    let mut c = c;
                    if c == escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            // The loop then reports the missing closing quote.
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == escape => {
                                self.pos += 1;
                                c = next;
                            }
                            // Kept as is, so with raw escapes it appears twice, as in BuildKit.
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    /// Expands the reference starting at the `$` under the cursor.
    fn dollar(&mut self) -> Result<String, ShellError> {
        let skip_unset = self.lexer.skip_unset_env;
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            self.note_ref(&name);
            return Ok(match self.get(&name) {
                Some(value) => value,
                None if skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(ShellError::new("syntax error: missing '}'")),
            Some('{' | '}' | ':') => return Err(ShellError::new("syntax error: bad substitution")),
            Some(_) => {}
        }
        let name = self.name();
        self.note_ref(&name);
        let Some(mut op) = self.next() else {
            return Err(ShellError::new("syntax error: missing '}'"));
        };
        match op {
            '}' => Ok(match self.get(&name) {
                Some(value) => value,
                None if skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let mut op_text = op.to_string();
                let empty_is_unset = op == ':';
                if empty_is_unset {
                    // Whatever follows the colon is taken as the operator, even `}` or `=`;
                    // unsupported ones are rejected only after their word has been read.
                    op = self
                        .next()
                        .ok_or_else(|| ShellError::new("syntax error: missing '}'"))?;
                    op_text.push(op);
                }
                let raw = op == '#' || op == '%';
                let word = self.nested_word('}', raw, "syntax error: missing '}'")?;
                let value = self.get(&name);
                if value.is_none() && skip_unset {
                    return Ok(format!("${{{name}{op_text}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let unset = !set || (empty_is_unset && value.is_empty());
                match op {
                    '-' => Ok(if unset { word } else { value }),
                    '+' => Ok(if unset { String::new() } else { word }),
                    '?' if unset => {
                        let message = if !word.is_empty() {
                            word
                        } else if set {
                            "is not allowed to be empty".to_string()
                        } else {
                            "is not allowed to be unset".to_string()
                        };
                        Err(ShellError::new(format!("{name}: {message}")))
                    }
                    '?' => Ok(value),
                    '#' | '%' => {
                        // A doubled operator asks for the longest match instead of the shortest.
                        let (pattern, greedy) = match word.strip_prefix(op) {
                            Some(rest) => (rest, true),
                            None => (word.as_str(), false),
                        };
                        if op == '#' {
                            trim_prefix(pattern, &value, greedy)
                        } else {
                            trim_suffix(pattern, &value, greedy)
                        }
                    }
                    _ => Err(ShellError::new(format!(
                        "unsupported modifier ({op_text}) in substitution"
                    ))),
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.pos += 1;
                }
                let pattern = self.nested_word('/', true, "syntax error: missing '/' in ${}")?;
                let replacement = self.nested_word('}', true, "syntax error: missing '}'")?;
                let value = match self.get(&name) {
                    Some(value) => value,
                    // BuildKit writes a single slash back here even for `//`.
                    None if skip_unset => {
                        return Ok(format!("${{{name}/{pattern}/{replacement}}}"))
                    }
                    None => String::new(),
                };
                let compiled = Pattern::compile(&pattern, true).map_err(|err| {
                    ShellError::new(format!(
                        "invalid pattern ({pattern}) in substitution: {err}"
                    ))
                })?;
                if all {
                    Ok(compiled.replace_all(&value, &replacement))
                } else {
                    // Only the replace-all form goes through Go's template expansion, so
                    // `$0` in a replacement is literal here.
                    Ok(match compiled.find(&value, 0, false) {
                        Some((start, end)) => {
                            format!("{}{replacement}{}", &value[..start], &value[end..])
                        }
                        None => value,
                    })
                }
            }
            _ => Err(ShellError::new(format!(
                "unsupported modifier ({op}) in substitution"
            ))),
        }
    }

    /// Reads the word of a `${...}` operator. Running out of input is reported as the missing
    /// delimiter, whatever nested error it caused.
    fn nested_word(&mut self, stop: char, raw: bool, at_end: &str) -> Result<String, ShellError> {
        match self.word_until(Some(stop), raw) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err(ShellError::new(at_end)),
            Err(err) => Err(err),
        }
    }

    /// Reads a variable name: a run of digits (positional), one special-parameter character,
    /// or letters, digits and underscores. Empty when none is there.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && is_digit(c) {
                while let Some(d) = self.peek().filter(|&d| is_digit(d)) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && is_special_param(c) {
                self.pos += 1;
                return c.to_string();
            }
            if !(c == '_' || is_letter_or_digit(c)) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }

    fn note_ref(&mut self, name: &str) {
        // An empty name (as in `${+x}`, which BuildKit accepts) refers to no variable.
        if !name.is_empty() && !self.refs.iter().any(|r| r == name) {
            self.refs.push(name.to_string());
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        if self.lexer.windows {
            self.env.lookup_ignore_case(name)
        } else {
            self.env.lookup(name)
        }
    }
}

/// POSIX special parameters; `0` is among them but digits are read as positional first.
fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

/// Go's `unicode.IsDigit`: decimal digits of any script.
fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_ranges(DIGIT_RANGES, c)
    }
}

/// Go's `unicode.IsLetter(c) || unicode.IsDigit(c)`. Rust's alphabetic/numeric properties
/// are wider (combining vowel signs, Roman numerals, superscripts), hence the tables.
fn is_letter_or_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        in_ranges(NAME_CHAR_RANGES, c)
    }
}

/// Binary search over a table of sorted, inclusive `start, end` pairs.
fn in_ranges(table: &[u32], c: char) -> bool {
    let c = u32::from(c);
    let (mut lo, mut hi) = (0, table.len() / 2);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if table[2 * mid + 1] < c {
            lo = mid + 1;
        } else if table[2 * mid] > c {
            hi = mid;
        } else {
            return true;
        }
    }
    false
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, ShellError> {
    let compiled = Pattern::compile(pattern, greedy).map_err(|err| {
        ShellError::new(format!(
            "invalid pattern ({pattern}) in substitution: {err}"
        ))
    })?;
    Ok(match compiled.find(value, 0, true) {
        Some((_, end)) => value[end..].to_string(),
        None => value.to_string(),
    })
}

/// A leftmost search cannot find the shortest match that ends at the end, so both the value
/// and the pattern are reversed and the prefix is trimmed instead, as BuildKit does.
fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, ShellError> {
    let reversed_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed_value, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern but keeps each `\x` escape pair in order so it still escapes `x`.
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut units: Vec<&[char]> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let len = if chars[i] == '\\' && i + 1 < chars.len() {
            2
        } else {
            1
        };
        units.push(&chars[i..i + len]);
        i += len;
    }
    units.iter().rev().flat_map(|unit| unit.iter()).collect()
}

/// One instruction of a compiled pattern, run as a Pike VM so that matching takes time
/// proportional to pattern times text, whatever the pattern.
#[derive(Debug, Clone, Copy)]
enum Inst {
    Char(char),
    /// Any character except a newline, like `.` in Go's regexp without the `s` flag.
    Any,
    /// Try the first target before the second.
    Split(usize, usize),
    Jmp(usize),
    Match,
}

/// A shell pattern (`*`, `?`, `\` escapes, no bracket expressions) with Go regexp's
/// leftmost-first match semantics, which is what BuildKit translates patterns into.
struct Pattern {
    prog: Vec<Inst>,
}

impl Pattern {
    /// Compiles `pattern`; a greedy `*` prefers the longest match, a lazy one the shortest.
    /// Pattern escapes are always `\`, whatever the Dockerfile's escape token.
    fn compile(pattern: &str, greedy: bool) -> Result<Pattern, String> {
        let mut prog = Vec::new();
        let mut chars = pattern.chars().peekable();
        // BuildKit reads patterns with Go's text/scanner too, which drops a leading BOM.
        if chars.peek() == Some(&'\u{feff}') {
            chars.next();
        }
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    let at = prog.len();
                    let (more, done) = (at + 1, at + 3);
                    prog.push(if greedy {
                        Inst::Split(more, done)
                    } else {
                        Inst::Split(done, more)
                    });
                    prog.push(Inst::Any);
                    prog.push(Inst::Jmp(at));
                }
                '?' => prog.push(Inst::Any),
                // `\}` and `\/` only keep the delimiter out of `${...}`: the backslash goes
                // and the delimiter is matched as itself on the next round.
                '\\' => match chars.peek().copied() {
                    Some('}' | '/') => {}
                    Some(escaped @ ('*' | '?' | '\\')) => {
                        chars.next();
                        prog.push(Inst::Char(escaped));
                    }
                    Some(other) => return Err(format!("invalid escape '\\{other}'")),
                    None => return Err("invalid escape at end of pattern".to_string()),
                },
                literal => prog.push(Inst::Char(literal)),
            }
        }
        prog.push(Inst::Match);
        Ok(Pattern { prog })
    }

    /// Byte range of the leftmost-first match starting at or after `from` (exactly at `from`
    /// when `anchored`).
    fn find(&self, text: &str, from: usize, anchored: bool) -> Option<(usize, usize)> {
        let mut marks = vec![0usize; self.prog.len()];
        let mut generation = 1;
        // Threads as (instruction, match start), highest priority first.
        let mut current: Vec<(usize, usize)> = Vec::new();
        let mut next: Vec<(usize, usize)> = Vec::new();
        let mut stack = Vec::new();
        let mut found = None;
        let mut pos = from;
        loop {
            let c = text.get(pos..).and_then(|rest| rest.chars().next());
            // A match starting later always ranks below every thread already running.
            if found.is_none() && (!anchored || pos == from) {
                self.add_thread(&mut current, &mut marks, generation, 0, pos, &mut stack);
            }
            if current.is_empty() {
                break;
            }
            let next_generation = generation + 1;
            for &(pc, start) in &current {
                let advances = match self.prog[pc] {
                    Inst::Match => {
                        // Lower-priority threads can no longer win.
                        found = Some((start, pos));
                        break;
                    }
                    Inst::Char(want) => c == Some(want),
                    Inst::Any => c.is_some_and(|c| c != '\n'),
                    Inst::Split(..) | Inst::Jmp(_) => false,
                };
                if advances {
                    self.add_thread(
                        &mut next,
                        &mut marks,
                        next_generation,
                        pc + 1,
                        start,
                        &mut stack,
                    );
                }
            }
            generation = next_generation;
            std::mem::swap(&mut current, &mut next);
            next.clear();
            match c {
                Some(c) => pos += c.len_utf8(),
                None => break,
            }
        }
        found
    }

    /// Adds the thread at `pc` and everything it reaches without consuming input, in
    /// priority order; an instruction already in `list` keeps its earlier, better thread.
    fn add_thread(
        &self,
        list: &mut Vec<(usize, usize)>,
        marks: &mut [usize],
        generation: usize,
        pc: usize,
        start: usize,
        stack: &mut Vec<usize>,
    ) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if marks[pc] == generation {
                continue;
            }
            marks[pc] = generation;
            match self.prog[pc] {
                Inst::Jmp(target) => stack.push(target),
                Inst::Split(first, second) => {
                    stack.push(second);
                    stack.push(first);
                }
                _ => list.push((pc, start)),
            }
        }
    }

    /// Go's `Regexp.ReplaceAllString`: non-overlapping matches left to right, an empty match
    /// right after a match is skipped, and the replacement is a template.
    fn replace_all(&self, value: &str, template: &str) -> String {
        let mut out = String::new();
        let mut last_end = 0;
        let mut search = 0;
        while search <= value.len() {
            let Some((start, end)) = self.find(value, search, false) else {
                break;
            };
            out.push_str(&value[last_end..start]);
            if end > last_end || start == 0 {
                expand_template(&mut out, template, &value[start..end]);
            }
            last_end = end;
            let width = value[search..].chars().next().map_or(1, char::len_utf8);
            search = if search + width > end {
                search + width
            } else {
                end
            };
        }
        out.push_str(&value[last_end..]);
        out
    }
}

/// Go's `Regexp.Expand` for a pattern without groups: `$$` is `$`, `$0` / `${0}` is the match,
/// any other well-formed `$name` is empty, and a malformed `$` is kept.
fn expand_template(out: &mut String, template: &str, matched: &str) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (body, braced) = match rest.strip_prefix('{') {
            Some(body) => (body, true),
            None => (rest, false),
        };
        let len = body
            .char_indices()
            .find(|&(_, c)| !(c == '_' || is_letter_or_digit(c)))
            .map_or(body.len(), |(i, _)| i);
        let name = &body[..len];
        let after = if braced {
            body[len..].strip_prefix('}')
        } else {
            Some(&body[len..])
        };
        match after {
            Some(after) if !name.is_empty() => {
                if name == "0" {
                    out.push_str(matched);
                }
                rest = after;
            }
            _ => out.push('$'),
        }
    }
    out.push_str(rest);
}

// Unicode 15.0 (the version of Go's unicode package since Go 1.21), non-ASCII only, as
// sorted inclusive start/end pairs. Letters (L*) and decimal digits (Nd):
#[rustfmt::skip]
const NAME_CHAR_RANGES: &[u32] = &[
    0xaa, 0xaa,  0xb5, 0xb5,  0xba, 0xba,  0xc0, 0xd6,  0xd8, 0xf6,
    0xf8, 0x2c1,  0x2c6, 0x2d1,  0x2e0, 0x2e4,  0x2ec, 0x2ec,  0x2ee, 0x2ee,
    0x370, 0x374,  0x376, 0x377,  0x37a, 0x37d,  0x37f, 0x37f,  0x386, 0x386,
    0x388, 0x38a,  0x38c, 0x38c,  0x38e, 0x3a1,  0x3a3, 0x3f5,  0x3f7, 0x481,
    0x48a, 0x52f,  0x531, 0x556,  0x559, 0x559,  0x560, 0x588,  0x5d0, 0x5ea,
    0x5ef, 0x5f2,  0x620, 0x64a,  0x660, 0x669,  0x66e, 0x66f,  0x671, 0x6d3,
    0x6d5, 0x6d5,  0x6e5, 0x6e6,  0x6ee, 0x6fc,  0x6ff, 0x6ff,  0x710, 0x710,
    0x712, 0x72f,  0x74d, 0x7a5,  0x7b1, 0x7b1,  0x7c0, 0x7ea,  0x7f4, 0x7f5,
    0x7fa, 0x7fa,  0x800, 0x815,  0x81a, 0x81a,  0x824, 0x824,  0x828, 0x828,
    0x840, 0x858,  0x860, 0x86a,  0x870, 0x887,  0x889, 0x88e,  0x8a0, 0x8c9,
    0x904, 0x939,  0x93d, 0x93d,  0x950, 0x950,  0x958, 0x961,  0x966, 0x96f,
    0x971, 0x980,  0x985, 0x98c,  0x98f, 0x990,  0x993, 0x9a8,  0x9aa, 0x9b0,
    0x9b2, 0x9b2,  0x9b6, 0x9b9,  0x9bd, 0x9bd,  0x9ce, 0x9ce,  0x9dc, 0x9dd,
    0x9df, 0x9e1,  0x9e6, 0x9f1,  0x9fc, 0x9fc,  0xa05, 0xa0a,  0xa0f, 0xa10,
    0xa13, 0xa28,  0xa2a, 0xa30,  0xa32, 0xa33,  0xa35, 0xa36,  0xa38, 0xa39,
    0xa59, 0xa5c,  0xa5e, 0xa5e,  0xa66, 0xa6f,  0xa72, 0xa74,  0xa85, 0xa8d,
    0xa8f, 0xa91,  0xa93, 0xaa8,  0xaaa, 0xab0,  0xab2, 0xab3,  0xab5, 0xab9,
    0xabd, 0xabd,  0xad0, 0xad0,  0xae0, 0xae1,  0xae6, 0xaef,  0xaf9, 0xaf9,
    0xb05, 0xb0c,  0xb0f, 0xb10,  0xb13, 0xb28,  0xb2a, 0xb30,  0xb32, 0xb33,
    0xb35, 0xb39,  0xb3d, 0xb3d,  0xb5c, 0xb5d,  0xb5f, 0xb61,  0xb66, 0xb6f,
    0xb71, 0xb71,  0xb83, 0xb83,  0xb85, 0xb8a,  0xb8e, 0xb90,  0xb92, 0xb95,
    0xb99, 0xb9a,  0xb9c, 0xb9c,  0xb9e, 0xb9f,  0xba3, 0xba4,  0xba8, 0xbaa,
    0xbae, 0xbb9,  0xbd0, 0xbd0,  0xbe6, 0xbef,  0xc05, 0xc0c,  0xc0e, 0xc10,
    0xc12, 0xc28,  0xc2a, 0xc39,  0xc3d, 0xc3d,  0xc58, 0xc5a,  0xc5d, 0xc5d,
    0xc60, 0xc61,  0xc66, 0xc6f,  0xc80, 0xc80,  0xc85, 0xc8c,  0xc8e, 0xc90,
    0xc92, 0xca8,  0xcaa, 0xcb3,  0xcb5, 0xcb9,  0xcbd, 0xcbd,  0xcdd, 0xcde,
    0xce0, 0xce1,  0xce6, 0xcef,  0xcf1, 0xcf2,  0xd04, 0xd0c,  0xd0e, 0xd10,
    0xd12, 0xd3a,  0xd3d, 0xd3d,  0xd4e, 0xd4e,  0xd54, 0xd56,  0xd5f, 0xd61,
    0xd66, 0xd6f,  0xd7a, 0xd7f,  0xd85, 0xd96,  0xd9a, 0xdb1,  0xdb3, 0xdbb,
    0xdbd, 0xdbd,  0xdc0, 0xdc6,  0xde6, 0xdef,  0xe01, 0xe30,  0xe32, 0xe33,
    0xe40, 0xe46,  0xe50, 0xe59,  0xe81, 0xe82,  0xe84, 0xe84,  0xe86, 0xe8a,
    0xe8c, 0xea3,  0xea5, 0xea5,  0xea7, 0xeb0,  0xeb2, 0xeb3,  0xebd, 0xebd,
    0xec0, 0xec4,  0xec6, 0xec6,  0xed0, 0xed9,  0xedc, 0xedf,  0xf00, 0xf00,
    0xf20, 0xf29,  0xf40, 0xf47,  0xf49, 0xf6c,  0xf88, 0xf8c,  0x1000, 0x102a,
    0x103f, 0x1049,  0x1050, 0x1055,  0x105a, 0x105d,  0x1061, 0x1061,  0x1065, 0x1066,
    0x106e, 0x1070,  0x1075, 0x1081,  0x108e, 0x108e,  0x1090, 0x1099,  0x10a0, 0x10c5,
    0x10c7, 0x10c7,  0x10cd, 0x10cd,  0x10d0, 0x10fa,  0x10fc, 0x1248,  0x124a, 0x124d,
    0x1250, 0x1256,  0x1258, 0x1258,  0x125a, 0x125d,  0x1260, 0x1288,  0x128a, 0x128d,
    0x1290, 0x12b0,  0x12b2, 0x12b5,  0x12b8, 0x12be,  0x12c0, 0x12c0,  0x12c2, 0x12c5,
    0x12c8, 0x12d6,  0x12d8, 0x1310,  0x1312, 0x1315,  0x1318, 0x135a,  0x1380, 0x138f,
    0x13a0, 0x13f5,  0x13f8, 0x13fd,  0x1401, 0x166c,  0x166f, 0x167f,  0x1681, 0x169a,
    0x16a0, 0x16ea,  0x16f1, 0x16f8,  0x1700, 0x1711,  0x171f, 0x1731,  0x1740, 0x1751,
    0x1760, 0x176c,  0x176e, 0x1770,  0x1780, 0x17b3,  0x17d7, 0x17d7,  0x17dc, 0x17dc,
    0x17e0, 0x17e9,  0x1810, 0x1819,  0x1820, 0x1878,  0x1880, 0x1884,  0x1887, 0x18a8,
    0x18aa, 0x18aa,  0x18b0, 0x18f5,  0x1900, 0x191e,  0x1946, 0x196d,  0x1970, 0x1974,
    0x1980, 0x19ab,  0x19b0, 0x19c9,  0x19d0, 0x19d9,  0x1a00, 0x1a16,  0x1a20, 0x1a54,
    0x1a80, 0x1a89,  0x1a90, 0x1a99,  0x1aa7, 0x1aa7,  0x1b05, 0x1b33,  0x1b45, 0x1b4c,
    0x1b50, 0x1b59,  0x1b83, 0x1ba0,  0x1bae, 0x1be5,  0x1c00, 0x1c23,  0x1c40, 0x1c49,
    0x1c4d, 0x1c7d,  0x1c80, 0x1c88,  0x1c90, 0x1cba,  0x1cbd, 0x1cbf,  0x1ce9, 0x1cec,
    0x1cee, 0x1cf3,  0x1cf5, 0x1cf6,  0x1cfa, 0x1cfa,  0x1d00, 0x1dbf,  0x1e00, 0x1f15,
    0x1f18, 0x1f1d,  0x1f20, 0x1f45,  0x1f48, 0x1f4d,  0x1f50, 0x1f57,  0x1f59, 0x1f59,
    0x1f5b, 0x1f5b,  0x1f5d, 0x1f5d,  0x1f5f, 0x1f7d,  0x1f80, 0x1fb4,  0x1fb6, 0x1fbc,
    0x1fbe, 0x1fbe,  0x1fc2, 0x1fc4,  0x1fc6, 0x1fcc,  0x1fd0, 0x1fd3,  0x1fd6, 0x1fdb,
    0x1fe0, 0x1fec,  0x1ff2, 0x1ff4,  0x1ff6, 0x1ffc,  0x2071, 0x2071,  0x207f, 0x207f,
    0x2090, 0x209c,  0x2102, 0x2102,  0x2107, 0x2107,  0x210a, 0x2113,  0x2115, 0x2115,
    0x2119, 0x211d,  0x2124, 0x2124,  0x2126, 0x2126,  0x2128, 0x2128,  0x212a, 0x212d,
    0x212f, 0x2139,  0x213c, 0x213f,  0x2145, 0x2149,  0x214e, 0x214e,  0x2183, 0x2184,
    0x2c00, 0x2ce4,  0x2ceb, 0x2cee,  0x2cf2, 0x2cf3,  0x2d00, 0x2d25,  0x2d27, 0x2d27,
    0x2d2d, 0x2d2d,  0x2d30, 0x2d67,  0x2d6f, 0x2d6f,  0x2d80, 0x2d96,  0x2da0, 0x2da6,
    0x2da8, 0x2dae,  0x2db0, 0x2db6,  0x2db8, 0x2dbe,  0x2dc0, 0x2dc6,  0x2dc8, 0x2dce,
    0x2dd0, 0x2dd6,  0x2dd8, 0x2dde,  0x2e2f, 0x2e2f,  0x3005, 0x3006,  0x3031, 0x3035,
    0x303b, 0x303c,  0x3041, 0x3096,  0x309d, 0x309f,  0x30a1, 0x30fa,  0x30fc, 0x30ff,
    0x3105, 0x312f,  0x3131, 0x318e,  0x31a0, 0x31bf,  0x31f0, 0x31ff,  0x3400, 0x4dbf,
    0x4e00, 0xa48c,  0xa4d0, 0xa4fd,  0xa500, 0xa60c,  0xa610, 0xa62b,  0xa640, 0xa66e,
    0xa67f, 0xa69d,  0xa6a0, 0xa6e5,  0xa717, 0xa71f,  0xa722, 0xa788,  0xa78b, 0xa7ca,
    0xa7d0, 0xa7d1,  0xa7d3, 0xa7d3,  0xa7d5, 0xa7d9,  0xa7f2, 0xa801,  0xa803, 0xa805,
    0xa807, 0xa80a,  0xa80c, 0xa822,  0xa840, 0xa873,  0xa882, 0xa8b3,  0xa8d0, 0xa8d9,
    0xa8f2, 0xa8f7,  0xa8fb, 0xa8fb,  0xa8fd, 0xa8fe,  0xa900, 0xa925,  0xa930, 0xa946,
    0xa960, 0xa97c,  0xa984, 0xa9b2,  0xa9cf, 0xa9d9,  0xa9e0, 0xa9e4,  0xa9e6, 0xa9fe,
    0xaa00, 0xaa28,  0xaa40, 0xaa42,  0xaa44, 0xaa4b,  0xaa50, 0xaa59,  0xaa60, 0xaa76,
    0xaa7a, 0xaa7a,  0xaa7e, 0xaaaf,  0xaab1, 0xaab1,  0xaab5, 0xaab6,  0xaab9, 0xaabd,
    0xaac0, 0xaac0,  0xaac2, 0xaac2,  0xaadb, 0xaadd,  0xaae0, 0xaaea,  0xaaf2, 0xaaf4,
    0xab01, 0xab06,  0xab09, 0xab0e,  0xab11, 0xab16,  0xab20, 0xab26,  0xab28, 0xab2e,
    0xab30, 0xab5a,  0xab5c, 0xab69,  0xab70, 0xabe2,  0xabf0, 0xabf9,  0xac00, 0xd7a3,
    0xd7b0, 0xd7c6,  0xd7cb, 0xd7fb,  0xf900, 0xfa6d,  0xfa70, 0xfad9,  0xfb00, 0xfb06,
    0xfb13, 0xfb17,  0xfb1d, 0xfb1d,  0xfb1f, 0xfb28,  0xfb2a, 0xfb36,  0xfb38, 0xfb3c,
    0xfb3e, 0xfb3e,  0xfb40, 0xfb41,  0xfb43, 0xfb44,  0xfb46, 0xfbb1,  0xfbd3, 0xfd3d,
    0xfd50, 0xfd8f,  0xfd92, 0xfdc7,  0xfdf0, 0xfdfb,  0xfe70, 0xfe74,  0xfe76, 0xfefc,
    0xff10, 0xff19,  0xff21, 0xff3a,  0xff41, 0xff5a,  0xff66, 0xffbe,  0xffc2, 0xffc7,
    0xffca, 0xffcf,  0xffd2, 0xffd7,  0xffda, 0xffdc,  0x10000, 0x1000b,  0x1000d, 0x10026,
    0x10028, 0x1003a,  0x1003c, 0x1003d,  0x1003f, 0x1004d,  0x10050, 0x1005d,  0x10080, 0x100fa,
    0x10280, 0x1029c,  0x102a0, 0x102d0,  0x10300, 0x1031f,  0x1032d, 0x10340,  0x10342, 0x10349,
    0x10350, 0x10375,  0x10380, 0x1039d,  0x103a0, 0x103c3,  0x103c8, 0x103cf,  0x10400, 0x1049d,
    0x104a0, 0x104a9,  0x104b0, 0x104d3,  0x104d8, 0x104fb,  0x10500, 0x10527,  0x10530, 0x10563,
    0x10570, 0x1057a,  0x1057c, 0x1058a,  0x1058c, 0x10592,  0x10594, 0x10595,  0x10597, 0x105a1,
    0x105a3, 0x105b1,  0x105b3, 0x105b9,  0x105bb, 0x105bc,  0x10600, 0x10736,  0x10740, 0x10755,
    0x10760, 0x10767,  0x10780, 0x10785,  0x10787, 0x107b0,  0x107b2, 0x107ba,  0x10800, 0x10805,
    0x10808, 0x10808,  0x1080a, 0x10835,  0x10837, 0x10838,  0x1083c, 0x1083c,  0x1083f, 0x10855,
    0x10860, 0x10876,  0x10880, 0x1089e,  0x108e0, 0x108f2,  0x108f4, 0x108f5,  0x10900, 0x10915,
    0x10920, 0x10939,  0x10980, 0x109b7,  0x109be, 0x109bf,  0x10a00, 0x10a00,  0x10a10, 0x10a13,
    0x10a15, 0x10a17,  0x10a19, 0x10a35,  0x10a60, 0x10a7c,  0x10a80, 0x10a9c,  0x10ac0, 0x10ac7,
    0x10ac9, 0x10ae4,  0x10b00, 0x10b35,  0x10b40, 0x10b55,  0x10b60, 0x10b72,  0x10b80, 0x10b91,
    0x10c00, 0x10c48,  0x10c80, 0x10cb2,  0x10cc0, 0x10cf2,  0x10d00, 0x10d23,  0x10d30, 0x10d39,
    0x10e80, 0x10ea9,  0x10eb0, 0x10eb1,  0x10f00, 0x10f1c,  0x10f27, 0x10f27,  0x10f30, 0x10f45,
    0x10f70, 0x10f81,  0x10fb0, 0x10fc4,  0x10fe0, 0x10ff6,  0x11003, 0x11037,  0x11066, 0x1106f,
    0x11071, 0x11072,  0x11075, 0x11075,  0x11083, 0x110af,  0x110d0, 0x110e8,  0x110f0, 0x110f9,
    0x11103, 0x11126,  0x11136, 0x1113f,  0x11144, 0x11144,  0x11147, 0x11147,  0x11150, 0x11172,
    0x11176, 0x11176,  0x11183, 0x111b2,  0x111c1, 0x111c4,  0x111d0, 0x111da,  0x111dc, 0x111dc,
    0x11200, 0x11211,  0x11213, 0x1122b,  0x1123f, 0x11240,  0x11280, 0x11286,  0x11288, 0x11288,
    0x1128a, 0x1128d,  0x1128f, 0x1129d,  0x1129f, 0x112a8,  0x112b0, 0x112de,  0x112f0, 0x112f9,
    0x11305, 0x1130c,  0x1130f, 0x11310,  0x11313, 0x11328,  0x1132a, 0x11330,  0x11332, 0x11333,
    0x11335, 0x11339,  0x1133d, 0x1133d,  0x11350, 0x11350,  0x1135d, 0x11361,  0x11400, 0x11434,
    0x11447, 0x1144a,  0x11450, 0x11459,  0x1145f, 0x11461,  0x11480, 0x114af,  0x114c4, 0x114c5,
    0x114c7, 0x114c7,  0x114d0, 0x114d9,  0x11580, 0x115ae,  0x115d8, 0x115db,  0x11600, 0x1162f,
    0x11644, 0x11644,  0x11650, 0x11659,  0x11680, 0x116aa,  0x116b8, 0x116b8,  0x116c0, 0x116c9,
    0x11700, 0x1171a,  0x11730, 0x11739,  0x11740, 0x11746,  0x11800, 0x1182b,  0x118a0, 0x118e9,
    0x118ff, 0x11906,  0x11909, 0x11909,  0x1190c, 0x11913,  0x11915, 0x11916,  0x11918, 0x1192f,
    0x1193f, 0x1193f,  0x11941, 0x11941,  0x11950, 0x11959,  0x119a0, 0x119a7,  0x119aa, 0x119d0,
    0x119e1, 0x119e1,  0x119e3, 0x119e3,  0x11a00, 0x11a00,  0x11a0b, 0x11a32,  0x11a3a, 0x11a3a,
    0x11a50, 0x11a50,  0x11a5c, 0x11a89,  0x11a9d, 0x11a9d,  0x11ab0, 0x11af8,  0x11c00, 0x11c08,
    0x11c0a, 0x11c2e,  0x11c40, 0x11c40,  0x11c50, 0x11c59,  0x11c72, 0x11c8f,  0x11d00, 0x11d06,
    0x11d08, 0x11d09,  0x11d0b, 0x11d30,  0x11d46, 0x11d46,  0x11d50, 0x11d59,  0x11d60, 0x11d65,
    0x11d67, 0x11d68,  0x11d6a, 0x11d89,  0x11d98, 0x11d98,  0x11da0, 0x11da9,  0x11ee0, 0x11ef2,
    0x11f02, 0x11f02,  0x11f04, 0x11f10,  0x11f12, 0x11f33,  0x11f50, 0x11f59,  0x11fb0, 0x11fb0,
    0x12000, 0x12399,  0x12480, 0x12543,  0x12f90, 0x12ff0,  0x13000, 0x1342f,  0x13441, 0x13446,
    0x14400, 0x14646,  0x16800, 0x16a38,  0x16a40, 0x16a5e,  0x16a60, 0x16a69,  0x16a70, 0x16abe,
    0x16ac0, 0x16ac9,  0x16ad0, 0x16aed,  0x16b00, 0x16b2f,  0x16b40, 0x16b43,  0x16b50, 0x16b59,
    0x16b63, 0x16b77,  0x16b7d, 0x16b8f,  0x16e40, 0x16e7f,  0x16f00, 0x16f4a,  0x16f50, 0x16f50,
    0x16f93, 0x16f9f,  0x16fe0, 0x16fe1,  0x16fe3, 0x16fe3,  0x17000, 0x187f7,  0x18800, 0x18cd5,
    0x18d00, 0x18d08,  0x1aff0, 0x1aff3,  0x1aff5, 0x1affb,  0x1affd, 0x1affe,  0x1b000, 0x1b122,
    0x1b132, 0x1b132,  0x1b150, 0x1b152,  0x1b155, 0x1b155,  0x1b164, 0x1b167,  0x1b170, 0x1b2fb,
    0x1bc00, 0x1bc6a,  0x1bc70, 0x1bc7c,  0x1bc80, 0x1bc88,  0x1bc90, 0x1bc99,  0x1d400, 0x1d454,
    0x1d456, 0x1d49c,  0x1d49e, 0x1d49f,  0x1d4a2, 0x1d4a2,  0x1d4a5, 0x1d4a6,  0x1d4a9, 0x1d4ac,
    0x1d4ae, 0x1d4b9,  0x1d4bb, 0x1d4bb,  0x1d4bd, 0x1d4c3,  0x1d4c5, 0x1d505,  0x1d507, 0x1d50a,
    0x1d50d, 0x1d514,  0x1d516, 0x1d51c,  0x1d51e, 0x1d539,  0x1d53b, 0x1d53e,  0x1d540, 0x1d544,
    0x1d546, 0x1d546,  0x1d54a, 0x1d550,  0x1d552, 0x1d6a5,  0x1d6a8, 0x1d6c0,  0x1d6c2, 0x1d6da,
    0x1d6dc, 0x1d6fa,  0x1d6fc, 0x1d714,  0x1d716, 0x1d734,  0x1d736, 0x1d74e,  0x1d750, 0x1d76e,
    0x1d770, 0x1d788,  0x1d78a, 0x1d7a8,  0x1d7aa, 0x1d7c2,  0x1d7c4, 0x1d7cb,  0x1d7ce, 0x1d7ff,
    0x1df00, 0x1df1e,  0x1df25, 0x1df2a,  0x1e030, 0x1e06d,  0x1e100, 0x1e12c,  0x1e137, 0x1e13d,
    0x1e140, 0x1e149,  0x1e14e, 0x1e14e,  0x1e290, 0x1e2ad,  0x1e2c0, 0x1e2eb,  0x1e2f0, 0x1e2f9,
    0x1e4d0, 0x1e4eb,  0x1e4f0, 0x1e4f9,  0x1e7e0, 0x1e7e6,  0x1e7e8, 0x1e7eb,  0x1e7ed, 0x1e7ee,
    0x1e7f0, 0x1e7fe,  0x1e800, 0x1e8c4,  0x1e900, 0x1e943,  0x1e94b, 0x1e94b,  0x1e950, 0x1e959,
    0x1ee00, 0x1ee03,  0x1ee05, 0x1ee1f,  0x1ee21, 0x1ee22,  0x1ee24, 0x1ee24,  0x1ee27, 0x1ee27,
    0x1ee29, 0x1ee32,  0x1ee34, 0x1ee37,  0x1ee39, 0x1ee39,  0x1ee3b, 0x1ee3b,  0x1ee42, 0x1ee42,
    0x1ee47, 0x1ee47,  0x1ee49, 0x1ee49,  0x1ee4b, 0x1ee4b,  0x1ee4d, 0x1ee4f,  0x1ee51, 0x1ee52,
    0x1ee54, 0x1ee54,  0x1ee57, 0x1ee57,  0x1ee59, 0x1ee59,  0x1ee5b, 0x1ee5b,  0x1ee5d, 0x1ee5d,
    0x1ee5f, 0x1ee5f,  0x1ee61, 0x1ee62,  0x1ee64, 0x1ee64,  0x1ee67, 0x1ee6a,  0x1ee6c, 0x1ee72,
    0x1ee74, 0x1ee77,  0x1ee79, 0x1ee7c,  0x1ee7e, 0x1ee7e,  0x1ee80, 0x1ee89,  0x1ee8b, 0x1ee9b,
    0x1eea1, 0x1eea3,  0x1eea5, 0x1eea9,  0x1eeab, 0x1eebb,  0x1fbf0, 0x1fbf9,  0x20000, 0x2a6df,
    0x2a700, 0x2b739,  0x2b740, 0x2b81d,  0x2b820, 0x2cea1,  0x2ceb0, 0x2ebe0,  0x2f800, 0x2fa1d,
    0x30000, 0x3134a,  0x31350, 0x323af,
];

// Decimal digits (Nd) alone, which start a positional parameter such as `$1`:
#[rustfmt::skip]
const DIGIT_RANGES: &[u32] = &[
    0x660, 0x669,  0x6f0, 0x6f9,  0x7c0, 0x7c9,  0x966, 0x96f,  0x9e6, 0x9ef,
    0xa66, 0xa6f,  0xae6, 0xaef,  0xb66, 0xb6f,  0xbe6, 0xbef,  0xc66, 0xc6f,
    0xce6, 0xcef,  0xd66, 0xd6f,  0xde6, 0xdef,  0xe50, 0xe59,  0xed0, 0xed9,
    0xf20, 0xf29,  0x1040, 0x1049,  0x1090, 0x1099,  0x17e0, 0x17e9,  0x1810, 0x1819,
    0x1946, 0x194f,  0x19d0, 0x19d9,  0x1a80, 0x1a89,  0x1a90, 0x1a99,  0x1b50, 0x1b59,
    0x1bb0, 0x1bb9,  0x1c40, 0x1c49,  0x1c50, 0x1c59,  0xa620, 0xa629,  0xa8d0, 0xa8d9,
    0xa900, 0xa909,  0xa9d0, 0xa9d9,  0xa9f0, 0xa9f9,  0xaa50, 0xaa59,  0xabf0, 0xabf9,
    0xff10, 0xff19,  0x104a0, 0x104a9,  0x10d30, 0x10d39,  0x11066, 0x1106f,  0x110f0, 0x110f9,
    0x11136, 0x1113f,  0x111d0, 0x111d9,  0x112f0, 0x112f9,  0x11450, 0x11459,  0x114d0, 0x114d9,
    0x11650, 0x11659,  0x116c0, 0x116c9,  0x11730, 0x11739,  0x118e0, 0x118e9,  0x11950, 0x11959,
    0x11c50, 0x11c59,  0x11d50, 0x11d59,  0x11da0, 0x11da9,  0x11f50, 0x11f59,  0x16a60, 0x16a69,
    0x16ac0, 0x16ac9,  0x16b50, 0x16b59,  0x1d7ce, 0x1d7ff,  0x1e140, 0x1e149,  0x1e2f0, 0x1e2f9,
    0x1e4f0, 0x1e4f9,  0x1e950, 0x1e959,  0x1fbf0, 0x1fbf9,
];

#[cfg(test)]
mod tests {
    use super::*;

    const ENV_VAR_TEST: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/buildkit-shell/envVarTest"
    );
    const WORDS_TEST: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/buildkit-shell/wordsTest"
    );

    fn read_table(path: &str) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"))
    }

    fn pairs(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn lex() -> Lexer {
        Lexer::new('\\')
    }

    fn word(input: &str, vars: &[(&str, &str)]) -> Result<String, ShellError> {
        lex().process_word(input, &pairs(vars))
    }

    fn describe<T: fmt::Debug>(result: &Result<T, ShellError>) -> String {
        match result {
            Ok(value) => format!("{value:?}"),
            Err(err) => format!("error ({})", err.message),
        }
    }

    #[test]
    fn conformance_env_var_test() {
        let text = read_table(ENV_VAR_TEST);
        // The environment BuildKit's own test runs this table with.
        let list = pairs(&[
            ("PWD", "/home"),
            ("SHELL", "bash"),
            ("KOREAN", "한국어"),
            ("NULL", ""),
        ]);
        let map: HashMap<String, String> = list.iter().cloned().collect();
        let data_rows = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .count();
        let (mut rows, mut runs) = (0, 0);
        let mut failures = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            // Like BuildKit's reader: comments only count before trimming.
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let columns: Vec<&str> = line.split('|').collect();
            if columns.len() != 3 {
                failures.push(format!("line {line_no}: not 3 columns: {line:?}"));
                continue;
            }
            let (platform, input, expected) =
                (columns[0].trim(), columns[1].trim(), columns[2].trim());
            let platforms: &[bool] = match platform {
                "A" => &[false, true],
                "U" => &[false],
                "W" => &[true],
                _ => {
                    failures.push(format!("line {line_no}: bad platform {platform:?}"));
                    continue;
                }
            };
            rows += 1;
            for &windows in platforms {
                let lexer = Lexer {
                    windows,
                    ..Lexer::new('\\')
                };
                for (env_kind, env) in [("list", &list as &dyn Env), ("map", &map as &dyn Env)] {
                    runs += 1;
                    let got = lexer.process_word(input, env);
                    let ok = match &got {
                        Ok(value) => expected != "error" && value == expected,
                        Err(_) => expected == "error",
                    };
                    if !ok {
                        failures.push(format!(
                            "line {line_no} ({platform}, windows={windows}, {env_kind}): \
                             {input:?} expected {expected:?}, got {}",
                            describe(&got)
                        ));
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} envVarTest failure(s):\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(rows > 0, "envVarTest had no rows");
        assert_eq!(rows, data_rows, "envVarTest rows checked vs data rows");
        assert!(runs > rows, "A rows run on both platforms");
    }

    #[test]
    fn conformance_words_test() {
        let text = read_table(WORDS_TEST);
        let data_rows = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.starts_with("ENV "))
            .count();
        // BuildKit's test means to rerun the table with raw quotes and skip-unset on, but reads
        // the same exhausted file handle again, so only this plain mode has ever been checked
        // (the rows' expectations would not hold in the other one).
        let lexer = lex();
        let mut env: Vec<(String, String)> = Vec::new();
        let mut rows = 0;
        let mut failures = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            if line.starts_with('#') {
                continue;
            }
            if let Some(assignment) = line.strip_prefix("ENV ") {
                // Only leading spaces go: some values end in significant spaces.
                let assignment = assignment.trim_start_matches(' ');
                let (name, value) = assignment.split_once('=').unwrap_or((assignment, ""));
                env.push((name.to_string(), value.to_string()));
                continue;
            }
            let columns: Vec<&str> = line.split('|').collect();
            if columns.len() != 2 {
                failures.push(format!("line {line_no}: not exactly one '|': {line:?}"));
                continue;
            }
            rows += 1;
            let input = columns[0].trim();
            let expected: Vec<&str> = columns[1].trim_start_matches(' ').split(',').collect();
            let map: HashMap<String, String> = env.iter().cloned().collect();
            for (env_kind, vars) in [("list", &env as &dyn Env), ("map", &map as &dyn Env)] {
                let got = lexer.process_words(input, vars);
                let got_words = match &got {
                    Ok(words) => words.clone(),
                    Err(_) => vec!["error".to_string()],
                };
                if got_words != expected {
                    failures.push(format!(
                        "line {line_no} ({env_kind}): {input:?} expected {expected:?}, got {}",
                        describe(&got)
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} wordsTest failure(s):\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(rows > 0, "wordsTest had no rows");
        assert_eq!(rows, data_rows, "wordsTest rows checked vs data rows");
    }

    #[test]
    fn backtick_escape_token() {
        let lexer = Lexer::new('`');
        let env = pairs(&[("A", "x")]);
        let cases = [
            ("a`$A", "a$A"),
            ("a`\"b", "a\"b"),
            // A backslash is an ordinary character under a backtick escape token.
            (r"C:\path\$A", r"C:\path\x"),
            ("\"`$A `\" `` `x\"", "$A \" ` `x"),
            ("'`$A'", "`$A"),
            ("end`", "end"),
            ("${B:-`}}", "}"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                lexer.process_word(input, &env).as_deref(),
                Ok(expected),
                "{input:?}"
            );
        }
        assert_eq!(
            lexer.process_words(r"a` b c:\ d", &env).unwrap(),
            vec!["a b", r"c:\", "d"]
        );
        // Patterns always escape with a backslash, whatever the escape token.
        let env = pairs(&[("P", "a*b*c")]);
        assert_eq!(lexer.process_word(r"${P#a\*}", &env).as_deref(), Ok("b*c"));
        assert!(lexer.process_word(r"${P#a\}", &env).is_err());
    }

    #[test]
    fn refs_in_order_deduplicated_set_or_not() {
        let lexer = lex();
        let env = pairs(&[("A", "1"), ("C", "")]);
        let (word, refs) = lexer
            .process_word_with_refs("$A-${B:-${C}}-$A-\"$D\"-'$E'-\\$F-${G/x/$H}-$1-$", &env)
            .unwrap();
        assert_eq!(word, "1--1--$E-$F---$");
        assert_eq!(refs, ["A", "B", "C", "D", "G", "H", "1"]);

        let (_, refs) = lexer.process_word_with_refs("no refs", &env).unwrap();
        assert!(refs.is_empty());
        assert!(lexer.process_word_with_refs("${A:?}${X:?}", &env).is_err());

        let (word, refs) = lexer
            .process_word_with_refs("${+ignored}${TARGETARCH:+-$TARGETVARIANT}", &env)
            .unwrap();
        assert_eq!(word, "");
        assert_eq!(refs, ["TARGETARCH", "TARGETVARIANT"]);

        // On Windows names keep the spelling they were written with.
        let windows = Lexer {
            windows: true,
            ..lex()
        };
        let (word, refs) = windows.process_word_with_refs("$a$A$a", &env).unwrap();
        assert_eq!(word, "111");
        assert_eq!(refs, ["a", "A"]);
    }

    #[test]
    fn required_variables() {
        assert_eq!(word("${V:?}", &[("V", "x")]).as_deref(), Ok("x"));
        assert_eq!(word("${V?}", &[("V", "")]).as_deref(), Ok(""));
        let unset = word("${V:?}", &[]).unwrap_err();
        assert!(
            unset.message.contains("V: is not allowed to be unset"),
            "{unset}"
        );
        let empty = word("${V:?}", &[("V", "")]).unwrap_err();
        assert!(
            empty.message.contains("V: is not allowed to be empty"),
            "{empty}"
        );
        let custom = word("${V:?need $W here}", &[("V", ""), ("W", "V")]).unwrap_err();
        assert!(custom.message.contains("V: need V here"), "{custom}");
        let custom = word("${V?need it}", &[]).unwrap_err();
        assert!(custom.message.contains("V: need it"), "{custom}");
        assert!(custom.message.starts_with("failed to process"), "{custom}");
        // With skip_unset_env the reference is written back instead.
        let keep = Lexer {
            skip_unset_env: true,
            ..lex()
        };
        assert_eq!(
            keep.process_word("${V:?need it}", &pairs(&[])).as_deref(),
            Ok("${V:?need it}")
        );
    }

    #[test]
    fn nested_defaults() {
        let vars = [("B", "bee"), ("E", "")];
        assert_eq!(word("${A:-${B}}", &vars).as_deref(), Ok("bee"));
        assert_eq!(word("${A:-${C:-${D:-deep}}}", &vars).as_deref(), Ok("deep"));
        assert_eq!(word("${B:+[${A:-a}]}", &vars).as_deref(), Ok("[a]"));
        assert_eq!(word("${E-unset}${E:-empty}", &vars).as_deref(), Ok("empty"));
        assert_eq!(word("${E+set}${E:+nonempty}", &vars).as_deref(), Ok("set"));
        assert_eq!(word("\"${A:-x  y}\"", &vars).as_deref(), Ok("x  y"));
        assert_eq!(
            lex().process_words("${A:-x  y}", &pairs(&vars)).unwrap(),
            vec!["x", "y"]
        );
        assert_eq!(
            lex().process_words("${A:-'x  y'}", &pairs(&vars)).unwrap(),
            vec!["x", "y"],
            "quotes inside the default protect nothing once it is expanded unquoted"
        );
    }

    #[test]
    fn unterminated_and_malformed() {
        for input in [
            "${",
            "${A",
            "${A:",
            "${A:-",
            "${A:-x",
            "${A:-${B}",
            "$A${",
            "\"${A}",
            "'${A}",
            "${A/",
            "${A/x",
            "${A/x/y",
            "${A//x",
            "${A#x",
            "${A%",
            "${}",
            "${:}",
            "${{A}",
            "${.}",
            "${A=x}",
            "${A:=x}",
            "${A:x}",
            "${A!}",
            "${A:/x/y}",
        ] {
            assert!(
                word(input, &[("A", "a")]).is_err(),
                "{input:?} should fail, got {:?}",
                word(input, &[("A", "a")])
            );
        }
        let err = word("x${A", &[]).unwrap_err();
        assert!(err.message.contains("missing '}'"), "{err}");
        let err = word("x${A/b", &[]).unwrap_err();
        assert!(err.message.contains("missing '/'"), "{err}");
        let err = word("x${}", &[]).unwrap_err();
        assert!(err.message.contains("bad substitution"), "{err}");
        assert_eq!(err.to_string(), err.message);
    }

    #[test]
    fn pattern_trimming() {
        let cases: &[(&str, &str, &str)] = &[
            ("${V#*/}", "a/b/c", "b/c"),
            ("${V##*/}", "a/b/c", "c"),
            ("${V%/*}", "a/b/c", "a/b"),
            ("${V%%/*}", "a/b/c", "a"),
            ("${V#}", "abc", "abc"),
            ("${V%%}", "abc", "abc"),
            ("${V#*}", "abc", "abc"),
            ("${V##*}", "abc", ""),
            ("${V#?}", "héllo", "éllo"),
            ("${V%?}", "héllo", "héll"),
            ("${V#a?c}", "abcabc", "abc"),
            ("${V#x}", "abc", "abc"),
            (r"${V#\*}", "*a", "a"),
            (r"${V%%\**\*}", "a***yy*", "a"),
            (r"${V#()[]{\}^$.\*\?|\\}", r"()[]{}^$.*?|\x", "x"),
            ("${V#*x*y}", "xxyy", "y"),
            ("${V:#a}", "abc", "bc"),
            ("${V%.tar.gz}", "x.tar.gz", "x"),
            ("${V##*}", "a\nb", "\nb"),
            // Unlike bash, quotes do not make pattern characters literal.
            ("${V#\"*\"}", "*a", "*a"),
            ("${V#'*'}", "a*", "a*"),
            ("${V#$P}", "x.yz", "yz"),
        ];
        for &(input, value, expected) in cases {
            let got = word(input, &[("V", value), ("P", "*.")]);
            assert_eq!(got.as_deref(), Ok(expected), "{input:?} on {value:?}");
        }
        assert!(word(r"${V#\q}", &[("V", "q")]).is_err());
        assert!(word(r"${V%\q}", &[("V", "q")]).is_err());
        // Inside double quotes `\q` keeps its backslash, which the pattern then escapes.
        assert_eq!(word("${V#\"\\q\"}", &[("V", r"\qz")]).as_deref(), Ok("z"));
    }

    #[test]
    fn pattern_replacement() {
        type Vars = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Vars, &str)] = &[
            ("${V/o/0}", &[("V", "foo")], "f0o"),
            ("${V//o/0}", &[("V", "foo")], "f00"),
            ("${V/*/x}", &[("V", "abc")], "x"),
            (
                "${V/$N/.} ${V//$N/.}",
                &[("V", "/foo*/*/*.txt"), ("N", r"\*/")],
                "/foo.*/*.txt /foo..*.txt",
            ),
            (
                "${V/$N/} ${V//$N/}",
                &[("V", "/tmp/tmp/b"), ("N", "/tmp")],
                "/tmp/b /b",
            ),
            (
                "${V/$N/$R} ${V//$N/$R}",
                &[("V", "/a/f/b/c"), ("N", "/?/"), ("R", "/")],
                "/f/b/c /f/c",
            ),
            (r"${V//\//\/}", &[("V", "/t/f")], r"\/t\/f"),
            ("${V/$B/ww}", &[("V", "xxyy"), ("B", "")], "wwxxyy"),
            ("${V///}", &[("V", "xxyy")], "xxyy"),
            ("${V//}", &[("V", "xxyy")], "error"),
            ("${V//ww}", &[("V", "xxyy")], "error"),
            ("${U///}", &[], ""),
            ("${V///-}", &[("V", "ab")], "-a-b-"),
            ("${V//x*/-}", &[("V", "axbxc")], "a-"),
            ("${V//b/[$R]}", &[("V", "abcb"), ("R", "$0")], "a[b]c[b]"),
            ("${V/b/[$R]}", &[("V", "abcb"), ("R", "$0")], "a[$0]cb"),
            (
                "${V//b/$R}",
                &[("V", "ab"), ("R", "$$-${0}-$1-$x-$-${0")],
                "a$-b---$-${0",
            ),
            ("${V//é/e}", &[("V", "éé")], "ee"),
            ("${V//?/.}", &[("V", "a\nb")], ".\n."),
            ("${V/\\x/y}", &[("V", "x")], "error"),
        ];
        for &(input, vars, expected) in cases {
            let got = word(input, vars);
            let ok = match &got {
                Ok(value) => value == expected,
                Err(_) => expected == "error",
            };
            assert!(
                ok,
                "{input:?} with {vars:?}: expected {expected:?}, got {got:?}"
            );
        }
    }

    #[test]
    fn options() {
        let env = pairs(&[("A", "a b")]);
        let raw_quotes = Lexer {
            raw_quotes: true,
            ..lex()
        };
        assert_eq!(
            raw_quotes.process_word("'x'\"$A\"", &env).as_deref(),
            Ok("'x'\"a b\"")
        );
        let raw_escapes = Lexer {
            raw_escapes: true,
            ..lex()
        };
        assert_eq!(
            raw_escapes.process_word(r#"\$A "\$A\q""#, &env).as_deref(),
            Ok(r"\$A \$A\\q")
        );
        let skip = Lexer {
            skip_unset_env: true,
            ..lex()
        };
        assert_eq!(
            skip.process_word("$A $U ${U} ${U:-d} ${U%x} ${U//x/y}", &env)
                .as_deref(),
            Ok("a b $U ${U} ${U:-d} ${U%x} ${U/x/y}")
        );
        let no_quotes = Lexer {
            skip_process_quotes: true,
            ..lex()
        };
        assert_eq!(
            no_quotes.process_word("'$A' \"x", &env).as_deref(),
            Ok("'a b' \"x")
        );
        assert_eq!(
            no_quotes.process_words("'$A' \"x", &env).unwrap(),
            vec!["'a", "b'", "\"x"]
        );
    }

    #[test]
    fn windows_names_ignore_case() {
        let windows = Lexer {
            windows: true,
            ..lex()
        };
        let list = pairs(&[("Path", "old"), ("PATH", "new"), ("x", "1")]);
        assert_eq!(windows.process_word("$path", &list).as_deref(), Ok("new"));
        assert_eq!(windows.process_word("${X}", &list).as_deref(), Ok("1"));
        assert_eq!(lex().process_word("$path${X}", &list).as_deref(), Ok(""));
        let map: HashMap<String, String> = list.iter().cloned().collect();
        assert_eq!(windows.process_word("$Path", &map).as_deref(), Ok("old"));
        assert_eq!(windows.process_word("$pATH", &map).as_deref(), Ok("new"));
    }

    #[test]
    fn env_implementations() {
        let list = pairs(&[("A", "first"), ("B", "b"), ("A", "last")]);
        let slice: &[(String, String)] = &list;
        assert_eq!(lex().process_word("$A$B", &slice).as_deref(), Ok("lastb"));
        assert_eq!(lex().process_word("$A$B", &list).as_deref(), Ok("lastb"));
        let map: HashMap<String, String> = list.iter().cloned().collect();
        assert_eq!(lex().process_word("$A$B", &map).as_deref(), Ok("lastb"));
        assert_eq!(slice.lookup("C"), None);
        assert_eq!(slice.lookup_ignore_case("a").as_deref(), Some("last"));
    }

    #[test]
    fn length_and_positional_forms() {
        // BuildKit has no `${#VAR}`: `#` is read as the special parameter, then `V` is an
        // unsupported modifier.
        assert!(word("${#VAR}", &[("VAR", "abc")]).is_err());
        assert_eq!(word("${#}$#x", &[]).as_deref(), Ok("x"));
        assert_eq!(word("$10$@$*$?$$$!$-$0", &[]).as_deref(), Ok(""));
        assert_eq!(word("${10:-ten}", &[("1", "one")]).as_deref(), Ok("ten"));
        assert_eq!(word("$1", &[("1", "one")]).as_deref(), Ok("one"));
    }

    #[test]
    fn words_and_special_cases() {
        let env = pairs(&[("S", " a  b ")]);
        let words = |input: &str| lex().process_words(input, &env).unwrap();
        assert_eq!(words("x$S"), ["x", "a", "b"]);
        assert_eq!(words("\"\" '' x"), ["x"]);
        assert_eq!(words("a\\ b\tc\nd"), ["a b", "c", "d"]);
        assert_eq!(words("\"$S\""), [" a  b "]);
        assert!(words("").is_empty());
        // Go's scanner drops a leading byte-order mark, and only a leading one.
        assert_eq!(
            lex().process_word("\u{feff}a\u{feff}", &env).as_deref(),
            Ok("a\u{feff}")
        );
        // Names follow Go's Unicode letters and decimal digits.
        let env = pairs(&[("É", "e"), ("X٣", "three"), ("X", "x")]);
        assert_eq!(
            lex().process_word("$É.$X٣.$X²", &env).as_deref(),
            Ok("e.three.x²")
        );
        assert_eq!(lex().process_word("$٣a", &env).as_deref(), Ok("a"));
    }

    #[test]
    fn unicode_tables_are_sorted() {
        for table in [NAME_CHAR_RANGES, DIGIT_RANGES] {
            assert_eq!(table.len() % 2, 0);
            assert!(table
                .chunks(2)
                .all(|pair| pair[0] <= pair[1] && pair[0] >= 0x80));
            assert!(table.windows(3).step_by(2).all(|w| w[1] < w[2]));
        }
        for c in ['한', 'ß', 'é', '٣', '𝟎'] {
            assert!(is_letter_or_digit(c), "{c:?} is a Go letter or digit");
        }
        // Superscripts, Roman numerals and combining marks are alphanumeric to Rust only.
        for c in ['²', 'Ⅻ', '\u{301}', '\u{345}', '½'] {
            assert!(!is_letter_or_digit(c), "{c:?} is no Go letter or digit");
        }
        assert!(is_digit('٣') && is_digit('𝟎') && !is_digit('한') && !is_digit('½'));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let env = pairs(&[]);
        let deep = "${A:-".repeat(10_000);
        assert!(lex().process_word(&deep, &env).is_err());
        let deep = "\"${A:-".repeat(10_000);
        assert!(lex().process_words(&deep, &env).is_err());
        let ok = format!(
            "{}x{}",
            "${A:-".repeat(MAX_DEPTH - 1),
            "}".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(lex().process_word(&ok, &env).as_deref(), Ok("x"));
    }

    #[test]
    fn random_input_never_panics() {
        const ALPHABET: &[char] = &[
            '$', '{', '}', ':', '-', '+', '?', '#', '%', '/', '\\', '\'', '"', 'a', 'b', '1', ' ',
            '*', '`', '@', '=', 'é', '\n', '\u{feff}',
        ];
        let list = pairs(&[("a", "x y"), ("b", ""), ("ab", "a*b\\"), ("1", "$0")]);
        let map: HashMap<String, String> = list.iter().cloned().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5000 {
            let len = (random() % 16) as usize;
            let input: String = (0..len)
                .map(|_| ALPHABET[(random() % ALPHABET.len() as u64) as usize])
                .collect();
            let bits = random();
            let lexer = Lexer {
                escape: if bits & 1 == 0 { '\\' } else { '`' },
                raw_quotes: bits & 2 != 0,
                raw_escapes: bits & 4 != 0,
                skip_unset_env: bits & 8 != 0,
                skip_process_quotes: bits & 16 != 0,
                windows: bits & 32 != 0,
            };
            let env: &dyn Env = if bits & 64 == 0 { &list } else { &map };
            let _ = lexer.process_word(&input, env);
            let _ = lexer.process_words(&input, env);
            let _ = lexer.process_word_with_refs(&input, env);
        }
    }
}
