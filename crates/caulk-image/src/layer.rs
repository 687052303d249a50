//! Streams one layer blob: decompresses it (by magic bytes), hashes both forms, walks the tar entry
//! by entry into a [`LayerIndex`], and scans every file, opening nested archives to a bounded depth.

use crate::content::{scan_stream, Scratch, StreamHit};
use crate::digest::{Algorithm, HashHandle, HashingReader};
use crate::limits::Limits;
use crate::overlay::{clean_name, EntryKind, EntryName, LayerIndex};
use crate::source::{looks_like_tar, read_full, Compression};
use caulk_rules::{RuleIdx, Scanner};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A secret found in a layer file (or in an archive inside one).
#[derive(Debug, Clone)]
pub struct LayerHit {
    pub rule: RuleIdx,
    /// The layer file the hit belongs to (its visibility decides the hit's).
    pub top_path: String,
    pub ordinal: u32,
    /// Display path: nested members joined with `!`.
    pub path: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// The secret; empty for file-name hits, which carry the file's digest instead.
    pub secret: Vec<u8>,
    pub file_digest: Option<(String, u64)>,
    /// The whole match and its line, for allowlists; never written anywhere.
    pub matched: Vec<u8>,
    pub line_text: Vec<u8>,
    /// Set for a hit read from the layer cache, whose secret is not kept.
    pub cached: Option<CachedEvidence>,
}

/// What the layer cache keeps of a secret.
#[derive(Debug, Clone)]
pub struct CachedEvidence {
    pub fingerprint: String,
    pub preview: String,
    /// Per allowlist of the run: did its regex / stopword criteria hold.
    pub verdicts: Vec<[bool; 2]>,
}

/// Something in a layer that was not (fully) scanned.
#[derive(Debug, Clone)]
pub struct LayerSkip {
    pub path: Option<String>,
    pub reason: String,
}

/// Everything learned from one layer blob.
pub struct LayerScan {
    pub index: LayerIndex,
    pub hits: Vec<LayerHit>,
    pub skipped: Vec<LayerSkip>,
    pub warnings: Vec<String>,
    /// Digest and size of the blob as read.
    pub blob_digest: String,
    pub size: u64,
    /// Digest and size of the uncompressed tar; None when reading stopped early.
    pub diff_id: Option<String>,
    pub uncompressed: u64,
    pub compression: Compression,
}

/// Shared note that a bound was hit, so the error can be told apart from a broken stream.
#[derive(Clone, Default)]
struct Tripwire(Arc<Mutex<Option<String>>>);

impl Tripwire {
    fn trip(&self, why: String) -> io::Error {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(why.clone());
        }
        io::Error::other(why)
    }
    fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Stops a decompressed stream that grows beyond a size or a ratio to its compressed input.
struct Bounded<R> {
    inner: R,
    read: u64,
    max: u64,
    ratio: u64,
    grace: u64,
    compressed: Option<Arc<AtomicU64>>,
    wire: Tripwire,
    what: &'static str,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max {
            return Err(self.wire.trip(format!(
                "{} expands beyond the limit of {} bytes; stopped there (possible decompression bomb)",
                self.what, self.max
            )));
        }
        if let Some(c) = &self.compressed {
            let c = c.load(Ordering::Relaxed).max(1);
            if self.read > self.grace && self.read / c > self.ratio {
                return Err(self.wire.trip(format!(
                    "{} expands more than {}:1 ({} bytes from {c}); stopped (possible decompression bomb)",
                    self.what, self.ratio, self.read
                )));
            }
        }
        Ok(n)
    }
}

