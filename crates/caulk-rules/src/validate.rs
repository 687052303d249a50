//! Offline validators that confirm a regex match is a real secret (checksums, structure, decodes).
//! Pure functions over bytes; rule files name them in `validate: [...]`.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};

/// A named validator, as written in a rule file's `validate` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// [`github_checksum`] on the secret.
    GithubChecksum,
    /// [`npm_checksum`] on the secret.
    NpmChecksum,
    /// [`jwt`] on the secret.
    Jwt,
    /// [`private_key`] on the secret; an encrypted key moves the match to the rule's `on_encrypted`.
    PrivateKey,
    /// [`docker_auth`] on the secret.
    DockerAuth,
    /// [`pypi_macaroon`] on the secret.
    PypiMacaroon,
    /// [`base64_private_key`] on the secret.
    Base64PrivateKey,
    /// [`url_password`] on the whole match.
    UrlPassword,
    /// [`not_reference`] on the secret.
    NotReference,
    /// [`not_identifier`] on the secret.
    NotIdentifier,
    /// [`bech32`] on the secret.
    Bech32,
    /// [`base64_json`] on the secret.
    Base64Json,
    /// [`discord_snowflake`] on the secret.
    DiscordSnowflake,
    /// [`jfrog_reference`] on the secret.
    JfrogReference,
}

/// What a validator concluded about one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Looks real: keep the match.
    Pass,
    /// Not a secret: drop the match.
    Fail,
    /// A real private key protected by a passphrase.
    Encrypted,
}

impl Validator {
    /// Whether the validator proves the secret's structure with a checksum or a signed encoding,
    /// so that words in it (`example`, `FAKE-`) say nothing about whether it is a placeholder.
    pub fn is_structural(&self) -> bool {
        matches!(
            self,
            Validator::GithubChecksum
                | Validator::NpmChecksum
                | Validator::PypiMacaroon
                | Validator::Bech32
        )
    }

