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
}
