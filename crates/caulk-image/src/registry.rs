//! Images in a registry (the OCI distribution API): references, credentials, the bearer-token and
//! basic challenges, retries, and a [`Store`] whose blobs stream from the registry with their
//! digests checked by the scan as they pass. Nothing is written to disk.

use crate::error::ImageError;
use crate::source::{BlobReader, Store};
use base64::Engine as _;
use sha2::Digest as _;
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `[registry/]repository[:tag][@digest]`, with Docker Hub's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Host (and port) as written, `docker.io` for Docker Hub.
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, String> {
        let bad = || format!("`{s}` is not an image reference");
        if s.is_empty() || s.contains(char::is_whitespace) || s.contains("://") {
            return Err(bad());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                crate::digest::Digest::parse(d).map_err(|e| format!("`{s}`: {e}"))?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (first, path) = match rest.split_once('/') {
            Some((f, p)) if f.contains('.') || f.contains(':') || f == "localhost" => {
                (f.to_string(), p.to_string())
            }
            _ => ("docker.io".to_string(), rest.to_string()),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), Some(t.to_string())),
            _ => (path, None),
        };
        let repository = if first == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if repository.is_empty() || !repository.chars().all(ok) {
            return Err(bad());
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry: first,
            repository,
            tag,
            digest,
        })
    }

    /// The host the API is served from (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// What to ask `/manifests/` for: the digest when pinned, else the tag.
    fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`host:port`) to reach over plain HTTP.
    pub insecure: Vec<String>,
    /// Extra CA certificates (PEM) trusted beside the system's.
    pub ca_file: Option<PathBuf>,
    /// Credentials given on the command line; they win over credential files.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Retries after a 429, a 5xx or a broken connection.
    pub retries: u32,
}

/// A user name and password (or identity token) for one registry.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

