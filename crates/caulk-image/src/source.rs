//! Where image bytes come from: an OCI layout (or extracted docker-save) directory, or a tar of
//! either, optionally gzip/zstd-compressed. Files are opened by name, never extracted to disk.

use crate::error::ImageError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Compression of a stream, decided by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
    /// Wraps `r` in the matching decoder.
    pub fn decoder<'a>(self, r: impl Read + Send + 'a) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Compression::None => Box::new(r),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        })
    }
}

/// True when a 512-byte block looks like a tar header.
pub fn looks_like_tar(head: &[u8]) -> bool {
    head.len() >= 262 && &head[257..262] == b"ustar"
}

pub type BlobReader<'a> = Box<dyn Read + Send + 'a>;

/// A set of named files: the files of an image layout or archive.
pub trait Store: Send + Sync {
    /// Opens `name` (a path relative to the layout root); `Ok(None)` when it does not exist.
    fn open(&self, name: &str) -> io::Result<Option<BlobReader<'_>>>;
    fn exists(&self, name: &str) -> bool;
    /// What the user named, for messages.
    fn input(&self) -> &str;
    /// The blob's size in bytes, when known without reading it (used to schedule big layers
    /// first).
    fn size(&self, _name: &str) -> Option<u64> {
        None
    }
    /// The name `name` stands for once links are followed (the key of an already-scanned layer).
    fn canonical(&self, name: &str) -> String {
        name.to_string()
    }
}

/// An OCI layout or an extracted docker-save directory.
pub struct DirStore {
    root: PathBuf,
    input: String,
}

impl DirStore {
    pub fn new(root: &Path, input: &str) -> DirStore {
        DirStore {
            root: root.to_path_buf(),
            input: input.to_string(),
        }
    }
    fn path(&self, name: &str) -> io::Result<PathBuf> {
        if name.split('/').any(|c| c == ".." || c.is_empty()) || name.starts_with('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing path `{name}`"),
            ));
        }
        Ok(self.root.join(name))
    }
}

impl Store for DirStore {
    fn open(&self, name: &str) -> io::Result<Option<BlobReader<'_>>> {
        let path = self.path(name)?;
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
            Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{name}` is a symbolic link; blobs must be regular files"),
            )),
            Ok(m) if !m.is_file() => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{name}` is not a regular file"),
            )),
            Ok(_) => Ok(Some(Box::new(BufReader::with_capacity(
                256 << 10,
                File::open(path)?,
            )))),
        }
    }
    fn exists(&self, name: &str) -> bool {
        self.path(name).map(|p| p.is_file()).unwrap_or(false)
    }
    fn size(&self, name: &str) -> Option<u64> {
        std::fs::metadata(self.path(name).ok()?)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }
    fn input(&self) -> &str {
        &self.input
    }
}

#[derive(Debug, Clone)]
pub(crate) enum TarMember {
    Data { offset: u64, size: u64 },
    Link(String),
}

/// The index entry for one tar member, if it is a file or a link.
pub(crate) fn member_of<R: Read>(entry: &tar::Entry<'_, R>) -> Option<(String, TarMember)> {
    let name = clean_member(&String::from_utf8_lossy(&entry.path_bytes()));
    let header = entry.header();
    let member = match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => TarMember::Data {
            offset: entry.raw_file_position(),
            size: entry.size(),
        },
        tar::EntryType::Symlink | tar::EntryType::Link => {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            // Symlinks are relative to their directory, hardlinks to the archive root.
            let resolved = match (header.entry_type(), name.rsplit_once('/')) {
                (tar::EntryType::Symlink, Some((dir, _))) if !target.starts_with('/') => {
                    format!("{dir}/{target}")
                }
                _ => target,
            };
            TarMember::Link(resolved)
        }
        _ => return None,
    };
    Some((name, member))
}

/// A tar archive of a layout, indexed once; members are read by seeking (or, for a compressed
/// archive, by decompressing up to them).
pub struct TarStore {
    path: PathBuf,
    input: String,
    compression: Compression,
    members: HashMap<String, TarMember>,
}

