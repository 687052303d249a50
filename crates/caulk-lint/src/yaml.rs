//! Position-keeping YAML tree for linting Compose files, Kubernetes manifests and CI workflows:
//! every node, and every byte of a scalar, traces back to a line, column and offset in the file.

use std::collections::HashMap;
use std::fmt;
use std::mem::size_of;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

/// Deepest nesting of collections accepted, counting aliased subtrees where they are used.
pub const MAX_DEPTH: usize = 256;

/// Rough heap bytes that alias expansion may add to one stream. Real files reuse small blocks;
/// anything past this is an amplification attack (billion laughs), not configuration.
pub const MAX_ALIAS_EXPANSION: usize = 32 << 20;

const NULL_TAG: &str = "tag:yaml.org,2002:null";

/// A position in the source: 1-based line and column (in characters), and the 0-based byte offset.
///
/// Lines end at `\n`, `\r\n` or a lone `\r` (as in YAML); a tab is one column; a leading UTF-8
/// BOM takes bytes but no column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// 0-based byte offset from the start of the whole stream.
    pub offset: usize,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An empty node, or a plain `~`, `null`, `Null` or `NULL` without a non-null tag.
    Null,
    /// Any other scalar, unconverted: `8080`, `true` and `"8080"` are all text.
    Scalar(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order, duplicates kept.
    Map(Vec<(Node, Node)>),
}

/// A node with where it starts and ends, and for scalars how it was written.
///
/// `start` is the first character of the node: the opening quote of a quoted scalar, the `|` or
/// `>` of a block scalar, the `[`/`{` of a flow collection, the first key or `-` of a block one.
/// `end` is just past its last character (past the closing quote or bracket; for block scalars,
/// past the last content character). An empty value sits just after its `:` or `-`, with
/// `start == end`. A node produced by an alias keeps the positions of the anchored node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// Where the node starts.
    pub start: Pos,
    /// Just past where the node ends.
    pub end: Pos,
    /// How a scalar was written; `Collection` for sequences and mappings.
    pub style: Style,
    /// The resolved tag (`tag:yaml.org,2002:str` for `!!str`, `!Ref` for `!Ref`), if any.
    pub tag: Option<String>,
    /// Runs of the scalar's bytes that sit contiguously in the source. Empty when the whole value
    /// is one run from `value_start()`, which is the common case and costs no allocation.
    segs: Vec<Seg>,
}

/// How a node was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A plain (unquoted) scalar, and empty nodes.
    Plain,
    /// `'...'`
    SingleQuoted,
    /// `"..."`
    DoubleQuoted,
    /// `|` block scalar.
    Literal,
    /// `>` block scalar.
    Folded,
    /// A sequence or a mapping.
    Collection,
}

/// Why a stream could not be turned into a tree, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// What went wrong.
    pub message: String,
    /// Where, when known.
    pub pos: Option<Pos>,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{} at line {}, column {}",
                self.message, p.line, p.column
            ),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for YamlError {}

/// Parses every document of a (multi-document) YAML stream.
///
/// Aliases are resolved to a clone of the anchored node (anchors are scoped to their document).
/// Nesting deeper than [`MAX_DEPTH`], alias expansion past [`MAX_ALIAS_EXPANSION`], NUL
/// characters and malformed YAML are errors. Merge keys (`<<`) are left as ordinary entries.
/// A stream with no documents (empty, or only comments) gives an empty vector.
///
/// # Errors
///
/// A [`YamlError`], with the position where the parser stopped when there is one.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    // yaml-rust2 has `unreachable!`/`unwrap` paths; a hostile image must not take caulk down.
    match catch_unwind(AssertUnwindSafe(|| parse_inner(text))) {
        Ok(r) => r,
        Err(_) => Err(YamlError {
            message: "internal error in the YAML parser".to_string(),
            pos: None,
        }),
    }
}

impl Node {
    /// Map lookup by scalar key. With duplicate keys the last one wins, as in most loaders.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Key node and value node for a key (the key's position is what diagnostics on "this key"
    /// point to). With duplicate keys the last one wins.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// The text of a scalar; `None` for null and collections.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Follows a path of keys (`["spec", "template", "spec"]`).
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// For a block scalar (`run: |` ...), the Pos of each content line's first character, so
    /// that a match at byte k of the scalar's value can be mapped back to a source line and
    /// column. For plain/quoted single-line scalars, one entry: the position of the first
    /// character of the value (after the opening quote).
    ///
    /// For a literal block scalar entry `i` belongs to line `i` of the value
    /// (`as_str().split('\n')`); an empty line gives the position of its line break.
    /// Folded and multi-line flow scalars give one entry per source line that holds content.
    /// Null and collections give none.
    pub fn line_starts(&self) -> Vec<Pos> {
        let Value::Scalar(s) = &self.value else {
            return Vec::new();
        };
        if self.segs.is_empty() {
            return match self.style {
                Style::Literal | Style::Folded => Vec::new(),
                _ => vec![self.value_start()],
            };
        }
        let mut out: Vec<Pos> = Vec::new();
        for g in &self.segs {
            // The run that only marks the end of the value is not a content line.
            if g.vbyte >= s.len() && !s.is_empty() {
                break;
            }
            if out.last().is_none_or(|p| p.line != g.pos.line) {
                out.push(g.pos);
            }
        }
        out
    }

    /// Maps a byte offset within `as_str()` to a source Pos (best effort for folded/escaped
    /// scalars; exact for plain single-line, literal block scalars, and single/double-quoted
    /// scalars without escapes). Also exact for every character of a double-quoted scalar that
    /// is not itself an escape, and for multi-line plain scalars except the folded line breaks.
    ///
    /// A byte inside a character maps to that character; `byte >= len` maps just past the last
    /// character. Null and collections map to `start`.
    pub fn pos_in_value(&self, byte: usize) -> Pos {
        let Value::Scalar(s) = &self.value else {
            return self.start;
        };
        let mut byte = byte.min(s.len());
        while !s.is_char_boundary(byte) {
            byte -= 1;
        }
        let (base_byte, base) = match self.segs.partition_point(|g| g.vbyte <= byte) {
            0 => (0, self.value_start()),
            i => match self.segs.get(i - 1) {
                Some(g) => (g.vbyte, g.pos),
                None => (0, self.value_start()),
            },
        };
        let run = s.get(base_byte..byte).unwrap_or("");
        Pos {
            line: base.line,
            column: base.column + run.chars().count(),
            offset: base.offset + run.len(),
        }
    }

    /// Where the value's first character is when the value is one contiguous run.
    fn value_start(&self) -> Pos {
        match self.style {
            Style::SingleQuoted | Style::DoubleQuoted => Pos {
                line: self.start.line,
                column: self.start.column + 1,
                offset: self.start.offset + 1,
            },
            _ => self.start,
        }
    }

    fn null_at(p: Pos) -> Node {
        Node {
            value: Value::Null,
            start: p,
            end: p,
            style: Style::Plain,
            tag: None,
            segs: Vec::new(),
        }
    }
}

/// Value bytes from `vbyte` up to the next run sit contiguously in the source from `pos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    vbyte: usize,
    pos: Pos,
}

/// Collects per-character source positions into runs without holding one entry per character,
/// so a multi-megabyte scalar costs a handful of runs, not a position per byte.
#[derive(Default)]
struct Segs {
    segs: Vec<Seg>,
    /// Value length, source position and source length of the previous character.
    prev: Option<(usize, Pos, usize)>,
}

impl Segs {
    fn push(&mut self, vbyte: usize, vlen: usize, pos: Pos, src_len: usize) {
        let joins = self.prev.is_some_and(|(pv, pp, ps)| {
            ps == pv
                && pos.line == pp.line
                && pos.offset == pp.offset + ps
                && pos.column == pp.column + 1
        });
        if !joins {
            self.segs.push(Seg { vbyte, pos });
        }
        self.prev = Some((vlen, pos, src_len));
    }

    /// Drops the single run that `value_start()` already implies.
    fn finish(mut self, implied: Pos) -> Vec<Seg> {
        if self.segs.len() == 1 && self.segs[0].vbyte == 0 && self.segs[0].pos == implied {
            return Vec::new();
        }
        self.segs.shrink_to_fit();
        self.segs
    }
}