/// Docker's `config.json` (`$DOCKER_CONFIG` or `~/.docker`) and Podman's `auth.json`
/// (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `~/.config/containers/auth.json`): `auths`, `credHelpers` and `credsStore`.
pub fn stored_credentials(registry: &str) -> Result<Option<Credentials>, String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(p.into());
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(Path::new(&d).join("containers/auth.json"));
    }
    if let Some(h) = &home {
        files.push(h.join(".config/containers/auth.json"));
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => files.push(Path::new(&d).join("config.json")),
        None => files.extend(home.as_ref().map(|h| h.join(".docker/config.json"))),
    }
    let keys: Vec<String> = if registry == "docker.io" {
        vec![
            "docker.io".into(),
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![registry.to_string(), format!("https://{registry}")]
    };
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not valid JSON: {e}", f.display()))?;
        for k in &keys {
            if let Some(helper) = v["credHelpers"][k].as_str() {
                return helper_credentials(helper, k);
            }
        }
        for k in &keys {
            if let Some(auth) = v["auths"][k]["auth"].as_str() {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .map_err(|_| format!("{}: auths.{k}.auth is not base64", f.display()))?;
                let raw = String::from_utf8_lossy(&raw).into_owned();
                let (u, p) = raw.split_once(':').ok_or_else(|| {
                    format!("{}: auths.{k}.auth is not user:password", f.display())
                })?;
                return Ok(Some(Credentials {
                    username: u.into(),
                    password: p.into(),
                }));
            }
            if let Some(tok) = v["auths"][k]["identitytoken"].as_str() {
                return Ok(Some(Credentials {
                    username: "<token>".into(),
                    password: tok.into(),
                }));
            }
        }
        if let Some(store) = v["credsStore"].as_str() {
            if let Some(c) = helper_credentials(store, &keys[0])? {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

/// Runs `docker-credential-<helper> get` with the server on standard input.
fn helper_credentials(helper: &str, server: &str) -> Result<Option<Credentials>, String> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(server.as_bytes())
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    if !out.status.success() {
        // "credentials not found" is not an error: the registry may allow anonymous pulls.
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("credential helper {program}: not JSON: {e}"))?;
    match (v["Username"].as_str(), v["Secret"].as_str()) {
        (Some(u), Some(p)) => Ok(Some(Credentials {
            username: u.into(),
            password: p.into(),
        })),
        _ => Ok(None),
    }
}

/// A registry connection for one repository: scheme, TLS, credentials and the current token.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    repository: String,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
    retries: u32,
    input: String,
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    if let Some(f) = ca_file {
        let pem = std::fs::read(f).map_err(|e| format!("--ca-file {}: {e}", f.display()))?;
        let mut n = 0;
        for c in rustls_pemfile::certs(&mut &pem[..]) {
            let c = c.map_err(|e| format!("--ca-file {}: {e}", f.display()))?;
            roots
                .add(c)
                .map_err(|e| format!("--ca-file {}: {e}", f.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!(
                "--ca-file {}: no PEM certificate in it",
                f.display()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `Bearer realm="…",service="…",scope="…"` → scheme and parameters.
fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(k.trim().to_ascii_lowercase(), v.to_string());
        rest = next.trim_start_matches([',', ' ']);
    }
    (scheme.to_ascii_lowercase(), params)
}

impl Client {
    /// A client for `reference`'s repository. `input` names it in errors.
    pub fn new(
        reference: &Reference,
        opts: &RegistryOptions,
        input: &str,
    ) -> Result<Client, ImageError> {
        let host = reference.api_host();
        let insecure = opts
            .insecure
            .iter()
            .any(|h| h == host || h == &reference.registry);
        let mut builder = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(60))
            .redirects(5)
            .redirect_auth_headers(ureq::RedirectAuthHeaders::Never)
            .user_agent(concat!("caulk/", env!("CARGO_PKG_VERSION")));
        if !insecure {
            let tls =
                tls_config(opts.ca_file.as_deref()).map_err(|e| ImageError::invalid(input, e))?;
            builder = builder.tls_config(tls);
        }
        let credentials = match (&opts.username, &opts.password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => stored_credentials(&reference.registry)
                .map_err(|e| ImageError::invalid(input, e))?,
        };
        Ok(Client {
            agent: builder.build(),
            base: format!("{}://{host}", if insecure { "http" } else { "https" }),
            repository: reference.repository.clone(),
            credentials,
            authorization: Mutex::new(None),
            retries: opts.retries,
            input: input.to_string(),
        })
    }

    fn basic(&self) -> Option<String> {
        self.credentials.as_ref().map(|c| {
            let raw = format!("{}:{}", c.username, c.password);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        })
    }

    /// Answers a 401 challenge: a bearer token from the realm (with basic credentials when we
    /// have them), or basic credentials.
    fn authenticate(&self, challenge: &str, what: &str) -> Result<(), ImageError> {
        let (scheme, params) = parse_challenge(challenge);
        let auth = match scheme.as_str() {
            "basic" => self.basic().ok_or_else(|| {
                ImageError::invalid(&self.input, format!("{what}: the registry wants a user name and password (--username/--password-stdin, docker login or podman login)"))
            })?,
            "bearer" => {
                let realm = params.get("realm").ok_or_else(|| {
                    ImageError::invalid(&self.input, format!("{what}: bearer challenge without a realm"))
                })?;
                let scope = params.get("scope").cloned().unwrap_or_else(|| {
                    if self.repository.is_empty() {
                        "registry:catalog:*".to_string()
                    } else {
                        format!("repository:{}:pull", self.repository)
                    }
                });
                let mut req = self.agent.get(realm).query("scope", &scope);
                if let Some(s) = params.get("service") {
                    req = req.query("service", s);
                }
                if let Some(b) = self.basic() {
                    req = req.set("Authorization", &b);
                }
                let resp = req.call().map_err(|e| match e {
                    ureq::Error::Status(401 | 403, _) => ImageError::invalid(
                        &self.input,
                        format!("{what}: the token service at {realm} refused the credentials"),
                    ),
                    e => ImageError::invalid(&self.input, format!("{what}: token service {realm}: {e}")),
                })?;
                let mut text = String::new();
                resp.into_reader()
                    .take(1 << 20)
                    .read_to_string(&mut text)
                    .map_err(|e| {
                        ImageError::invalid(&self.input, format!("{what}: token service {realm}: {e}"))
                    })?;
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    ImageError::invalid(&self.input, format!("{what}: token service {realm}: not JSON: {e}"))
                })?;
                let token = v["token"]
                    .as_str()
                    .or(v["access_token"].as_str())
                    .ok_or_else(|| ImageError::invalid(&self.input, format!("{what}: token service {realm} sent no token")))?;
                format!("Bearer {token}")
            }
            other => {
                return Err(ImageError::invalid(
                    &self.input,
                    format!("{what}: unsupported authentication scheme `{other}`"),
                ))
            }
        };
        *self.authorization.lock().unwrap_or_else(|e| e.into_inner()) = Some(auth);
        Ok(())
    }

    /// `GET /v2/<repo>/<path>` with authentication, retries and backoff. `Ok(None)` on 404.
    pub fn get(
        &self,
        path: &str,
        accept: Option<&str>,
        range_from: u64,
    ) -> Result<Option<ureq::Response>, ImageError> {
        self.get_api(&format!("{}/{path}", self.repository), accept, range_from)
    }

    /// A JSON document from `GET /v2/<path>`, following `Link: <…>; rel="next"` pages and
    /// collecting the array `field` of each.
    pub fn list(&self, path: &str, field: &str) -> Result<Vec<String>, ImageError> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        let mut pages = 0;
        while let Some(p) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(ImageError::invalid(
                    &self.input,
                    format!("GET /v2/{path}: too many pages"),
                ));
            }
            let Some(resp) = self.get_api(&p, Some("application/json"), 0)? else {
                return Ok(out);
            };
            next = resp.header("Link").and_then(|l| {
                let (target, rel) = l.split_once(';')?;
                rel.contains("rel=\"next\"").then(|| {
                    let t = target.trim().trim_start_matches('<').trim_end_matches('>');
                    t.strip_prefix("/v2/").unwrap_or(t).to_string()
                })
            });
            let mut text = String::new();
            resp.into_reader()
                .take(64 << 20)
                .read_to_string(&mut text)
                .map_err(|e| ImageError::invalid(&self.input, format!("GET /v2/{p}: {e}")))?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                ImageError::invalid(&self.input, format!("GET /v2/{p}: not JSON: {e}"))
            })?;
            out.extend(
                v[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_string)),
            );
        }
        Ok(out)
    }

    /// `GET /v2/<path>` with authentication, retries and backoff. `Ok(None)` on 404.
    pub fn get_api(
        &self,
        path: &str,
        accept: Option<&str>,
        range_from: u64,
    ) -> Result<Option<ureq::Response>, ImageError> {
        let url = format!("{}/v2/{path}", self.base);
        let what = format!("GET {url}");
        let mut authenticated = false;
        let mut attempt = 0;
        loop {
            let mut req = self.agent.get(&url);
            if let Some(a) = accept {
                req = req.set("Accept", a);
            }
            if range_from > 0 {
                req = req.set("Range", &format!("bytes={range_from}-"));
            }
            if let Some(a) = self
                .authorization
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                req = req.set("Authorization", &a);
            }
            let retry_after = match req.call() {
                Ok(resp) => return Ok(Some(resp)),
                Err(ureq::Error::Status(404, _)) => return Ok(None),
                Err(ureq::Error::Status(401, resp)) if !authenticated => {
                    let challenge = resp.header("WWW-Authenticate").unwrap_or("").to_string();
                    self.authenticate(&challenge, &what)?;
                    authenticated = true;
                    continue;
                }
                Err(ureq::Error::Status(code @ (401 | 403), _)) => {
                    return Err(ImageError::invalid(
                        &self.input,
                        format!("{what}: {code} {}: check the credentials (--username/--password-stdin, docker login, podman login)", if code == 401 { "unauthorized" } else { "forbidden" }),
                    ))
                }
                Err(ureq::Error::Status(code, resp)) if code == 429 || code >= 500 => {
                    let wait = resp
                        .header("Retry-After")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(30)));
                    if attempt >= self.retries {
                        return Err(ImageError::invalid(&self.input, format!("{what}: {code} after {} attempts", attempt + 1)));
                    }
                    wait
                }
                Err(ureq::Error::Status(code, resp)) => {
                    let body = resp.into_string().unwrap_or_default();
                    let body: String = body.chars().take(300).collect();
                    return Err(ImageError::invalid(&self.input, format!("{what}: {code} {}", body.trim())));
                }
                Err(ureq::Error::Transport(t)) => {
                    let mut msg = t.message().map(str::to_string).unwrap_or_default();
                    let mut source = std::error::Error::source(&t);
                    while let Some(e) = source {
                        msg = if msg.is_empty() { e.to_string() } else { format!("{msg}: {e}") };
                        source = e.source();
                    }
                    let lower = msg.to_ascii_lowercase();
                    if lower.contains("certificate") || lower.contains("tls") {
                        let hint = if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
                            "; the registry may speak plain HTTP: --insecure-registry HOST"
                        } else {
                            "; for a private CA use --ca-file"
                        };
                        return Err(ImageError::invalid(&self.input, format!("{what}: TLS: {msg}{hint}")));
                    }
                    if attempt >= self.retries || t.kind() == ureq::ErrorKind::Dns {
                        return Err(ImageError::invalid(
                            &self.input,
                            format!("{what}: {:?}: {msg} (after {} attempts)", t.kind(), attempt + 1),
                        ));
                    }
                    None
                }
            };
            let backoff = Duration::from_millis(250 << attempt.min(6));
            std::thread::sleep(retry_after.unwrap_or(backoff));
            attempt += 1;
        }
    }
}