    /// Runs the validator on a match: `secret` is the secret's bytes, `span` the whole match's.
    pub fn check(self, secret: &[u8], span: &[u8]) -> Verdict {
        let pass = |ok: bool| if ok { Verdict::Pass } else { Verdict::Fail };
        match self {
            Validator::GithubChecksum => pass(github_checksum(secret)),
            Validator::NpmChecksum => pass(npm_checksum(secret)),
            Validator::Jwt => pass(jwt(secret)),
            Validator::PrivateKey => match private_key(secret) {
                KeyCheck::NotAKey => Verdict::Fail,
                KeyCheck::Plain => Verdict::Pass,
                KeyCheck::Encrypted => Verdict::Encrypted,
            },
            Validator::DockerAuth => pass(docker_auth(secret)),
            Validator::PypiMacaroon => pass(pypi_macaroon(secret)),
            Validator::Base64PrivateKey => pass(base64_private_key(secret)),
            Validator::UrlPassword => pass(url_password(span)),
            Validator::NotReference => pass(not_reference(secret)),
            Validator::NotIdentifier => pass(not_identifier(secret)),
            Validator::Bech32 => pass(bech32(secret)),
            Validator::Base64Json => pass(base64_json(secret)),
            Validator::DiscordSnowflake => pass(discord_snowflake(secret)),
            Validator::JfrogReference => pass(jfrog_reference(secret)),
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base 62 (`0-9A-Za-z`), left-padded with `0` to 6 digits.
fn base62_6(mut n: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// `prefix` + 30 random base62 characters + 6 characters of base62(crc32(random part)).
fn crc_checksum(token: &[u8], prefixes: &[&[u8]]) -> bool {
    let Some(prefix) = prefixes.iter().find(|p| token.starts_with(p)) else {
        return false;
    };
    let body = &token[prefix.len()..];
    if body.len() != 36 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, check) = body.split_at(30);
    base62_6(crc32fast::hash(random)) == check
}

/// GitHub's `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` tokens: 36 base62 characters whose last 6 are the
/// base62 CRC-32 of the first 30. GitHub's documentation samples fail this.
pub fn github_checksum(token: &[u8]) -> bool {
    crc_checksum(token, &[b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"])
}

/// npm's `npm_` tokens: the same CRC-32 scheme as GitHub's.
pub fn npm_checksum(token: &[u8]) -> bool {
    crc_checksum(token, &[b"npm_"])
}

fn lenient(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    GeneralPurpose::new(alphabet, config)
}

fn b64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    lenient(&alphabet::URL_SAFE).decode(text).ok()
}

fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    lenient(&alphabet::STANDARD).decode(text).ok()
}

fn is_b64url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A JSON Web Token: three base64url segments; the header is a JSON object whose `alg` is a
/// string other than `none` (an unsigned token grants nothing by itself); the payload is a JSON
/// object; the signature is non-empty. jwt.io's well-known sample payload (`sub` `1234567890`,
/// `name` `John Doe`) is rejected whatever it is signed with. Expiry is not checked.
pub fn jwt(token: &[u8]) -> bool {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if signature.is_empty()
        || !signature.iter().all(|&b| is_b64url_char(b))
        || b64url_decode(signature).is_none()
    {
        return false;
    }
    let json = |segment: &[u8]| -> Option<serde_json::Map<String, serde_json::Value>> {
        match serde_json::from_slice(&b64url_decode(segment)?).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    };
    let (Some(header), Some(payload)) = (json(header), json(payload)) else {
        return false;
    };
    let alg_ok = matches!(header.get("alg"), Some(serde_json::Value::String(alg)) if !alg.eq_ignore_ascii_case("none"));
    let jwt_io_sample = payload.get("sub").and_then(|v| v.as_str()) == Some("1234567890")
        && payload.get("name").and_then(|v| v.as_str()) == Some("John Doe");
    alg_ok && !jwt_io_sample
}

/// What [`private_key`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// No usable key material (armour only, `...`, a truncated or non-base64 body).
    NotAKey,
    /// An unencrypted private key.
    Plain,
    /// A private key protected by a passphrase.
    Encrypted,
}

/// Splits a key block into trimmed lines, accepting real newlines (`\n`, `\r\n`) and the escaped
/// `\n` / `\r\n` found in JSON and shell strings.
fn key_lines(block: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < block.len() {
        let sep = match block[i] {
            b'\n' | b'\r' => 1,
            // `\n`, or `\\n` when the JSON was escaped twice.
            b'\\' => {
                let run = block[i..].iter().take_while(|&&b| b == b'\\').count();
                match block.get(i + run) {
                    Some(b'n' | b'r') => run + 1,
                    _ => 0,
                }
            }
            _ => 0,
        };
        if sep > 0 {
            lines.push(block[start..i].trim_ascii());
            i += sep;
            start = i;
        } else {
            i += 1;
        }
    }
    lines.push(block[start..].trim_ascii());
    lines.retain(|l| !l.is_empty());
    lines
}

fn is_b64_line(line: &[u8]) -> bool {
    line.iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Minimum base64 characters of body for a PEM/OpenSSH block to count as a key (an Ed25519 PKCS#8
/// key, the smallest real one, has 64).
const MIN_KEY_BODY: usize = 64;

/// A private key block (PEM, OpenSSH or PuTTY) with real key material: at least 64 base64
/// characters of body that decode (a DER `SEQUENCE` for PEM, `openssh-key-v1` for OpenSSH),
/// newlines written as `\n`, `\r\n` or an escaped `\n`. Reports encryption: `Proc-Type:
/// 4,ENCRYPTED`, `BEGIN ENCRYPTED PRIVATE KEY`, an OpenSSH cipher other than `none`, a PuTTY
/// `Encryption` other than `none`.
pub fn private_key(block: &[u8]) -> KeyCheck {
    let lines = key_lines(block);
    match lines.first() {
        Some(first) if first.starts_with(b"PuTTY-User-Key-File-") => putty_key(&lines),
        Some(first) if first.starts_with(b"-----BEGIN ") => pem_key(&lines),
        _ => KeyCheck::NotAKey,
    }
}

fn pem_key(lines: &[&[u8]]) -> KeyCheck {
    let first = lines[0];
    let Some(label_end) = first[11..].windows(5).position(|w| w == b"-----") else {
        return KeyCheck::NotAKey;
    };
    let label = &first[11..11 + label_end];
    // Text after the armour on the same line is body (keys pasted without newlines).
    let rest_of_first = &first[11 + label_end + 5..];
    let mut encrypted_header = false;
    let mut body = Vec::new();
    let mut seen_body = false;
    let candidates = std::iter::once(rest_of_first).chain(lines[1..].iter().copied());
    for line in candidates {
        if line.is_empty() {
            continue;
        }
        if line.starts_with(b"-----END ") {
            break;
        }
        if let Some(end) = line.windows(9).position(|w| w == b"-----END ") {
            // END armour on the same line as the body.
            let part = line[..end].trim_ascii();
            if !is_b64_line(part) {
                return KeyCheck::NotAKey;
            }
            body.extend_from_slice(part);
            break;
        }
        if !seen_body && line.contains(&b':') {
            if line.starts_with(b"Proc-Type:") && line.windows(9).any(|w| w == b"ENCRYPTED") {
                encrypted_header = true;
            }
            continue;
        }
        if !is_b64_line(line) {
            return KeyCheck::NotAKey;
        }
        seen_body = true;
        body.extend_from_slice(line);
    }
    if body.len() < MIN_KEY_BODY {
        return KeyCheck::NotAKey;
    }
    let Some(der) = b64_decode(&body) else {
        return KeyCheck::NotAKey;
    };
    match label {
        b"OPENSSH PRIVATE KEY" => openssh_cipher(&der),
        b"ENCRYPTED PRIVATE KEY" if der.first() == Some(&0x30) => KeyCheck::Encrypted,
        // A Proc-Type encrypted body is ciphertext, not DER.
        _ if encrypted_header => KeyCheck::Encrypted,
        _ if der.first() == Some(&0x30) => KeyCheck::Plain,
        _ => KeyCheck::NotAKey,
    }
}

/// The openssh-key-v1 header: magic, then a length-prefixed cipher name.
fn openssh_cipher(blob: &[u8]) -> KeyCheck {
    const MAGIC: &[u8] = b"openssh-key-v1\0";
    let Some(rest) = blob.strip_prefix(MAGIC) else {
        return KeyCheck::NotAKey;
    };
    let Some(len) = rest
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    else {
        return KeyCheck::NotAKey;
    };
    match rest.get(4..4 + len) {
        Some(b"none") => KeyCheck::Plain,
        Some(cipher) if !cipher.is_empty() => KeyCheck::Encrypted,
        _ => KeyCheck::NotAKey,
    }
}

fn putty_key(lines: &[&[u8]]) -> KeyCheck {
    let value = |name: &[u8]| -> Option<&[u8]> {
        lines.iter().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.strip_prefix(b":"))
                .map(|v| v.trim_ascii())
        })
    };
    let Some(encryption) = value(b"Encryption") else {
        return KeyCheck::NotAKey;
    };
    if value(b"Private-MAC")
        .or_else(|| value(b"Private-Hash"))
        .is_none()
    {
        return KeyCheck::NotAKey;
    }
    let Some(at) = lines.iter().position(|l| l.starts_with(b"Private-Lines:")) else {
        return KeyCheck::NotAKey;
    };
    let count = std::str::from_utf8(&lines[at][b"Private-Lines:".len()..])
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let Some(private) = lines.get(at + 1..at + 1 + count) else {
        return KeyCheck::NotAKey;
    };
    let body: Vec<u8> = private.concat();
    // An Ed25519 private blob, the smallest, is 48 characters.
    if count == 0 || body.len() < 40 || !is_b64_line(&body) || b64_decode(&body).is_none() {
        return KeyCheck::NotAKey;
    }
    if encryption == b"none" {
        KeyCheck::Plain
    } else {
        KeyCheck::Encrypted
    }
}

/// A Docker config `auth` value: base64 of `user:password`, both non-empty, printable text.
pub fn docker_auth(value: &[u8]) -> bool {
    let Some(decoded) = b64_decode(value) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return false;
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return false;
    }
    matches!(text.split_once(':'), Some((user, password)) if !user.is_empty() && !password.is_empty())
}

