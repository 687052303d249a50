//! The exit-code contract, as trivy, gitleaks and hadolint users expect it.

/// Nothing at or above `--fail-on` was found.
pub const CLEAN: i32 = 0;
/// Something at or above `--fail-on` was found.
pub const FINDINGS: i32 = 1;
/// Usage error or unreadable input (clap also exits 2 on usage errors).
pub const ERROR: i32 = 2;
