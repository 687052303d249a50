//! `RUN --mount=...`: the comma-separated options BuildKit accepts (`type=secret,id=npm,env=X`),
//! with BuildKit's defaults filled in (secret targets under `/run/secrets/`, ssh id `default`).

use std::fmt;
use std::ops::Range;

/// The mount types BuildKit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Cache => "cache",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Secret => "secret",
            MountKind::Ssh => "ssh",
        }
    }
}

/// One `--mount` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    /// `id` (secret, ssh, cache); for a secret without one, the target's file name.
    pub id: Option<String>,
    /// `target`/`dst`/`destination`; for a secret without one (and no `env`),
    /// `/run/secrets/<id>`.
    pub target: Option<String>,
    /// `env=NAME` (secret): exposed as an environment variable instead of (or besides) a file.
    pub env: Option<String>,
    pub required: bool,
    /// `mode` as written (octal), and parsed.
    pub mode: Option<u32>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub from: Option<String>,
    /// `source`/`src`.
    pub source: Option<String>,
    pub readonly: Option<bool>,
    pub sharing: Option<String>,
    /// The flag's span in the Dockerfile.
    pub span: Range<usize>,
}

/// A `--mount` value BuildKit refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountError {
    pub message: String,
    pub span: Range<usize>,
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MountError {}

/// Splits CSV fields the way Go's `encoding/csv` reads one record: `"` quotes a field, `""` inside
/// quotes is a literal quote.
fn csv_fields(value: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quote in --mount".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(c) => return Err(format!("unexpected `{c}` after a quoted --mount field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(format!("invalid value `{v}` for {key}")),
    }
}