/// A blob body that, when the connection breaks, asks again from where it stopped.
struct Resuming {
    client: Arc<Client>,
    path: String,
    reader: Box<dyn Read + Send>,
    pos: u64,
    /// Content-Length of the first response: an earlier end is a broken connection.
    expected: Option<u64>,
    resumes: u32,
}

impl Read for Resuming {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let err = match self.reader.read(buf) {
                Ok(0) if buf.is_empty() => return Ok(0),
                Ok(0) if self.expected.is_some_and(|n| self.pos < n) => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the connection closed after {} of {} bytes",
                        self.pos,
                        self.expected.unwrap_or(0)
                    ),
                ),
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => io::Error::new(
                    e.kind(),
                    format!(
                        "the connection closed after {} of {} bytes: {e}",
                        self.pos,
                        self.expected
                            .map_or("an unknown number of".to_string(), |n| n.to_string())
                    ),
                ),
            };
            if self.resumes >= self.client.retries {
                return Err(err);
            }
            self.resumes += 1;
            std::thread::sleep(Duration::from_millis(250 << self.resumes.min(6)));
            let resp = match self.client.get(&self.path, None, self.pos) {
                Ok(Some(r)) => r,
                Ok(None) => return Err(err),
                Err(again) => {
                    return Err(io::Error::new(
                        err.kind(),
                        format!("{err}; resuming failed: {again}"),
                    ))
                }
            };
            let status = resp.status();
            let mut reader: Box<dyn Read + Send> = resp.into_reader();
            if status == 200 && self.pos > 0 {
                // no range support: skip what was read already
                let skipped = io::copy(&mut (&mut reader).take(self.pos), &mut io::sink())?;
                if skipped < self.pos {
                    return Err(err);
                }
            }
            self.reader = reader;
        }
    }
}