/// A PyPI API token: `pypi-` + a base64url macaroon (format version 2) whose location field names
/// `pypi.org` (or `test.pypi.org`).
pub fn pypi_macaroon(token: &[u8]) -> bool {
    let Some(body) = token.strip_prefix(b"pypi-") else {
        return false;
    };
    // The location sits in the first few bytes; decode a whole number of quads.
    let head = &body[..body.len().min(64) / 4 * 4];
    let Some(raw) = b64url_decode(head) else {
        return false;
    };
    // Version 2, field type 1 (location), varint length below 128, then the location.
    let (Some(&2), Some(&1), Some(&len)) = (raw.first(), raw.get(1), raw.get(2)) else {
        return false;
    };
    match raw.get(3..3 + len as usize) {
        Some(location) => location == b"pypi.org" || location.ends_with(b".pypi.org"),
        None => false,
    }
}

/// Base64 (kubeconfig `client-key-data`) that decodes to a private key block with key material.
pub fn base64_private_key(value: &[u8]) -> bool {
    match b64_decode(value) {
        Some(pem) => private_key(pem.trim_ascii()) != KeyCheck::NotAKey,
        None => false,
    }
}

/// A `scheme://user:password@host` URL whose password is non-empty and differs from the user name
/// (`guest:guest`, `postgres:postgres` are well-known defaults, not leaks).
pub fn url_password(url: &[u8]) -> bool {
    let Some(at) = url.windows(3).position(|w| w == b"://") else {
        return false;
    };
    let rest = &url[at + 3..];
    let Some(end) = rest.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let Some(colon) = rest[..end].iter().position(|&b| b == b':') else {
        return false;
    };
    let (user, password) = (&rest[..colon], &rest[colon + 1..end]);
    !password.is_empty() && !password.eq_ignore_ascii_case(user)
}

