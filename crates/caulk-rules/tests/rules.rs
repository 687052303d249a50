//! Checks the built-in rule data (every example, every file embedded, ids) and the engine's
//! behaviour on awkward input: CRLF, binary bytes, invalid UTF-8, overlaps, allowlist, path scopes.

use std::collections::HashSet;

use caulk_rules::{Context, Match, RuleKind, RuleSet, Severity, BUILTIN_RULE_FILES};

fn builtin() -> RuleSet {
    RuleSet::builtin().expect("built-in rules compile")
}

fn scan(set: &RuleSet, haystack: &[u8], path: Option<&str>) -> Vec<Match> {
    let mut out = Vec::new();
    set.scanner().scan(
        haystack,
        &Context {
            path,
            binary: false,
        },
        &mut out,
    );
    out
}

fn ids<'a>(set: &'a RuleSet, found: &[Match]) -> Vec<&'a str> {
    found.iter().map(|m| set.rule(m.rule).id.as_str()).collect()
}

const GHP: &str = "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";
const AWS_SECRET: &str = "09PRm9sWiEKGHhBqZCTDVICFtTHdFgYv0/NANly4";

#[test]
fn every_example_and_negative_example_behaves() {
    let failures = builtin().example_failures();
    assert!(
        failures.is_empty(),
        "{} example(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_rule_without_negative_examples_is_reported() {
    let yaml = "rules:
  - id: demo
    name: Demo
    description: Demo.
    severity: low
    keywords: [demo_]
    regex: 'demo_[0-9]{4}'
    examples: ['demo_1234']
";
    let failures = RuleSet::from_yaml("demo.yml", yaml)
        .unwrap()
        .example_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("`demo`") && failures[0].contains("negative"),
        "{}",
        failures[0]
    );
}

#[test]
fn every_data_file_is_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/rules");
    let on_disk: HashSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let embedded: HashSet<String> = BUILTIN_RULE_FILES
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    let missing: Vec<_> = on_disk.difference(&embedded).collect();
    assert!(
        missing.is_empty(),
        "files in data/rules not embedded (rule files must end in .yml): {missing:?}"
    );
    for (name, text) in BUILTIN_RULE_FILES {
        let current = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(
            &current, text,
            "{name} changed since it was embedded; rebuild"
        );
    }
}

#[test]
fn ids_are_unique_and_counts_are_sane() {
    let set = builtin();
    let mut seen = HashSet::new();
    for rule in set.rules() {
        assert!(seen.insert(rule.id.as_str()), "duplicate id {}", rule.id);
        assert_eq!(
            set.rule_index(&rule.id).map(|i| &set.rule(i).id),
            Some(&rule.id)
        );
    }
    let content = set
        .rules()
        .iter()
        .filter(|r| r.kind == RuleKind::Content)
        .count();
    let filename = set
        .rules()
        .iter()
        .filter(|r| r.kind == RuleKind::FileName)
        .count();
    assert!(
        set.rules().len() >= 250,
        "{} rules (issue 3 asks for 250+)",
        set.rules().len()
    );
    assert!(content >= 240, "{content} content rules");
    assert_eq!(filename, 4);
    assert_eq!(set.rule_index("no-such-rule"), None);
}

#[test]
fn contract_ids_exist_with_expected_severity() {
    let set = builtin();
    let expect = |id: &str, severity: Severity| {
        let idx = set
            .rule_index(id)
            .unwrap_or_else(|| panic!("missing rule {id}"));
        assert_eq!(set.rule(idx).severity, severity, "{id}");
    };
    for id in [
        "private-key-rsa",
        "private-key-ec",
        "private-key-dsa",
        "private-key-pkcs8",
        "private-key-openssh",
        "private-key-putty",
        "aws-secret-access-key",
        "github-pat-classic",
        "github-oauth-token",
        "github-user-token",
        "github-server-token",
        "github-refresh-token",
        "github-pat-fine-grained",
        "gitlab-pat",
        "slack-bot-token",
        "slack-user-token",
        "slack-app-token",
        "slack-webhook-url",
        "stripe-secret-key",
        "stripe-restricted-key",
        "openai-api-key",
        "anthropic-api-key",
        "google-api-key",
        "gcp-service-account",
        "azure-storage-connection-string",
        "npm-access-token",
        "pypi-upload-token",
        "huggingface-token",
        "jwt",
        "database-url-password",
        "docker-config-auth",
        "git-credentials",
        "netrc-credentials",
        "npmrc-auth-token",
        "pypirc-password",
        "kubeconfig-client-key",
        "kubeconfig-token",
    ] {
        expect(id, Severity::Critical);
    }
    expect("private-key-encrypted", Severity::Medium);
    expect("aws-access-key-id", Severity::High);
    expect("stripe-test-secret-key", Severity::Low);
    expect("generic-secret-assignment", Severity::Medium);
    expect("dotenv-secret", Severity::High);
    expect("sensitive-file-ssh-key", Severity::High);
    expect("sensitive-file-dotenv", Severity::Medium);
    expect("sensitive-file-credentials", Severity::Medium);
    expect("sensitive-file-keystore", Severity::Medium);
}

