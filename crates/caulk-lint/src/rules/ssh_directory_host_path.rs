//! CK304: a Kubernetes `hostPath` volume that mounts a node's SSH keys into a pod.

use std::collections::HashSet;

use super::names::ssh_key_path;
use super::yaml_walk::{containers, describe, documents, first_line_span, objects, pod_spec};
use super::{Check, FileChecker, RuleInfo, Target};
use crate::yaml::Node;
use caulk_rules::Severity;

pub(crate) static RULE: RuleInfo = RuleInfo {
    code: "CK304",
    name: "ssh-directory-host-path",
    severity: Severity::High,
    summary: "A hostPath volume that mounts an SSH directory or private key of the node",
    docs: DOCS,
    target: Target::Kubernetes,
    check: Check::File(check),
};

const DOCS: &str = r#"## What it does
Flags a `hostPath` volume, in the pod spec of a Pod, Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job or CronJob, whose `path` is an SSH directory (`/root/.ssh`, `/home/<user>/.ssh`,
any path ending in `/.ssh`) or a private key in one (`/root/.ssh/id_ed25519`). The message names
the containers that mount the volume. `known_hosts`, `config` and public keys (`*.pub`) are not
flagged.

## Why is this bad
The pod can read the node's private keys: every process in it, anyone who can `kubectl exec`
into it, and anything that compromises it. Those keys typically reach every other node, or the
repositories the node deploys from; a single vulnerable container becomes a way into all of them.
Pods also move between nodes, so the keys of whichever node they land on are exposed.

## Example
```yaml
      volumes:
        - name: ssh
          hostPath:
            path: /root/.ssh
```

## Use instead
Give the workload its own, narrowly scoped key (a deploy key for the one repository it needs)
in a Secret, and mount that read-only:
```yaml
      volumes:
        - name: ssh
          secret:
            secretName: git-deploy-key
            defaultMode: 0400
```
Create the Secret out of band (`kubectl create secret generic git-deploy-key
--from-file=id_ed25519=./deploy_key --from-file=known_hosts`) or commit it sealed or encrypted.

## Fix safety
No automatic fix.
"#;

fn check(cx: &mut FileChecker<'_>) {
    let docs = documents(cx.text);
    let mut seen = HashSet::new();
    for obj in objects(&docs) {
        let Some(spec) = pod_spec(obj) else { continue };
        let workload = describe(obj);
        let key_secret = format!(
            "{}-ssh-key",
            obj.path(&["metadata", "name"])
                .and_then(Node::as_str)
                .unwrap_or("app")
        );
        for volume in spec.get("volumes").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(path_node) = volume.path(&["hostPath", "path"]) else {
                continue;
            };
            let Some(path) = path_node.as_str() else {
                continue;
            };
            if !ssh_key_path(path) {
                continue;
            }
            let volume_name = volume.get("name").and_then(Node::as_str).unwrap_or("?");
            let span = first_line_span(cx.text, path_node, 0..path.len());
            if !seen.insert((span.start, span.end)) {
                continue;
            }
            let mut users = Vec::new();
            for c in containers(spec) {
                for m in c
                    .node
                    .get("volumeMounts")
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                {
                    if m.get("name").and_then(Node::as_str) != Some(volume_name) {
                        continue;
                    }
                    let at = m.get("mountPath").and_then(Node::as_str).unwrap_or("?");
                    users.push(format!("{} at {at}", c.describe()));
                }
            }
            let used = if users.is_empty() {
                String::new()
            } else {
                format!(", mounted by {}", users.join(" and "))
            };
            let what = if path.trim_end_matches('/').ends_with(".ssh") {
                "SSH directory"
            } else {
                "SSH private key"
            };
            cx.report(
                span,
                Some(volume_name.to_string()),
                format!(
                    "{workload} mounts the node's {what} {path} as hostPath volume `{volume_name}`{used}: the pod can read and copy the node's private keys"
                ),
                format!(
                    "replace the hostPath with a Secret holding a key made for this workload: `- name: {volume_name}` with `secret: {{secretName: {key_secret}, defaultMode: 0400}}` (created out of band with `kubectl create secret generic {key_secret} --from-file=id_ed25519=... --from-file=known_hosts=...`, or sealed/encrypted)"
                ),
                None,
            );
        }
    }
}
