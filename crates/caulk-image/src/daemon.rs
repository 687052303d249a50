//! A local Docker Engine API (Docker, or Podman's compatible service) over its Unix socket:
//! finds the socket, asks whether it has an image, and streams `docker save` output.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// The sockets tried, in order: `DOCKER_HOST` / `CONTAINER_HOST` (`unix://` only), Docker's
/// default socket, Podman's rootful socket, then Podman's and Docker's rootless sockets.
pub fn candidate_sockets() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for var in ["DOCKER_HOST", "CONTAINER_HOST"] {
        if let Ok(h) = std::env::var(var) {
            if let Some(p) = h.strip_prefix("unix://") {
                v.push(PathBuf::from(p));
            }
        }
    }
    v.push("/var/run/docker.sock".into());
    v.push("/run/podman/podman.sock".into());
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(Path::new(&dir).join("podman/podman.sock"));
        v.push(Path::new(&dir).join("docker.sock"));
    }
    v
}

/// Is `DOCKER_HOST`/`CONTAINER_HOST` set to something other than a Unix socket (tcp://, ssh://)?
pub fn unsupported_host() -> Option<String> {
    ["DOCKER_HOST", "CONTAINER_HOST"].iter().find_map(|v| {
        std::env::var(v)
            .ok()
            .filter(|h| !h.is_empty() && !h.starts_with("unix://"))
            .map(|h| format!("{v}={h}"))
    })
}

/// A daemon reachable at a socket.
pub struct Daemon {
    pub socket: PathBuf,
}

/// An HTTP response body as a reader (chunked or not).
pub struct Body {
    inner: BufReader<UnixStream>,
    chunked: bool,
    left: u64,
    done: bool,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if !self.chunked {
            let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
            if max == 0 {
                self.done = true;
                return Ok(0);
            }
            let n = self.inner.read(&mut buf[..max])?;
            if n == 0 && self.left != u64::MAX {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the daemon closed the connection mid-response",
                ));
            }
            if self.left != u64::MAX {
                self.left -= n as u64;
            }
            return Ok(n);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                // the CRLF that ends the previous chunk
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = line.trim().split(';').next().unwrap_or("");
            let size = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {:?} from the daemon", line.trim()),
                )
            })?;
            if size == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let max = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection mid-response",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Percent-encodes an image reference for a URL path (keeping `/`, `:` and `@`).
fn encode(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"/:@._-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Daemon {
    /// The first candidate socket that answers `GET /_ping`.
    pub fn find() -> Option<Daemon> {
        candidate_sockets().into_iter().find_map(|s| {
            let d = Daemon { socket: s };
            match d.get("/_ping") {
                Ok((200, _)) => Some(d),
                _ => None,
            }
        })
    }

    /// Sends `GET path`; returns the status and the body.
    pub fn get(&self, path: &str) -> io::Result<(u16, Body)> {
        let mut stream = UnixStream::connect(&self.socket)?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: caulk/{}\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        )?;
        let mut r = BufReader::with_capacity(256 << 10, stream);
        let mut line = String::new();
        r.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not an HTTP response: {:?}", line.trim()),
                )
            })?;
        let (mut chunked, mut length) = (false, u64::MAX);
        for _ in 0..200 {
            line.clear();
            if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                } else if k == "content-length" {
                    length = v.parse().unwrap_or(u64::MAX);
                }
            }
        }
        Ok((
            status,
            Body {
                inner: r,
                chunked,
                left: if chunked { 0 } else { length },
                done: false,
            },
        ))
    }

    /// Does the daemon have `name`? (`GET /images/{name}/json`)
    pub fn has_image(&self, name: &str) -> io::Result<bool> {
        let (status, mut body) = self.get(&format!("/images/{}/json", encode(name)))?;
        io::copy(&mut (&mut body).take(16 << 20), &mut io::sink())?;
        match status {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(io::Error::other(format!(
                "the daemon answered {s} to GET /images/{name}/json"
            ))),
        }
    }

    /// `docker save NAME` as a stream (`GET /images/{name}/get`).
    pub fn save(&self, name: &str) -> io::Result<Body> {
        let (status, mut body) = self.get(&format!("/images/{}/get", encode(name)))?;
        if status != 200 {
            let mut msg = String::new();
            let _ = (&mut body).take(4096).read_to_string(&mut msg);
            return Err(io::Error::other(format!(
                "the daemon answered {status} to GET /images/{name}/get: {}",
                msg.trim()
            )));
        }
        Ok(body)
    }
}
