//! CK302: a secret in a Kubernetes ConfigMap's `data` or `binaryData`.

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
    code: "CK302",
    name: "secret-in-configmap",
    severity: Severity::High,
    summary: "A secret in a Kubernetes ConfigMap",
    docs: DOCS,
    target: Target::Kubernetes,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Looks at every `ConfigMap` (every document of the file) and flags an entry of `data` or
`binaryData` (decoded from base64) that:

- holds something caulk's secret rules (the same ones `caulk image` uses) recognise as a
  credential, anywhere in it: a whole configuration file in one key is scanned line by line, and
  the finding points at the line of the secret; or
- has a key that says it holds a secret (`DB_PASSWORD`, `api-key`, `db.password`, see CK101) and
  a literal value.

Placeholders, references (`${DB_PASSWORD}`) and values that are paths, booleans, numbers or
versions are not flagged.

## Why is this bad
ConfigMaps are meant for configuration that is not secret: they are readable by anyone allowed to
`get configmaps` in the namespace (a permission handed out far more widely than for Secrets), they
are not encrypted at rest even where Secrets are, and tools print them freely. And the manifest is
committed, so everyone who can read the repository has the credential.

## Example
```yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: api-config
data:
  DATABASE_URL: postgres://app:S3cr3tPw9x@db:5432/app
```

## Use instead
Rotate the credential and move it to a Secret that is not committed in clear (created out of
band, sealed with sealed-secrets, encrypted with SOPS, or synced from a secret store by the
External Secrets Operator); read it with `valueFrom.secretKeyRef`, `envFrom.secretRef` or a
`secret` volume, and keep only non-secret settings in the ConfigMap.

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut FileChecker<'_>) {
    let docs = documents(cx.text);
    let mut seen = HashSet::new();
    for obj in objects(&docs) {
        if kind(obj) != "ConfigMap" {
            continue;
        }
        let configmap = describe(obj);
        let name = obj
            .path(&["metadata", "name"])
            .and_then(Node::as_str)
            .unwrap_or("app-config");
        let secret = format!("{}-secrets", name.trim_end_matches("-config"));
        for section in ["data", "binaryData"] {
            let Some(entries) = obj.get(section).and_then(Node::as_map) else {
                continue;
            };
            for (k, v) in entries {
                let (Some(key), Some(raw)) = (k.as_str(), v.as_str()) else {
                    continue;
                };
                let binary = section == "binaryData";
                let value = if binary {
                    match decode_base64(raw) {
                        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                        None => continue,
                    }
                } else {
                    raw.to_string()
                };
                let from = if binary || value.trim_end().contains('\n') {
                    format!("--from-file={key}=./{key}")
                } else {
                    format!("--from-literal={key}=...")
                };
                let remediation = format!(
                    "rotate it and move `{key}` out of {configmap} into a Secret that is not committed in clear (e.g. `kubectl create secret generic {secret} {from}`, a SealedSecret, a SOPS-encrypted file or an ExternalSecret); read it with `secretKeyRef` or a `secret` volume"
                );
                let why = "ConfigMaps are readable by anyone who may read the namespace's configuration and are not encrypted at rest, and the manifest is committed";
                let found = secrets_in_value(cx, key, &value);
                if found.is_empty() {
                    if !secret_key(key) || !literal_value(&value) {
                        continue;
                    }
                    let span = first_line_span(cx.text, v, 0..raw.len());
                    if !seen.insert((span.start, span.end)) {
                        continue;
                    }
                    cx.report(
                        span,
                        Some(key.to_string()),
                        format!("{configmap} has a literal value in `{section}` key `{key}`, named like a secret: {why}"),
                        remediation,
                        Some(SecretValue {
                            bytes: value.trim().as_bytes(),
                        }),
                    );
                    continue;
                }
                for f in found {
                    // A secret inside a base64 value cannot be pointed at; the value is.
                    let span = if binary {
                        first_line_span(cx.text, v, 0..raw.len())
                    } else {
                        value_span(v, f.range.clone())
                    };
                    if !seen.insert((span.start, span.end)) {
                        continue;
                    }
                    let encoded = if binary { " (base64-encoded)" } else { "" };
                    let has = match &f.what {
                        Some(secret) => format!("has {secret}{encoded} in `{section}` key `{key}`"),
                        None => format!("has a literal value{encoded} in `{section}` key `{key}`, named like a secret"),
                    };
                    cx.report(
                        span,
                        Some(key.to_string()),
                        format!("{configmap} {has}: {why}"),
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