#[test]
fn crlf_is_not_part_of_the_secret() {
    let set = builtin();
    let text = format!("TOKEN={GHP}\r\nOTHER=1\r\n");
    let found = scan(&set, text.as_bytes(), None);
    assert_eq!(ids(&set, &found), ["github-pat-classic"]);
    assert_eq!(&text.as_bytes()[found[0].secret.clone()], GHP.as_bytes());

    let env = format!("AWS_SECRET_ACCESS_KEY={AWS_SECRET}\r\n");
    let found = scan(&set, env.as_bytes(), Some("app/.env"));
    assert_eq!(ids(&set, &found), ["aws-secret-access-key"]);
    assert_eq!(
        &env.as_bytes()[found[0].secret.clone()],
        AWS_SECRET.as_bytes()
    );
}

#[test]
fn token_inside_binary_with_nul_bytes() {
    let set = builtin();
    let mut bin = vec![0x7f, b'E', b'L', b'F', 0, 0, 0, 1, 0xff, 0xfe];
    bin.extend_from_slice(&[0u8; 64]);
    let start = bin.len();
    bin.extend_from_slice(GHP.as_bytes());
    bin.extend_from_slice(&[0u8, 0, 0x90, 0x90, 0]);
    let found = scan(&set, &bin, Some("usr/local/bin/app"));
    assert_eq!(ids(&set, &found), ["github-pat-classic"]);
    assert_eq!(found[0].secret, start..start + GHP.len());
}

#[test]
fn invalid_utf8_around_a_token() {
    let set = builtin();
    let mut hay = b"\xc3\x28\xa0\xa1 key=".to_vec();
    let start = hay.len();
    hay.extend_from_slice(b"AKIATTPOBNLTQ7NE24RD");
    hay.extend_from_slice(b"\xe2\x82 \xf0\x28\x8c\xbc");
    let found = scan(&set, &hay, None);
    assert_eq!(ids(&set, &found), ["aws-access-key-id"]);
    assert_eq!(found[0].secret, start..start + 20);
}

#[test]
fn specific_rule_wins_over_generic_ones() {
    let set = builtin();
    let env =
        format!("AWS_ACCESS_KEY_ID=AKIATTPOBNLTQ7NE24RD\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n");
    let found = scan(&set, env.as_bytes(), Some("app/.env"));
    assert_eq!(
        ids(&set, &found),
        ["aws-access-key-id", "aws-secret-access-key"]
    );

    // Without the AWS context both generic rules could fire; only the path-scoped one is kept.
    let env = "API_TOKEN=8LkOiSALaPlc7VtmgVhA\n";
    assert_eq!(
        ids(&set, &scan(&set, env.as_bytes(), Some("app/.env"))),
        ["dotenv-secret"]
    );
    assert_eq!(
        ids(&set, &scan(&set, env.as_bytes(), None)),
        ["generic-secret-assignment"]
    );

    // A provider token in a credential file is reported once, under the provider's rule.
    let creds = format!("https://ci-bot:{GHP}@github.com\n");
    assert_eq!(
        ids(
            &set,
            &scan(&set, creds.as_bytes(), Some("root/.git-credentials"))
        ),
        ["github-pat-classic"]
    );
}

#[test]
fn allowlisted_values_and_placeholders_are_dropped() {
    let set = builtin();
    for text in [
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        "Authorization: token gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "curl -u sk_test_4eC39HqLyjWDarjtT1zdp7dc:",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "password: ${DB_PASSWORD}\napi_key = \"<your-api-key>\"\ntoken: {{ .Values.token }}\nsecret=changeme\n",
        "DATABASE_URL=postgres://app:$DB_PASSWORD@db/app",
        "SLACK_WEBHOOK=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\napi_token='********'\n",
    ] {
        let found = scan(&set, text.as_bytes(), None);
        assert!(found.is_empty(), "{text:?} -> {:?}", ids(&set, &found));
    }
}

