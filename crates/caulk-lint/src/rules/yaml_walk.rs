//! Shared walking for the Compose, Kubernetes and CI rules: YAML values with their file spans,
//! Kubernetes pod specs and containers, and shell commands with continuation lines joined.

use std::ops::Range;

use regex::Regex;

use super::FileChecker;
use crate::yaml::{parse_documents, Node};

/// Every document of the file; none when it is not valid YAML (the rules then report nothing).
pub(crate) fn documents(text: &str) -> Vec<Node> {
    parse_documents(text).unwrap_or_default()
}

/// The file span of bytes `r` of a scalar's value.
pub(crate) fn value_span(node: &Node, r: Range<usize>) -> Range<usize> {
    let value = node.as_str().unwrap_or("");
    let start = node.pos_in_value(r.start).offset;
    if r.end <= r.start || r.start >= value.len() {
        return start..start;
    }
    // The end is just past the last character, so that a match ending at a folded line break
    // does not run on to the next line.
    let mut last = (r.end - 1).min(value.len() - 1);
    while !value.is_char_boundary(last) {
        last -= 1;
    }
    let width = value[last..].chars().next().map_or(1, char::len_utf8);
    let end = node.pos_in_value(last).offset + width;
    start..end.max(start)
}

/// The span of bytes `r` of a scalar's value, cut at the end of its first source line (a
/// multi-line value is pointed at by its first line).
pub(crate) fn first_line_span(text: &str, node: &Node, r: Range<usize>) -> Range<usize> {
    let value = node.as_str().unwrap_or("");
    let r = r.start.min(value.len())..r.end.min(value.len());
    // Skip the line breaks and indentation a block scalar's value may start with.
    let lead = value[r.clone()].len() - value[r.clone()].trim_start().len();
    let trail = value[r.clone()].len() - value[r.clone()].trim_end().len();
    let r = if r.start + lead < r.end - trail {
        r.start + lead..r.end - trail
    } else {
        r
    };
    let span = if r.is_empty() {
        node.start.offset..node.end.offset
    } else {
        value_span(node, r)
    };
    let line_end = text
        .get(span.start..)
        .and_then(|t| t.find(['\n', '\r']))
        .map_or(text.len(), |i| span.start + i);
    span.start..span.end.min(line_end).max(span.start)
}

/// A secret that caulk's rules found in a value.
pub(crate) struct Found {
    /// Its bytes in the value.
    pub range: Range<usize>,
    /// What it is, with its article (`an AWS secret access key`); `None` when the only evidence
    /// is the key the whole value is assigned to (the generic assignment rule), for which rules
    /// say "a literal value" as they do for a secret-looking name.
    pub what: Option<String>,
}

/// Secrets in the value of `key`. A one-line value is scanned as `key=value` so that the rules
/// that recognise a secret by the name it is assigned to (AWS secret keys, generic password
/// assignments) see the name; a multi-line value (a file's content) is scanned as it is.
pub(crate) fn secrets_in_value(cx: &mut FileChecker<'_>, key: &str, value: &str) -> Vec<Found> {
    let prefix = if value.contains(['\n', '\r']) || key.is_empty() {
        String::new()
    } else {
        format!("{key}=")
    };
    // The generic assignment rule only says that the name is a secret's; rules word that as
    // they do a secret-looking name.
    let set = cx.scanner.rule_set();
    let generic = set
        .rule_index("generic-secret-assignment")
        .map(|i| set.rule(i).name.clone());
    cx.secrets_in(&format!("{prefix}{value}"))
        .into_iter()
        .filter(|(r, _)| r.start >= prefix.len())
        .map(|(r, name)| {
            let range = r.start - prefix.len()..r.end - prefix.len();
            let what = if Some(&name) != generic.as_ref() {
                Some(with_article(&name))
            } else if prefix.is_empty() || range.start > 0 {
                // Assigned inside the value (`-Ddb.password=...`, a properties file).
                Some("a hard-coded secret".to_string())
            } else {
                None
            };
            Found { range, what }
        })
        .collect()
}