/// Turns scanner markers and byte offsets into [`Pos`]es.
struct Locator<'a> {
    text: &'a str,
    bom: usize,
    /// Byte offset where each line starts; line 1 starts after the BOM.
    lines: Vec<usize>,
    /// Last answer (line index, offset, 0-based column): lookups come in nearly source order, and
    /// walking on from the last one keeps a huge single-line file linear rather than quadratic.
    cache: (usize, usize, usize),
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let b = text.as_bytes();
        let mut lines = vec![bom];
        for (i, &c) in b.iter().enumerate().skip(bom) {
            let brk = c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n'));
            if brk {
                lines.push(i + 1);
            }
        }
        Locator {
            text,
            bom,
            lines,
            cache: (0, bom, 0),
        }
    }

    /// Offset of the line break ending line `idx` (0-based), or the end of the text.
    fn line_end(&self, idx: usize) -> usize {
        let b = self.text.as_bytes();
        let start = self.lines.get(idx).copied().unwrap_or(self.text.len());
        match self.lines.get(idx + 1) {
            Some(&next) => {
                let mut e = next.saturating_sub(1);
                if b.get(e) == Some(&b'\n') && e > start && b.get(e - 1) == Some(&b'\r') {
                    e -= 1;
                }
                e.max(start)
            }
            None => self.text.len(),
        }
    }

    fn line_text(&self, idx: usize) -> &'a str {
        let start = self.lines.get(idx).copied().unwrap_or(self.text.len());
        self.text.get(start..self.line_end(idx)).unwrap_or("")
    }

    fn at(&mut self, off: usize) -> Pos {
        let mut off = off.min(self.text.len()).max(self.bom);
        while !self.text.is_char_boundary(off) {
            off -= 1;
        }
        let idx = self.lines.partition_point(|&s| s <= off).saturating_sub(1);
        let (cidx, coff, ccol) = self.cache;
        let line_start = self.lines.get(idx).copied().unwrap_or(self.bom);
        let count = |a: usize, b: usize| self.text.get(a..b).map_or(0, |s| s.chars().count());
        // Empty nodes look back a little from the last lookup; walking back from it (not from
        // the line start) keeps `{a, b, c, ...}` on one long line linear.
        let col = if cidx == idx && coff >= line_start {
            if coff <= off {
                ccol + count(coff, off)
            } else {
                ccol.saturating_sub(count(off, coff))
            }
        } else {
            count(line_start, off)
        };
        self.cache = (idx, off, col);
        Pos {
            line: idx + 1,
            column: col + 1,
            offset: off,
        }
    }

    /// yaml-rust2's `Marker::index` counts characters, and after a block-scalar line read in bulk
    /// it grows by that line's byte length instead, so only its line and column are trusted.
    fn marker(&mut self, m: &Marker) -> Pos {
        let idx = m
            .line()
            .saturating_sub(1)
            .min(self.lines.len().saturating_sub(1));
        let want = m.col();
        let end = self.line_end(idx);
        let line_start = self.lines.get(idx).copied().unwrap_or(self.bom);
        let (cidx, coff, ccol) = self.cache;
        let cached = cidx == idx && coff <= end && coff >= line_start;
        let (mut off, mut col) = if cached && ccol <= want {
            (coff, ccol)
        } else if cached {
            let mut back = (coff, ccol);
            for (i, _) in self
                .text
                .get(line_start..coff)
                .unwrap_or("")
                .char_indices()
                .rev()
            {
                if back.1 <= want {
                    break;
                }
                back = (line_start + i, back.1 - 1);
            }
            back
        } else {
            (line_start, 0)
        };
        for ch in self.text.get(off..end).unwrap_or("").chars() {
            if col >= want {
                break;
            }
            off += ch.len_utf8();
            col += 1;
        }
        self.cache = (idx, off, col);
        Pos {
            line: idx + 1,
            column: col + 1,
            offset: off,
        }
    }
}

/// A read position that tracks line and column while walking the source.
#[derive(Debug, Clone, Copy)]
struct Cur {
    off: usize,
    line: usize,
    col: usize,
}

impl Cur {
    fn from(p: Pos) -> Cur {
        Cur {
            off: p.offset,
            line: p.line,
            col: p.column,
        }
    }

    fn pos(self) -> Pos {
        Pos {
            line: self.line,
            column: self.col,
            offset: self.off,
        }
    }

    /// Past `len` bytes holding `chars` characters on the same line.
    fn over(self, len: usize, chars: usize) -> Cur {
        Cur {
            off: self.off + len,
            line: self.line,
            col: self.col + chars,
        }
    }

