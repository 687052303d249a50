//! What counts as a secret-looking variable name and a sensitive file, shared by several rules.

use std::sync::OnceLock;

use regex::Regex;

fn secret_words() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    // BuildKit's SecretsUsedInArgOrEnv words, matched as whole `_`-separated parts.
    R.get_or_init(|| {
        Regex::new(r"(?i)(?:^|_)(?:api_?key|apikey|auth|credentials?|key|password|pword|passwd|pass|pwd|secret|token|private_?key|access_?key)(?:_|$)")
            .unwrap()
    })
}

/// Whether an `ARG`/`ENV` name says it holds a secret. Like BuildKit's `SecretsUsedInArgOrEnv`,
/// minus its well-known false alarms: GPG key fingerprints (`GPG_KEY`, `*_GPG_KEYS` in official
/// images), names of files, paths, URLs, hosts and versions (`*_FILE`, `*_PATH`, `*_URL`,
/// `*_VERSION`), `PUBLIC_*` and keyring/keyserver names.
pub(crate) fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split('_').collect();
    const NOT_VALUES: &[&str] = &[
        "FILE",
        "FILES",
        "PATH",
        "DIR",
        "URL",
        "URI",
        "HOST",
        "PORT",
        "VERSION",
        "VER",
        "SHA",
        "SHA256",
        "CHECKSUM",
        "HASH",
        "NAME",
        "TYPE",
        "ENABLED",
        "MODE",
        "LENGTH",
        "SIZE",
        "ALGO",
        "ALGORITHM",
        "FINGERPRINT",
        "KEYRING",
        "KEYSERVER",
        "KEYID",
        "SERVER",
        "ENDPOINT",
        "REGION",
        "HEADER",
        "FORMAT",
        "TTL",
        "EXPIRY",
        "TIMEOUT",
        "ID",
    ];
    if parts.last().is_some_and(|p| NOT_VALUES.contains(p)) {
        return false;
    }
    if parts.contains(&"PUBLIC")
        || parts.contains(&"PUB")
        || parts.contains(&"GPG")
        || parts.contains(&"PGP")
    {
        return false;
    }
    if upper.contains("KEYRING") || upper.contains("KEYSERVER") {
        return false;
    }
    secret_words().is_match(name)
}

/// A value that is not a secret whatever its name: a file path, a version number, a GPG
/// fingerprint, a boolean.
pub(crate) fn harmless_value(value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']);
    if v.starts_with('/') || v.starts_with("~/") || v.starts_with("./") {
        return true;
    }
    if matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "0" | "1"
    ) {
        return true;
    }
    let hex_fingerprints = v
        .split_whitespace()
        .all(|w| w.len() >= 16 && w.bytes().all(|b| b.is_ascii_hexdigit()));
    let version = v
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        && v.bytes().any(|b| b.is_ascii_digit());
    !v.is_empty() && (hex_fingerprints || version)
}

/// Why a path names a file that holds credentials, if it does.
pub(crate) fn sensitive_file(path: &str) -> Option<&'static str> {
    let path = path.trim_end_matches('/');
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let parent = path
        .rsplit('/')
        .nth(1)
        .map(|p| p.to_ascii_lowercase())
        .unwrap_or_default();
    Some(match lower.as_str() {
        ".env" => "a .env file (application secrets)",
        n if n.starts_with(".env.")
            && !n.ends_with(".example")
            && !n.ends_with(".sample")
            && !n.ends_with(".template") =>
        {
            "a .env file (application secrets)"
        }
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk" => {
            "an SSH private key"
        }
        ".npmrc" => "an .npmrc (npm registry tokens)",
        ".pypirc" => "a .pypirc (PyPI tokens)",
        ".netrc" | "_netrc" => "a .netrc (passwords for hosts)",
        ".git-credentials" => "a .git-credentials file",
        "credentials.json" | "service-account.json" | "serviceaccount.json" => {
            "a credentials.json (cloud service account keys)"
        }
        "credentials" if parent == ".aws" => "AWS credentials",
        "config.json" if parent == ".docker" => "a Docker config.json (registry auths)",
        "config" if parent == ".kube" => "a kubeconfig",
        ".aws" => "the .aws directory (AWS credentials)",
        ".ssh" => "the .ssh directory (SSH keys)",
        ".docker" => "the .docker directory (registry auths)",
        ".kube" => "the .kube directory (cluster credentials)",
        n if n.ends_with(".pem")
            || n.ends_with(".key")
            || n.ends_with(".p12")
            || n.ends_with(".pfx")
            || n.ends_with(".jks")
            || n.ends_with(".keystore") =>
        {
            "a key or certificate bundle"
        }
        _ => return None,
    })
}

/// A YAML key named like a secret: [`secret_name`] with `.` and `-` read as `_`, so that
/// `db.password` and `api-key` count as well as `DB_PASSWORD`.
pub(crate) fn secret_key(key: &str) -> bool {
    secret_name(&key.replace(['.', '-'], "_"))
}

/// caulk's global allowlist (`caulk-rules/data/allowlist.yml`): published example values and
/// placeholder shapes, so that a rule that looks at values by name skips what the secret rules
/// skip.
fn allowlist() -> &'static (Vec<String>, Option<regex::bytes::RegexSet>) {
    static A: OnceLock<(Vec<String>, Option<regex::bytes::RegexSet>)> = OnceLock::new();
    A.get_or_init(|| {
        let docs = crate::yaml::parse_documents(caulk_rules::BUILTIN_ALLOWLIST).unwrap_or_default();
        let list = |key: &str| -> Vec<String> {
            docs.first()
                .and_then(|d| d.get(key))
                .and_then(|n| n.as_seq())
                .unwrap_or(&[])
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        };
        let placeholders = regex::bytes::RegexSetBuilder::new(list("placeholders"))
            .unicode(false)
            .build()
            .ok();
        (list("values"), placeholders)
    })
}