/// `an AWS secret access key`, `an npm access token`, `a GitHub token`.
pub(crate) fn with_article(name: &str) -> String {
    let first = name.split([' ', '-']).next().unwrap_or("");
    let acronym = first.len() >= 2
        && (first
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            || first == "npm");
    let c = first.chars().next().unwrap_or('x').to_ascii_lowercase();
    let an = if acronym {
        "aefhilmnorsx".contains(c)
    } else {
        "aeiou".contains(c)
    };
    format!("{} {name}", if an { "an" } else { "a" })
}

/// One `KEY=value` of a Compose `environment:` or `build.args`, in map form (`KEY: value`) or
/// list form (`- KEY=value`). Entries without a value (`- KEY`, `KEY:`) pass the host's value
/// through and are not listed.
pub(crate) struct Assignment<'a> {
    pub key: String,
    /// The scalar holding the value (the whole `KEY=value` item in list form).
    pub node: &'a Node,
    /// The value's bytes in `node.as_str()`.
    pub value: Range<usize>,
}

impl Assignment<'_> {
    pub(crate) fn value_text(&self) -> &str {
        self.node
            .as_str()
            .and_then(|s| s.get(self.value.clone()))
            .unwrap_or("")
    }
}

/// The assignments of an `environment:` or `args:` node, in either form.
pub(crate) fn assignments(node: &Node) -> Vec<Assignment<'_>> {
    let mut out = Vec::new();
    if let Some(map) = node.as_map() {
        for (k, v) in map {
            let (Some(key), Some(value)) = (k.as_str(), v.as_str()) else {
                continue;
            };
            out.push(Assignment {
                key: key.to_string(),
                node: v,
                value: 0..value.len(),
            });
        }
    } else if let Some(items) = node.as_seq() {
        for item in items {
            let Some(s) = item.as_str() else { continue };
            let Some(eq) = s.find('=') else { continue };
            let key = s[..eq].trim();
            if key.is_empty() {
                continue;
            }
            out.push(Assignment {
                key: key.to_string(),
                node: item,
                value: eq + 1..s.len(),
            });
        }
    }
    out
}

/// The objects of a manifest: its documents, with the items of `kind: List` documents.
pub(crate) fn objects(docs: &[Node]) -> Vec<&Node> {
    let mut out = Vec::new();
    for doc in docs {
        let is_list = doc
            .get("kind")
            .and_then(Node::as_str)
            .is_some_and(|k| k.ends_with("List"));
        match doc.get("items").and_then(Node::as_seq) {
            Some(items) if is_list => out.extend(items.iter().filter(|i| i.as_map().is_some())),
            _ if doc.as_map().is_some() => out.push(doc),
            _ => {}
        }
    }
    out
}

/// `kind: x` of an object.
pub(crate) fn kind(obj: &Node) -> &str {
    obj.get("kind").and_then(Node::as_str).unwrap_or("")
}

/// `Deployment \`api\``: an object's kind and `metadata.name`, for messages.
pub(crate) fn describe(obj: &Node) -> String {
    let kind = match kind(obj) {
        "" => "object",
        k => k,
    };
    match obj.path(&["metadata", "name"]).and_then(Node::as_str) {
        Some(name) => format!("{kind} `{name}`"),
        None => kind.to_string(),
    }
}

/// The pod spec of a workload: `spec` of a Pod, `spec.template.spec` of a Deployment,
/// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job (and of any other kind shaped
/// like them, such as Argo Rollouts), `spec.jobTemplate.spec.template.spec` of a CronJob,
/// `template.spec` of a PodTemplate.
pub(crate) fn pod_spec(obj: &Node) -> Option<&Node> {
    match kind(obj) {
        "Pod" => obj.get("spec"),
        "CronJob" => obj.path(&["spec", "jobTemplate", "spec", "template", "spec"]),
        "PodTemplate" => obj.path(&["template", "spec"]),
        _ => obj.path(&["spec", "template", "spec"]),
    }
    .filter(|s| s.as_map().is_some())
}

/// A container of a pod spec.
pub(crate) struct Container<'a> {
    pub name: String,
    /// `container`, `init container` or `ephemeral container`.
    pub role: &'static str,
    pub node: &'a Node,
}

impl Container<'_> {
    /// `container \`app\``, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} `{}`", self.role, self.name)
    }
}