    fn next_line(self, len: usize) -> Cur {
        Cur {
            off: self.off + len,
            line: self.line + 1,
            col: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// One source element of a scalar, as the scanner would read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A character of the value (possibly decoded from an escape or `''`).
    Text(char),
    /// A raw space or tab, which folding may drop.
    Blank(char),
    /// A raw line break, which folding turns into a space or drops.
    Break,
    /// An escaped line break in a double-quoted scalar: contributes nothing.
    Skip,
    /// The closing quote.
    Close,
    /// End of the text.
    End,
}

struct Unit {
    kind: Kind,
    at: Cur,
    len: usize,
    next: Cur,
}

fn unit(text: &str, c: Cur, q: Quote) -> Unit {
    let rest = text.get(c.off..).unwrap_or("");
    let mk = |kind, len, next| Unit {
        kind,
        at: c,
        len,
        next,
    };
    let Some(ch) = rest.chars().next() else {
        return mk(Kind::End, 0, c);
    };
    let b = rest.as_bytes();
    match ch {
        '\n' => mk(Kind::Break, 1, c.next_line(1)),
        '\r' => {
            let len = if b.get(1) == Some(&b'\n') { 2 } else { 1 };
            mk(Kind::Break, len, c.next_line(len))
        }
        ' ' | '\t' => mk(Kind::Blank(ch), 1, c.over(1, 1)),
        '\'' if q == Quote::Single => {
            if b.get(1) == Some(&b'\'') {
                mk(Kind::Text('\''), 2, c.over(2, 2))
            } else {
                mk(Kind::Close, 1, c.over(1, 1))
            }
        }
        '"' if q == Quote::Double => mk(Kind::Close, 1, c.over(1, 1)),
        '\\' if q == Quote::Double => escape(rest, c),
        _ => mk(Kind::Text(ch), ch.len_utf8(), c.over(ch.len_utf8(), 1)),
    }
}

/// Decodes one double-quoted escape; `rest` starts with the backslash.
fn escape(rest: &str, c: Cur) -> Unit {
    let plain = Unit {
        kind: Kind::Text('\\'),
        at: c,
        len: 1,
        next: c.over(1, 1),
    };
    let Some(e) = rest.get(1..).and_then(|s| s.chars().next()) else {
        return plain;
    };
    if e == '\n' || e == '\r' {
        let brk = if e == '\r' && rest.as_bytes().get(2) == Some(&b'\n') {
            2
        } else {
            1
        };
        return Unit {
            kind: Kind::Skip,
            at: c,
            len: 1 + brk,
            next: c.next_line(1 + brk),
        };
    }
    let simple = match e {
        '0' => Some('\0'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        't' | '\t' => Some('\t'),
        'n' => Some('\n'),
        'v' => Some('\x0b'),
        'f' => Some('\x0c'),
        'r' => Some('\r'),
        'e' => Some('\x1b'),
        ' ' => Some(' '),
        '"' => Some('"'),
        '/' => Some('/'),
        '\\' => Some('\\'),
        'N' => Some('\u{85}'),
        '_' => Some('\u{a0}'),
        'L' => Some('\u{2028}'),
        'P' => Some('\u{2029}'),
        _ => None,
    };
    if let Some(d) = simple {
        let len = 1 + e.len_utf8();
        return Unit {
            kind: Kind::Text(d),
            at: c,
            len,
            next: c.over(len, 2),
        };
    }
    let width = match e {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return plain,
    };
    let decoded = rest
        .get(2..2 + width)
        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32);
    match decoded {
        Some(d) => Unit {
            kind: Kind::Text(d),
            at: c,
            len: 2 + width,
            next: c.over(2 + width, 2 + width),
        },
        None => plain,
    }
}

/// Walks the source from `c` alongside the scanner's `value`, recording where each value
/// character came from. The value guides the walk, so line folding, dropped indentation and
/// escapes need no re-implementation of the scanner: source blanks and breaks that the value
/// lacks are skipped, and value spaces or newlines that the source lacks are folds.
/// Returns the cursor after the walk and the cursor just past the last non-break character.
fn align(text: &str, mut c: Cur, q: Quote, value: &str, segs: &mut Segs) -> (Cur, Option<Cur>) {
    let mut last = None;
    for (vb, ch) in value.char_indices() {
        let vlen = ch.len_utf8();
        loop {
            let u = unit(text, c, q);
            match u.kind {
                Kind::End | Kind::Close => {
                    segs.push(vb, vlen, u.at.pos(), 0);
                    break;
                }
                Kind::Text(t) | Kind::Blank(t) if t == ch => {
                    segs.push(vb, vlen, u.at.pos(), u.len);
                    c = u.next;
                    last = Some(c);
                    break;
                }
                Kind::Break if ch == '\n' || ch == ' ' => {
                    segs.push(vb, vlen, u.at.pos(), u.len);
                    c = u.next;
                    break;
                }
                Kind::Skip | Kind::Break | Kind::Blank(_) => c = u.next,
                Kind::Text(_) if matches!(ch, ' ' | '\n' | '\t') => {
                    segs.push(vb, vlen, u.at.pos(), 0);
                    break;
                }
                Kind::Text(_) => {
                    // Out of step with the scanner; keep moving so positions stay near.
                    segs.push(vb, vlen, u.at.pos(), u.len);
                    c = u.next;
                    last = Some(c);
                    break;
                }
            }
        }
    }
    (c, last)
}

/// The length of a block scalar header's indicators after `|`/`>`, if `tail` (the rest of the
/// line) is a valid header remainder: indentation/chomping indicators, blanks, a comment.
fn header_tail(tail: &str) -> Option<usize> {
    let b = tail.as_bytes();
    let mut i = 0;
    while i < b.len() && i < 2 && (b[i] == b'+' || b[i] == b'-' || (b'1'..=b'9').contains(&b[i])) {
        i += 1;
    }
    let ind = i;
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if i == b.len() || (b[i] == b'#' && i > ind) {
        Some(ind)
    } else {
        None
    }
}

/// Where an anchored node sits in the tree being built: `slot` in the items of the collection
/// that `parent` leads to. Shared and linked, so an anchor costs O(1) memory at any depth.
struct Link {
    parent: Option<Rc<Link>>,
    slot: usize,
}

struct Anchor {
    link: Option<Rc<Link>>,
    index: usize,
    weight: usize,
    height: usize,
}

struct Frame {
    map: bool,
    flow: bool,
    start: Pos,
    anchor: usize,
    tag: Option<String>,
    items: Vec<Node>,
    link: Option<Rc<Link>>,
    weight: usize,
    height: usize,
    /// Source extent of the children as written (an alias's `*name`, not the anchored node).
    first: Option<Pos>,
    last: Option<Pos>,
}

struct Builder<'a> {
    text: &'a str,
    loc: Locator<'a>,
    frames: Vec<Frame>,
    root: Option<Node>,
    docs: Vec<Node>,
    anchors: HashMap<usize, Anchor>,
    expanded: usize,
    /// End of the last thing read; empty nodes are placed from here.
    cursor: usize,
}

/// How many `key:<TAB>value` separators are patched before the error is returned; each one
/// costs a re-parse.
const MAX_TAB_RETRIES: usize = 32;

fn parse_inner(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut patched: Option<String> = None;
    for _ in 0..MAX_TAB_RETRIES {
        let src = patched.as_deref().unwrap_or(text);
        let result = parse_once(src);
        // yaml-rust2 rejects a tab as the separator after `:` (YAML 1.2 allows it). Those tabs
        // are not part of any value, and a space has the same width in bytes and columns, so
        // the retry gives the same tree and positions as a conforming parser would.
        let gap = match &result {
            Err(e) if e.message == "':' must be followed by a valid YAML whitespace" => {
                e.pos.and_then(|p| separator_after_colon(src, p.offset))
            }
            _ => None,
        };
        let Some((from, to)) = gap else {
            return result;
        };
        let mut fixed = src.to_string();
        fixed.replace_range(from..to, &" ".repeat(to - from));
        patched = Some(fixed);
    }
    parse_once(patched.as_deref().unwrap_or(text))
}

/// The blanks between a `:` and `offset` (where yaml-rust2 reports the tab error), if they hold
/// a tab.
fn separator_after_colon(src: &str, offset: usize) -> Option<(usize, usize)> {
    let b = src.as_bytes();
    let to = offset.min(b.len());
    let mut from = to;
    while from > 0 && matches!(b[from - 1], b' ' | b'\t') {
        from -= 1;
    }
    let colon = from > 0 && b[from - 1] == b':';
    (colon && b[from..to].contains(&b'\t')).then_some((from, to))
}

fn parse_once(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut b = Builder {
        text,
        loc: Locator::new(text),
        frames: Vec::new(),
        root: None,
        docs: Vec::new(),
        anchors: HashMap::new(),
        expanded: 0,
        cursor: 0,
    };
    // The scanner reads NUL as end of input and would silently drop everything after it.
    if let Some(i) = text.find('\0') {
        let pos = b.loc.at(i);
        return Err(err("NUL character is not allowed in YAML", pos));
    }
    b.cursor = b.loc.bom;
    // The scanner does not skip a BOM (it would become part of the first key).
    let body = text.get(b.loc.bom..).unwrap_or("");
    let mut parser = Parser::new_from_str(body);
    // Every event consumes input or is one of a bounded number of empty nodes per character;
    // the cap turns any parser bug that loops into an error instead of a hang.
    let budget = body.len().saturating_mul(8).saturating_add(64);
    for _ in 0..budget {
        let (ev, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => return Err(b.scan_error(&e)),
        };
        match ev {
            Event::StreamEnd => return Ok(b.docs),
            Event::Nothing | Event::StreamStart => {}
            Event::DocumentStart => b.document_start(&mark),
            Event::DocumentEnd => b.document_end(),
            Event::Alias(id) => b.alias(id, &mark)?,
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| t.handle + &t.suffix);
                b.scalar(value, style, anchor, tag, &mark);
            }
            Event::SequenceStart(anchor, tag) => {
                b.open(false, anchor, tag.map(|t| t.handle + &t.suffix), &mark)?;
            }
            Event::MappingStart(anchor, tag) => {
                b.open(true, anchor, tag.map(|t| t.handle + &t.suffix), &mark)?;
            }
            Event::SequenceEnd | Event::MappingEnd => b.close(&mark),
        }
    }
    Err(YamlError {
        message: "YAML parser did not reach the end of the stream".to_string(),
        pos: None,
    })
}

fn err(message: &str, pos: Pos) -> YamlError {
    YamlError {
        message: message.to_string(),
        pos: Some(pos),
    }
}