/// An assigned value that holds a secret rather than pointing at one: not a boolean, null or
/// number, not a file path, not a URL without credentials, not a variable or template reference
/// (`$X`, `${X}`, `{{ x }}`, `%(x)s`, `<%= x %>`), not a dotted name (`config.api_key`).
pub fn not_reference(value: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"true",
        b"false",
        b"null",
        b"none",
        b"nil",
        b"undefined",
        b"yes",
        b"no",
        b"on",
        b"off",
    ];
    if WORDS.iter().any(|w| value.eq_ignore_ascii_case(w)) {
        return false;
    }
    if value
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'_'))
    {
        return false;
    }
    if [&b"/"[..], b"./", b"../", b"~/"]
        .iter()
        .any(|p| value.starts_with(p))
    {
        return false;
    }
    if [&b"${"[..], b"{{", b"$(", b"%(", b"#{", b"<%"]
        .iter()
        .any(|p| value.windows(p.len()).any(|w| w == *p))
    {
        return false;
    }
    if value.first() == Some(&b'$')
        && value
            .get(1)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return false;
    }
    // printf-style formats: `%s`, `%wunable to ...` (Go string tables).
    if value.first() == Some(&b'%') && value.get(1).is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    if [&b"%s"[..], b"%v", b"%w", b"%q"]
        .iter()
        .any(|p| value.windows(2).any(|w| w == *p))
    {
        return false;
    }
    // A format-string field: `{password}`, `{self.token}`, `{0}`.
    if value.first() == Some(&b'{')
        && value.last() == Some(&b'}')
        && !value[1..value.len() - 1].contains(&b'{')
    {
        return false;
    }
    if let Some(pos) = value.windows(3).position(|w| w == b"://") {
        let scheme_ok = pos > 0
            && value[..pos]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
        if scheme_ok && !value.contains(&b'@') {
            return false;
        }
    }
    let ident = |part: &[u8]| {
        part.first()
            .is_some_and(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'$'))
            && part
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$'))
    };
    let dotted = value.contains(&b'.') && value.split(|&b| b == b'.').all(ident);
    !dotted
}

/// A value that is not prose or a name: no whitespace; not a word or identifier made only of
/// letters and `_-.:/=` (`my-secret-name`, `CLOSE_PAREN`, `crypto/elliptic`) unless it is long and
/// its letter case flips like random text; not a run of CamelCase words (`PhoenicianPluginSpec`
/// from a Go string table); not a file name such as `creds.json`. Stricter than
/// [`not_reference`]; for rules that fire anywhere.
pub fn not_identifier(value: &[u8]) -> bool {
    if value.iter().any(u8::is_ascii_whitespace) {
        return false;
    }
    if value
        .iter()
        .all(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/' | b'='))
    {
        let letters: Vec<u8> = value
            .iter()
            .copied()
            .filter(u8::is_ascii_alphabetic)
            .collect();
        let flips = letters
            .windows(2)
            .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
            .count();
        // Random mixed-case letters flip case about every other character; words rarely do.
        let random_case = letters.len() >= 20 && flips * 100 >= letters.len() * 35;
        if !random_case {
            return false;
        }
    }
    if camel_words(value) >= 3 {
        return false;
    }
    const EXTENSIONS: &[&[u8]] = &[
        b".json",
        b".yaml",
        b".yml",
        b".txt",
        b".pem",
        b".key",
        b".crt",
        b".conf",
        b".cfg",
        b".ini",
        b".xml",
        b".properties",
        b".env",
        b".toml",
        b".p12",
        b".jks",
    ];
    let lower = value.to_ascii_lowercase();
    !EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

/// Capitalised words of six or more letters (`Plugin`, `Processing`); random text rarely has one.
fn camel_words(value: &[u8]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < value.len() {
        if value[i].is_ascii_uppercase() {
            let run = value[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase())
                .count();
            if run >= 5 {
                count += 1;
            }
            i += 1 + run;
        } else {
            i += 1;
        }
    }
    count
}

/// Shannon entropy of `bytes`, in bits per byte (0 for empty input).
pub fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| c as f64 / len)
        .map(|p| -p * p.log2())
        .sum()
}

/// A Bech32 string (BIP 173), as age writes its identities (`AGE-SECRET-KEY-1...`): the
/// human-readable part, `1`, then 5-bit characters whose last six are a BCH checksum over both.
/// One wrong or swapped character fails it, so an edited or made-up key does.
pub fn bech32(text: &[u8]) -> bool {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    if text.len() > 1024
        || !(text.iter().all(|b| !b.is_ascii_lowercase())
            || text.iter().all(|b| !b.is_ascii_uppercase()))
    {
        return false; // mixed case is invalid Bech32
    }
    let text = text.to_ascii_lowercase();
    let Some(sep) = text.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let (hrp, data) = (&text[..sep], &text[sep + 1..]);
    if hrp.is_empty() || data.len() < 6 || !hrp.iter().all(|b| (33..=126).contains(b)) {
        return false;
    }
    let mut values: Vec<u8> = hrp.iter().map(|b| b >> 5).collect();
    values.push(0);
    values.extend(hrp.iter().map(|b| b & 31));
    for c in data {
        let Some(v) = CHARSET.iter().position(|x| x == c) else {
            return false;
        };
        values.push(v as u8);
    }
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk == 1
}