/// `containers`, `initContainers` and `ephemeralContainers` of a pod spec.
pub(crate) fn containers(spec: &Node) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for (key, role) in [
        ("initContainers", "init container"),
        ("containers", "container"),
        ("ephemeralContainers", "ephemeral container"),
    ] {
        for c in spec.get(key).and_then(Node::as_seq).unwrap_or(&[]) {
            if c.as_map().is_none() {
                continue;
            }
            let name = c.get("name").and_then(Node::as_str).unwrap_or("?");
            out.push(Container {
                name: name.to_string(),
                role,
                node: c,
            });
        }
    }
    out
}

/// Standard or URL-safe base64, with or without padding, ignoring whitespace (a Secret's `data`
/// value may be folded over lines). `None` when it is not base64.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut padding = 0usize;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if padding > 0 {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits cannot come from whole bytes.
    (bits < 6 && padding <= 2).then_some(out)
}

/// Shell text with its backslash-newline continuations removed (the shell removes them before it
/// splits words), and for each byte the byte of the original text it came from.
pub(crate) struct Joined {
    pub text: String,
    map: Vec<usize>,
}

impl Joined {
    pub(crate) fn new(original: &str) -> Joined {
        let b = original.as_bytes();
        let mut keep = Vec::with_capacity(b.len());
        let mut map = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' {
                let next = match (b.get(i + 1), b.get(i + 2)) {
                    (Some(b'\n'), _) => Some(2),
                    (Some(b'\r'), Some(b'\n')) => Some(3),
                    _ => None,
                };
                if let Some(n) = next {
                    i += n;
                    continue;
                }
                // `\\` keeps both bytes and escapes nothing at the end of the line.
                if b.get(i + 1) == Some(&b'\\') {
                    keep.extend_from_slice(&b[i..i + 2]);
                    map.extend([i, i + 1]);
                    i += 2;
                    continue;
                }
            }
            keep.push(b[i]);
            map.push(i);
            i += 1;
        }
        Joined {
            // Only ASCII bytes were removed, so the text is still UTF-8.
            text: String::from_utf8(keep).unwrap_or_default(),
            map,
        }
    }

    /// The bytes of the original text that bytes `r` of the joined text came from.
    pub(crate) fn original(&self, r: Range<usize>) -> Range<usize> {
        let start = self
            .map
            .get(r.start)
            .copied()
            .unwrap_or_else(|| self.map.last().map_or(0, |l| l + 1));
        if r.end <= r.start {
            return start..start;
        }
        let end = self.map.get(r.end - 1).map_or(start, |l| l + 1);
        start..end.max(start)
    }
}

/// Shell text found in a CI file: a whole script or Makefile, or one `run:`/`script:` value of a
/// workflow.
pub(crate) struct Script<'a> {
    /// The shell text.
    pub text: &'a str,
    /// The YAML scalar it is the value of, if any.
    pub node: Option<&'a Node>,
}

impl Script<'_> {
    /// The file span of bytes `r` of the shell text.
    pub(crate) fn file_span(&self, r: Range<usize>) -> Range<usize> {
        match self.node {
            Some(node) => value_span(node, r),
            None => r,
        }
    }
}

/// Whether a CI file is YAML (a GitHub Actions workflow or action, `.gitlab-ci.yml`); the others
/// (shell scripts, Makefiles, Jenkinsfiles) are read as shell text.
pub(crate) fn is_yaml(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".yml") || lower.ends_with(".yaml")
}

/// The shell text of a CI file: the whole file, or in YAML every `run:` (GitHub Actions) and
/// `script:`/`before_script:`/`after_script:` (GitLab CI) value, including the items of lists.
pub(crate) fn scripts<'a>(path: &str, text: &'a str, docs: &'a [Node]) -> Vec<Script<'a>> {
    if !is_yaml(path) {
        return vec![Script { text, node: None }];
    }
    fn scalars<'a>(node: &'a Node, out: &mut Vec<Script<'a>>) {
        if let Some(s) = node.as_str() {
            out.push(Script {
                text: s,
                node: Some(node),
            });
        } else if let Some(items) = node.as_seq() {
            for i in items {
                scalars(i, out);
            }
        }
    }
    fn walk<'a>(node: &'a Node, out: &mut Vec<Script<'a>>, depth: usize) {
        if depth > 64 {
            return;
        }
        if let Some(map) = node.as_map() {
            for (k, v) in map {
                match k.as_str() {
                    Some("run" | "script" | "before_script" | "after_script") => scalars(v, out),
                    _ => walk(v, out, depth + 1),
                }
            }
        } else if let Some(items) = node.as_seq() {
            for i in items {
                walk(i, out, depth + 1);
            }
        }
    }
    let mut out = Vec::new();
    for doc in docs {
        walk(doc, &mut out, 0);
    }
    out
}

