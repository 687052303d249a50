//! Scans an image archive that arrives as a stream (`docker save` from a daemon's API), without
//! writing it anywhere: layers are scanned as they pass, in whatever order they come; manifests
//! and configs (small JSON) are kept in memory; the image is assembled once the stream ends.

use crate::content::Scratch;
use crate::digest::Algorithm;
use crate::error::ImageError;
use crate::layer::{scan_layer, LayerScan};
use crate::scan::{scan_store_prescanned, Progress, ScanOptions};
use crate::source::{
    clean_member, looks_like_tar, member_of, read_full, BlobReader, Compression, Store, TarMember,
};
use caulk_report::Report;
use caulk_rules::RuleSet;
use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// The small members of a streamed archive, and the names of the layers already scanned.
struct MemStore {
    input: String,
    files: HashMap<String, Vec<u8>>,
    links: HashMap<String, String>,
    scanned: HashMap<String, u64>,
}

impl MemStore {
    fn canonical_name(&self, name: &str) -> String {
        let mut name = clean_member(name);
        for _ in 0..16 {
            match self.links.get(&name) {
                Some(t) => name = normalize(t),
                None => break,
            }
        }
        name
    }
}

/// `a/../b.tar` → `b.tar` (link targets inside the archive; `..` above the root is dropped).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

impl Store for MemStore {
    fn open(&self, name: &str) -> io::Result<Option<BlobReader<'_>>> {
        Ok(self
            .files
            .get(&self.canonical_name(name))
            .map(|d| Box::new(&d[..]) as BlobReader<'_>))
    }
    fn exists(&self, name: &str) -> bool {
        let n = self.canonical_name(name);
        self.files.contains_key(&n) || self.scanned.contains_key(&n)
    }
    fn input(&self) -> &str {
        &self.input
    }
    fn size(&self, name: &str) -> Option<u64> {
        let n = self.canonical_name(name);
        self.files
            .get(&n)
            .map(|d| d.len() as u64)
            .or_else(|| self.scanned.get(&n).copied())
    }
    fn canonical(&self, name: &str) -> String {
        self.canonical_name(name)
    }
}

/// Does the start of a member look like a layer (a tar, or compressed)?
fn looks_like_layer(head: &[u8], size: u64) -> bool {
    looks_like_tar(head)
        || Compression::sniff(head) != Compression::None
        // an empty layer: the tar end-of-archive blocks only
        || (size >= 1024 && size.is_multiple_of(512) && head.iter().all(|b| *b == 0))
}

/// What the thread walking the archive hands over.
enum Event {
    Link(String, String),
    File(String, Vec<u8>),
    /// A layer, whose bytes follow on the reader.
    Layer(String, ChanReader),
    Skipped(String),
    Failed(io::Error),
}

/// Reads the chunks another thread sends; ends when the sender is dropped.
struct ChanReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Walks the archive: small documents are read whole, layers are pumped chunk by chunk to the
/// scanning side (which reads them as they come, so at most a few chunks are in memory).
fn walk(reader: impl Read, max_doc: u64, events: SyncSender<Event>) {
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            let _ = events.send(Event::Failed(e));
            return;
        }
    };
    let mut kept = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let _ = events.send(Event::Failed(e));
                return;
            }
        };
        let Some((name, member)) = member_of(&entry) else {
            continue;
        };
        let size = match member {
            TarMember::Link(target) => {
                let _ = events.send(Event::Link(name, target));
                continue;
            }
            TarMember::Data { size, .. } => size,
        };
        let mut head = vec![0u8; size.min(512) as usize];
        let n = match read_full(&mut entry, &mut head) {
            Ok(n) => n,
            Err(e) => {
                let _ = events.send(Event::Failed(e));
                return;
            }
        };
        head.truncate(n);
        let event = if looks_like_layer(&head, size) {
            let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(4);
            let reader = ChanReader {
                rx,
                buf: Vec::new(),
                pos: 0,
            };
            if events.send(Event::Layer(name, reader)).is_err() {
                return;
            }
            let mut chunk = head;
            loop {
                if !chunk.is_empty() && tx.send(Ok(chunk)).is_err() {
                    break; // the scanner stopped reading this layer (a limit): skip the rest
                }
                let mut buf = vec![0u8; 256 << 10];
                match read_full(&mut entry, &mut buf) {
                    Ok(0) => break,
                    Ok(k) => {
                        buf.truncate(k);
                        chunk = buf;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            continue;
        } else if size <= max_doc && kept + size <= 4 * max_doc {
            let mut data = head;
            if let Err(e) = (&mut entry).take(size - n as u64).read_to_end(&mut data) {
                let _ = events.send(Event::Failed(e));
                return;
            }
            kept += size;
            Event::File(name, data)
        } else {
            Event::Skipped(format!(
                "member {name} ({size} bytes) is neither a layer nor a small document: not read"
            ))
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

/// Scans the archive read from `reader`; `input` names it in messages and in the report.
pub fn scan_stream(
    reader: impl Read + Send,
    input: &str,
    rules: &RuleSet,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<Report, ImageError> {
    let why = |e: &io::Error| {
        let m = e.to_string();
        if e.kind() == io::ErrorKind::UnexpectedEof
            || m.contains("unexpected EOF")
            || m.contains("failed to read entire block")
        {
            format!("truncated: the stream ended early ({e})")
        } else {
            format!("corrupt or unreadable: {e}")
        }
    };
    let bad = |e: io::Error| {
        ImageError::invalid(input, format!("not a readable image archive: {}", why(&e)))
    };
    let mut store = MemStore {
        input: input.to_string(),
        files: HashMap::new(),
        links: HashMap::new(),
        scanned: HashMap::new(),
    };
    let mut prescanned: HashMap<String, LayerScan> = HashMap::new();
    let mut notes = Vec::new();
    let mut scanner = rules.scanner();
    let mut scratch = Scratch::default();
    std::thread::scope(|s| -> Result<(), ImageError> {
        let (tx, rx) = sync_channel::<Event>(2);
        let max_doc = opts.limits.max_json_bytes;
        s.spawn(move || walk(reader, max_doc, tx));
        for event in rx {
            match event {
                Event::Link(name, target) => {
                    store.links.insert(name, target);
                }
                Event::File(name, data) => {
                    store.files.insert(name, data);
                }
                Event::Skipped(note) => notes.push(format!("{input}: {note}")),
                Event::Failed(e) => return Err(bad(e)),
                Event::Layer(name, reader) => {
                    let scan = scan_layer(
                        Box::new(reader),
                        Algorithm::Sha256,
                        &mut scanner,
                        &mut scratch,
                        &opts.limits,
                    )
                    .map_err(|e| {
                        ImageError::invalid(input, format!("layer {name}: {}", why(&e)))
                    })?;
                    store.scanned.insert(name.clone(), scan.size);
                    progress.layer_done(prescanned.len() + 1, 0, scan.uncompressed);
                    prescanned.insert(name, scan);
                }
            }
        }
        Ok(())
    })?;
    if !store.exists("manifest.json") && !store.exists("index.json") {
        return Err(ImageError::invalid(
            input,
            "not an image: the stream has neither manifest.json (docker save) nor index.json (OCI)",
        ));
    }
    let mut report = scan_store_prescanned(&store, prescanned, rules, opts, progress)?;
    report.warnings.extend(notes);
    Ok(report)
}
