//! CK303: a Kubernetes `Secret` manifest committed with its values.

use std::collections::HashSet;

use super::names::{literal_value, secret_key};
use super::yaml_walk::{
    decode_base64, describe, documents, first_line_span, kind, objects, secrets_in_value,
    value_span,
};
use super::{Check, FileChecker, RuleInfo, SecretValue, Target};
use crate::yaml::Node;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK303",
    name: "committed-kubernetes-secret",
    severity: Severity::High,
    summary: "A Kubernetes Secret manifest with real values in data or stringData",
    docs: DOCS,
    target: Target::Kubernetes,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Looks at every `kind: Secret` (every document of the file) and flags each value of `data`
(decoded from base64) and `stringData` that is set. When caulk's secret rules (the same ones
`caulk image` uses) recognise a credential in the decoded value, the finding names it and carries
its fingerprint, so it can be matched with what `caulk image` finds.

Not flagged: empty values, placeholders (`changeme`, `<password>`, `${DB_PASSWORD}`,
`REPLACE_ME`, ...), values that are paths, booleans, numbers or versions, certificates without a
private key (`tls.crt`, `ca.crt`), and settings that are not secret by themselves (`username`,
`host`, `port`, `database`, ...) unless caulk's rules find a credential in them. A
`kubernetes.io/service-account-token` Secret without data (Kubernetes fills it in) has nothing to
flag.

## Why is this bad
The values of `data` are base64-encoded, not encrypted: `base64 -d` reveals them, and
`stringData` is plain text. Everyone who can read the repository has the credentials, and they
stay in its history after the file is removed.

## Example
```yaml
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
type: Opaque
stringData:
  password: S3cr3tPw9x
```

## Use instead
Rotate the credentials and do not commit Secret manifests with real values. Commit one of:

- a `SealedSecret` (bitnami sealed-secrets: `kubeseal < secret.yaml > sealed-secret.yaml`), which
  only the cluster can decrypt;
- the Secret encrypted with SOPS (`sops --encrypt --encrypted-regex '^(data|stringData)$'`),
  decrypted by Flux, Argo CD or helm-secrets at deploy time;
- an `ExternalSecret` (External Secrets Operator) that pulls the values from Vault, AWS Secrets
  Manager, GCP Secret Manager or Azure Key Vault;

or create the Secret out of band (`kubectl create secret generic db-credentials
--from-literal=password=...`).

## Fix safety
No automatic fix.
"#;

/// Keys that name a setting, not a credential: reported only when caulk's rules find a secret in
/// them.
const SETTINGS: &[&str] = &[
    "USER",
    "USERNAME",
    "LOGIN",
    "EMAIL",
    "HOST",
    "HOSTNAME",
    "PORT",
    "DATABASE",
    "DB",
    "DBNAME",
    "SCHEMA",
    "NAMESPACE",
    "REGION",
    "ZONE",
    "URL",
    "URI",
    "ENDPOINT",
    "SERVER",
    "ADDRESS",
    "DOMAIN",
    "NAME",
    "ID",
    "CLIENT_ID",
    "ACCOUNT",
    "PROJECT",
    "BUCKET",
    "PROTOCOL",
    "SCHEME",
    "SSLMODE",
];

fn setting(key: &str) -> bool {
    if secret_key(key) {
        return false;
    }
    let norm = key.replace(['.', '-'], "_").to_ascii_uppercase();
    SETTINGS
        .iter()
        .any(|s| norm == *s || norm.strip_suffix(s).is_some_and(|head| head.ends_with('_')))
}

/// PEM text made only of certificates (public), no private key.
fn only_certificates(value: &str) -> bool {
    value.contains("-----BEGIN CERTIFICATE-----") && !value.contains("PRIVATE KEY")
}

fn check(cx: &mut FileChecker<'_>) {
    let docs = documents(cx.text);
    let mut seen = HashSet::new();
    for obj in objects(&docs) {
        if kind(obj) != "Secret" {
            continue;
        }
        let secret = describe(obj);
        let name = obj
            .path(&["metadata", "name"])
            .and_then(Node::as_str)
            .unwrap_or("app-secrets");
        let secret_type = obj.get("type").and_then(Node::as_str).unwrap_or("Opaque");
        for section in ["data", "stringData"] {
            let Some(entries) = obj.get(section).and_then(Node::as_map) else {
                continue;
            };
            let encoded = section == "data";
            for (k, v) in entries {
                let (Some(key), Some(raw)) = (k.as_str(), v.as_str()) else {
                    continue;
                };
                if raw.trim().is_empty() {
                    continue;
                }
                let value = if encoded {
                    // Not base64: a template (`${DB_PASSWORD_B64}`) or a value kubectl refuses.
                    match decode_base64(raw) {
                        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                        None => continue,
                    }
                } else {
                    raw.to_string()
                };
                if value.trim().is_empty() || only_certificates(&value) {
                    continue;
                }
                let create = if secret_type == "kubernetes.io/dockerconfigjson" {
                    format!("kubectl create secret docker-registry {name} --docker-server=... --docker-username=... --docker-password=...")
                } else if value.trim_end().contains('\n') {
                    format!("kubectl create secret generic {name} --from-file={key}=./{key}")
                } else {
                    format!("kubectl create secret generic {name} --from-literal={key}=...")
                };
                let remediation = format!(
                    "rotate it and do not commit {secret} with real values: commit a SealedSecret (`kubeseal`) or a SOPS-encrypted manifest, or an ExternalSecret that pulls `{key}` from your secret store, or create it out of band with `{create}`"
                );
                let how = if encoded {
                    "base64 in `data` is an encoding, not encryption"
                } else {
                    "`stringData` is plain text"
                };
                let found = secrets_in_value(cx, key, &value);
                if found.is_empty() {
                    if setting(key) || !literal_value(&value) {
                        continue;
                    }
                    let span = first_line_span(cx.text, v, 0..raw.len());
                    if !seen.insert((span.start, span.end)) {
                        continue;
                    }
                    cx.report(
                        span,
                        Some(key.to_string()),
                        format!("{secret} commits a value in `{section}` key `{key}`: {how}, so anyone who can read the repository has it"),
                        remediation,
                        Some(SecretValue {
                            bytes: value.trim().as_bytes(),
                        }),
                    );
                    continue;
                }
                for f in found {
                    // A secret inside a base64 value cannot be pointed at; the value is.
                    let span = if encoded {
                        first_line_span(cx.text, v, 0..raw.len())
                    } else {
                        value_span(v, f.range.clone())
                    };
                    if !seen.insert((span.start, span.end)) {
                        continue;
                    }
                    cx.report(
                        span,
                        Some(key.to_string()),
                        format!(
                            "{secret} commits {} in `{section}` key `{key}`: {how}, so anyone who can read the repository has it",
                            f.what.as_deref().unwrap_or("a value")
                        ),
                        remediation.clone(),
                        Some(SecretValue {
                            bytes: &value.as_bytes()[f.range],
                        }),
                    );
                }
            }
        }
    }
}