impl Mount {
    /// Parses a `--mount` value (what follows `--mount=`).
    pub fn parse(value: &str, span: Range<usize>) -> Result<Mount, MountError> {
        let err = |message: String| MountError {
            message,
            span: span.clone(),
        };
        let mut m = Mount {
            kind: MountKind::Bind,
            id: None,
            target: None,
            env: None,
            required: false,
            mode: None,
            uid: None,
            gid: None,
            from: None,
            source: None,
            readonly: None,
            sharing: None,
            span: span.clone(),
        };
        let fields = csv_fields(value).map_err(&err)?;
        // `type` may come anywhere but decides what the rest mean.
        for field in &fields {
            if let Some(("type", t)) = field.split_once('=').map(|(k, v)| (k.trim(), v)) {
                m.kind = match t.to_ascii_lowercase().as_str() {
                    "bind" => MountKind::Bind,
                    "cache" => MountKind::Cache,
                    "tmpfs" => MountKind::Tmpfs,
                    "secret" => MountKind::Secret,
                    "ssh" => MountKind::Ssh,
                    other => return Err(err(format!("unsupported mount type `{other}`"))),
                };
            }
        }
        for field in fields {
            let field = field.trim();
            if field.is_empty() {
                continue;
            }
            let (key, val) = match field.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.to_string())),
                None => (field.to_ascii_lowercase(), None),
            };
            let need = |v: Option<String>| v.ok_or_else(|| err(format!("`{key}` needs a value")));
            match key.as_str() {
                "type" => {}
                "id" => m.id = Some(need(val)?),
                "target" | "dst" | "destination" => m.target = Some(need(val)?),
                "source" | "src" => m.source = Some(need(val)?),
                "from" => m.from = Some(need(val)?),
                "env" => m.env = Some(need(val)?),
                "uid" => m.uid = Some(need(val)?),
                "gid" => m.gid = Some(need(val)?),
                "sharing" => m.sharing = Some(need(val)?),
                "mode" => {
                    let v = need(val)?;
                    let mode = u32::from_str_radix(&v, 8)
                        .map_err(|_| err(format!("invalid mode `{v}` (octal expected)")))?;
                    m.mode = Some(mode);
                }
                "required" => m.required = parse_bool(&key, val.as_deref()).map_err(&err)?,
                "readonly" | "ro" => {
                    m.readonly = Some(parse_bool(&key, val.as_deref()).map_err(&err)?)
                }
                "readwrite" | "rw" => {
                    m.readonly = Some(!parse_bool(&key, val.as_deref()).map_err(&err)?)
                }
                "size" | "z" | "relabel" => {}
                other => return Err(err(format!("unexpected key `{other}` in --mount"))),
            }
        }
        match m.kind {
            MountKind::Secret => {
                if m.id.is_none() {
                    m.id = m
                        .target
                        .as_deref()
                        .and_then(|t| t.rsplit('/').next())
                        .filter(|s| !s.is_empty())
                        .map(str::to_string);
                }
                let Some(id) = m.id.clone() else {
                    return Err(err("a secret mount needs an `id` or a `target`".into()));
                };
                if m.target.is_none() && m.env.is_none() {
                    m.target = Some(format!("/run/secrets/{id}"));
                }
            }
            MountKind::Ssh => {
                if m.id.is_none() {
                    m.id = Some("default".into());
                }
                if m.target.is_none() {
                    m.target = Some("/run/buildkit/ssh_agent.0".into());
                }
            }
            MountKind::Bind | MountKind::Cache | MountKind::Tmpfs => {
                if m.target.is_none() {
                    return Err(err(format!("a {} mount needs a target", m.kind.as_str())));
                }
            }
        }
        Ok(m)
    }

    /// The mode the mounted file gets (BuildKit's defaults: 0400 for secrets, 0600 for ssh).
    pub fn effective_mode(&self) -> Option<u32> {
        self.mode.or(match self.kind {
            MountKind::Secret => Some(0o400),
            MountKind::Ssh => Some(0o600),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(v: &str) -> Mount {
        Mount::parse(v, 0..0).unwrap()
    }

    #[test]
    fn secret_defaults_and_options() {
        let m = mount("type=secret,id=npm");
        assert_eq!(m.kind, MountKind::Secret);
        assert_eq!(m.target.as_deref(), Some("/run/secrets/npm"));
        assert_eq!(m.effective_mode(), Some(0o400));
        let m = mount("type=secret,id=aws,env=AWS_SECRET_ACCESS_KEY,required");
        assert_eq!(m.env.as_deref(), Some("AWS_SECRET_ACCESS_KEY"));
        assert_eq!(m.target, None);
        assert!(m.required);
        let m = mount("type=secret,target=/root/.npmrc,mode=0444,uid=1000,gid=1000,required=false");
        assert_eq!(m.id.as_deref(), Some(".npmrc"));
        assert_eq!(m.mode, Some(0o444));
        assert_eq!(m.uid.as_deref(), Some("1000"));
        assert!(!m.required);
        let m = mount("id=tok,type=secret,dst=/t");
        assert_eq!(
            (m.kind, m.target.as_deref()),
            (MountKind::Secret, Some("/t"))
        );
    }

    #[test]
    fn ssh_cache_bind_tmpfs() {
        let m = mount("type=ssh");
        assert_eq!((m.kind, m.id.as_deref()), (MountKind::Ssh, Some("default")));
        assert_eq!(m.effective_mode(), Some(0o600));
        let m = mount("type=ssh,id=gitlab,mode=0666");
        assert_eq!(m.mode, Some(0o666));
        let m = mount("type=cache,target=/root/.cache/pip,sharing=locked,id=pip");
        assert_eq!(m.sharing.as_deref(), Some("locked"));
        let m = mount("type=bind,from=builder,source=/out,target=/in,rw");
        assert_eq!(m.readonly, Some(false));
        assert_eq!(m.from.as_deref(), Some("builder"));
        let m = mount("target=/x");
        assert_eq!(m.kind, MountKind::Bind);
        let m = mount("type=tmpfs,target=/tmp,size=64m");
        assert_eq!(m.kind, MountKind::Tmpfs);
        // quoted CSV field
        let m = mount("type=bind,\"source=/a,b\",target=/c");
        assert_eq!(m.source.as_deref(), Some("/a,b"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "type=floppy,target=/x",
            "type=secret",
            "type=secret,id=a,mode=999",
            "type=secret,id=a,bogus=1",
            "type=bind",
            "type=secret,id",
            "\"type=secret",
            "type=secret,id=a,required=maybe",
        ] {
            assert!(Mount::parse(bad, 0..0).is_err(), "{bad}");
        }
    }
}