impl Builder<'_> {
    fn scan_error(&mut self, e: &ScanError) -> YamlError {
        let pos = self.loc.marker(e.marker());
        err(e.info(), pos)
    }

    fn document_start(&mut self, mark: &Marker) {
        self.anchors.clear();
        self.frames.clear();
        self.root = None;
        let p = self.loc.marker(mark);
        if self
            .text
            .get(p.offset..)
            .is_some_and(|s| s.starts_with("---"))
        {
            self.cursor = p.offset + 3;
        }
    }

    fn document_end(&mut self) {
        self.frames.clear();
        let at = self.loc.at(self.cursor);
        let root = self.root.take().unwrap_or_else(|| Node::null_at(at));
        self.docs.push(root);
    }

    fn attach(
        &mut self,
        node: Node,
        weight: usize,
        height: usize,
        anchor: usize,
        extent: (Pos, Pos),
    ) {
        let Some(top) = self.frames.last_mut() else {
            self.root = Some(node);
            return;
        };
        let index = top.items.len();
        top.items.push(node);
        top.weight = top.weight.saturating_add(weight);
        top.height = top.height.max(height);
        if top.first.is_none() {
            top.first = Some(extent.0);
        }
        if top.last.is_none_or(|l| l.offset <= extent.1.offset) {
            top.last = Some(extent.1);
        }
        if anchor > 0 {
            let link = top.link.clone();
            self.anchors.insert(
                anchor,
                Anchor {
                    link,
                    index,
                    weight,
                    height,
                },
            );
        }
    }

    /// An empty node belongs just after the `:` or `-` that introduced it, but the parser marks
    /// it at the next token, which may be lines further on.
    fn empty_pos(&mut self, mark: Pos) -> Pos {
        let b = self.text.as_bytes();
        let limit = mark.offset.max(self.cursor).min(b.len());
        let mut i = self.cursor.min(b.len());
        loop {
            while i < limit && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            if i < limit && b[i] == b'#' {
                while i < limit && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            } else {
                break;
            }
        }
        let ends = |j: usize| {
            b.get(j)
                .is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b',' | b']' | b'}'))
        };
        if i < b.len() && matches!(b[i], b':' | b'-' | b'?') && ends(i + 1) {
            return self.loc.at(i + 1);
        }
        self.loc.at(self.cursor)
    }

    fn scalar(
        &mut self,
        value: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<String>,
        mark: &Marker,
    ) {
        let mpos = self.loc.marker(mark);
        let may_be_null = tag.as_deref().is_none_or(|t| t == NULL_TAG);
        let (node_value, style, start, end, segs) = match style {
            TScalarStyle::Plain if value.is_empty() => {
                let p = self.empty_pos(mpos);
                let v = if may_be_null {
                    Value::Null
                } else {
                    Value::Scalar(value)
                };
                (v, Style::Plain, p, p, Vec::new())
            }
            TScalarStyle::Plain => {
                let (start, end, segs) = self.flow_scalar(&value, Quote::None, mpos);
                if may_be_null && matches!(value.as_str(), "~" | "null" | "Null" | "NULL") {
                    (Value::Null, Style::Plain, start, end, Vec::new())
                } else {
                    (Value::Scalar(value), Style::Plain, start, end, segs)
                }
            }
            TScalarStyle::SingleQuoted => {
                let (start, end, segs) = self.flow_scalar(&value, Quote::Single, mpos);
                (Value::Scalar(value), Style::SingleQuoted, start, end, segs)
            }
            TScalarStyle::DoubleQuoted => {
                let (start, end, segs) = self.flow_scalar(&value, Quote::Double, mpos);
                (Value::Scalar(value), Style::DoubleQuoted, start, end, segs)
            }
            TScalarStyle::Literal | TScalarStyle::Folded => {
                let literal = style == TScalarStyle::Literal;
                let (start, end, segs) = self.block_scalar(&value, literal, mpos);
                let style = if literal {
                    Style::Literal
                } else {
                    Style::Folded
                };
                (Value::Scalar(value), style, start, end, segs)
            }
        };
        let text_len = match &node_value {
            Value::Scalar(s) => s.len(),
            _ => 0,
        };
        let weight = size_of::<Node>()
            + text_len
            + tag.as_ref().map_or(0, String::len)
            + segs.len() * size_of::<Seg>();
        self.cursor = end.offset;
        let node = Node {
            value: node_value,
            start,
            end,
            style,
            tag,
            segs,
        };
        self.attach(node, weight, 0, anchor, (start, end));
    }

    fn flow_scalar(&mut self, value: &str, q: Quote, mpos: Pos) -> (Pos, Pos, Vec<Seg>) {
        let text = self.text;
        let mut c = Cur::from(mpos);
        let open = match q {
            Quote::Single => Some(b'\''),
            Quote::Double => Some(b'"'),
            Quote::None => None,
        };
        if open.is_some() && text.as_bytes().get(c.off) == open.as_ref() {
            c = c.over(1, 1);
        }
        let vstart = c.pos();
        let mut segs = Segs::default();
        let (after, last) = align(text, c, q, value, &mut segs);
        let (sentinel, end) = if q == Quote::None {
            let e = last.unwrap_or(c).pos();
            (e, e)
        } else {
            let mut k = after;
            loop {
                let u = unit(text, k, q);
                match u.kind {
                    Kind::Close => break (u.at.pos(), u.next.pos()),
                    Kind::End => break (u.at.pos(), u.at.pos()),
                    _ => k = u.next,
                }
            }
        };
        segs.push(value.len(), 0, sentinel, 0);
        (mpos, end, segs.finish(vstart))
    }

    /// Finds a block scalar's header line and indicator. The parser marks a block scalar at its
    /// first content character, so the header is the nearest line above that is not blank;
    /// only an empty scalar at the end of the stream is marked at the indicator itself.
    fn find_header(&mut self, value: &str, mpos: Pos) -> Option<(usize, usize, usize)> {
        let text = self.text;
        let idx = mpos.line.saturating_sub(1);
        if value.trim().is_empty() {
            let line_end = self.loc.line_end(idx);
            let at_indicator = matches!(text.as_bytes().get(mpos.offset), Some(b'|' | b'>'));
            if at_indicator {
                let tail = text.get(mpos.offset + 1..line_end).and_then(header_tail);
                let rest_blank = text.get(line_end..).is_some_and(|s| s.trim().is_empty());
                if let (Some(t), true) = (tail, rest_blank) {
                    return Some((idx, mpos.offset, mpos.offset + 1 + t));
                }
            }
        }
        let mut k = idx;
        while k > 0 {
            k -= 1;
            let line = self.loc.line_text(k);
            if line.bytes().all(|b| b == b' ' || b == b'\t') {
                continue;
            }
            let line_start = self.loc.lines.get(k).copied().unwrap_or(0);
            for (i, ch) in line.char_indices() {
                if ch == '|' || ch == '>' {
                    if let Some(t) = line.get(i + 1..).and_then(header_tail) {
                        return Some((k, line_start + i, line_start + i + 1 + t));
                    }
                }
            }
            return None;
        }
        None
    }

    fn block_scalar(&mut self, value: &str, literal: bool, mpos: Pos) -> (Pos, Pos, Vec<Seg>) {
        let Some((hline, ind, hend)) = self.find_header(value, mpos) else {
            let mut segs = Segs::default();
            let (after, last) = align(self.text, Cur::from(mpos), Quote::None, value, &mut segs);
            segs.push(value.len(), 0, after.pos(), 0);
            return (mpos, last.map_or(mpos, Cur::pos), segs.segs);
        };
        let start = self.loc.at(ind);
        let header_end = self.loc.at(hend);
        if literal {
            if let Some((segs, end)) = self.literal_map(value, hline + 1) {
                return (start, end.unwrap_or(header_end), segs);
            }
        }
        let from = match self.loc.lines.get(hline + 1) {
            Some(&o) => self.loc.at(o),
            None => header_end,
        };
        let mut segs = Segs::default();
        let (after, last) = align(self.text, Cur::from(from), Quote::None, value, &mut segs);
        segs.push(value.len(), 0, after.pos(), 0);
        (start, last.map_or(header_end, Cur::pos), segs.segs)
    }

    /// A literal scalar's line `i` is source line `first + i` minus its indentation, so each line
    /// maps exactly. `None` if the source does not look like that (then folding rules apply).
    fn literal_map(&mut self, value: &str, first: usize) -> Option<(Vec<Seg>, Option<Pos>)> {
        let mut segs = Segs::default();
        let mut end = None;
        // Just past the last character, so `pos_in_value(len)` is a real position even when the
        // value ends with a line break.
        let mut after = None;
        let mut vb = 0;
        for (k, piece) in value.split('\n').enumerate() {
            let is_last = vb + piece.len() >= value.len();
            if is_last && piece.is_empty() {
                break;
            }
            let idx = first + k;
            if idx >= self.loc.lines.len() {
                return None;
            }
            let line = self.loc.line_text(idx);
            if !line.ends_with(piece) {
                return None;
            }
            let le = self.loc.line_end(idx);
            if !piece.is_empty() {
                let mut c = Cur::from(self.loc.at(le - piece.len()));
                for (i, ch) in piece.char_indices() {
                    segs.push(vb + i, ch.len_utf8(), c.pos(), ch.len_utf8());
                    c = c.over(ch.len_utf8(), 1);
                }
                end = Some(c.pos());
                after = end;
            }
            if !is_last {
                let next = self.loc.lines.get(idx + 1).copied();
                let p = self.loc.at(le);
                segs.push(
                    vb + piece.len(),
                    1,
                    p,
                    next.map_or(0, |n| n.saturating_sub(le)),
                );
                after = Some(next.map_or(p, |n| self.loc.at(n)));
            }
            vb += piece.len() + 1;
        }
        if let Some(a) = after {
            segs.push(value.len(), 0, a, 0);
        }
        Some((segs.segs, end))
    }

    fn alias(&mut self, id: usize, mark: &Marker) -> Result<(), YamlError> {
        let mpos = self.loc.marker(mark);
        let b = self.text.as_bytes();
        let mut i = mpos.offset + 1;
        while i < b.len()
            && !matches!(
                b[i],
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}'
            )
        {
            i += 1;
        }
        let alias_end = self.loc.at(i);
        let Some(a) = self.anchors.get(&id) else {
            return Err(err(
                "alias to an anchor that is not defined in this document, or not yet complete",
                mpos,
            ));
        };
        if self.frames.len() + a.height > MAX_DEPTH {
            return Err(err("alias expands to nesting deeper than the limit", mpos));
        }
        let (weight, height) = (a.weight, a.height);
        self.expanded = self.expanded.saturating_add(weight);
        if self.expanded > MAX_ALIAS_EXPANSION {
            return Err(err(
                "aliases expand to more data than the limit (billion laughs?)",
                mpos,
            ));
        }
        let Some(node) = self.resolve(a).cloned() else {
            return Err(err("alias to an anchor that is not complete", mpos));
        };
        self.cursor = alias_end.offset;
        self.attach(node, weight, height, 0, (mpos, alias_end));
        Ok(())
    }

    /// Finds an anchored node: down the open frames while the path follows them, then down the
    /// finished node it reaches.
    fn resolve(&self, a: &Anchor) -> Option<&Node> {
        let mut path = vec![a.index];
        let mut link = a.link.as_ref();
        while let Some(l) = link {
            path.push(l.slot);
            link = l.parent.as_ref();
        }
        path.reverse();
        let mut steps = path.into_iter();
        let mut level = 0;
        let mut node = loop {
            let frame = self.frames.get(level)?;
            let p = steps.next()?;
            match frame.items.get(p) {
                Some(n) => break n,
                None if p == frame.items.len() => level += 1,
                None => return None,
            }
        };
        for p in steps {
            node = match &node.value {
                Value::Seq(items) => items.get(p)?,
                Value::Map(entries) => {
                    let (k, v) = entries.get(p / 2)?;
                    if p % 2 == 0 {
                        k
                    } else {
                        v
                    }
                }
                _ => return None,
            };
        }
        Some(node)
    }

    fn open(
        &mut self,
        map: bool,
        anchor: usize,
        tag: Option<String>,
        mark: &Marker,
    ) -> Result<(), YamlError> {
        let mut start = self.loc.marker(mark);
        if self.frames.len() >= MAX_DEPTH {
            return Err(err("collections nested deeper than the limit", start));
        }
        let b = self.text.as_bytes();
        let opener = if map { b'{' } else { b'[' };
        let flow = b.get(start.offset) == Some(&opener);
        if !flow && !map && b.get(start.offset) != Some(&b'-') {
            // An indentless sequence (`key:` then `- a` at the same indent) is marked at its
            // first item, after the `- `.
            let mut i = start.offset.min(b.len());
            while i > 0 && matches!(b[i - 1], b' ' | b'\t') {
                i -= 1;
            }
            if i > 0 && b[i - 1] == b'-' {
                start = self.loc.at(i - 1);
            }
        }
        if flow {
            self.cursor = start.offset + 1;
        } else if !map {
            self.cursor = start.offset;
        }
        let link = self.frames.last().map(|f| {
            Rc::new(Link {
                parent: f.link.clone(),
                slot: f.items.len(),
            })
        });
        self.frames.push(Frame {
            map,
            flow,
            start,
            anchor,
            tag,
            items: Vec::new(),
            link,
            weight: 0,
            height: 0,
            first: None,
            last: None,
        });
        Ok(())
    }

    /// Block collection ends are marked at the next token (past comments and blank lines) and an
    /// implicit `[k: v]` pair's end at the scanner's lookahead, so only flow brackets are trusted.
    fn close(&mut self, mark: &Marker) {
        let Some(f) = self.frames.pop() else {
            return;
        };
        let mpos = self.loc.marker(mark);
        let mut start = f.start;
        if !f.flow {
            // A block mapping is marked at its first `:`, after the first key.
            if let Some(s) = f.first.filter(|s| s.offset < start.offset) {
                start = s;
            }
        }
        let closer = if f.map { b'}' } else { b']' };
        let end = if f.flow && self.text.as_bytes().get(mpos.offset) == Some(&closer) {
            self.loc.at(mpos.offset + 1)
        } else {
            f.last.filter(|l| l.offset >= start.offset).unwrap_or(start)
        };
        let value = if f.map {
            let mut entries = Vec::with_capacity(f.items.len() / 2);
            let mut it = f.items.into_iter();
            while let Some(k) = it.next() {
                let v = it.next().unwrap_or_else(|| Node::null_at(k.end));
                entries.push((k, v));
            }
            Value::Map(entries)
        } else {
            Value::Seq(f.items)
        };
        let weight =
            (size_of::<Node>() + f.tag.as_ref().map_or(0, String::len)).saturating_add(f.weight);
        self.cursor = end.offset;
        let node = Node {
            value,
            start,
            end,
            style: Style::Collection,
            tag: f.tag,
            segs: Vec::new(),
        };
        self.attach(node, weight, f.height + 1, f.anchor, (start, end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: usize, column: usize, offset: usize) -> Pos {
        Pos {
            line,
            column,
            offset,
        }
    }

    fn one(text: &str) -> Node {
        let mut docs = parse_documents(text).expect("parses");
        assert_eq!(docs.len(), 1, "one document");
        docs.remove(0)
    }

    fn off(text: &str, needle: &str) -> usize {
        text.find(needle).expect("needle in text")
    }

    /// Line and column of a byte offset, computed independently of the parser.
    fn line_col(text: &str, offset: usize) -> (usize, usize) {
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let (mut line, mut col) = (1, 1);
        let mut chars = text[bom..offset].chars().peekable();
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

    fn check_pos(text: &str, pos: Pos) {
        assert!(pos.offset <= text.len(), "{pos:?} past end");
        assert!(
            text.is_char_boundary(pos.offset),
            "{pos:?} not on a char boundary"
        );
        assert_eq!(
            line_col(text, pos.offset),
            (pos.line, pos.column),
            "{pos:?} inconsistent"
        );
    }

    /// Every position is consistent with the text; exact styles map each character home.
    fn check_tree(text: &str, node: &Node) {
        check_pos(text, node.start);
        check_pos(text, node.end);
        match &node.value {
            Value::Seq(items) => items.iter().for_each(|n| check_tree(text, n)),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                check_tree(text, k);
                check_tree(text, v);
            }),
            Value::Null => {}
            Value::Scalar(s) => {
                assert!(node.start.offset <= node.end.offset, "{node:?}");
                for ls in node.line_starts() {
                    check_pos(text, ls);
                }
                let exact = match node.style {
                    Style::Plain | Style::Literal => true,
                    Style::SingleQuoted => !text[node.start.offset..node.end.offset].contains("''"),
                    Style::DoubleQuoted => !text[node.start.offset..node.end.offset].contains('\\'),
                    _ => false,
                };
                for (i, ch) in s.char_indices() {
                    let at = node.pos_in_value(i);
                    check_pos(text, at);
                    if exact && !ch.is_whitespace() {
                        assert!(
                            text[at.offset..].starts_with(ch),
                            "{ch:?} at byte {i} of {s:?} maps to {at:?}"
                        );
                    }
                }
                check_pos(text, node.pos_in_value(s.len()));
            }
        }
    }

    fn check_all(text: &str) -> Vec<Node> {
        let docs = parse_documents(text).expect("parses");
        docs.iter().for_each(|d| check_tree(text, d));
        docs
    }

    #[test]
    fn plain_scalars_and_nested_keys() {
        let text = "server:\n  host: example.com\n  port: 8080\n";
        let root = one(text);
        check_tree(text, &root);
        assert_eq!((root.start, root.end), (p(1, 1, 0), p(3, 13, 40)));
        let (k, v) = root.entry("server").unwrap();
        assert_eq!(
            (k.start, k.end, k.style),
            (p(1, 1, 0), p(1, 7, 6), Style::Plain)
        );
        assert_eq!(
            (v.start, v.end, v.style),
            (p(2, 3, 10), p(3, 13, 40), Style::Collection)
        );
        let (k, v) = v.entry("host").unwrap();
        assert_eq!(k.start, p(2, 3, off(text, "host")));
        assert_eq!(v.as_str(), Some("example.com"));
        assert_eq!((v.start, v.end), (p(2, 9, 16), p(2, 20, 27)));
        assert_eq!(v.start.offset, off(text, "example"));
        assert_eq!(v.line_starts(), vec![p(2, 9, 16)]);
        assert_eq!(v.pos_in_value(8), p(2, 17, off(text, "com")));
        let port = root.path(&["server", "port"]).unwrap();
        assert_eq!(
            (port.as_str(), port.start, port.end),
            (Some("8080"), p(3, 9, 36), p(3, 13, 40))
        );
    }

    #[test]
    fn quoted_scalars() {
        let text = "a: 'it''s'\nb: \"t\\x41b\"\nc: \"plain dq\"\nd: ''\n";
        let root = one(text);
        check_tree(text, &root);
        let a = root.get("a").unwrap();
        assert_eq!((a.as_str(), a.style), (Some("it's"), Style::SingleQuoted));
        assert_eq!((a.start, a.end), (p(1, 4, 3), p(1, 11, 10)));
        assert_eq!(a.line_starts(), vec![p(1, 5, 4)]);
        // The `s` after the doubled quote sits one byte later in the source than in the value.
        assert_eq!(a.pos_in_value(3), p(1, 9, 8));
        let b = root.get("b").unwrap();
        assert_eq!((b.as_str(), b.style), (Some("tAb"), Style::DoubleQuoted));
        assert_eq!((b.start, b.end), (p(2, 4, 14), p(2, 12, 22)));
        assert_eq!(b.pos_in_value(0), p(2, 5, 15));
        assert_eq!(b.pos_in_value(1), p(2, 6, 16)); // the `\x41` escape
        assert_eq!(b.pos_in_value(2), p(2, 10, 20));
        let c = root.get("c").unwrap();
        let at = off(text, "\"plain dq\"");
        assert_eq!((c.start, c.end), (p(3, 4, at), p(3, 14, at + 10)));
        assert_eq!(c.pos_in_value(6), p(3, 11, off(text, "dq")));
        let d = root.get("d").unwrap();
        assert_eq!(
            (d.as_str(), d.start, d.end),
            (Some(""), p(4, 4, 40), p(4, 6, 42))
        );
        assert_eq!(d.line_starts(), vec![p(4, 5, 41)]);
    }

    #[test]
    fn multiline_flow_scalars() {
        let text = "k: one\n  two\n\n  three\nq: \"a\n   b\"\n";
        let root = one(text);
        check_tree(text, &root);
        let k = root.get("k").unwrap();
        assert_eq!(k.as_str(), Some("one two\nthree"));
        assert_eq!((k.start, k.end), (p(1, 4, 3), p(4, 8, 21)));
        assert_eq!(k.line_starts(), vec![p(1, 4, 3), p(2, 3, 9), p(4, 3, 16)]);
        assert_eq!(k.pos_in_value(4), p(2, 3, off(text, "two")));
        assert_eq!(k.pos_in_value(8), p(4, 3, off(text, "three")));
        let q = root.get("q").unwrap();
        assert_eq!(q.as_str(), Some("a b"));
        assert_eq!((q.start, q.end), (p(5, 4, 25), p(6, 6, 33)));
        assert_eq!(q.pos_in_value(2), p(6, 4, 31));
    }

    #[test]
    fn literal_block_scalar() {
        let text = "script: |\n  echo one\n  echo two\nafter: x\n";
        let root = one(text);
        check_tree(text, &root);
        let s = root.get("script").unwrap();
        assert_eq!(
            (s.as_str(), s.style),
            (Some("echo one\necho two\n"), Style::Literal)
        );
        assert_eq!(s.start, p(1, 9, 8));
        assert_eq!(s.end, p(3, 11, 31));
        assert_eq!(s.line_starts(), vec![p(2, 3, 12), p(3, 3, 23)]);
        assert_eq!(s.pos_in_value(14), p(3, 8, off(text, "two")));
        assert_eq!(root.get("after").unwrap().start, p(4, 8, 39));
    }

    #[test]
    fn literal_strip_keep_and_indentation_indicator() {
        let text = "a: |-\n  x\n\n  y\nb: |+\n  z\n\nc: |2 # two\n    deep\n  top\n";
        let root = one(text);
        check_tree(text, &root);
        let a = root.get("a").unwrap();
        assert_eq!(a.as_str(), Some("x\n\ny"));
        assert_eq!((a.start, a.end), (p(1, 4, 3), p(4, 4, 14)));
        assert_eq!(a.line_starts(), vec![p(2, 3, 8), p(3, 1, 10), p(4, 3, 13)]);
        assert_eq!(a.pos_in_value(3), p(4, 3, 13));
        let b = root.get("b").unwrap();
        assert_eq!(b.as_str(), Some("z\n\n"));
        assert_eq!((b.start, b.end), (p(5, 4, 18), p(6, 4, 24)));
        assert_eq!(b.line_starts(), vec![p(6, 3, 23), p(7, 1, 25)]);
        let c = root.get("c").unwrap();
        assert_eq!(c.as_str(), Some("  deep\ntop\n"));
        assert_eq!(c.start, p(8, 4, off(text, "|2")));
        assert_eq!(c.line_starts(), vec![p(9, 3, 40), p(10, 3, 49)]);
        assert_eq!(c.pos_in_value(2), p(9, 5, off(text, "deep")));
        assert_eq!(c.end, p(10, 6, 52));
    }

    #[test]
    fn folded_block_scalar() {
        let text = "msg: >\n  hello\n  world\n\n  next\nk: v\n";
        let root = one(text);
        check_tree(text, &root);
        let m = root.get("msg").unwrap();
        assert_eq!(
            (m.as_str(), m.style),
            (Some("hello world\nnext\n"), Style::Folded)
        );
        assert_eq!((m.start, m.end), (p(1, 6, 5), p(5, 7, 30)));
        assert_eq!(m.line_starts(), vec![p(2, 3, 9), p(3, 3, 17), p(5, 3, 26)]);
        assert_eq!(m.pos_in_value(6), p(3, 3, off(text, "world")));
        assert_eq!(m.pos_in_value(12), p(5, 3, off(text, "next")));
    }

    #[test]
    fn empty_block_scalars() {
        let text = "a: |\nb: >-\n";
        let root = one(text);
        check_tree(text, &root);
        let a = root.get("a").unwrap();
        assert_eq!(
            (a.as_str(), a.start, a.end),
            (Some(""), p(1, 4, 3), p(1, 5, 4))
        );
        assert!(a.line_starts().is_empty());
        let b = root.get("b").unwrap();
        assert_eq!(
            (b.as_str(), b.start, b.end),
            (Some(""), p(2, 4, 8), p(2, 6, 10))
        );
    }

    #[test]
    fn flow_collections() {
        let text = "args: [--token, \"abc\", {k: v}]\nm: {a: 1, b: [x]}\ns: [r: 2]\ne: []\n";
        let root = one(text);
        check_tree(text, &root);
        let args = root.get("args").unwrap();
        assert_eq!((args.start, args.end), (p(1, 7, 6), p(1, 31, 30)));
        let items = args.as_seq().unwrap();
        assert_eq!(
            (items[0].as_str(), items[0].start, items[0].end),
            (Some("--token"), p(1, 8, 7), p(1, 15, 14))
        );
        assert_eq!((items[1].start, items[1].end), (p(1, 17, 16), p(1, 22, 21)));
        assert_eq!((items[2].start, items[2].end), (p(1, 24, 23), p(1, 30, 29)));
        assert_eq!(items[2].entry("k").unwrap().0.start, p(1, 25, 24));
        assert_eq!(items[2].get("k").unwrap().start, p(1, 28, 27));
        let m = root.get("m").unwrap();
        let line2 = off(text, "\nm:") + 1;
        assert_eq!((m.start, m.end), (p(2, 4, line2 + 3), p(2, 18, line2 + 17)));
        let b = m.get("b").unwrap();
        assert_eq!(
            (b.start, b.end),
            (p(2, 14, line2 + 13), p(2, 17, line2 + 16))
        );
        let s = root.get("s").unwrap();
        let pair = &s.as_seq().unwrap()[0];
        let line3 = off(text, "\ns:") + 1;
        assert_eq!(
            (pair.start, pair.end),
            (p(3, 5, line3 + 4), p(3, 9, line3 + 8))
        );
        assert_eq!(pair.get("r").unwrap().as_str(), Some("2"));
        let e = root.get("e").unwrap();
        let line4 = off(text, "\ne:") + 1;
        assert_eq!(
            (e.as_seq().map(<[Node]>::len), e.start, e.end),
            (Some(0), p(4, 4, line4 + 3), p(4, 6, line4 + 5))
        );
    }

    #[test]
    fn block_sequences_and_list_items() {
        let text = "steps:\n  - name: X\n    v: 1\n  - plain\nk:\n- a\n- b\n";
        let root = one(text);
        check_tree(text, &root);
        let steps = root.get("steps").unwrap();
        assert_eq!((steps.start, steps.end), (p(2, 3, 9), p(4, 10, 37)));
        let first = &steps.as_seq().unwrap()[0];
        assert_eq!((first.start, first.end), (p(2, 5, 11), p(3, 9, 27)));
        let (k, v) = first.entry("name").unwrap();
        assert_eq!((k.start, v.start), (p(2, 5, 11), p(2, 11, 17)));
        assert_eq!(first.entry("v").unwrap().0.start, p(3, 5, 23));
        // An indentless sequence starts at its first `-`, not at the first item.
        let k = root.get("k").unwrap();
        assert_eq!((k.start, k.end), (p(6, 1, 41), p(7, 4, 48)));
        assert_eq!(k.as_seq().unwrap()[0].start, p(6, 3, 43));
    }

    #[test]
    fn empty_values_sit_after_their_indicator() {
        let text = "a:\nb: ~\nc:   # note\nd:\n  -\n  - x\nnull: n\ne: !!str\n";
        let root = one(text);
        check_tree(text, &root);
        let a = root.get("a").unwrap();
        assert_eq!(
            (&a.value, a.start, a.end),
            (&Value::Null, p(1, 3, 2), p(1, 3, 2))
        );
        let b = root.get("b").unwrap();
        assert_eq!(
            (&b.value, b.start, b.end),
            (&Value::Null, p(2, 4, 6), p(2, 5, 7))
        );
        assert_eq!(root.get("c").unwrap().start, p(3, 3, 10));
        let items = root.get("d").unwrap().as_seq().unwrap();
        assert_eq!(
            (&items[0].value, items[0].start),
            (&Value::Null, p(5, 4, 26))
        );
        assert_eq!(items[1].as_str(), Some("x"));
        // A plain `null` key is null, so it is not found by name.
        assert!(root.get("null").is_none());
        let e = root.get("e").unwrap();
        assert_eq!(
            (e.as_str(), e.tag.as_deref()),
            (Some(""), Some("tag:yaml.org,2002:str"))
        );
    }

    #[test]
    fn crlf_line_endings() {
        let text = "a: 1\r\nb:\r\n  c: |\r\n    x\r\n    y\r\n  d: \"q\r\n    r\"\r\n";
        let root = one(text);
        check_tree(text, &root);
        assert_eq!(root.entry("b").unwrap().0.start, p(2, 1, 6));
        let (k, c) = root.path(&["b"]).unwrap().entry("c").unwrap();
        assert_eq!(k.start, p(3, 3, 12));
        assert_eq!(c.as_str(), Some("x\ny\n"));
        assert_eq!((c.start, c.end), (p(3, 6, 15), p(5, 6, 30)));
        assert_eq!(c.line_starts(), vec![p(4, 5, 22), p(5, 5, 29)]);
        assert_eq!(c.pos_in_value(2), p(5, 5, 29));
        let d = root.path(&["b", "d"]).unwrap();
        assert_eq!(d.as_str(), Some("q r"));
        assert_eq!((d.start, d.end), (p(6, 6, 37), p(7, 7, 47)));
        assert_eq!(d.pos_in_value(2), p(7, 5, off(text, "r\"")));
    }

    #[test]
    fn tabs_count_one_column() {
        let text = "a: \tvalue\nb: [1,\t2]\nc: x\ty\n";
        let root = one(text);
        check_tree(text, &root);
        assert_eq!(root.get("a").unwrap().start, p(1, 5, 4));
        let two = &root.get("b").unwrap().as_seq().unwrap()[1];
        assert_eq!((two.as_str(), two.start), (Some("2"), p(2, 8, 17)));
        let c = root.get("c").unwrap();
        assert_eq!((c.as_str(), c.pos_in_value(2)), (Some("x\ty"), p(3, 6, 25)));
    }

    #[test]
    fn tab_right_after_colon_is_accepted() {
        // yaml-rust2 rejects `key:<TAB>value`, which YAML 1.2 allows.
        let text = "a:\tvalue\nb:\t\"q\"\nc:\t[x]\n";
        let root = one(text);
        check_tree(text, &root);
        assert_eq!(
            (
                root.get("a").unwrap().as_str(),
                root.get("a").unwrap().start
            ),
            (Some("value"), p(1, 4, 3))
        );
        assert_eq!(
            (
                root.get("b").unwrap().as_str(),
                root.get("b").unwrap().start
            ),
            (Some("q"), p(2, 4, 12))
        );
        assert_eq!(root.get("c").unwrap().start, p(3, 4, 19));
        // A tab inside a value is kept.
        assert_eq!(
            one("k: |\n  a:\tb\n").get("k").unwrap().as_str(),
            Some("a:\tb\n")
        );
    }

    #[test]
    fn utf8_bom_is_skipped() {
        let text = "\u{feff}key: val\n";
        let root = one(text);
        check_tree(text, &root);
        let (k, v) = root.entry("key").unwrap();
        assert_eq!((k.start, k.end), (p(1, 1, 3), p(1, 4, 6)));
        assert_eq!(v.start, p(1, 6, 8));
        assert_eq!(root.start, p(1, 1, 3));
    }

    #[test]
    fn multibyte_characters_count_one_column() {
        let text = "naïve: 値段 ünïcode\nnext: ü\n";
        let root = one(text);
        check_tree(text, &root);
        let (k, v) = root.entry("naïve").unwrap();
        assert_eq!((k.start, k.end), (p(1, 1, 0), p(1, 6, 6)));
        assert_eq!((v.start, v.end), (p(1, 8, 8), p(1, 18, 24)));
        assert_eq!(v.pos_in_value(7), p(1, 11, 15));
        assert_eq!(v.pos_in_value(8), p(1, 11, 15)); // inside `ü`: the character itself
        let (k, v) = root.entry("next").unwrap();
        assert_eq!(
            (k.start, v.start, v.end),
            (p(2, 1, 25), p(2, 7, 31), p(2, 8, 33))
        );
    }

    #[test]
    fn multibyte_block_scalar_does_not_shift_later_positions() {
        // yaml-rust2 advances its character index by bytes for bulk-read block scalar lines.
        let text = "a: |\n  é€ and more text to push past the lookahead buffer\nb: c\n";
        let root = one(text);
        check_tree(text, &root);
        assert_eq!(root.entry("b").unwrap().0.start, p(3, 1, off(text, "b:")));
        assert_eq!(root.get("b").unwrap().start, p(3, 4, off(text, "c\n")));
    }

    #[test]
    fn documents_share_stream_positions() {
        let text = "a: 1\n---\nb: 2\n...\n---\nc: 3\n--- |\n  lit\n";
        let docs = check_all(text);
        assert_eq!(docs.len(), 4);
        assert_eq!(docs[0].entry("a").unwrap().0.start, p(1, 1, 0));
        assert_eq!(docs[1].entry("b").unwrap().0.start, p(3, 1, 9));
        assert_eq!(docs[2].entry("c").unwrap().0.start, p(6, 1, 22));
        assert_eq!(
            (docs[3].as_str(), docs[3].start),
            (Some("lit\n"), p(7, 5, 31))
        );
        assert_eq!(docs[3].line_starts(), vec![p(8, 3, 35)]);
        let empty = check_all("---\n---\nx: 1\n");
        assert_eq!(empty.len(), 2);
        assert_eq!(
            (&empty[0].value, empty[0].start),
            (&Value::Null, p(1, 4, 3))
        );
        assert!(check_all("").is_empty());
        assert!(check_all("# only a comment\n").is_empty());
    }

    #[test]
    fn aliases_resolve_to_the_anchored_node() {
        let text = "base: &b\n  token: abc\nuse:\n  - *b\n  - &s x\n  - *s\n";
        let root = one(text);
        check_tree(text, &root);
        let items = root.get("use").unwrap().as_seq().unwrap();
        let token = items[0].get("token").unwrap();
        assert_eq!((token.as_str(), token.start), (Some("abc"), p(2, 10, 18)));
        assert_eq!(items[2].as_str(), Some("x"));
        assert_eq!(items[2].start, items[1].start);
        // The sequence spans its own text, not the anchored node's.
        assert_eq!(root.get("use").unwrap().start, p(4, 3, 29));
        assert_eq!(root.get("use").unwrap().end, p(6, 7, off(text, "*s\n") + 2));
    }

    #[test]
    fn tags_are_resolved() {
        let root = one("a: !!str 1\nb: !Ref x\nc: !!null ''\n");
        assert_eq!(
            root.get("a").unwrap().tag.as_deref(),
            Some("tag:yaml.org,2002:str")
        );
        assert_eq!(root.get("a").unwrap().start, p(1, 10, 9));
        assert_eq!(root.get("b").unwrap().tag.as_deref(), Some("!Ref"));
    }

    #[test]
    fn trees_and_errors_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Node>();
        send_sync::<YamlError>();
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let root = one("k: 1\nk: 2\n");
        assert_eq!(root.get("k").unwrap().as_str(), Some("2"));
        assert_eq!(root.as_map().unwrap().len(), 2);
    }

    const K8S: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: example/api:1.0
          env:
            - name: DB_PASSWORD
              value: \"s3cr3t\"
            - name: FROM_SECRET
              valueFrom:
                secretKeyRef: {name: db, key: password}
