//! Bounds that keep hostile images from exhausting time or memory.

/// Limits for one scan. Anything cut short by a limit is reported as skipped.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most uncompressed bytes read from one layer.
    pub max_layer_bytes: u64,
    /// A compressed stream expanding beyond this ratio (after `ratio_grace` bytes) is treated as a bomb.
    pub max_ratio: u64,
    pub ratio_grace: u64,
    /// How deep archives inside archives are opened (1 = archives directly in a layer).
    pub max_nested_depth: u32,
    /// Most uncompressed bytes read from one nested archive member.
    pub max_nested_bytes: u64,
    /// Largest zip/jar read into memory to walk its central directory.
    pub max_zip_bytes: u64,
    /// Largest JSON document (manifest, config, index) read.
    pub max_json_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 64 << 30,
            max_ratio: 1000,
            ratio_grace: 256 << 20,
            max_nested_depth: 4,
            max_nested_bytes: 1 << 30,
            max_zip_bytes: 256 << 20,
            max_json_bytes: 64 << 20,
        }
    }
}