/// A token carrying base64 JSON after its prefix (`sntrys_<base64 JSON>_<secret>` from Sentry,
/// `ops_<base64 JSON>` from 1Password): the part between the first `_` and the next one must
/// decode to a JSON object with at least two members. Truncated or invented payloads fail.
pub fn base64_json(token: &[u8]) -> bool {
    let Some(start) = token.iter().position(|&b| b == b'_') else {
        return false;
    };
    let rest = &token[start + 1..];
    let payload = rest.split(|&b| b == b'_').next().unwrap_or(rest);
    let Some(json) = b64_decode(payload) else {
        return false;
    };
    matches!(
        serde_json::from_slice::<serde_json::Value>(&json),
        Ok(serde_json::Value::Object(members)) if members.len() >= 2
    )
}

/// A Discord bot token's first segment is the bot's user id (a snowflake: 17 to 20 decimal
/// digits) in base64.
pub fn discord_snowflake(token: &[u8]) -> bool {
    let first = token.split(|&b| b == b'.').next().unwrap_or(token);
    b64url_decode(first).is_some_and(|id| {
        (17..=20).contains(&id.len()) && id.iter().all(u8::is_ascii_digit) && id[0] != b'0'
    })
}

/// A JFrog reference token is base64 of `reftkn:01:<expiry, epoch seconds>:<random>`.
pub fn jfrog_reference(token: &[u8]) -> bool {
    let Some(text) = b64_decode(token) else {
        return false;
    };
    let Some(rest) = text.strip_prefix(b"reftkn:01:") else {
        return false;
    };
    let mut fields = rest.splitn(2, |&b| b == b':');
    let (Some(expiry), Some(random)) = (fields.next(), fields.next()) else {
        return false;
    };
    !expiry.is_empty()
        && expiry.len() <= 12
        && expiry.iter().all(u8::is_ascii_digit)
        && random.len() >= 16
        && random.iter().all(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fake tokens whose checksums were computed for these tests.
    const GHP: &[u8] = b"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";
    const GHO: &[u8] = b"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";
    const NPM: &[u8] = b"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";

    #[test]
    fn base62_pads_and_encodes() {
        assert_eq!(&base62_6(0), b"000000");
        assert_eq!(&base62_6(61), b"00000z");
        assert_eq!(&base62_6(62), b"000010");
        assert_eq!(&base62_6(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn github_checksum_accepts_valid_tokens() {
        assert!(github_checksum(GHP));
        assert!(github_checksum(GHO));
        assert!(github_checksum(b"ghu_1EqtnfrioO2Mvz8dAOsjOsgquBXben2PxVKr"));
    }

    #[test]
    fn github_checksum_rejects_wrong_checksum_and_doc_sample() {
        let mut wrong = GHP.to_vec();
        *wrong.last_mut().unwrap() = b'Y';
        assert!(!github_checksum(&wrong));
        // GitHub's own documentation sample.
        assert!(!github_checksum(
            b"gho_16C7e42F292c6912E7710c838347Ae178B4a"
        ));
    }

    #[test]
    fn github_checksum_rejects_malformed() {
        assert!(!github_checksum(b""));
        assert!(!github_checksum(&GHP[..GHP.len() - 1]));
        assert!(!github_checksum(
            b"ghx_hDAEYqL62pBum9BIy2ewA5s02KGvdi1mBJcZ"
        ));
        assert!(!github_checksum(
            b"ghp_hDAEYqL62pBum9BIy2ewA5s02KGvdi1mBJc-"
        ));
        assert!(!github_checksum(NPM));
    }

    #[test]
    fn npm_checksum_accepts_valid_and_rejects_invalid() {
        assert!(npm_checksum(NPM));
        assert!(npm_checksum(b"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"));
        assert!(!npm_checksum(b"npm_1NYDNuFfxzJZ47md2zrvCtDOh80aVc3duE1Y"));
        assert!(!npm_checksum(b"npm_short"));
        assert!(!npm_checksum(GHP));
    }

    const JWT: &[u8] = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMtZGVwbG95ZXIiLCJpc3MiOiJjYXVsay10ZXN0cyIsImlhdCI6MTcxNzIwMDAwMCwic2NvcGUiOiJkZXBsb3kifQ.5gr6IZ8ByH99bfIb-ca85shviKnvFRMjH5AvH6P4R7c";

    #[test]
    fn jwt_accepts_signed_token() {
        assert!(jwt(JWT));
    }

    #[test]
    fn jwt_rejects_alg_none_missing_alg_and_samples() {
        // {"alg":"none","typ":"JWT"}
        assert!(!jwt(b"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJzdmMtZGVwbG95ZXIiLCJpYXQiOjE3MTcyMDAwMDB9.a9uwe5JBlkFHx9483n9r3NLvcPIfC-z0UBuq4KDe3JY"));
        // {"typ":"JWT"}
        assert!(!jwt(b"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzdmMtZGVwbG95ZXIiLCJpYXQiOjE3MTcyMDAwMDB9.t6x_FOmpDZtTjMjTpKlinxmVtLr-_1vxuuDicvMsUVc"));
        // jwt.io's sample.
        assert!(!jwt(b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"));
    }

    #[test]
    fn jwt_rejects_malformed() {
        assert!(!jwt(b""));
        assert!(!jwt(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0"));
        let no_sig = &JWT[..JWT.iter().rposition(|&b| b == b'.').unwrap() + 1];
        assert!(!jwt(no_sig));
        // Payload is not JSON.
        assert!(!jwt(
            b"eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2lnbmF0dXJlc2lnbmF0dXJl"
        ));
        // Four segments.
        assert!(!jwt(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln.c2ln"));
    }

    const OPENSSH: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACCP3bvIlnWzqYf3v70znPLMpI6Do9Lbm/+jMV3xUPBdOwAAAJCKMfbXijH2
1wAAAAtzc2gtZWQyNTUxOQAAACCP3bvIlnWzqYf3v70znPLMpI6Do9Lbm/+jMV3xUPBdOw
AAAEByNtMT1vhe7D39gMGZFYYuh7p7GRL6vFJDzvGVMcuUc4/du8iWdbOph/e/vTOc8syk
joOj0tub/6MxXfFQ8F07AAAACnRlc3RAY2F1bGsBAgM=
-----END OPENSSH PRIVATE KEY-----";

    const OPENSSH_ENCRYPTED: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABB6ZR1hwn
XNfg252DkgndtZAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIMFVeAErj4/dLDMG
sFuIV/Nl/3KBi5BDV0sc35yS6gaIAAAAkBHKd9jnSsHdpH/XaKz944eKbs2axDeGyiKOXs
nx6+o3tB/RU4Hi4pbomwLG0QcYKhxUAkxdcwZ5K+qSs3Q8FL1UNLNT3eztB6gDlNMUAHzh
UYWHLKuAQNH4rijx3Yb9gR73GDd8oaR9pMRezyH+BFrlOnIXpDMiG2eBgn4sSgGYNstkHC
ZBXER39OC8e/2aog==
-----END OPENSSH PRIVATE KEY-----";

    const EC: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIHbJjpK7iwxLXwW84MYBASzksCg1E483Lkf1X0RqtSbDoAoGCCqGSM49
AwEHoUQDQgAEl3kZzGbP2M1895/3rHFxX7RMkXsn4xC/PxpADKEw1R3cNDBkTU6V
XN4psqrMIdiF8yr56hG4Fz+j5QX4q4chXw==
-----END EC PRIVATE KEY-----";

    const EC_ENCRYPTED: &str = "-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,68C9BA6CEA64A40AA4942915B768A463

kYbsHCG2e0kT2riSRRSI7P7lzGPhWwuhKqP9gjTnCyBULjo3abuUlhVLZkPE60XX
XcFHtPzVAVzD1c05FvmuH9QevJK4x5/SHVi8F9fJDT0M3ByUwEKAARtDt97JWn8d
uI+EDI8UEbpyI4CWAcXU5INbPRVWCTMm1hvmQQ348EI=
-----END EC PRIVATE KEY-----";

    const PUTTY: &str = "PuTTY-User-Key-File-3: ssh-ed25519
Encryption: none
Comment: test@caulk
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAII/du8iWdbOph/e/vTOc8sykjoOj0tub/6MxXfFQ
8F07
Private-Lines: 1
AAAAIHI20xPW+F7sPf2AwZkVhi6HunsZEvq8UkPO8ZUxy5Rz
Private-MAC: 03a406520eb28221965f244a254ad5846d7d8fad738cf9040ebb6150a0476652";

    #[test]
    fn private_key_plain_and_encrypted() {
        assert_eq!(private_key(OPENSSH.as_bytes()), KeyCheck::Plain);
        assert_eq!(
            private_key(OPENSSH_ENCRYPTED.as_bytes()),
            KeyCheck::Encrypted
        );
        assert_eq!(private_key(EC.as_bytes()), KeyCheck::Plain);
        assert_eq!(private_key(EC_ENCRYPTED.as_bytes()), KeyCheck::Encrypted);
        assert_eq!(private_key(PUTTY.as_bytes()), KeyCheck::Plain);
        let putty_encrypted = PUTTY.replace("Encryption: none", "Encryption: aes256-cbc");
        assert_eq!(private_key(putty_encrypted.as_bytes()), KeyCheck::Encrypted);
    }

    #[test]
    fn private_key_tolerates_crlf_and_escaped_newlines() {
        assert_eq!(
            private_key(EC.replace('\n', "\r\n").as_bytes()),
            KeyCheck::Plain
        );
        assert_eq!(
            private_key(EC.replace('\n', "\\n").as_bytes()),
            KeyCheck::Plain
        );
        assert_eq!(
            private_key(OPENSSH.replace('\n', "\\r\\n").as_bytes()),
            KeyCheck::Plain
        );
        // Escaped twice: a JSON string inside a JSON string.
        assert_eq!(
            private_key(EC.replace('\n', "\\\\n").as_bytes()),
            KeyCheck::Plain
        );
    }

    #[test]
    fn private_key_rejects_stubs() {
        assert_eq!(
            private_key(b"-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----"),
            KeyCheck::NotAKey
        );
        assert_eq!(
            private_key(b"-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----"),
            KeyCheck::NotAKey
        );
        assert_eq!(
            private_key(b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----"),
            KeyCheck::NotAKey
        );
        assert_eq!(
            private_key(
                b"-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----"
            ),
            KeyCheck::NotAKey
        );
        // Valid base64 of the right length that is not DER.
        let not_der = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
            "A".repeat(64)
        );
        assert_eq!(private_key(not_der.as_bytes()), KeyCheck::NotAKey);
        let truncated_openssh = OPENSSH.replace(
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n",
            "",
        );
        assert_eq!(private_key(truncated_openssh.as_bytes()), KeyCheck::NotAKey);
        let putty_no_private = PUTTY.replace(
            "Private-Lines: 1\nAAAAIHI20xPW+F7sPf2AwZkVhi6HunsZEvq8UkPO8ZUxy5Rz\n",
            "",
        );
        assert_eq!(private_key(putty_no_private.as_bytes()), KeyCheck::NotAKey);
    }

    #[test]
    fn docker_auth_needs_user_and_password() {
        // ci-bot:6mnduQn0q496AHok7BbvEXyj
        assert!(docker_auth(b"Y2ktYm90OjZtbmR1UW4wcTQ5NkFIb2s3QmJ2RVh5ag=="));
        assert!(docker_auth(b"Y2ktYm90OjZtbmR1UW4wcTQ5NkFIb2s3QmJ2RVh5ag"));
        assert!(!docker_auth(b"Y2ktYm90Og==")); // "ci-bot:"
        assert!(!docker_auth(b"Y2ktYm90LW5vLWNvbG9uLWhlcmU=")); // no colon
        assert!(!docker_auth(b"Oi9uby11c2Vy")); // ":/no-user"
        assert!(!docker_auth(b"not base64!"));
        assert!(!docker_auth(b"AAEC")); // binary
    }

    #[test]
    fn pypi_macaroon_checks_location() {
        assert!(pypi_macaroon(b"pypi-AgEIcHlwaS5vcmcCO3sidmVyc2lvbiI6IDEsICJub25jZSI6ICIzYmViYzQ3Mjc0OWFkMjZhMTY4NTg5MWE4Zjg1NDAwZiJ9AAIleyJ2ZXJzaW9uIjogMSwgInBlcm1pc3Npb25zIjogInVzZXIifQAABiDiLWzbns5ynnJzopieJfva1hNk9GpMloc6lKPf3eZq8A"));
        assert!(pypi_macaroon(b"pypi-AgENdGVzdC5weXBpLm9yZwI7eyJ2ZXJzaW9uIjogMSwgIm5vbmNlIjogIjNiZWJjNDcyNzQ5YWQyNmExNjg1ODkxYThmODU0MDBmIn0AAAYg0dndQbPgxu1aPaKM01mBMSsVzRCltxY4rbEuyX3TtdA"));
        // Location "example.org".
        assert!(!pypi_macaroon(
            b"pypi-AgELZXhhbXBsZS5vcmcCO3sidmVyc2lvbiI6IDEsICJub25jZSI6ICIzYmViYzQ3Mjc"
        ));
        assert!(!pypi_macaroon(
            b"pypi-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ));
        assert!(!pypi_macaroon(b"pypi-"));
        assert!(!pypi_macaroon(b"AgEIcHlwaS5vcmc"));
    }

    #[test]
    fn base64_private_key_decodes_to_a_key() {
        use base64::engine::general_purpose::STANDARD;
        let encoded = STANDARD.encode(EC);
        assert!(base64_private_key(encoded.as_bytes()));
        let stub = STANDARD
            .encode("-----BEGIN EC PRIVATE KEY-----\nMHcCAQ\n-----END EC PRIVATE KEY-----\n");
        assert!(!base64_private_key(stub.as_bytes()));
        assert!(!base64_private_key(b"bm90IGEga2V5"));
    }

    #[test]
    fn url_password_rejects_defaults_and_empty() {
        assert!(url_password(b"postgres://app:Xq82kLm0pQ@db:5432"));
        assert!(url_password(b"redis://:Xq82kLm0pQ@cache"));
        assert!(!url_password(b"amqp://guest:guest@rabbitmq"));
        assert!(!url_password(b"postgres://app:@db"));
        assert!(!url_password(b"postgres://db:5432"));
    }

    #[test]
    fn not_reference_rejects_references() {
        for value in [
            &b"true"[..],
            b"None",
            b"123456",
            b"/run/secrets/db",
            b"./secret.txt",
            b"${DB_PASSWORD}",
            b"$DB_PASSWORD",
            b"{{ .Values.password }}",
            b"prefix-${X}",
            b"{self.password}",
            b"%wunable",
            b"user-%s-pass",
            b"config.api_key",
            b"process.env.TOKEN",
            b"https://auth.internal/token",
        ] {
            assert!(!not_reference(value), "{}", String::from_utf8_lossy(value));
        }
        for value in [
            &b"hunter2hunter"[..],
            b"b0M7fC74o^Xq66Xe",
            b"supersecretpassword",
            b"https://u:p4ss@host",
        ] {
            assert!(not_reference(value), "{}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn not_identifier_rejects_names_and_prose() {
        for value in [
            &b"my-secret-name"[..],
            b"CLOSE_PAREN",
            b"Enter password",
            b"creds2.json",
            b"MyPassword",
            b"locationName:",
            b"scmVersion=",
            b"crypto/elliptic",
            b"PhoenicianPluginSpecProcessingRIPEMD-160RST_STREAMReadBigInt",
            b"correcthorsebatterystaplecorrecthorse",
        ] {
            assert!(!not_identifier(value), "{}", String::from_utf8_lossy(value));
        }
        // The last one is random letters without a digit: long enough, and its case flips.
        for value in [
            &b"hunter2hunter"[..],
            b"b0M7fC74o^Xq66Xe",
            b"8LkOiSALaPlc7VtmgVhA",
            b"kDqZpLwEyRtUxVbNmQaSfG",
        ] {
            assert!(not_identifier(value), "{}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!((entropy(b"01234567") - 3.0).abs() < 1e-9);
    }

    #[test]
    fn bech32_accepts_age_keygen_output_and_rejects_one_changed_character() {
        let key = b"AGE-SECRET-KEY-1CP7XFF8DXKYYV652EQ84AM3292KJWUFA4NDUCSGZNXDDNNGE30TSPTHZKE";
        assert!(bech32(key));
        assert!(bech32(
            b"age1jahw0esn4vwv5zwx6u84yjqknpq2llw3vdk9f48capd34qxs44wql3xtvk"
        ));
        for i in 16..key.len() {
            let mut bad = key.to_vec();
            bad[i] = if bad[i] == b'Q' { b'P' } else { b'Q' };
            assert!(!bech32(&bad), "changed at {i}");
        }
        // swapped neighbours
        let mut swapped = key.to_vec();
        swapped.swap(20, 21);
        assert!(swapped == key || !bech32(&swapped));
        assert!(!bech32(
            b"AGE-SECRET-KEY-1CP7xFF8DXKYYV652EQ84AM3292KJWUFA4NDUCSGZNXDDNNGE30TSPTHZKE"
        ));
        assert!(!bech32(b"AGE-SECRET-KEY-1"));
        assert!(!bech32(b"no separator"));
    }

    #[test]
    fn base64_json_needs_a_json_object_payload() {
        use base64::engine::general_purpose::STANDARD;
        let payload =
            STANDARD.encode(br#"{"iat":1724674111.5,"url":"https://sentry.io","org":"acme"}"#);
        assert!(base64_json(
            format!("sntrys_{payload}_{}", "A".repeat(43)).as_bytes()
        ));
        assert!(base64_json(format!("ops_{payload}").as_bytes()));
        let one = STANDARD.encode(br#"{"iat":1791517672}"#);
        assert!(!base64_json(format!("sntrys_{one}_x").as_bytes()));
        let truncated = &payload[..payload.len() - 12];
        assert!(!base64_json(format!("ops_{truncated}").as_bytes()));
        assert!(!base64_json(b"ops_eyJzaWduSW5BZGRyZXNzIjoiaHR0cHM6"));
        assert!(!base64_json(b"no-underscore"));
    }

    #[test]
    fn discord_snowflake_decodes_the_user_id() {
        assert!(discord_snowflake(
            b"NzczNTkxMTg1NDU3OTczODU5OQ.PKwugP.CbnWdLN5RuEApDyFEoWkJf-Bw6MHd8A03ix7eS"
        ));
        // base64 of "hello world, friend" is not a snowflake
        assert!(!discord_snowflake(
            b"aGVsbG8gd29ybGQsIGZyaWVuZA.PKwugP.CbnWdLN5RuEApDyFEoWkJf-Bw6MHd8A03ix7eS"
        ));
        assert!(!discord_snowflake(b"MTIz.PKwugP.x"));
    }

    #[test]
    fn jfrog_reference_decodes_reftkn() {
        assert!(jfrog_reference(
            b"cmVmdGtuOjAxOjE4NTAyNzk2OTI6MlNpQUNGNHRpMzlvbzJJYUgwd1F4MUxobFd5"
        ));
        // `reftkn:01:` then garbage
        assert!(!jfrog_reference(
            b"cmVmdGtuOjAxOnh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4"
        ));
        assert!(!jfrog_reference(
            b"cmVmdGtuOjAxAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ));
    }
}
