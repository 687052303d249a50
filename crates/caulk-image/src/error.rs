//! Errors from reading an image. Every message names the input and the blob or entry at fault.

use std::io;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{input}: {message}")]
    Invalid { input: String, message: String },
    #[error("{input}: cannot read {what}: {source}")]
    Io {
        input: String,
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{input}: {what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        input: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{input}: blob {digest} is missing")]
    MissingBlob { input: String, digest: String },
    #[error("{input}: {message}")]
    Selection { input: String, message: String },
}

impl ImageError {
    pub fn invalid(input: &str, message: impl Into<String>) -> ImageError {
        ImageError::Invalid {
            input: input.to_string(),
            message: message.into(),
        }
    }
    pub(crate) fn io(input: &str, what: impl Into<String>, source: io::Error) -> ImageError {
        ImageError::Io {
            input: input.to_string(),
            what: what.into(),
            source,
        }
    }
}