/// Counts bytes passing through.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Scans one layer blob.
pub fn scan_layer(
    blob: Box<dyn Read + Send + '_>,
    digest_algorithm: Algorithm,
    scanner: &mut Scanner,
    scratch: &mut Scratch,
    limits: &Limits,
) -> Result<LayerScan, io::Error> {
    let raw = HashingReader::new(blob, digest_algorithm);
    let raw_handle: HashHandle = raw.handle();
    let mut raw = BufReader::with_capacity(256 << 10, raw);
    let compression = Compression::sniff(raw.fill_buf()?);
    let decoded = compression.decoder(raw)?;
    // An uncompressed blob is its own tar: its digest is the diff_id, so hash it once.
    let tar_hash = HashingReader::new(decoded, Algorithm::Sha256);
    let tar_handle = tar_hash.handle();
    let same_bytes = compression == Compression::None && digest_algorithm == Algorithm::Sha256;
    if same_bytes {
        tar_hash.disable();
    }
    let wire = Tripwire::default();
    let compressed_count = Arc::new(AtomicU64::new(0));
    let bounded = Bounded {
        inner: tar_hash,
        read: 0,
        max: limits.max_layer_bytes,
        ratio: limits.max_ratio,
        grace: limits.ratio_grace,
        compressed: (compression != Compression::None).then(|| compressed_count.clone()),
        wire: wire.clone(),
        what: "the layer",
    };
    let mut walker = Walker {
        scanner,
        scratch,
        limits,
        hits: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        wire: wire.clone(),
    };
    let mut index = LayerIndex::default();
    let source = RawCount {
        inner: bounded,
        raw: raw_handle.clone(),
        out: compressed_count,
    };
    // Decompression and hashing run ahead on their own thread while this one walks and scans.
    let result = crate::pipe::pipelined(source, |reader| {
        let mut archive = tar::Archive::new(BufReader::with_capacity(256 << 10, reader));
        let walked = (|| -> io::Result<()> {
            for entry in archive.entries()? {
                let mut entry = entry?;
                walker.entry(&mut entry, &mut index)?;
            }
            Ok(())
        })();
        // Read to the end so both digests cover the whole blob.
        walked.and_then(|_| io::copy(&mut archive.into_inner(), &mut io::sink()).map(|_| ()))
    });
    let mut complete = true;
    if let Err(e) = result {
        match wire.take() {
            Some(why) => {
                let reason = format!(
                    "{why}; the rest of the layer was not scanned and its digest not verified"
                );
                walker.skipped.push(LayerSkip { path: None, reason });
                complete = false;
            }
            None => return Err(e),
        }
    }
    let (blob_digest, size) = raw_handle.finish();
    let (diff_id, uncompressed) = if same_bytes {
        (blob_digest.clone(), size)
    } else {
        tar_handle.finish()
    };
    Ok(LayerScan {
        index,
        hits: walker.hits,
        skipped: walker.skipped,
        warnings: walker.warnings,
        blob_digest,
        size,
        diff_id: complete.then_some(diff_id),
        uncompressed,
        compression,
    })
}

/// Mirrors the raw byte count into the counter the ratio check reads.
struct RawCount<R> {
    inner: R,
    raw: HashHandle,
    out: Arc<AtomicU64>,
}

impl<R: Read> Read for RawCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.out.store(self.raw.count(), Ordering::Relaxed);
        self.inner.read(buf)
    }
}

struct Walker<'a> {
    scanner: &'a mut Scanner,
    scratch: &'a mut Scratch,
    limits: &'a Limits,
    hits: Vec<LayerHit>,
    skipped: Vec<LayerSkip>,
    warnings: Vec<String>,
    wire: Tripwire,
}

/// The layer file that nested content belongs to.
struct Top<'p> {
    path: &'p str,
    ordinal: u32,
}

enum Sniffed {
    Compressed(Compression),
    Zip,
    Tar,
    Plain,
}

fn sniff(head: &[u8]) -> Sniffed {
    match Compression::sniff(head) {
        Compression::None if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") => {
            Sniffed::Zip
        }
        Compression::None if looks_like_tar(head) => Sniffed::Tar,
        Compression::None => Sniffed::Plain,
        c => Sniffed::Compressed(c),
    }
}

