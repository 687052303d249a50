//! Fingerprints and redacted previews: what caulk shows and stores instead of a secret.
//! Nothing here ever returns the whole secret.

use sha2::{Digest, Sha256};

/// `sha256:` + hex of the bytes.
pub fn fingerprint(secret: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(secret)))
}

/// A preview that shows at most a quarter of the secret (and at most 6 characters), then stars.
/// For PEM blocks the armour line is shown, since it carries no secret.
pub fn preview(secret: &[u8]) -> String {
    let text = String::from_utf8_lossy(secret);
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        let first = text.lines().next().unwrap_or("").trim_end();
        return format!("{first}…");
    }
    if text.starts_with("PuTTY-User-Key-File") {
        return "PuTTY-User-Key-File…".to_string();
    }
    // For URLs, the scheme and host say what the secret is for and are not secret.
    if let Some((scheme, rest)) = text.split_once("://") {
        if let Some(slash) = rest.find('/') {
            let host = &rest[..slash];
            if !host.contains('@') && !host.is_empty() {
                return format!("{scheme}://{host}/************");
            }
        }
    }
    let chars: Vec<char> = text.chars().collect();
    let shown = (chars.len() / 4).min(6);
    let mut out: String = chars[..shown].iter().collect();
    let stars = chars.len().saturating_sub(shown).clamp(4, 12);
    out.extend(std::iter::repeat_n('*', stars));
    out
}

/// Replaces every occurrence of each secret in `text` with its preview.
pub fn redact_all(text: &str, secrets: &[Vec<u8>]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() < 4 {
            continue;
        }
        if let Ok(s) = std::str::from_utf8(s) {
            if out.contains(s) {
                out = out.replace(s, &preview(s.as_bytes()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_never_holds_the_secret() {
        for s in [
            "ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "hunter22",
            "ab",
            "sk-ant-api03-xyz",
        ] {
            let p = preview(s.as_bytes());
            assert!(!p.contains(s), "{p} leaks {s}");
            assert!(p.chars().filter(|c| *c != '*').count() <= s.len() / 4);
        }
    }

    #[test]
    fn url_preview_keeps_the_host_only() {
        let p = preview(
            b"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        );
        assert_eq!(p, "https://hooks.slack.com/************");
        // Credentials in the authority are never shown.
        assert!(!preview(b"https://user:pa55word@host/x").contains("pa55word"));
    }

    #[test]
    fn pem_preview_is_the_armour_line() {
        let p = preview(b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
        assert_eq!(p, "-----BEGIN OPENSSH PRIVATE KEY-----…");
    }

    #[test]
    fn redact_all_replaces_every_occurrence() {
        let secret = b"s3cr3t-VALUE-123".to_vec();
        let out = redact_all(
            "RUN echo s3cr3t-VALUE-123 > a && echo s3cr3t-VALUE-123",
            std::slice::from_ref(&secret),
        );
        assert!(!out.contains("s3cr3t-VALUE-123"), "{out}");
        assert_eq!(out.matches(&preview(&secret)).count(), 2, "{out}");
    }

    #[test]
    fn fingerprint_is_sha256_hex() {
        assert_eq!(
            fingerprint(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
