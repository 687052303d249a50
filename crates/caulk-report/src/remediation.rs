//! Fix advice specific to how a secret reached the image.
//! ENV → inject at run time; build arg → secret mount; copied file → .dockerignore plus a mount;
//! SSH key → ssh mount; a deleted-but-present file → rebuild without it and rotate.

use crate::model::{Location, LocationKind};

/// What the advice depends on besides the location.
pub struct FixInput<'a> {
    pub rule_id: &'a str,
    pub location: &'a Location,
}

fn is_ssh_key(rule_id: &str) -> bool {
    rule_id.starts_with("private-key-openssh")
        || rule_id == "sensitive-file-ssh-key"
        || rule_id == "private-key-putty"
}

fn mount_id(key: &str) -> String {
    key.to_ascii_lowercase().replace('_', "-")
}

/// The verb of a cleaned instruction (`COPY`, `RUN`, ...), if it has one.
fn verb(instruction: Option<&str>) -> Option<&str> {
    let first = instruction?.split_whitespace().next()?;
    first
        .chars()
        .all(|c| c.is_ascii_uppercase())
        .then_some(first)
}

/// The advice for one finding.
pub fn advice(input: &FixInput<'_>) -> String {
    let loc = input.location;
    let rotate = "The value is in every copy of the image already: rotate it.";
    match loc.kind {
        LocationKind::ConfigEnv => {
            let key = loc.key.as_deref().unwrap_or("the variable");
            format!(
                "Remove `ENV {key}` from the Dockerfile (and any base that sets it) and inject it at run time: \
                 Compose `secrets:` or `environment:` from the host, Kubernetes `valueFrom.secretKeyRef` or a \
                 secret volume, `docker run --env-file`. If the build needs it, use \
                 `RUN --mount=type=secret,id={id},env={key}`. {rotate}",
                id = mount_id(key)
            )
        }
        LocationKind::ConfigLabel => format!(
            "Labels are public metadata (`docker inspect` shows them): remove the secret from `LABEL {}`. {rotate}",
            loc.key.as_deref().unwrap_or("")
        ),
        LocationKind::ConfigCmd | LocationKind::ConfigEntrypoint => format!(
            "Do not bake the secret into the default command: read it at run time from an environment variable \
             or a mounted secret file (`/run/secrets/...`) supplied by the orchestrator. {rotate}"
        ),
        LocationKind::ConfigOther => format!(
            "Remove the secret from the image configuration and supply it at run time from a secret store. {rotate}"
        ),
        LocationKind::Attestation => format!(
            "BuildKit's provenance in `mode=max` records every build argument's value. Pass the secret with \
             `RUN --mount=type=secret` and `docker build --secret` instead of `--build-arg`, or build with \
             `--provenance=mode=min`; delete the pushed attestation (re-push the image index without it). {rotate}"
        ),
        LocationKind::History => match &loc.key {
            Some(key) => format!(
                "Build argument `{key}` is recorded in the history of every RUN after `ARG {key}` \
                 (`docker history --no-trunc` shows it). Remove `ARG {key}`, use \
                 `RUN --mount=type=secret,id={id},env={key} ...` in the steps that need it, and build with \
                 `docker build --secret id={id},env={key}` (GitHub Actions: `secrets: {id}=${{{{ secrets.{key} }}}}` \
                 in docker/build-push-action). {rotate}",
                id = mount_id(key)
            ),
            None => match verb(loc.instruction.as_deref()) {
                Some("ENV") => format!(
                    "The ENV instruction is kept in the image history as well as in the config: remove it and inject \
                     the value at run time. {rotate}"
                ),
                Some("LABEL") => format!("Remove the secret from the LABEL instruction. {rotate}"),
                _ => format!(
                    "The command text of each build step is stored in the image history: never write a secret into \
                     a RUN line. Pass it with `RUN --mount=type=secret,id=...` and `docker build --secret`. {rotate}"
                ),
            },
        },
        LocationKind::Layer => layer_advice(input, rotate),
    }
}