/// Whether a value written next to a secret-looking name could be the credential itself: not
/// empty, not a reference (`$VAR`, `${VAR}`, `$(VAR)`, `{{ x }}`), not a placeholder or published
/// example that caulk's allowlist knows (`changeme`, `<password>`, `xxxxx`, `REDACTED`, ...), not
/// a path, boolean, number, version, fingerprint or duration (`30s`, `512Mi`), not a URL without
/// credentials.
pub(crate) fn literal_value(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']).trim();
    if v.is_empty() || harmless_value(v) || !caulk_rules::validate::not_reference(v.as_bytes()) {
        return false;
    }
    static DURATION: OnceLock<Regex> = OnceLock::new();
    let duration = DURATION.get_or_init(|| {
        Regex::new(r"^[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h|d|w|[kKMGTPE]i?[bB]?)$").unwrap()
    });
    if duration.is_match(v) {
        return false;
    }
    let (values, placeholders) = allowlist();
    !(values.iter().any(|x| x == v)
        || placeholders
            .as_ref()
            .is_some_and(|p| p.is_match(v.as_bytes())))
}

/// Whether a host path is an SSH directory or a private key in one: `~/.ssh`, `$HOME/.ssh`,
/// `${HOME}/.ssh/`, `/root/.ssh`, `/home/alice/.ssh`, `./.ssh`, `~/.ssh/id_ed25519`. Files that
/// hold no secret (`~/.ssh/known_hosts`, `~/.ssh/config`, `id_*.pub`) do not count.
pub(crate) fn ssh_key_path(path: &str) -> bool {
    let p = path.trim().trim_matches(['"', '\'']).replace('\\', "/");
    let p = p.trim_end_matches('/');
    let mut parts = p.rsplit('/');
    let last = parts.next().unwrap_or("");
    if last == ".ssh" {
        return true;
    }
    parts.next() == Some(".ssh") && last.starts_with("id_") && !last.ends_with(".pub")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_and_known_false_alarms() {
        for yes in [
            "GITHUB_TOKEN",
            "NPM_TOKEN",
            "DB_PASSWORD",
            "API_KEY",
            "apikey",
            "AWS_SECRET_ACCESS_KEY",
            "SECRET",
            "AUTH_TOKEN",
            "PRIVATE_KEY",
            "MYSQL_ROOT_PASSWORD",
        ] {
            assert!(secret_name(yes), "{yes}");
        }
        for no in [
            "GPG_KEY",
            "PYTHON_GPG_KEY",
            "GPG_KEYS",
            "TOKEN_FILE",
            "PASSWORD_FILE",
            "KEY_PATH",
            "AUTH_URL",
            "PUBLIC_KEY",
            "NODE_VERSION",
            "KEYRING",
            "APT_KEY_KEYSERVER",
            "DEBIAN_FRONTEND",
            "PATH",
            "KEYCLOAK_HOME",
            "MONKEY",
            "TOKENIZERS_PARALLELISM",
            "AWS_ACCESS_KEY_ID",
        ] {
            assert!(!secret_name(no), "{no}");
        }
    }

    #[test]
    fn harmless_values() {
        for v in [
            "/run/secrets/x",
            "1.2.3",
            "true",
            "A035C8C19219BA821ECEA86B64E628F8D684696D",
        ] {
            assert!(harmless_value(v), "{v}");
        }
        for v in ["hunter2", "$TOKEN", "", "${TOKEN}"] {
            assert!(!harmless_value(v), "{v}");
        }
    }

    #[test]
    fn sensitive_files() {
        for p in [
            ".env",
            "app/.env.production",
            "id_rsa",
            "/root/.ssh/id_ed25519",
            ".npmrc",
            "deploy/server.key",
            "home/.aws/credentials",
            ".docker/config.json",
            ".kube/config",
            "credentials.json",
            ".ssh",
        ] {
            assert!(sensitive_file(p).is_some(), "{p}");
        }
        for p in [
            ".env.example",
            "config.json",
            "package.json",
            "keys.go",
            "src/main.rs",
            "docker/config",
        ] {
            assert!(sensitive_file(p).is_none(), "{p}");
        }
    }

    #[test]
    fn literal_values_and_ssh_paths() {
        for v in ["hunter2", "S3cr3tPw9x", "'Kd93jLqPw0zX'", "app-user-pass-1"] {
            assert!(literal_value(v), "{v}");
        }
        for v in [
            "",
            "${DB_PASSWORD}",
            "$TOKEN",
            "$(DB_PASSWORD)",
            "{{ .Values.password }}",
            "changeme",
            "<your-token>",
            "xxxxxxxx",
            "REDACTED",
            "true",
            "/run/secrets/db",
            "30s",
            "512Mi",
            "https://auth.example.com/token",
            "Bearer ${TOKEN}",
        ] {
            assert!(!literal_value(v), "{v}");
        }
        for p in [
            "~/.ssh",
            "$HOME/.ssh",
            "${HOME}/.ssh/",
            "/root/.ssh",
            "/home/alice/.ssh",
            "./.ssh",
            "~/.ssh/id_ed25519",
            "\"/root/.ssh\"",
        ] {
            assert!(ssh_key_path(p), "{p}");
        }
        for p in [
            "~/.ssh/known_hosts",
            "~/.ssh/config",
            "~/.ssh/id_rsa.pub",
            "/etc/ssh",
            "ssh",
            "./ssh-keys",
        ] {
            assert!(!ssh_key_path(p), "{p}");
        }
        assert!(
            secret_key("db.password") && secret_key("api-key") && !secret_key("db.password-file")
        );
    }
}