---
apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  password: czNjcjN0
stringData:
  token: ghp_abcdefghijklmnopqrstuvwxyz0123456789
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  config.yaml: |
    db:
      password: hunter2
";

    #[test]
    fn kubernetes_multi_document_manifest() {
        let docs = check_all(K8S);
        assert_eq!(docs.len(), 3);
        let kinds: Vec<_> = docs
            .iter()
            .map(|d| d.get("kind").and_then(Node::as_str))
            .collect();
        assert_eq!(
            kinds,
            [Some("Deployment"), Some("Secret"), Some("ConfigMap")]
        );

        let pod = docs[0].path(&["spec", "template", "spec"]).unwrap();
        let container = &pod.get("containers").unwrap().as_seq().unwrap()[0];
        assert_eq!(
            container.start,
            p(9, 11, off(K8S, "name: api\n          image"))
        );
        let env = container.get("env").unwrap().as_seq().unwrap();
        assert_eq!(env[0].get("name").unwrap().as_str(), Some("DB_PASSWORD"));
        let (k, v) = env[0].entry("value").unwrap();
        assert_eq!(k.start, p(13, 15, off(K8S, "value:")));
        assert_eq!((v.as_str(), v.style), (Some("s3cr3t"), Style::DoubleQuoted));
        assert_eq!(
            (v.start, v.end),
            (
                p(13, 22, off(K8S, "\"s3cr3t\"")),
                p(13, 30, off(K8S, "\"s3cr3t\"") + 8)
            )
        );
        assert_eq!(v.pos_in_value(0), p(13, 23, off(K8S, "s3cr3t")));
        let r = env[1].path(&["valueFrom", "secretKeyRef"]).unwrap();
        assert_eq!(
            r.get("key").unwrap().start,
            p(16, 47, off(K8S, "password}"))
        );

        let (k, v) = docs[1].path(&["data"]).unwrap().entry("password").unwrap();
        assert_eq!(k.start, p(24, 3, off(K8S, "password: czN")));
        assert_eq!(
            (v.as_str(), v.start),
            (Some("czNjcjN0"), p(24, 13, off(K8S, "czNjcjN0")))
        );
        let t = docs[1].path(&["stringData", "token"]).unwrap();
        assert_eq!(t.start, p(26, 10, off(K8S, "ghp_")));

        let cfg = docs[2].path(&["data", "config.yaml"]).unwrap();
        assert_eq!(cfg.as_str(), Some("db:\n  password: hunter2\n"));
        assert_eq!(cfg.start, p(33, 16, off(K8S, "|\n    db:")));
        let at = cfg.as_str().unwrap().find("hunter2").unwrap();
        assert_eq!(cfg.pos_in_value(at), p(35, 17, off(K8S, "hunter2")));
        // The value's second line is `  password: hunter2`: its two leading spaces are content.
        assert_eq!(
            cfg.line_starts()[1],
            p(35, 5, off(K8S, "      password: hunter2") + 4)
        );
    }

    const COMPOSE: &str = "\
services:
  web:
    image: nginx
    environment:
      DB_PASSWORD: hunter2
      API_KEY: \"sk-live-123\"
    volumes:
      - ~/.ssh:/root/.ssh:ro
  worker:
    environment:
      - AWS_SECRET_ACCESS_KEY=abc123
      - PLAIN
