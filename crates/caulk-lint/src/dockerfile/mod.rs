//! The Dockerfile as BuildKit reads it: parser directives, instructions with their flags and
//! arguments, heredocs and `--mount` options, each carrying its byte span in the source.

mod mount;
mod parse;
pub mod shell;

pub use mount::{Mount, MountError, MountKind};
pub use parse::{parse, ParseError};

use std::ops::Range;

/// A parsed Dockerfile. Spans are byte ranges of [`Dockerfile::source`].
#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub source: String,
    /// The escape character (`\` unless `# escape=` says `` ` ``).
    pub escape: char,
    pub directives: Vec<Directive>,
    pub instructions: Vec<Instruction>,
    /// BuildKit's warnings (empty continuation lines).
    pub warnings: Vec<String>,
}

/// A parser directive (`# syntax=...`, `# escape=...`, `# check=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub value: String,
    pub span: Range<usize>,
}

/// One word of an instruction: its value after BuildKit's line parsing (quotes kept, as BuildKit
/// keeps them until expansion) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub value: String,
    pub span: Range<usize>,
}

/// An instruction flag such as `--from=builder` or `--mount=type=secret,id=npm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Without the leading `--`.
    pub name: String,
    pub value: Option<String>,
    pub span: Range<usize>,
}

/// A `<<EOF` heredoc attached to `RUN`, `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// `<<-`: leading tabs are removed from the body.
    pub chomp: bool,
    /// False when the delimiter was quoted: the body is not expanded.
    pub expand: bool,
    pub file_descriptor: u32,
    /// The body, line endings included, as written.
    pub content: String,
    /// Where the body is (excluding the terminator line).
    pub span: Range<usize>,
}

/// A `key=value` (or legacy `key value`) pair of `ENV`, `LABEL` or `ARG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: Word,
    /// None for `ARG NAME` without a default.
    pub value: Option<Word>,
    /// The `key=value` form (as opposed to the legacy `key value`).
    pub equals: bool,
}

/// One instruction, with BuildKit's view of its arguments.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// Lower-case instruction name as BuildKit dispatches it (`run`, `copy`, ...; unknown names are
    /// kept).
    pub name: String,
    /// The whole instruction: from its keyword to the end of its last line (heredoc bodies
    /// included).
    pub span: Range<usize>,
    pub keyword: Range<usize>,
    /// 1-based lines.
    pub start_line: usize,
    pub end_line: usize,
    pub flags: Vec<Flag>,
    /// The arguments as BuildKit's line parser leaves them (see [`Instruction::dump`]).
    pub args: Vec<Word>,
    /// `ENV`/`LABEL`/`ARG` pairs.
    pub pairs: Vec<Pair>,
    /// The JSON (exec) form was used.
    pub json: bool,
    /// Everything after the flags, as one string (the shell form's command).
    pub rest: Word,
    pub heredocs: Vec<Heredoc>,
    /// Comment lines just above the instruction.
    pub comments: Vec<String>,
    /// `ONBUILD`'s instruction.
    pub onbuild: Option<Box<Instruction>>,
}

impl Instruction {
    /// Flags named `name` (`mount`, `from`, ...).
    pub fn flag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Flag> + 'a {
        self.flags
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
    }

    /// The `--mount` options of a `RUN`, parsed; errors are BuildKit's refusals.
    pub fn mounts(&self) -> Vec<Result<Mount, MountError>> {
        self.flag_values("mount")
            .map(|f| Mount::parse(f.value.as_deref().unwrap_or(""), f.span.clone()))
            .collect()
    }

    /// BuildKit's parse-tree dump of this instruction (`(copy ["--from=a"] "x" "/y")`), which the
    /// conformance cases compare against.
    pub fn dump(&self) -> String {
        let mut out = format!("({}", self.name);
        if !self.flags.is_empty() {
            let raw: Vec<String> = self
                .flags
                .iter()
                .map(|f| match &f.value {
                    Some(v) => go_quote(&format!("--{}={}", f.name, v)),
                    None => go_quote(&format!("--{}", f.name)),
                })
                .collect();
            out.push_str(&format!(" [{}]", raw.join(" ")));
        }
        if let Some(sub) = &self.onbuild {
            out.push(' ');
            out.push_str(&sub.dump());
        }
        for w in &self.args {
            out.push(' ');
            out.push_str(&go_quote(&w.value));
        }
        out.push(')');
        out
    }
}

impl Dockerfile {
    /// The (1-based line, 1-based column in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.source.len());
        let before = &self.source[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// Instructions with their stage index (0 for instructions before the first `FROM`, and for
    /// the first stage).
    pub fn staged(&self) -> impl Iterator<Item = (usize, &Instruction)> + '_ {
        let mut stage = 0usize;
        let mut seen_from = false;
        self.instructions.iter().map(move |i| {
            if i.name == "from" {
                if seen_from {
                    stage += 1;
                }
                seen_from = true;
            }
            (stage, i)
        })
    }

    /// The stages: indexes into `instructions` of each `FROM`.
    pub fn stages(&self) -> Vec<usize> {
        (0..self.instructions.len())
            .filter(|&i| self.instructions[i].name == "from")
            .collect()
    }
}

/// Go's `strconv.Quote`, which BuildKit's dump uses.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() || c == '\u{feff}' => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