fn layer_advice(input: &FixInput<'_>, rotate: &str) -> String {
    let loc = input.location;
    let path = loc.path.as_deref().unwrap_or("the file");
    let outer = path.split('!').next().unwrap_or(path);
    let how = if is_ssh_key(input.rule_id) {
        "Do not put SSH keys in an image: add the key to `.dockerignore`, use `RUN --mount=type=ssh git clone ...` \
         (seed known_hosts with `ssh-keyscan HOST >> /etc/ssh/ssh_known_hosts` first) and build with \
         `docker build --ssh default`; at run time forward the agent socket (`SSH_AUTH_SOCK`) instead of \
         mounting `~/.ssh`."
            .to_string()
    } else {
        match verb(loc.instruction.as_deref()) {
            Some("COPY") | Some("ADD") => format!(
                "`/{outer}` was copied from the build context: add it to `.dockerignore`, and if the build needs it, \
                 read it from `RUN --mount=type=secret,id=NAME,target=/run/secrets/NAME` with \
                 `docker build --secret id=NAME,src=PATH`; at run time mount it as a secret (Compose `secrets:`, a \
                 Kubernetes secret volume) instead of shipping it."
            ),
            Some("RUN") => format!(
                "A RUN step wrote `/{outer}`: obtain the secret inside `RUN --mount=type=secret,...` and do not \
                 persist it, or write the file at run time from a mounted secret."
            ),
            _ => format!(
                "Remove `/{outer}` from the image (check the base image and any `COPY --from` stage that brings it) \
                 and supply it at run time as a mounted secret."
            ),
        }
    };
    match (loc.visible, loc.shadow, loc.shadowed_by_layer) {
        (Some(false), Some(shadow), Some(by)) => format!(
            "The file was {} by layer {by}, but its bytes are still in layer {} and anyone with the image can extract \
             them: a later `rm` cannot remove a file from an earlier layer. Rebuild so the secret never enters a \
             layer (multi-stage build shipping only the artifact, or a secret mount). {how} {rotate}",
            shadow.verb(),
            loc.layer_index.unwrap_or(0)
        ),
        _ => format!("{how} {rotate}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Shadow;

    #[test]
    fn build_arg_advice_names_the_secret_mount() {
        let mut loc = Location::new(LocationKind::History);
        loc.key = Some("NPM_TOKEN".into());
        let a = advice(&FixInput {
            rule_id: "npm-access-token",
            location: &loc,
        });
        assert!(
            a.contains("--mount=type=secret,id=npm-token,env=NPM_TOKEN"),
            "{a}"
        );
        assert!(
            a.contains("docker build --secret id=npm-token,env=NPM_TOKEN"),
            "{a}"
        );
    }

    #[test]
    fn deleted_file_advice_says_rebuild_and_rotate() {
        let mut loc = Location::new(LocationKind::Layer);
        loc.layer_index = Some(2);
        loc.path = Some("app/.env".into());
        loc.visible = Some(false);
        loc.shadow = Some(Shadow::Deleted);
        loc.shadowed_by_layer = Some(3);
        loc.instruction = Some("COPY file:abc in /app/.env".into());
        let a = advice(&FixInput {
            rule_id: "dotenv-secret",
            location: &loc,
        });
        assert!(a.contains("deleted by layer 3"), "{a}");
        assert!(a.contains(".dockerignore"), "{a}");
        assert!(a.contains("rotate"), "{a}");
    }

    #[test]
    fn ssh_key_advice_uses_the_ssh_mount() {
        let mut loc = Location::new(LocationKind::Layer);
        loc.path = Some("root/.ssh/id_rsa".into());
        loc.visible = Some(true);
        loc.instruction = Some("COPY file:abc in /root/.ssh/id_rsa".into());
        let a = advice(&FixInput {
            rule_id: "private-key-openssh",
            location: &loc,
        });
        assert!(a.contains("--mount=type=ssh"), "{a}");
        assert!(a.contains("--ssh default"), "{a}");
    }
}