";

    #[test]
    fn compose_environment_map_and_list() {
        let root = one(COMPOSE);
        check_tree(COMPOSE, &root);
        let env = root.path(&["services", "web", "environment"]).unwrap();
        let (k, v) = env.entry("DB_PASSWORD").unwrap();
        assert_eq!(k.start, p(5, 7, off(COMPOSE, "DB_PASSWORD")));
        assert_eq!(
            (v.start, v.end),
            (
                p(5, 20, off(COMPOSE, "hunter2")),
                p(5, 27, off(COMPOSE, "hunter2") + 7)
            )
        );
        let v = env.get("API_KEY").unwrap();
        assert_eq!(
            (v.as_str(), v.start),
            (Some("sk-live-123"), p(6, 16, off(COMPOSE, "\"sk-live")))
        );
        assert_eq!(v.pos_in_value(3), p(6, 20, off(COMPOSE, "live")));
        let vol = &root
            .path(&["services", "web", "volumes"])
            .unwrap()
            .as_seq()
            .unwrap()[0];
        assert_eq!(
            (vol.as_str(), vol.start),
            (
                Some("~/.ssh:/root/.ssh:ro"),
                p(8, 9, off(COMPOSE, "~/.ssh"))
            )
        );

        let list = root
            .path(&["services", "worker", "environment"])
            .unwrap()
            .as_seq()
            .unwrap();
        let item = &list[0];
        assert_eq!(item.start, p(11, 9, off(COMPOSE, "AWS_")));
        let eq = item.as_str().unwrap().find('=').unwrap();
        assert_eq!(item.pos_in_value(eq + 1), p(11, 31, off(COMPOSE, "abc123")));
        assert_eq!(
            (list[1].as_str(), list[1].start),
            (Some("PLAIN"), p(12, 9, off(COMPOSE, "PLAIN")))
        );
    }

    const WORKFLOW: &str = "\
name: build
on: [push]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Build image
        run: |
          set -eu
          echo \"building\"
          docker build --build-arg TOKEN=ghp_1234567890abcdef -t app .
          docker push app