#[test]
fn path_scoped_rules_need_the_right_path() {
    let set = builtin();
    let pypirc = b"[internal]\nusername = ci-bot\npassword = 8LkOiSALaPlc7VtmgVhA\n";
    assert_eq!(
        ids(&set, &scan(&set, pypirc, Some("root/.pypirc"))),
        ["pypirc-password"]
    );
    assert_eq!(
        ids(&set, &scan(&set, pypirc, Some("layer.tar!home/u/.pypirc"))),
        ["pypirc-password"]
    );
    assert_eq!(
        ids(&set, &scan(&set, pypirc, Some("root/.pypirc.bak"))),
        ["generic-secret-assignment"]
    );
    assert_eq!(
        ids(&set, &scan(&set, pypirc, None)),
        ["generic-secret-assignment"]
    );

    let dotenv = b"DB_PASSWORD=supersecretpassword\n";
    assert_eq!(
        ids(
            &set,
            &scan(&set, dotenv, Some("app/bundle.tar.gz!config/.env"))
        ),
        ["dotenv-secret"]
    );
    assert!(scan(&set, dotenv, Some("app/.env.example")).is_empty());
    assert!(scan(&set, dotenv, Some("app/notes.txt")).is_empty());
}

#[test]
fn matches_are_sorted_and_deduplicated() {
    let set = builtin();
    let text = format!(
        "b={GHP}\na=AKIATTPOBNLTQ7NE24RD\nc=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\nd={GHP}\n"
    );
    let found = scan(&set, text.as_bytes(), None);
    assert_eq!(
        ids(&set, &found),
        [
            "github-pat-classic",
            "aws-access-key-id",
            "npm-access-token",
            "github-pat-classic"
        ]
    );
    assert!(found.windows(2).all(|w| w[0].span.start <= w[1].span.start));
    for m in &found {
        assert!(m.span.start <= m.secret.start && m.secret.end <= m.span.end);
    }

    // scan appends: existing entries are kept.
    let mut out = vec![Match {
        rule: 0,
        span: 0..1,
        secret: 0..1,
    }];
    set.scanner()
        .scan(text.as_bytes(), &Context::default(), &mut out);
    assert_eq!(out.len(), 5);
}

#[test]
fn encrypted_keys_are_reported_by_the_encrypted_rule() {
    let set = builtin();
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABB6ZR1hwn
XNfg252DkgndtZAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIMFVeAErj4/dLDMG
sFuIV/Nl/3KBi5BDV0sc35yS6gaIAAAAkBHKd9jnSsHdpH/XaKz944eKbs2axDeGyiKOXs
nx6+o3tB/RU4Hi4pbomwLG0QcYKhxUAkxdcwZ5K+qSs3Q8FL1UNLNT3eztB6gDlNMUAHzh
UYWHLKuAQNH4rijx3Yb9gR73GDd8oaR9pMRezyH+BFrlOnIXpDMiG2eBgn4sSgGYNstkHC
ZBXER39OC8e/2aog==
-----END OPENSSH PRIVATE KEY-----
";
    let found = scan(&set, key.as_bytes(), Some("root/.ssh/id_ed25519"));
    assert_eq!(ids(&set, &found), ["private-key-encrypted"]);
    assert_eq!(
        &key.as_bytes()[found[0].secret.clone()],
        key.trim_end().as_bytes()
    );
}

#[test]
fn match_path_uses_the_innermost_member() {
    let set = builtin();
    let scanner = set.scanner();
    let id = |path: &str| scanner.match_path(path).map(|i| set.rule(i).id.clone());
    assert_eq!(
        id("root/.ssh/id_rsa").as_deref(),
        Some("sensitive-file-ssh-key")
    );
    assert_eq!(
        id("app/bundle.tar.gz!config/.env").as_deref(),
        Some("sensitive-file-dotenv")
    );
    assert_eq!(id("config/.env!app/readme.md"), None);
    assert_eq!(id("root/.ssh/id_rsa.pub"), None);
}

