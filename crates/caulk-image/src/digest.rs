//! Content digests: parsing `sha256:<hex>` safely and hashing streams as they pass.

use sha2::{Digest as _, Sha256, Sha512};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A validated `algorithm:hex` digest. Only sha256 and sha512 are accepted, and the hex is checked,
/// so a digest can be used to build a blob path without any risk of traversal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algorithm: Algorithm,
    pub hex: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Digest, String> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not a digest (expected sha256:<hex>)"))?;
        let (algorithm, len) = match alg {
            "sha256" => (Algorithm::Sha256, 64),
            "sha512" => (Algorithm::Sha512, 128),
            _ => return Err(format!("unsupported digest algorithm `{alg}`")),
        };
        if hex.len() != len
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!("`{s}` is not a valid {alg} digest"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }
    pub fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm_name(), self.hex)
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

/// A handle that finishes the hash of a [`HashingReader`] that has been moved into a reader chain.
#[derive(Clone)]
pub struct HashHandle {
    state: Arc<Mutex<Option<Hasher>>>,
    count: Arc<AtomicU64>,
}

impl HashHandle {
    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
    /// The digest of everything read, and the byte count.
    pub fn finish(&self) -> (String, u64) {
        let hasher = self.state.lock().unwrap_or_else(|e| e.into_inner()).take();
        let d = match hasher {
            Some(Hasher::Sha256(h)) => format!("sha256:{}", hex::encode(h.finalize())),
            Some(Hasher::Sha512(h)) => format!("sha512:{}", hex::encode(h.finalize())),
            None => String::new(),
        };
        (d, self.count())
    }
}

/// A reader that hashes and counts what passes through it.
pub struct HashingReader<R> {
    inner: R,
    handle: HashHandle,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        let hasher = match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        };
        let handle = HashHandle {
            state: Arc::new(Mutex::new(Some(hasher))),
            count: Arc::new(AtomicU64::new(0)),
        };
        HashingReader { inner, handle }
    }
    /// Stops hashing (the bytes are hashed elsewhere); the byte count goes on.
    pub fn disable(&self) {
        self.handle
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Hashes bytes that did not pass through `read` (read before this reader existed).
    pub fn prime(&mut self, bytes: &[u8]) {
        if let Some(h) = self
            .handle
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            match h {
                Hasher::Sha256(h) => h.update(bytes),
                Hasher::Sha512(h) => h.update(bytes),
            }
        }
        self.handle
            .count
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
    pub fn handle(&self) -> HashHandle {
        self.handle.clone()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.prime(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_traversal_and_bad_hex() {
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
        assert!(Digest::parse("sha256:ABCDEF").is_err());
        assert!(Digest::parse("md5:d41d8cd98f00b204e9800998ecf8427e").is_err());
        let ok = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Digest::parse(ok).unwrap().to_string(), ok);
    }

    #[test]
    fn hashing_reader_hashes_what_it_reads() {
        let mut r = HashingReader::new(&b"abc"[..], Algorithm::Sha256);
        let h = r.handle();
        io::copy(&mut r, &mut io::sink()).unwrap();
        let (d, n) = h.finish();
        assert_eq!(n, 3);
        assert_eq!(
            d,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