";

    #[test]
    fn github_actions_run_block() {
        let root = one(WORKFLOW);
        check_tree(WORKFLOW, &root);
        let steps = root
            .path(&["jobs", "build", "steps"])
            .unwrap()
            .as_seq()
            .unwrap();
        let (k, run) = steps[1].entry("run").unwrap();
        assert_eq!(k.start, p(9, 9, off(WORKFLOW, "run:")));
        assert_eq!(
            (run.style, run.start),
            (Style::Literal, p(9, 14, off(WORKFLOW, "|\n")))
        );
        let starts = run.line_starts();
        assert_eq!(starts.len(), 4);
        assert_eq!(starts[2], p(12, 11, off(WORKFLOW, "docker build")));
        let value = run.as_str().unwrap();
        let at = value.find("ghp_").unwrap();
        assert_eq!(run.pos_in_value(at), p(12, 42, off(WORKFLOW, "ghp_")));
        assert_eq!(run.end, p(13, 26, off(WORKFLOW, "app\n") + 3));
        assert_eq!(
            root.get("on").unwrap().as_seq().unwrap()[0].start,
            p(2, 6, 17)
        );
    }

    #[test]
    fn malformed_yaml_is_an_error_with_a_position() {
        let e = parse_documents("a: b\nd: 'unterminated\n").unwrap_err();
        assert_eq!(e.pos, Some(p(2, 4, 8)));
        let e = parse_documents("a:\n  b: 1\n c: 2\n").unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(3));
        let e = parse_documents("k: [1, 2\n").unwrap_err();
        assert!(e.pos.is_some());
        let e = parse_documents("a: *nope\n").unwrap_err();
        assert_eq!(e.pos, Some(p(1, 4, 3)));
        // Anchors do not reach into the next document.
        let e = parse_documents("a: &x 1\n---\nb: *x\n").unwrap_err();
        assert_eq!(e.pos, Some(p(3, 4, 15)));
        let e = parse_documents("k: a\0b\n").unwrap_err();
        assert_eq!(e.pos, Some(p(1, 5, 4)));
        assert!(e.to_string().contains("line 1, column 5"), "{e}");
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 9].join(",");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let e = parse_documents(&text).unwrap_err();
        assert!(e.message.contains("billion"), "{e}");
        assert!(e.pos.is_some());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let flow = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_documents(&flow).is_err());
        let flow_maps = format!("{}{}", "{a: ".repeat(10_000), "}".repeat(10_000));
        assert!(parse_documents(&flow_maps).is_err());
        let block: String = (0..10_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        let e = parse_documents(&block).unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(MAX_DEPTH + 1));
        let dashes = format!("{}x\n", "- ".repeat(10_000));
        assert!(parse_documents(&dashes).is_err());
        // Exactly at the limit is fine.
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse_documents(&ok).is_ok());
    }

    #[test]
    fn aliases_cannot_nest_past_the_limit() {
        let mut text = String::from("a0: &a0 [x]\n");
        for i in 1..400 {
            text.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        let e = parse_documents(&text).unwrap_err();
        assert!(e.message.contains("nesting"), "{e}");
    }

    #[test]
    fn recursive_alias_is_an_error() {
        assert!(parse_documents("a: &a [*a]\n").is_err());
    }

    #[test]
    fn large_inputs_stay_linear() {
        let flow = format!("k: [{}]\n", vec!["item"; 50_000].join(", "));
        let root = one(&flow);
        let items = root.get("k").unwrap().as_seq().unwrap();
        assert_eq!(items[49_999].start, p(1, 5 + 49_999 * 6, 4 + 49_999 * 6));
        let keys: Vec<String> = (0..50_000).map(|i| format!("k{i:05}")).collect();
        let root = one(&format!("m: {{{}}}\n", keys.join(", ")));
        let last = root.get("m").unwrap().as_map().unwrap()[49_999].clone();
        assert_eq!(
            (last.0.start, last.1.start),
            (
                p(1, 5 + 49_999 * 8, 4 + 49_999 * 8),
                p(1, 11 + 49_999 * 8, 10 + 49_999 * 8)
            )
        );
        let block: String = (0..50_000).map(|i| format!("- key{i}: value\n")).collect();
        let root = one(&block);
        assert_eq!(root.as_seq().unwrap()[49_999].start.line, 50_000);
    }

    #[test]
    fn never_panics_and_positions_stay_consistent() {
        const PIECES: &[&str] = &[
            "a",
            "b: ",
            ":",
            " ",
            "  ",
            "\n",
            "\r\n",
            "\r",
            "\t",
            "- ",
            "-",
            "[",
            "]",
            "{",
            "}",
            ", ",
            "'",
            "''",
            "\"",
            "\\",
            "\\n",
            "\\x41",
            "|",
            "|-",
            ">",
            ">+",
            "#",
            " # c",
            "&x ",
            "*x",
            "!t ",
            "!!str ",
            "? ",
            "é",
            "値",
            "---\n",
            "...\n",
            "%YAML 1.2\n",
            "@",
            "~",
            "\u{feff}",
            "key: value\n",
            "  - item\n",
            "x: |\n  l\n",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let iterations = std::env::var("YAML_FUZZ_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3000);
        let (mut ok, mut failed) = (0, 0);
        for i in 0..iterations {
            let text: String = if i % 2 == 0 {
                let len = 1 + next() % 30;
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            } else {
                // Small edits to real files reach the parser's deeper states.
                let mut t = [K8S, COMPOSE, WORKFLOW][(next() % 3) as usize].to_string();
                for _ in 0..1 + next() % 3 {
                    let mut at = (next() % (t.len() as u64 + 1)) as usize;
                    while !t.is_char_boundary(at) {
                        at -= 1;
                    }
                    if next() % 2 == 0 {
                        t.insert_str(at, PIECES[(next() % PIECES.len() as u64) as usize]);
                    } else {
                        let mut to = (at + 1 + (next() % 4) as usize).min(t.len());
                        while !t.is_char_boundary(to) {
                            to += 1;
                        }
                        t.replace_range(at..to, "");
                    }
                }
                t
            };
            match parse_documents(&text) {
                Ok(docs) => {
                    ok += 1;
                    docs.iter().for_each(|d| check_tree(&text, d));
                }
                Err(e) => {
                    failed += 1;
                    assert_ne!(e.message, "internal error in the YAML parser", "{text:?}");
                    if let Some(pos) = e.pos {
                        check_pos(&text, pos);
                    }
                }
            }
        }
        assert!(ok > 100 && failed > 100, "ok {ok} failed {failed}");
    }
}
