//! The global allowlist: documented example values and placeholder shapes that are never findings.
//! Applied to the secret of every content-rule match.

use std::collections::HashSet;

use regex::bytes::{RegexSet, RegexSetBuilder};

use crate::RuleError;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowlistFile {
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    placeholders: Vec<String>,
}

pub(crate) struct Allowlist {
    values: HashSet<Vec<u8>>,
    placeholders: RegexSet,
}

impl Allowlist {
    pub(crate) fn parse(file: &str, text: &str) -> Result<Allowlist, RuleError> {
        let invalid = |message: String| RuleError::Invalid {
            file: file.to_string(),
            message,
        };
        let parsed: AllowlistFile =
            serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let placeholders = RegexSetBuilder::new(&parsed.placeholders)
            .unicode(false)
            .build()
            .map_err(|e| invalid(format!("placeholder pattern: {e}")))?;
        Ok(Allowlist {
            values: parsed.values.into_iter().map(String::into_bytes).collect(),
            placeholders,
        })
    }

    /// Whether `secret` is a known example value or a placeholder, i.e. never a finding.
    pub(crate) fn allows(&self, secret: &[u8]) -> bool {
        self.values.contains(secret) || self.placeholders.is_match(secret) || is_repetitive(secret)
    }

    /// For secrets whose checksum already proved them well-formed: only the published example
    /// values are dropped; placeholder words inside a valid token are not evidence of a stand-in.
    pub(crate) fn allows_exact(&self, secret: &[u8]) -> bool {
        self.values.contains(secret)
    }
}

/// `xoxb-000000000000-000000000000-xxxxxxxx`, `sk_live_0000000000000000`, `AAAAAAAA`: once leading
/// `word_`/`word-` prefixes are removed, every separator-delimited run is one repeated character.
/// Random tokens never look like this; hand-typed placeholders do.
fn is_repetitive(secret: &[u8]) -> bool {
    let mut rest = secret;
    while let Some(sep) = rest.iter().position(|b| matches!(b, b'_' | b'-')) {
        if sep == 0
            || sep > 12
            || !rest[..sep].iter().all(u8::is_ascii_alphabetic)
            || sep + 1 >= rest.len()
        {
            break;
        }
        rest = &rest[sep + 1..];
    }
    let mut runs = rest
        .split(|b| matches!(b, b'-' | b'_' | b'.' | b'/' | b':'))
        .filter(|r| !r.is_empty())
        .peekable();
    if rest.len() < 4 || runs.peek().is_none() {
        return false;
    }
    runs.all(|run| run.iter().all(|&b| b == run[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Allowlist {
        Allowlist::parse("allowlist.yml", crate::BUILTIN_ALLOWLIST).unwrap()
    }

    #[test]
    fn repetitive_placeholders() {
        assert!(is_repetitive(
            b"xoxb-000000000000-000000000000-xxxxxxxxxxxxxxxxxxxxxxxx"
        ));
        assert!(is_repetitive(b"sk_live_0000000000000000000000000"));
        assert!(is_repetitive(b"AAAAAAAAAAAAAAAA"));
        assert!(is_repetitive(b"********"));
        assert!(!is_repetitive(b"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"));
        assert!(!is_repetitive(b"aaa"));
        assert!(!is_repetitive(b"sk_live_"));
    }

    #[test]
    fn builtin_allowlist_drops_examples_and_placeholders() {
        let allow = builtin();
        for secret in [
            &b"AKIAIOSFODNN7EXAMPLE"[..],
            b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            b"sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            b"${GITHUB_TOKEN}",
            b"$NPM_TOKEN",
            b"{{ .Values.password }}",
            b"<your-token>",
            b"changeme",
            b"xxxxxxxxxxxx",
            b"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            b"****",
            b"your_api_key_here",
            b"my-example-secret",
            b"dummy-password",
            b"REDACTED",
            b"password",
        ] {
            assert!(allow.allows(secret), "{}", String::from_utf8_lossy(secret));
        }
    }

    #[test]
    fn builtin_allowlist_keeps_real_looking_values() {
        let allow = builtin();
        for secret in [
            &b"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"[..],
            b"AKIATTPOBNLTQ7NE24RD",
            b"09PRm9sWiEKGHhBqZCTDVICFtTHdFgYv0/NANly4",
            b"b0M7fC74o^Xq66Xe",
            b"hunter2hunter",
        ] {
            assert!(!allow.allows(secret), "{}", String::from_utf8_lossy(secret));
        }
    }
}