/// The commands of shell text (continuations already joined) that start with a match of `start`
/// (`docker build`, `docker run`, ...): for each, the range of the name and the range of the
/// command up to its end (an unquoted `;`, `&`, `|` or line break). Commands on comment lines are
/// skipped.
pub(crate) fn commands(text: &str, start: &Regex) -> Vec<(Range<usize>, Range<usize>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for m in start.find_iter(text) {
        let line_start = text[..m.start()].rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let before = &text[line_start..m.start()];
        if before.trim_start().starts_with('#') || before.contains(" #") {
            continue;
        }
        let mut quote: Option<u8> = None;
        let mut end = m.end();
        while end < b.len() {
            let c = b[end];
            match quote {
                Some(q) if c == q => quote = None,
                Some(b'"') if c == b'\\' => end += 1,
                Some(_) => {}
                None => match c {
                    b'\'' | b'"' => quote = Some(c),
                    b'\\' => end += 1,
                    b';' | b'&' | b'|' | b'\n' | b'\r' => break,
                    _ => {}
                },
            }
            end += 1;
        }
        let end = end.min(b.len());
        out.push((m.range(), m.start()..end));
    }
    out
}

/// The words of a command (shell-like: split at unquoted whitespace, quotes removed, a GitHub
/// Actions `${{ ... }}` expression kept in one word), as (range in `text`, word).
pub(crate) fn words(text: &str, range: Range<usize>) -> Vec<(Range<usize>, String)> {
    let b = text.as_bytes();
    let end = range.end.min(b.len());
    let mut i = range.start;
    let mut out = Vec::new();
    loop {
        while i < end && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= end {
            break;
        }
        let start = i;
        let mut word = Vec::new();
        let mut quote: Option<u8> = None;
        while i < end {
            let c = b[i];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => word.push(c),
                None if c.is_ascii_whitespace() => break,
                None if c == b'\'' || c == b'"' => quote = Some(c),
                None if b[i..end].starts_with(b"${{") => {
                    let close = text[i..end].find("}}").map_or(end, |j| i + j + 2);
                    word.extend_from_slice(&b[i..close]);
                    i = close;
                    continue;
                }
                None => word.push(c),
            }
            i += 1;
        }
        out.push((start..i, String::from_utf8_lossy(&word).into_owned()));
    }
    out
}

/// The source of a `-v`/`volumes:` short-syntax entry: the part before the first `:` that is not
/// inside `${...}` (`${SSH_DIR:-~/.ssh}:/root/.ssh` has source `${SSH_DIR:-~/.ssh}`). `None` when
/// there is no `:` (an anonymous volume).
pub(crate) fn volume_source(spec: &str) -> Option<&str> {
    let mut depth = 0usize;
    let b = spec.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'{' if i > 0 && b[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            // A Windows drive letter (`C:\Users\me\.ssh`) is part of the source.
            b':' if depth == 0
                && !(i == 1
                    && b[0].is_ascii_alphabetic()
                    && matches!(b.get(2), Some(b'\\' | b'/'))) =>
            {
                return Some(&spec[..i]);
            }
            _ => {}
        }
    }
    None
}