impl Walker<'_> {
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        index: &mut LayerIndex,
    ) -> io::Result<()> {
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = match clean_name(&raw_name) {
            Ok(n) => n,
            Err((n, why)) => {
                self.warnings.push(why);
                n
            }
        };
        let path = match name {
            EntryName::Root => return Ok(()),
            EntryName::Whiteout(p) => {
                index.add_whiteout(&p);
                return Ok(());
            }
            EntryName::Opaque(p) => {
                index.add_opaque(&p);
                return Ok(());
            }
            EntryName::Path(p) => p,
        };
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let ordinal = index.add(&path, EntryKind::File);
                let top = Top {
                    path: &path,
                    ordinal,
                };
                self.member(entry, &path, &top, 0)?;
            }
            tar::EntryType::Directory => {
                index.add(&path, EntryKind::Dir);
            }
            tar::EntryType::Symlink => {
                index.add(&path, EntryKind::Symlink);
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                match clean_name(&target) {
                    Ok(EntryName::Path(t)) | Err((EntryName::Path(t), _)) => {
                        index.add_hardlink(&path, &t);
                    }
                    _ => {
                        index.add(&path, EntryKind::Other);
                    }
                }
            }
            _ => {
                index.add(&path, EntryKind::Other);
            }
        }
        Ok(())
    }

    /// Scans one file's content: opens archives, else scans text. `path` is the display chain.
    fn member(
        &mut self,
        reader: &mut dyn Read,
        path: &str,
        top: &Top<'_>,
        depth: u32,
    ) -> io::Result<()> {
        let mut head = [0u8; 512];
        let n = read_full(reader, &mut head)?;
        let head = &head[..n];
        if n == 0 {
            return Ok(());
        }
        let kind = sniff(head);
        if !matches!(kind, Sniffed::Plain) && depth >= self.limits.max_nested_depth {
            self.skipped.push(LayerSkip {
                path: Some(path.to_string()),
                reason: format!(
                    "archive nested more than {} deep; not opened",
                    self.limits.max_nested_depth
                ),
            });
            return Ok(());
        }
        if let Sniffed::Plain = kind {
            return self.leaf(reader, head, path, top);
        }
        let mut whole = io::Cursor::new(head.to_vec()).chain(reader);
        let result = match kind {
            Sniffed::Plain => Ok(()),
            Sniffed::Compressed(c) => self.compressed(&mut whole, c, path, top, depth),
            Sniffed::Tar => self.nested_tar(&mut whole, path, top, depth),
            Sniffed::Zip => self.nested_zip(&mut whole, path, top, depth),
        };
        if let Err(e) = result {
            // A broken nested archive is the file's problem, not the layer's; a broken layer stream
            // fails again at the next tar read and is reported there.
            let reason = self
                .wire
                .take()
                .unwrap_or_else(|| format!("nested archive not fully read: {e}"));
            self.skipped.push(LayerSkip {
                path: Some(path.to_string()),
                reason,
            });
        }
        Ok(())
    }

    fn bounded<'r>(
        &self,
        inner: impl Read + 'r,
        compressed: Option<Arc<AtomicU64>>,
    ) -> Bounded<impl Read + 'r> {
        Bounded {
            inner,
            read: 0,
            max: self.limits.max_nested_bytes,
            ratio: self.limits.max_ratio,
            grace: 1 << 20,
            compressed,
            wire: self.wire.clone(),
            what: "nested archive",
        }
    }

    fn compressed(
        &mut self,
        reader: &mut dyn Read,
        c: Compression,
        path: &str,
        top: &Top<'_>,
        depth: u32,
    ) -> io::Result<()> {
        let count = Arc::new(AtomicU64::new(0));
        let counted = Counting {
            inner: reader,
            count: count.clone(),
        };
        let decoder: Box<dyn Read + '_> = match c {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(counted)?),
            Compression::None => Box::new(counted),
        };
        let mut inner = self.bounded(decoder, Some(count));
        let mut head = [0u8; 512];
        let n = read_full(&mut inner, &mut head)?;
        let mut whole = io::Cursor::new(head[..n].to_vec()).chain(inner);
        if looks_like_tar(&head[..n]) {
            return self.nested_tar(&mut whole, path, top, depth);
        }
        // A single compressed file: `x.json.gz` → `x.json.gz!x.json`.
        let base = path.rsplit(['/', '!']).next().unwrap_or(path);
        let stem = [".gz", ".zst", ".tgz"]
            .iter()
            .find_map(|s| base.strip_suffix(s))
            .unwrap_or(base);
        let inner_path = format!("{path}!{stem}");
        self.member(&mut whole, &inner_path, top, depth + 1)
    }

    fn nested_tar(
        &mut self,
        reader: &mut dyn Read,
        path: &str,
        top: &Top<'_>,
        depth: u32,
    ) -> io::Result<()> {
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries()? {
            let mut entry = entry?;
            if !matches!(
                entry.header().entry_type(),
                tar::EntryType::Regular | tar::EntryType::Continuous
            ) {
                continue;
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let member = match clean_name(&raw) {
                Ok(EntryName::Path(p)) | Err((EntryName::Path(p), _)) => p,
                _ => continue,
            };
            self.member(&mut entry, &format!("{path}!{member}"), top, depth + 1)?;
        }
        Ok(())
    }

    fn nested_zip(
        &mut self,
        reader: &mut dyn Read,
        path: &str,
        top: &Top<'_>,
        depth: u32,
    ) -> io::Result<()> {
        let mut data = Vec::new();
        reader
            .take(self.limits.max_zip_bytes + 1)
            .read_to_end(&mut data)?;
        if data.len() as u64 > self.limits.max_zip_bytes {
            self.skipped.push(LayerSkip {
                path: Some(path.to_string()),
                reason: format!(
                    "zip archive larger than {} bytes; not opened",
                    self.limits.max_zip_bytes
                ),
            });
            return Ok(());
        }
        let mut zip = zip::ZipArchive::new(io::Cursor::new(data)).map_err(io::Error::other)?;
        for i in 0..zip.len() {
            let mut file = match zip.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.skipped.push(LayerSkip {
                        path: Some(format!("{path}!#{i}")),
                        reason: format!("zip member not readable: {e}"),
                    });
                    continue;
                }
            };
            if file.is_dir() {
                continue;
            }
            let member = match clean_name(file.name()) {
                Ok(EntryName::Path(p)) | Err((EntryName::Path(p), _)) => p,
                _ => continue,
            };
            let member_path = format!("{path}!{member}");
            // The central directory gives the compressed size, so the ratio check applies here too.
            let compressed = Arc::new(AtomicU64::new(file.compressed_size()));
            let mut bounded = self.bounded(&mut file, Some(compressed));
            if let Err(e) = self.member(&mut bounded, &member_path, top, depth + 1) {
                let reason = self
                    .wire
                    .take()
                    .unwrap_or_else(|| format!("zip member not fully read: {e}"));
                self.skipped.push(LayerSkip {
                    path: Some(member_path),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// A file that is not an archive: content rules, then the file-name rule if nothing matched.
    /// `reader` yields what follows `head`.
    fn leaf(
        &mut self,
        reader: &mut dyn Read,
        head: &[u8],
        path: &str,
        top: &Top<'_>,
    ) -> io::Result<()> {
        let name_rule = self.scanner.match_path(path);
        let mut found = Vec::<StreamHit>::new();
        let file_digest = if name_rule.is_some() {
            // The file itself is the secret if no rule matches its content: fingerprint the whole file.
            let mut hashing = HashingReader::new(reader, Algorithm::Sha256);
            hashing.prime(head);
            let handle = hashing.handle();
            scan_stream(
                self.scanner,
                self.scratch,
                &mut hashing,
                path,
                head,
                &mut found,
            )?;
            Some(handle.finish())
        } else {
            scan_stream(self.scanner, self.scratch, reader, path, head, &mut found)?;
            None
        };
        let any = !found.is_empty();
        for h in found {
            self.hits.push(LayerHit {
                rule: h.rule,
                top_path: top.path.to_string(),
                ordinal: top.ordinal,
                path: path.to_string(),
                line: Some(h.line),
                column: Some(h.column),
                secret: h.secret,
                file_digest: None,
                matched: h.matched,
                line_text: h.line_text,
                cached: None,
            });
        }
        if let (Some(rule), false) = (name_rule, any) {
            self.hits.push(LayerHit {
                rule,
                top_path: top.path.to_string(),
                ordinal: top.ordinal,
                path: path.to_string(),
                line: None,
                column: None,
                secret: Vec::new(),
                file_digest,
                matched: Vec::new(),
                line_text: Vec::new(),
                cached: None,
            });
        }
        Ok(())
    }
}
