//! How likely a finding needs action: third-party and test trees hold vendor samples and test keys,
//! generic assignments are guesses, provider formats in the application are real.

use crate::model::{Confidence, Location, LocationKind};
use std::sync::OnceLock;

/// Paths that ship with packages, documentation or tests rather than the application.
const THIRD_PARTY: &[&str] = &[
    r"(^|/)(site-packages|dist-packages|node_modules|bower_components|vendor|\.venv|venv|\.npm|\.cache|\.cargo/registry|go/pkg/mod|gems)/",
    r"^usr/(share|lib|lib64|libexec|include)/",
    r"^usr/local/(lib|share|include)/",
    r"^(opt|usr/local)/[^/]+/(lib|share)/",
    r"^(var/lib/(dpkg|apt|rpm|yum|dnf)|etc/ssl/certs|etc/pki|etc/ca-certificates)/",
    r"(^|/)(tests?|testing|testdata|test[-_]data|__tests__|spec|fixtures?|examples?|samples?|docs?|man)/",
    r"(^|/)(test_[^/]*|[^/]*(_test|\.test|\.spec|_spec|-test)\.[A-Za-z0-9]+)$",
    r"(^|/)(README|CHANGELOG|CHANGES|HISTORY)[^/]*$",
    r"\.(md|rst|ipynb)$",
];

fn third_party() -> &'static regex::RegexSet {
    static SET: OnceLock<regex::RegexSet> = OnceLock::new();
    SET.get_or_init(|| regex::RegexSet::new(THIRD_PARTY).expect("valid patterns"))
}

/// Whether a path (nested members joined with `!`) lies in a third-party, documentation or test tree.
pub fn is_third_party(path: &str) -> bool {
    // Any component of the chain counts: `app/node_modules/x.tgz!package/test/key.pem`.
    path.split('!').any(|p| third_party().is_match(p))
}

/// The confidence of a finding of a rule at a location.
pub fn assess(generic: bool, file_name_only: bool, loc: &Location) -> Confidence {
    if loc.kind == LocationKind::Layer && loc.path.as_deref().is_some_and(is_third_party) {
        return Confidence::Low;
    }
    if generic || file_name_only {
        return Confidence::Medium;
    }
    Confidence::High
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(path: &str) -> Location {
        let mut l = Location::new(LocationKind::Layer);
        l.path = Some(path.into());
        l
    }

    #[test]
    fn third_party_and_test_trees_are_low() {
        for p in [
            "usr/lib/python3/dist-packages/botocore/data/ec2/2016-11-15/service-2.json",
            "opt/venv/lib/python3.11/site-packages/jwt/tests/keys/testkey_rsa.priv",
            "app/node_modules/jsonwebtoken/README.md",
            "usr/share/doc/openssl/README",
            "src/app/test/fixtures/key.pem",
            "app/vendor.tar.gz!vendor/x/key.pem",
        ] {
            assert_eq!(assess(false, false, &layer(p)), Confidence::Low, "{p}");
        }
    }

    #[test]
    fn application_paths_and_config_are_high() {
        for p in [
            "app/.env",
            "root/.aws/credentials",
            "srv/config.yaml",
            "app/bundle.tar.gz!config/.env",
            "app/latest_config.yml",
            "app/secrets.txt",
        ] {
            assert_eq!(assess(false, false, &layer(p)), Confidence::High, "{p}");
        }
        assert_eq!(
            assess(false, false, &Location::new(LocationKind::ConfigEnv)),
            Confidence::High
        );
        assert_eq!(
            assess(true, false, &layer("app/settings.py")),
            Confidence::Medium
        );
        assert_eq!(
            assess(false, true, &layer("root/.ssh/id_rsa")),
            Confidence::Medium
        );
    }
}