/// Every `repository:tag` of a registry whose repository starts with `prefix`, sorted.
pub fn catalog(
    registry: &str,
    prefix: &str,
    opts: &RegistryOptions,
) -> Result<Vec<String>, ImageError> {
    let root = Reference {
        registry: registry.to_string(),
        repository: String::new(),
        tag: None,
        digest: None,
    };
    let client = Client::new(&root, opts, registry)?;
    let mut repos = client.list("_catalog?n=1000", "repositories")?;
    repos.retain(|r| r.starts_with(prefix));
    repos.sort();
    let mut out = Vec::new();
    for repo in repos {
        let reference = Reference {
            repository: repo.clone(),
            ..root.clone()
        };
        let c = Client::new(&reference, opts, registry)?;
        let mut tags = c.list(&format!("{repo}/tags/list?n=1000"), "tags")?;
        tags.sort();
        out.extend(tags.into_iter().map(|t| format!("{repo}:{t}")));
    }
    Ok(out)
}

/// An image in a registry, seen as an OCI layout: `index.json` names the manifest the reference
/// points to, and `blobs/<alg>/<hex>` are fetched (manifests from `/manifests/`, the rest from
/// `/blobs/`) when opened.
pub struct RegistryStore {
    client: Arc<Client>,
    input: String,
    index: Vec<u8>,
    manifests: Mutex<HashMap<String, Vec<u8>>>,
}