pub(crate) fn clean_member(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl TarStore {
    pub fn index(
        path: &Path,
        input: &str,
        compression: Compression,
    ) -> Result<TarStore, ImageError> {
        let file = File::open(path).map_err(|e| ImageError::io(input, "the archive", e))?;
        let mut members = HashMap::new();
        let bad =
            |e: io::Error| ImageError::invalid(input, format!("not a readable tar archive: {e}"));
        match compression {
            Compression::None => {
                let mut archive = tar::Archive::new(BufReader::new(file));
                for entry in archive.entries_with_seek().map_err(bad)? {
                    if let Some((name, m)) = member_of(&entry.map_err(bad)?) {
                        members.insert(name, m);
                    }
                }
            }
            c => {
                let mut archive = tar::Archive::new(c.decoder(BufReader::new(file)).map_err(bad)?);
                for entry in archive.entries().map_err(bad)? {
                    if let Some((name, m)) = member_of(&entry.map_err(bad)?) {
                        members.insert(name, m);
                    }
                }
            }
        }
        if members.is_empty() {
            return Err(ImageError::invalid(
                input,
                "not an image: the tar archive is empty",
            ));
        }
        Ok(TarStore {
            path: path.to_path_buf(),
            input: input.to_string(),
            compression,
            members,
        })
    }

    /// Follows links inside the archive (bounded, and never outside it).
    fn resolve(&self, name: &str) -> io::Result<Option<(u64, u64)>> {
        let mut name = clean_member(name);
        for _ in 0..16 {
            match self.members.get(&name) {
                None => return Ok(None),
                Some(TarMember::Data { offset, size }) => return Ok(Some((*offset, *size))),
                Some(TarMember::Link(target)) => {
                    let mut parts: Vec<&str> = Vec::new();
                    for c in target.split('/') {
                        match c {
                            "" | "." => {}
                            ".." => {
                                if parts.pop().is_none() {
                                    return Err(io::Error::new(
                                        io::ErrorKind::InvalidData,
                                        format!("link `{name}` points outside the archive"),
                                    ));
                                }
                            }
                            c => parts.push(c),
                        }
                    }
                    name = parts.join("/");
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("too many levels of links at `{name}`"),
        ))
    }
}

impl Store for TarStore {
    fn open(&self, name: &str) -> io::Result<Option<BlobReader<'_>>> {
        let Some((offset, size)) = self.resolve(name)? else {
            return Ok(None);
        };
        let file = File::open(&self.path)?;
        match self.compression {
            Compression::None => {
                let mut file = file;
                file.seek(SeekFrom::Start(offset))?;
                Ok(Some(Box::new(
                    BufReader::with_capacity(256 << 10, file).take(size),
                )))
            }
            c => {
                let mut r = c.decoder(BufReader::new(file))?;
                let skipped = io::copy(&mut (&mut r).take(offset), &mut io::sink())?;
                if skipped < offset {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(Some(Box::new(r.take(size))))
            }
        }
    }
    fn exists(&self, name: &str) -> bool {
        matches!(self.resolve(name), Ok(Some(_)))
    }
    fn input(&self) -> &str {
        &self.input
    }
    fn size(&self, name: &str) -> Option<u64> {
        self.resolve(name).ok().flatten().map(|(_, size)| size)
    }
}

/// Opens what the user named: a directory, or a (possibly compressed) tar.
pub fn open_input(input: &str) -> Result<Box<dyn Store>, ImageError> {
    let path = Path::new(input);
    let meta = std::fs::metadata(path).map_err(|e| ImageError::io(input, "the input", e))?;
    if meta.is_dir() {
        let store = DirStore::new(path, input);
        if !store.exists("index.json") && !store.exists("manifest.json") {
            return Err(ImageError::invalid(
                input,
                "not an image: the directory has neither index.json (OCI layout) nor manifest.json (docker save)",
            ));
        }
        return Ok(Box::new(store));
    }
    let mut head = [0u8; 512];
    let n = read_full(
        &mut File::open(path).map_err(|e| ImageError::io(input, "the input", e))?,
        &mut head,
    )
    .map_err(|e| ImageError::io(input, "the input", e))?;
    let compression = Compression::sniff(&head[..n]);
    if compression == Compression::None && !looks_like_tar(&head[..n]) {
        return Err(ImageError::invalid(
            input,
            "not an image: expected a docker-save or OCI archive (tar), or an OCI layout directory",
        ));
    }
    let store = TarStore::index(path, input, compression)?;
    if !store.exists("index.json") && !store.exists("manifest.json") {
        return Err(ImageError::invalid(
            input,
            "not an image: the archive has neither manifest.json (docker save) nor index.json (OCI archive)",
        ));
    }
    Ok(Box::new(store))
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
pub fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
