//! SSH fixes: a copied private key becomes an ssh mount (CK106), disabled host-key checking
//! becomes a seeded `known_hosts` (CK111), and ssh mounts get `ssh-keyscan` first (CK110).

use std::ops::Range;
use std::sync::OnceLock;

use caulk_report::lint::FixSafety;
use regex::Regex;

use super::{whole_lines, Edit, FileRef, Fix};
use crate::dockerfile::{Dockerfile, Instruction, MountKind};

/// A host `ssh` connects to, with its port when not 22.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub port: Option<u16>,
}

impl SshTarget {
    fn keyscan_args(&self) -> String {
        match self.port {
            Some(p) => format!("-p {p} {}", self.host),
            None => self.host.clone(),
        }
    }
}

/// The host an ssh-using command line connects to: `git@host:path`, `ssh://[user@]host[:port]`,
/// `ssh [-p PORT] [user@]host`, `scp [-P PORT] [user@]host:path`.
pub fn ssh_target(command: &str) -> Option<SshTarget> {
    let tokens: Vec<String> = command
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`'))
        .map(|t| t.replace(['"', '\''], "").trim_matches('\\').to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let mut port: Option<u16> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if let Some(at) = t.find("ssh://") {
            let rest = &t[at + 6..];
            let authority = rest.split('/').next().unwrap_or("");
            let hostport = authority.rsplit('@').next().unwrap_or(authority);
            let (host, p) = match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().ok()),
                None => (hostport, None),
            };
            if valid_host(host) {
                return Some(SshTarget {
                    host: host.to_string(),
                    port: p.or(port),
                });
            }
        }
        if let Some(c) = scp_like().captures(t) {
            return Some(SshTarget {
                host: c[1].to_string(),
                port,
            });
        }
        let program = t.rsplit(['/', '=']).next().unwrap_or(t);
        if matches!(program, "ssh" | "scp" | "sftp") {
            let port_flag = if program == "ssh" { "-p" } else { "-P" };
            let mut j = i + 1;
            while j < tokens.len() {
                let o = tokens[j].as_str();
                if o == port_flag {
                    port = tokens.get(j + 1).and_then(|p| p.parse().ok());
                    j += 2;
                } else if o == "-o" || o.starts_with("-o") && o.len() > 2 {
                    let opt = if o == "-o" {
                        j += 1;
                        tokens.get(j).map_or("", |s| s.as_str())
                    } else {
                        &o[2..]
                    };
                    if let Some(p) = opt
                        .strip_prefix("Port=")
                        .or_else(|| opt.strip_prefix("port="))
                    {
                        port = p.parse().ok();
                    }
                    j += 1;
                } else if o.len() == 2
                    && o.starts_with('-')
                    && "bcDEeFIiJLlmOoPpQRSWw".contains(&o[1..])
                {
                    j += 2;
                } else if o.starts_with('-') {
                    j += 1;
                } else {
                    break;
                }
            }
            // `GIT_SSH_COMMAND="ssh -p 2222"` gives a port; the host comes from the git URL
            if program == "ssh" && !t.contains('=') {
                if let Some(dest) = tokens.get(j) {
                    let host = dest.rsplit('@').next().unwrap_or(dest);
                    if valid_host(host) {
                        return Some(SshTarget {
                            host: host.to_string(),
                            port,
                        });
                    }
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    None
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

fn scp_like() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^(?:git\+)?[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):\S").unwrap())
}

/// `-o StrictHostKeyChecking=no`, `-o UserKnownHostsFile=/dev/null` (with `=` or a space, in
/// quotes or not).
fn insecure_option() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        let spaced = r"(?:StrictHostKeyChecking[ \t]*[= ][ \t]*(?:no|off|false)|UserKnownHostsFile[ \t]*[= ][ \t]*/dev/null)";
        let tight = r"(?:StrictHostKeyChecking=(?:no|off|false)|UserKnownHostsFile=/dev/null)\b";
        Regex::new(&format!(r#"(?i)[ \t]+-o[ \t]*(?:"{spaced}"|'{spaced}'|{tight})"#)).unwrap()
    })
}

fn insecure_config() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?i)StrictHostKeyChecking\s*[= ]\s*(?:no|off|false)\b|UserKnownHostsFile\s*[= ]\s*/dev/null").unwrap()
    })
}

/// A command that only touches the key or turns host checking off (`rm -f ~/.ssh/id_rsa`,
/// `chmod 600 /root/.ssh/id_rsa`, `echo "StrictHostKeyChecking no" >> /etc/ssh/ssh_config`):
/// pointless once the key comes from the agent.
fn key_chore(segment: &str, keys: &[String]) -> bool {
    let words: Vec<&str> = segment.split_whitespace().filter(|w| *w != "\\").collect();
    let Some(cmd) = words.first() else {
        return false;
    };
    let writes_config = segment.contains("ssh_config") || segment.contains("ssh/config");
    if insecure_config().is_match(segment) && writes_config {
        return true;
    }
    if !matches!(*cmd, "rm" | "shred" | "chmod" | "chown") {
        return false;
    }
    let mut operands = words[1..]
        .iter()
        .filter(|w| !w.starts_with('-'))
        .skip(usize::from(matches!(*cmd, "chmod" | "chown")))
        .peekable();
    operands.peek().is_some()
        && operands.all(|w| {
            let w = w.trim_matches(|c| c == '"' || c == '\'');
            keys.iter().any(|k| k == w) || home_ssh(w)
        })
}

/// `~/.ssh`, `/root/.ssh`, `$HOME/.ssh/id_*` and the like.
fn home_ssh(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    let dir = p.strip_suffix("/.ssh").map(|_| p).unwrap_or_else(|| {
        p.rsplit_once('/')
            .filter(|(_, n)| n.starts_with("id_") && !n.ends_with(".pub"))
            .map_or("", |(d, _)| d)
    });
    dir.ends_with("/.ssh")
        && (dir.starts_with("~/")
            || dir.starts_with("$HOME/")
            || dir.starts_with("${HOME}/")
            || dir.starts_with("/root/")
            || dir.starts_with("/home/"))
}

/// Top-level `&&`/`;`/`||` separated commands of a shell text, as byte ranges of the commands
/// and of the operator that follows each.
fn segments(text: &str) -> Vec<(Range<usize>, Option<Range<usize>>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q == b'"' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'\\' {
                    i += 1;
                } else if c == b'"' || c == b'\'' {
                    quote = Some(c);
                } else if (c == b'&' || c == b'|') && b.get(i + 1) == Some(&c) || c == b';' {
                    let len = if c == b';' { 1 } else { 2 };
                    out.push((start..i, Some(i..i + len)));
                    start = i + len;
                    i += len;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push((start..b.len(), None));
    out
}

/// Edits to one `RUN` (its shell text at `ins.rest`): remove key chores, `-i KEY` and insecure
/// `-o` options. Returns `None` when nothing is left of the command.
fn clean_run(df: &Dockerfile, ins: &Instruction, keys: &[String]) -> Option<Vec<Edit>> {
    let base = ins.rest.span.start;
    let text = &df.source[ins.rest.span.clone()];
    let segs = segments(text);
    let chores: Vec<bool> = segs
        .iter()
        .map(|(r, _)| key_chore(text[r.clone()].trim(), keys))
        .collect();
    if chores.iter().all(|c| *c) {
        return None;
    }
    let mut edits = Vec::new();
    let edit = |r: Range<usize>| Edit {
        file: FileRef::Dockerfile,
        range: base + r.start..base + r.end,
        replacement: String::new(),
    };
    for (k, (range, op)) in segs.iter().enumerate() {
        if chores[k] {
            // drop the command with the operator before it (or after it, for the first kept one)
            let prev_kept = (0..k).rev().find(|p| !chores[*p]);
            match (prev_kept, op) {
                (Some(p), _) => {
                    let from = segs[p].1.as_ref().map_or(range.start, |o| o.start);
                    edits.push(edit(
                        blank_before(text, from)..blank_before(text, range.end),
                    ));
                }
                (None, Some(o)) => {
                    edits.push(edit(range.start..blank_after(text, o.end)));
                }
                (None, None) => {}
            }
            continue;
        }
        let seg = &text[range.clone()];
        for m in insecure_option().find_iter(seg) {
            edits.push(edit(range.start + m.start()..range.start + m.end()));
        }
        for key in keys {
            for flag in [
                format!(" -i {key}"),
                format!(" -i \"{key}\""),
                format!(" -i{key}"),
            ] {
                let mut from = 0;
                while let Some(p) = seg[from..].find(&flag) {
                    let s = range.start + from + p;
                    let end = s + flag.len();
                    if text[end..]
                        .chars()
                        .next()
                        .is_none_or(|c| c.is_whitespace() || c == '"' || c == '\'')
                    {
                        edits.push(edit(s..end));
                    }
                    from += p + flag.len();
                }
            }
        }
    }
    // overlapping removals (a chore right after another) collapse into one
    edits.sort_by_key(|e| e.range.start);
    let mut merged: Vec<Edit> = Vec::new();
    for e in edits {
        match merged.last_mut() {
            Some(last) if e.range.start <= last.range.end => {
                last.range.end = last.range.end.max(e.range.end)
            }
            _ => merged.push(e),
        }
    }
    Some(merged)
}

/// Start of the whitespace and line continuations that end at `at`.
fn blank_before(text: &str, mut at: usize) -> usize {
    let b = text.as_bytes();
    loop {
        if at > 0 && matches!(b[at - 1], b' ' | b'\t') {
            at -= 1;
        } else if at > 1 && b[at - 1] == b'\n' && b[at - 2] == b'\\' {
            at -= 2;
        } else if at > 2 && &b[at - 3..at] == b"\\\r\n" {
            at -= 3;
        } else {
            return at;
        }
    }
}

/// End of the whitespace and line continuations that start at `at`.
fn blank_after(text: &str, mut at: usize) -> usize {
    let b = text.as_bytes();
    loop {
        if at < b.len() && matches!(b[at], b' ' | b'\t' | b'\r' | b'\n') {
            at += 1;
        } else if b[at..].starts_with(b"\\\n") || b[at..].starts_with(b"\\\r\n") {
            at += 2;
        } else {
            return at;
        }
    }
}

/// Does this instruction seed `known_hosts`?
fn seeds_known_hosts(ins: &Instruction) -> bool {
    ins.rest.value.contains("ssh-keyscan")
        || (matches!(ins.name.as_str(), "copy" | "add")
            && ins.args.iter().any(|a| a.value.contains("known_hosts")))
}

/// Where a copied key lands in the image, when every source is an SSH key or `.ssh` directory.
fn copied_keys(ins: &Instruction) -> Option<Vec<String>> {
    if !matches!(ins.name.as_str(), "copy" | "add")
        || ins.flag_values("from").next().is_some()
        || ins.args.len() < 2
        || !ins.heredocs.is_empty()
    {
        return None;
    }
    let (dest, srcs) = ins.args.split_last()?;
    let mut out = Vec::new();
    for s in srcs {
        let name = s.value.trim_end_matches('/').rsplit('/').next()?;
        let key = matches!(
            name,
            "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk"
        );
        if !key && name != ".ssh" {
            return None;
        }
        let d = &dest.value;
        out.push(if d.ends_with('/') || srcs.len() > 1 || name == ".ssh" {
            let d = d.trim_end_matches('/');
            if name == ".ssh" && d.ends_with("/.ssh") {
                d.to_string()
            } else {
                format!("{d}/{name}")
            }
        } else {
            d.clone()
        });
    }
    Some(out)
}

fn uses_ssh(ins: &Instruction) -> Option<SshTarget> {
    if ins.name != "run" || ins.json || !ins.heredocs.is_empty() {
        return None;
    }
    if ins.rest.value.contains("ssh-keyscan") && !ins.rest.value.contains("&&") {
        return None;
    }
    ssh_target(&ins.rest.value)
}

fn has_ssh_mount(ins: &Instruction) -> bool {
    ins.mounts()
        .into_iter()
        .flatten()
        .any(|m| m.kind == MountKind::Ssh)
}

fn keyscan_line(dir: &str, targets: &[SshTarget]) -> String {
    let mut scans: Vec<String> = Vec::new();
    for t in targets {
        let s = format!("ssh-keyscan {} >> {dir}/known_hosts", t.keyscan_args());
        if !scans.contains(&s) {
            scans.push(s);
        }
    }
    format!("RUN mkdir -p -m 0700 {dir} && {}\n", scans.join(" && "))
}

fn ssh_instructions() -> Vec<String> {
    vec![
        "docker build --ssh default .".into(),
        "buildah build --ssh default .".into(),
    ]
}

fn ssh_notes(targets: &[SshTarget]) -> Vec<String> {
    let mut v = vec![
        "`--ssh default` forwards your SSH agent (`ssh-add` the key first); buildah also takes `--ssh default=/path/to/key`".into(),
        "GitHub Actions: webfactory/ssh-agent, then docker/build-push-action with `ssh: default`".into(),
    ];
    let mut hosts: Vec<&str> = targets.iter().map(|t| t.host.as_str()).collect();
    hosts.dedup();
    for h in hosts {
        v.push(format!(
            "check the host key ssh-keyscan records against {h}'s published fingerprints"
        ));
    }
    v
}

/// CK106 / CK111 / CK110 fixes, one pass per stage.
pub(super) fn plan(df: &Dockerfile, fixes: &mut Vec<Fix>) {
    let staged: Vec<(usize, &Instruction)> = df.staged().collect();
    let stages = staged.last().map_or(0, |(s, _)| s + 1);
    for stage in 0..stages {
        let ins: Vec<&Instruction> = staged
            .iter()
            .filter(|(s, _)| *s == stage)
            .map(|(_, i)| *i)
            .collect();
        if let Some(fix) = key_to_agent(df, &ins) {
            fixes.push(fix);
        } else if let Some(fix) = host_checking(df, &ins) {
            fixes.push(fix);
        } else if let Some(fix) = known_hosts(df, &ins) {
            fixes.push(fix);
        }
    }
}

/// Is `known_hosts` seeded before `first`, or by `first` itself?
fn seeded_by(stage: &[&Instruction], first: &Instruction) -> bool {
    stage
        .iter()
        .take_while(|i| i.span.start <= first.span.start)
        .any(|i| seeds_known_hosts(i))
}

/// Inserts `line` on the line where `at` starts.
fn insert_before(df: &Dockerfile, at: &Instruction, line: String) -> Edit {
    let pos = whole_lines(&df.source, at.span.clone()).start;
    Edit {
        file: FileRef::Dockerfile,
        range: pos..pos,
        replacement: line,
    }
}

/// A copied SSH key used by a later `RUN` → an ssh mount on that `RUN`, the key's `COPY` and
/// clean-up removed, `known_hosts` seeded.
fn key_to_agent(df: &Dockerfile, stage: &[&Instruction]) -> Option<Fix> {
    let (pos, copies): (Vec<usize>, Vec<Vec<String>>) = stage
        .iter()
        .enumerate()
        .filter_map(|(k, i)| copied_keys(i).map(|d| (k, d)))
        .unzip();
    let first_copy = *pos.first()?;
    let keys: Vec<String> = copies.into_iter().flatten().collect();
    let runs: Vec<(&Instruction, SshTarget)> = stage[first_copy + 1..]
        .iter()
        .filter_map(|i| uses_ssh(i).map(|t| (*i, t)))
        .collect();
    runs.first()?;
    let mut edits = Vec::new();
    for &k in &pos {
        edits.push(Edit {
            file: FileRef::Dockerfile,
            range: whole_lines(&df.source, stage[k].span.clone()),
            replacement: String::new(),
        });
    }
    for i in &stage[first_copy + 1..] {
        if i.name != "run" || i.json || !i.heredocs.is_empty() {
            continue;
        }
        let ssh = runs.iter().any(|(r, _)| std::ptr::eq(*r, *i));
        let touches = keys.iter().any(|k| i.rest.value.contains(k.as_str()))
            || insecure_config().is_match(&i.rest.value);
        if !ssh && !touches {
            continue;
        }
        match clean_run(df, i, &keys) {
            None => edits.push(Edit {
                file: FileRef::Dockerfile,
                range: whole_lines(&df.source, i.span.clone()),
                replacement: String::new(),
            }),
            Some(e) => {
                edits.extend(e);
                if ssh && !has_ssh_mount(i) {
                    edits.push(Edit {
                        file: FileRef::Dockerfile,
                        range: i.keyword.end..i.keyword.end,
                        replacement: " --mount=type=ssh".into(),
                    });
                }
            }
        }
    }
    let targets: Vec<SshTarget> = runs.iter().map(|(_, t)| t.clone()).collect();
    // The COPY made the key's directory; the ssh-keyscan step (or, when a RUN already seeds
    // known_hosts, a mkdir) takes its place.
    let dir = keys[0]
        .rsplit_once('/')
        .map(|(d, _)| d)
        .filter(|d| d.ends_with("/.ssh"))
        .unwrap_or("~/.ssh");
    let dir = if keys[0].ends_with("/.ssh") {
        keys[0].as_str()
    } else {
        dir
    };
    let copy = stage[first_copy];
    let before_copy = &stage[..first_copy];
    let seeded_before_copy = before_copy.iter().any(|i| seeds_known_hosts(i));
    let dir_made = before_copy
        .iter()
        .any(|i| i.name == "run" && i.rest.value.contains("mkdir") && i.rest.value.contains(dir));
    let step = if !seeded_by(stage, runs[0].0) {
        Some(keyscan_line(dir, &targets))
    } else if !seeded_before_copy && !dir_made {
        Some(format!("RUN mkdir -p -m 0700 {dir}\n"))
    } else {
        None
    };
    let seeds = step.as_ref().is_some_and(|l| l.contains("ssh-keyscan"));
    edits.extend(step.map(|line| insert_before(df, copy, line)));
    let lines: Vec<String> = runs.iter().map(|(r, _)| r.start_line.to_string()).collect();
    Some(Fix {
        rule_id: "CK106",
        safety: FixSafety::Unsafe,
        description: format!(
            "the SSH key copied at line {} is replaced by an ssh mount in the RUN at line{} {} (COPY and clean-up removed{})",
            stage[first_copy].start_line,
            if lines.len() == 1 { "" } else { "s" },
            lines.join(", "),
            if seeds { ", known_hosts seeded" } else { "" }
        ),
        edits,
        instructions: ssh_instructions(),
        notes: ssh_notes(&targets),
    })
}

/// `StrictHostKeyChecking no` / `UserKnownHostsFile=/dev/null` → removed, `known_hosts` seeded.
fn host_checking(df: &Dockerfile, stage: &[&Instruction]) -> Option<Fix> {
    let bad: Vec<&Instruction> = stage
        .iter()
        .copied()
        .filter(|i| i.name == "run" && !i.json && insecure_config().is_match(&i.rest.value))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let runs: Vec<(&Instruction, SshTarget)> = stage
        .iter()
        .filter_map(|i| uses_ssh(i).map(|t| (*i, t)))
        .collect();
    let targets: Vec<SshTarget> = runs.iter().map(|(_, t)| t.clone()).collect();
    if targets.is_empty() {
        return None; // no host to seed: removing the option alone would break the build
    }
    let mut edits = Vec::new();
    for i in &bad {
        match clean_run(df, i, &[]) {
            None => edits.push(Edit {
                file: FileRef::Dockerfile,
                range: whole_lines(&df.source, i.span.clone()),
                replacement: String::new(),
            }),
            Some(e) => edits.extend(e),
        }
    }
    let first = if bad[0].span.start < runs[0].0.span.start {
        bad[0]
    } else {
        runs[0].0
    };
    if !seeded_by(stage, first) {
        edits.push(insert_before(df, first, keyscan_line("~/.ssh", &targets)));
    }
    let lines: Vec<String> = bad.iter().map(|r| r.start_line.to_string()).collect();
    Some(Fix {
        rule_id: "CK111",
        safety: FixSafety::Unsafe,
        description: format!(
            "host key checking turned back on at line{} {}; known_hosts seeded with ssh-keyscan",
            if lines.len() == 1 { "" } else { "s" },
            lines.join(", ")
        ),
        edits,
        instructions: ssh_instructions(),
        notes: ssh_notes(&targets),
    })
}

/// CK110: seed `known_hosts` with `ssh-keyscan` before the first ssh mount of a stage.
fn known_hosts(df: &Dockerfile, stage: &[&Instruction]) -> Option<Fix> {
    let first = stage
        .iter()
        .copied()
        .find(|i| i.name == "run" && has_ssh_mount(i) && !seeds_known_hosts(i))?;
    let target = ssh_target(&first.rest.value)?;
    if seeded_by(stage, first) {
        return None;
    }
    let edit = insert_before(
        df,
        first,
        keyscan_line("~/.ssh", std::slice::from_ref(&target)),
    );
    Some(Fix {
        rule_id: "CK110",
        safety: FixSafety::Safe,
        description: format!(
            "seed known_hosts with ssh-keyscan {} before the ssh mount at line {}",
            target.host, first.start_line
        ),
        edits: vec![edit],
        instructions: ssh_instructions(),
        notes: ssh_notes(std::slice::from_ref(&target)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: Option<u16>) -> Option<SshTarget> {
        Some(SshTarget {
            host: host.into(),
            port,
        })
    }

    #[test]
    fn targets_of_common_commands() {
        assert_eq!(
            ssh_target("git clone git@github.com:acme/x.git /src"),
            t("github.com", None)
        );
        assert_eq!(
            ssh_target("git clone ssh://git@git.example.com:2222/acme/x.git"),
            t("git.example.com", Some(2222))
        );
        assert_eq!(
            ssh_target("pip install git+ssh://git@gitlab.com/acme/lib.git"),
            t("gitlab.com", None)
        );
        assert_eq!(
            ssh_target("ssh -p 2200 -o BatchMode=yes -i /k root@10.0.0.5 cat /x > /y"),
            t("10.0.0.5", Some(2200))
        );
        assert_eq!(
            ssh_target("scp -P 2201 deploy@files.example.org:/a /b"),
            t("files.example.org", Some(2201))
        );
        assert_eq!(
            ssh_target("GIT_SSH_COMMAND=\"ssh -o Port=2022\" git clone git@h.example:a/b"),
            t("h.example", Some(2022))
        );
        assert_eq!(ssh_target("curl https://example.com/x"), None);
        assert_eq!(ssh_target("ssh $HOST true"), None);
        assert_eq!(ssh_target("echo user@host: done"), None);
    }

    #[test]
    fn chores() {
        let keys = vec!["/root/.ssh/id_rsa".to_string()];
        assert!(key_chore("rm -f /root/.ssh/id_rsa", &keys));
        assert!(key_chore("rm -rf ~/.ssh", &keys));
        assert!(key_chore("chmod 600 /root/.ssh/id_rsa", &keys));
        assert!(key_chore(
            "echo \"StrictHostKeyChecking no\" >> /etc/ssh/ssh_config",
            &keys
        ));
        assert!(!key_chore("rm -rf /tmp/build /root/.ssh/id_rsa", &keys));
        assert!(!key_chore("make install", &keys));
        assert!(!key_chore("rm", &keys));
    }

    fn fixed(src: &str) -> (String, Vec<Fix>) {
        let df = crate::dockerfile::parse(src).unwrap();
        let mut fixes = Vec::new();
        plan(&df, &mut fixes);
        let edits: Vec<&Edit> = fixes.iter().flat_map(|f| f.edits.iter()).collect();
        (super::super::apply(src, &edits), fixes)
    }

    #[test]
    fn a_copied_key_becomes_an_ssh_mount() {
        let (out, fixes) = fixed(
            "FROM alpine\nRUN apk add git openssh-client\nCOPY id_rsa /root/.ssh/id_rsa\nRUN chmod 600 /root/.ssh/id_rsa && \\\n    git clone git@github.com:acme/private.git /src && \\\n    rm /root/.ssh/id_rsa\nRUN make -C /src\n",
        );
        assert_eq!(fixes.len(), 1);
        assert_eq!(fixes[0].rule_id, "CK106");
        assert_eq!(fixes[0].safety, FixSafety::Unsafe);
        assert_eq!(
            out,
            "FROM alpine\nRUN apk add git openssh-client\nRUN mkdir -p -m 0700 /root/.ssh && ssh-keyscan github.com >> /root/.ssh/known_hosts\nRUN --mount=type=ssh git clone git@github.com:acme/private.git /src\nRUN make -C /src\n"
        );
        assert!(fixes[0].instructions[0].starts_with("docker build --ssh default"));
        // fixed once: nothing more to do
        let (again, more) = fixed(&out);
        assert_eq!(again, out);
        assert!(more.is_empty(), "{more:?}");
    }

    #[test]
    fn key_options_clean_up_runs_and_ports_are_handled() {
        let (out, _) = fixed(
            "FROM scratch\nCOPY id_ed25519 /root/.ssh/\nRUN ssh -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=no -i /root/.ssh/id_ed25519 root@127.0.0.1 fetch > /app/data\nRUN rm -f /root/.ssh/id_ed25519\n",
        );
        assert_eq!(
            out,
            "FROM scratch\nRUN mkdir -p -m 0700 /root/.ssh && ssh-keyscan -p 2222 127.0.0.1 >> /root/.ssh/known_hosts\nRUN --mount=type=ssh ssh -p 2222 -o BatchMode=yes root@127.0.0.1 fetch > /app/data\n"
        );
    }

    #[test]
    fn a_run_that_seeds_known_hosts_itself_keeps_its_keyscan() {
        let (out, _) = fixed(
            "FROM alpine\nCOPY .ssh /root/.ssh\nRUN ssh-keyscan gitlab.com >> /root/.ssh/known_hosts && git clone git@gitlab.com:a/b.git && rm -rf /root/.ssh\n",
        );
        assert_eq!(
            out,
            "FROM alpine\nRUN mkdir -p -m 0700 /root/.ssh\nRUN --mount=type=ssh ssh-keyscan gitlab.com >> /root/.ssh/known_hosts && git clone git@gitlab.com:a/b.git\n"
        );
    }

    #[test]
    fn an_existing_mkdir_and_keyscan_are_kept_and_not_repeated() {
        let (out, fixes) = fixed(
            "FROM ubuntu\nRUN mkdir /root/.ssh/\nADD id_rsa /root/.ssh/id_rsa\nRUN ssh-keyscan bitbucket.org >> /root/.ssh/known_hosts\nRUN git clone git@bitbucket.org:a/b.git\n",
        );
        assert_eq!(
            out,
            "FROM ubuntu\nRUN mkdir /root/.ssh/\nRUN ssh-keyscan bitbucket.org >> /root/.ssh/known_hosts\nRUN --mount=type=ssh git clone git@bitbucket.org:a/b.git\n"
        );
        assert!(!fixes[0].description.contains("known_hosts seeded"));
    }

    #[test]
    fn disabled_host_checking_is_replaced_by_keyscan() {
        let (out, fixes) = fixed(
            "FROM alpine\nRUN echo \"StrictHostKeyChecking no\" >> /etc/ssh/ssh_config\nRUN --mount=type=ssh GIT_SSH_COMMAND=\"ssh -o UserKnownHostsFile=/dev/null\" git clone git@github.com:a/b.git\n",
        );
        assert_eq!(fixes[0].rule_id, "CK111");
        assert_eq!(
            out,
            "FROM alpine\nRUN mkdir -p -m 0700 ~/.ssh && ssh-keyscan github.com >> ~/.ssh/known_hosts\nRUN --mount=type=ssh GIT_SSH_COMMAND=\"ssh\" git clone git@github.com:a/b.git\n"
        );
    }

    #[test]
    fn a_key_not_used_by_ssh_is_left_to_the_user() {
        let (out, fixes) = fixed("FROM alpine\nCOPY id_rsa /app/id_rsa\nCMD [\"/app/run\"]\n");
        assert!(fixes.is_empty());
        assert!(out.contains("COPY id_rsa"));
    }

    #[test]
    fn segments_respect_quotes() {
        let s = "a && b 'x && y' ; c || \"d;e\"";
        let parts: Vec<&str> = segments(s)
            .iter()
            .map(|(r, _)| s[r.clone()].trim())
            .collect();
        assert_eq!(parts, ["a", "b 'x && y'", "c", "\"d;e\""]);
    }
}
