//! Reading container images without extracting them: docker-save archives, OCI layouts and
//! OCI archives; layers streamed entry by entry, verified against their digests, and resolved through
//! the overlay model so every finding says whether its file is still visible.

pub mod cache;
pub mod config;
pub mod content;
pub mod daemon;
pub mod digest;
pub mod error;
pub mod layer;
pub mod limits;
pub mod manifest;
pub mod overlay;
mod pipe;
pub mod registry;
pub mod resolve;
pub mod scan;
pub mod source;
pub mod stream;

pub use error::ImageError;
pub use limits::Limits;
pub use resolve::{PlatformChoice, Selection};
pub use scan::{scan_input, scan_store, NoProgress, Progress, ScanOptions};
pub use stream::scan_stream;