impl RegistryStore {
    /// Fetches the manifest (or index) `reference` points to.
    pub fn open(
        reference: &Reference,
        opts: &RegistryOptions,
    ) -> Result<RegistryStore, ImageError> {
        let input = reference.to_string();
        let client = Arc::new(Client::new(reference, opts, &input)?);
        let what = format!("manifest {}", reference.manifest_ref());
        let resp = client
            .get(
                &format!("manifests/{}", reference.manifest_ref()),
                Some(MANIFEST_TYPES),
                0,
            )?
            .ok_or_else(|| {
                ImageError::invalid(
                    &input,
                    format!("the registry has no {what} in {}", reference.repository),
                )
            })?;
        let media_type = resp
            .header("Content-Type")
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let mut body = Vec::new();
        resp.into_reader()
            .take(8 << 20)
            .read_to_end(&mut body)
            .map_err(|e| ImageError::invalid(&input, format!("{what}: {e}")))?;
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(&body));
        if let Some(pinned) = &reference.digest {
            if pinned != &digest {
                return Err(ImageError::DigestMismatch {
                    input: input.clone(),
                    what,
                    expected: pinned.clone(),
                    actual: digest,
                });
            }
        }
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media_type,
                "digest": digest,
                "size": body.len(),
                "annotations": {"io.containerd.image.name": input},
            }],
        }))
        .expect("JSON");
        let mut manifests = HashMap::new();
        manifests.insert(digest[7..].to_string(), body);
        Ok(RegistryStore {
            client,
            input,
            index,
            manifests: Mutex::new(manifests),
        })
    }
}

impl Store for RegistryStore {
    fn open(&self, name: &str) -> io::Result<Option<BlobReader<'_>>> {
        if name == "index.json" {
            return Ok(Some(Box::new(io::Cursor::new(self.index.clone()))));
        }
        let Some(rest) = name.strip_prefix("blobs/") else {
            return Ok(None);
        };
        let Some((alg, hex)) = rest.split_once('/') else {
            return Ok(None);
        };
        if let Some(m) = self
            .manifests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(hex)
        {
            return Ok(Some(Box::new(io::Cursor::new(m.clone()))));
        }
        let digest = format!("{alg}:{hex}");
        let err = |e: ImageError| io::Error::other(e.to_string());
        let path = format!("blobs/{digest}");
        if let Some(resp) = self.client.get(&path, None, 0).map_err(err)? {
            let expected = resp
                .header("Content-Length")
                .and_then(|v| v.trim().parse().ok());
            return Ok(Some(Box::new(Resuming {
                client: self.client.clone(),
                path,
                reader: resp.into_reader(),
                pos: 0,
                expected,
                resumes: 0,
            })));
        }
        // An index's child manifests are served from /manifests/ only.
        match self
            .client
            .get(&format!("manifests/{digest}"), Some(MANIFEST_TYPES), 0)
            .map_err(err)?
        {
            Some(resp) => Ok(Some(resp.into_reader())),
            None => Ok(None),
        }
    }
    fn exists(&self, name: &str) -> bool {
        name == "index.json" || name.starts_with("blobs/")
    }
    fn input(&self) -> &str {
        &self.input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = Reference::parse("nginx").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "library/nginx", Some("latest"))
        );
        assert_eq!(r.api_host(), "registry-1.docker.io");
        let r = Reference::parse("127.0.0.1:5000/team/app:1.4").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", Some("1.4"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("ghcr.io/org/app@{d}")).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (None, Some(d.as_str()))
        );
        assert_eq!(
            Reference::parse("localhost/app").unwrap().registry,
            "localhost"
        );
        assert!(Reference::parse("UPPER/case").is_err());
        assert!(Reference::parse("https://x/y").is_err());
        assert!(Reference::parse("app@sha256:xyz").is_err());
    }

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull");
        let (s, p) = parse_challenge(r#"Basic realm="basic-realm""#);
        assert_eq!((s.as_str(), p["realm"].as_str()), ("basic", "basic-realm"));
    }
}
