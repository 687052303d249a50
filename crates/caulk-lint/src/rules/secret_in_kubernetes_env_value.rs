//! CK301: a literal secret in a Kubernetes container's `env[].value`.

use std::collections::HashSet;

use super::names::{literal_value, secret_key};
use super::yaml_walk::{
    containers, describe, documents, first_line_span, objects, pod_spec, secrets_in_value,
    value_span,
};
use super::{Check, FileChecker, RuleInfo, SecretValue, Target};
use crate::yaml::Node;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK301",
    name: "secret-in-kubernetes-env-value",
    severity: Severity::High,
    summary: "A literal secret in a Kubernetes container's env value",
    docs: DOCS,
    target: Target::Kubernetes,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Looks at the `env` of every container and init container of Pods, Deployments, StatefulSets,
DaemonSets, ReplicaSets, Jobs and CronJobs (every document of the file), and flags an
`env[].value` that:

- caulk's secret rules (the same ones `caulk image` uses) recognise as a credential; or
- is a literal assigned to a name that says it holds a secret (`DB_PASSWORD`, `API_KEY`, see
  CK101).

Values taken with `valueFrom`, references to other variables (`$(DB_PASSWORD)`), placeholders and
values that are paths, booleans, numbers or versions are not flagged.

## Why is this bad
The manifest is committed, so everyone who can read the repository has the credential. In the
cluster the value is part of the workload's spec: anyone allowed to `get` the Deployment (many
more people and controllers than may read Secrets) sees it, and it ends up in `kubectl describe`
output, audit logs and GitOps dashboards.

## Example
```yaml
      containers:
        - name: app
          env:
            - name: DB_PASSWORD
              value: S3cr3tPw9x
```

## Use instead
Rotate the credential, keep it in a Secret (created outside the repository, or committed
encrypted with sealed-secrets or SOPS, or synced by the External Secrets Operator) and reference
it:
```yaml
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: api-secrets
                  key: db-password
```

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut FileChecker<'_>) {
    let docs = documents(cx.text);
    let mut seen = HashSet::new();
    for obj in objects(&docs) {
        let Some(spec) = pod_spec(obj) else { continue };
        let workload = describe(obj);
        let secret_name = format!(
            "{}-secrets",
            obj.path(&["metadata", "name"])
                .and_then(Node::as_str)
                .unwrap_or("app")
        );
        for c in containers(spec) {
            for var in c.node.get("env").and_then(Node::as_seq).unwrap_or(&[]) {
                let Some(name) = var.get("name").and_then(Node::as_str) else {
                    continue;
                };
                let Some(value_node) = var.get("value") else {
                    continue;
                };
                let Some(value) = value_node.as_str() else {
                    continue;
                };
                let key = name.to_ascii_lowercase().replace('_', "-");
                let remediation = format!(
                    "rotate it, store it in a Secret and reference it: `- name: {name}` with `valueFrom: {{secretKeyRef: {{name: {secret_name}, key: {key}}}}}` (create the Secret outside the repository, e.g. `kubectl create secret generic {secret_name} --from-literal={key}=...`, or commit it encrypted with sealed-secrets or SOPS)"
                );
                let where_ = format!("{workload}, {}", c.describe());
                let why = "the manifest is committed and the value is visible to anyone who can read the workload";
                let found = secrets_in_value(cx, name, value);
                if found.is_empty() {
                    if !secret_key(name) || !literal_value(value) {
                        continue;
                    }
                    let span = first_line_span(cx.text, value_node, 0..value.len());
                    if !seen.insert((span.start, span.end)) {
                        continue;
                    }
                    cx.report(
                        span,
                        Some(name.to_string()),
                        format!(
                            "{where_}: env {name}, named like a secret, has a literal value: {why}"
                        ),
                        remediation,
                        Some(SecretValue {
                            bytes: value.trim().as_bytes(),
                        }),
                    );
                    continue;
                }
                for f in found {
                    let span = value_span(value_node, f.range.clone());
                    if !seen.insert((span.start, span.end)) {
                        continue;
                    }
                    cx.report(
                        span,
                        Some(name.to_string()),
                        match &f.what {
                            Some(secret) => format!("{where_}: env {name} holds {secret}: {why}"),
                            None => format!("{where_}: env {name}, named like a secret, has a literal value: {why}"),
                        },
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