#[test]
fn custom_rules_from_yaml() {
    let yaml = r#"
rules:
  - id: acme-token
    name: ACME token
    description: Internal ACME API token.
    severity: high
    keywords: [acme_]
    regex: '\bacme_(?P<secret>[a-z0-9]{16})\b'
    examples: ['ACME=acme_k2j4h5g6f7d8s9a0']
    negative_examples: ['ACME=acme_xxxxxxxxxxxxxxxx', 'ACME=acme_short']
"#;
    let set = RuleSet::from_yaml("acme.yml", yaml).unwrap();
    assert!(
        set.example_failures().is_empty(),
        "{:?}",
        set.example_failures()
    );
    let found = scan(&set, b"x acme_k2j4h5g6f7d8s9a0 y", None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].secret, 7..23, "named `secret` group");

    // A failing example is reported with the rule id and the example.
    let broken = yaml.replace(
        "examples: ['ACME=acme_k2j4h5g6f7d8s9a0']",
        "examples: ['ACME=acme_TOO_SHORT']",
    );
    let failures = RuleSet::from_yaml("acme.yml", &broken)
        .unwrap()
        .example_failures();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].contains("acme-token") && failures[0].contains("acme_TOO_SHORT"),
        "{}",
        failures[0]
    );
}

#[test]
fn large_window_of_noise_is_fine() {
    let set = builtin();
    // ~1.1 MiB of keyword-rich text with one real token at the end.
    let mut hay = Vec::with_capacity(1_200_000);
    while hay.len() < 1_150_000 {
        hay.extend_from_slice(
            b"token = self.token; password: getpass(); eyJhbGciOi AKIA machine \x00\xff\r\n",
        );
    }
    hay.extend_from_slice(GHP.as_bytes());
    let found = scan(&set, &hay, Some("app/big.js"));
    assert_eq!(ids(&set, &found), ["github-pat-classic"]);
}

#[test]
fn a_token_refuted_by_its_checksum_is_not_reported_by_generic_rules_either() {
    let set = builtin();
    let bad = "ghp_hDAEYqL62pBum9BIy2ewA5s02KGvdi1mBJcY"; // last character changed
    for (text, path) in [
        (format!("GITHUB_TOKEN={bad}\n"), Some("app/.env")),
        (
            format!("github_token = \"{bad}\"\n"),
            Some("app/settings.py"),
        ),
        (format!("GITHUB_TOKEN={bad}"), None),
    ] {
        let found = scan(&set, text.as_bytes(), path);
        assert!(
            found.is_empty(),
            "{text:?} at {path:?}: {:?}",
            ids(&set, &found)
        );
    }
    // The valid token in the same places is reported once, by its own rule.
    let found = scan(
        &set,
        format!("GITHUB_TOKEN={GHP}\n").as_bytes(),
        Some("app/.env"),
    );
    assert_eq!(ids(&set, &found), vec!["github-pat-classic"]);
}

#[test]
fn binary_content_skips_generic_rules_but_not_token_formats() {
    let set = builtin();
    let mut blob = vec![0u8, 1, 2, 0x7f, b'E', b'L', b'F'];
    blob.extend_from_slice(b"\0password = \"Zq8#kL2!vR9pW4xT\"\0");
    blob.extend_from_slice(format!("\0{GHP}\0").as_bytes());
    let mut out = Vec::new();
    set.scanner().scan(
        &blob,
        &Context {
            path: Some("usr/bin/app"),
            binary: true,
        },
        &mut out,
    );
    assert_eq!(ids(&set, &out), vec!["github-pat-classic"]);
    let mut out = Vec::new();
    set.scanner().scan(
        &blob,
        &Context {
            path: Some("usr/bin/app"),
            binary: false,
        },
        &mut out,
    );
    assert!(
        ids(&set, &out).contains(&"generic-secret-assignment"),
        "{:?}",
        ids(&set, &out)
    );
}

#[test]
fn no_example_is_reported_twice_for_the_same_secret() {
    let set = builtin();
    let mut problems = Vec::new();
    for (idx, rule) in set.rules().iter().enumerate() {
        if rule.kind != RuleKind::Content {
            continue;
        }
        let (positive, _) = set.examples(idx);
        for (path, text) in positive {
            let found = scan(&set, text.as_bytes(), path.filter(|p| !p.is_empty()));
            for (i, a) in found.iter().enumerate() {
                for b in &found[i + 1..] {
                    if a.secret == b.secret {
                        problems.push(format!(
                            "{}: `{}` and `{}` both report {:?}",
                            rule.id,
                            set.rule(a.rule).id,
                            set.rule(b.rule).id,
                            &text[a.secret.clone()]
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} double reports:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