/// Whether `${SSH_DIR:-~/.ssh}`-style defaults point at an SSH directory, or the path does.
pub(crate) fn ssh_source(source: &str) -> bool {
    let s = source.trim();
    if let Some(inner) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        if let Some((_, default)) = inner.split_once(":-").or_else(|| inner.split_once('-')) {
            return super::names::ssh_key_path(default);
        }
    }
    super::names::ssh_key_path(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule of every text target on truncated fixtures and odd input: no panics.
    #[test]
    fn odd_input_does_not_panic() {
        use crate::rules::{lint_text_file, Target};
        let set = caulk_rules::RuleSet::builtin().unwrap();
        let mut scanner = set.scanner();
        let fixtures = [
            include_str!("../../tests/fixtures/rules/CK201/compose.yaml"),
            include_str!("../../tests/fixtures/rules/CK303/manifests.yaml"),
            include_str!("../../tests/fixtures/rules/CK401/.github/workflows/ci.yml"),
            include_str!("../../tests/fixtures/rules/CK402/build.sh"),
        ];
        let mut inputs: Vec<String> = vec![
            String::new(),
            "\\".into(),
            "docker build --build-arg".into(),
            "docker run -v".into(),
            "docker run --mount type=bind,source=\\\n".into(),
            "services:\n  a:\n    environment: [\"=x\", \"TOKEN=\"]\n    volumes: [\":\", \"~/.ssh\"]\n".into(),
            "kind: Secret\ndata: {password: \"=\", token: \"é\"}\nstringData: {a: \"\\u00e9\\tx\"}\n".into(),
            "services:\r\n  a:\r\n    environment:\r\n      API_TOKEN: \"héllo wörld\\nsecond\"\r\n".into(),
            "run: \"docker build --build-arg TOKEN=${{ secrets.X\"\n".into(),
        ];
        for text in fixtures {
            let mut cut = 0;
            while cut < text.len() {
                if text.is_char_boundary(cut) {
                    inputs.push(text[..cut].to_string());
                }
                cut += 11;
            }
        }
        for text in &inputs {
            for (path, target) in [
                ("compose.yaml", Target::Compose),
                ("manifests.yaml", Target::Kubernetes),
                (".github/workflows/ci.yml", Target::Ci),
                ("build.sh", Target::Ci),
            ] {
                lint_text_file(path, text, target, &mut scanner);
            }
        }
    }

    #[test]
    fn articles() {
        assert_eq!(
            with_article("AWS secret access key"),
            "an AWS secret access key"
        );
        assert_eq!(with_article("npm access token"), "an npm access token");
        assert_eq!(
            with_article("GitHub personal access token"),
            "a GitHub personal access token"
        );
        assert_eq!(with_article("OpenAI API key"), "an OpenAI API key");
        assert_eq!(with_article("JWT"), "a JWT");
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("aHVudGVyMg==").unwrap(), b"hunter2");
        assert_eq!(decode_base64("aHVudGVyMg").unwrap(), b"hunter2");
        assert_eq!(decode_base64("aHVu\n  dGVyMg==").unwrap(), b"hunter2");
        assert!(decode_base64("not base64!").is_none());
        assert!(decode_base64("aGk=x").is_none());
        assert!(decode_base64("a").is_none());
    }

    #[test]
    fn joined_maps_back() {
        let src = "docker build \\\n  --build-arg TOKEN=x .\n";
        let j = Joined::new(src);
        assert_eq!(j.text, "docker build   --build-arg TOKEN=x .\n");
        let at = j.text.find("--build-arg").unwrap();
        let r = j.original(at..at + "--build-arg".len());
        assert_eq!(&src[r], "--build-arg");
    }

    #[test]
    fn commands_and_words() {
        let re = Regex::new(r"\bdocker\s+build\b").unwrap();
        let text = "# docker build --x\ncd a && docker build --build-arg \"A=b c\" --build-arg B=${{ secrets.X }} . | tee log";
        let cmds = commands(text, &re);
        assert_eq!(cmds.len(), 1);
        let (_, range) = cmds[0].clone();
        let w: Vec<String> = words(text, range).into_iter().map(|(_, w)| w).collect();
        assert_eq!(
            w,
            [
                "docker",
                "build",
                "--build-arg",
                "A=b c",
                "--build-arg",
                "B=${{ secrets.X }}",
                "."
            ]
        );
    }

    #[test]
    fn volume_sources() {
        assert_eq!(volume_source("~/.ssh:/root/.ssh:ro"), Some("~/.ssh"));
        assert_eq!(
            volume_source("${SSH_DIR:-~/.ssh}:/root/.ssh"),
            Some("${SSH_DIR:-~/.ssh}")
        );
        assert_eq!(
            volume_source("C:\\Users\\me\\.ssh:/root/.ssh"),
            Some("C:\\Users\\me\\.ssh")
        );
        assert_eq!(volume_source("/data"), None);
        assert!(ssh_source("${SSH_DIR:-~/.ssh}"));
        assert!(!ssh_source("${SSH_DIR}"));
    }
}
