//! Which files `caulk lint` looks at under the paths it is given, and the build context of each
//! Dockerfile (its directory, filtered by `.dockerignore`).

use std::path::{Path, PathBuf};

use crate::dockerignore::{find_ignore_file, Dockerignore};
use crate::rules::BuildContext;

/// The kinds of files caulk lints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Dockerfile,
    Compose,
    Kubernetes,
    Ci,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Dockerfile => "dockerfile",
            FileKind::Compose => "compose",
            FileKind::Kubernetes => "kubernetes",
            FileKind::Ci => "ci",
        }
    }
}

/// `compose.yaml`, `docker-compose.prod.yml`, ...
pub fn is_compose(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".yml")
        .or_else(|| lower.strip_suffix(".yaml"));
    stem.is_some_and(|s| {
        let s = s.strip_prefix("docker-").unwrap_or(s);
        s == "compose" || s.starts_with("compose.") || s.starts_with("compose-")
    })
}

/// CI files and scripts: GitHub Actions workflows, `.gitlab-ci.yml`, shell scripts, Makefiles,
/// Jenkinsfiles.
pub fn is_ci(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    let in_workflows = path
        .parent()
        .is_some_and(|p| p.ends_with(".github/workflows") || p.ends_with(".github/actions"));
    (yaml
        && (in_workflows
            || name == ".gitlab-ci.yml"
            || name == "action.yml"
            || name == "action.yaml"))
        || name.ends_with(".sh")
        || name.ends_with(".bash")
        || name == "makefile"
        || name == "gnumakefile"
        || name.ends_with(".mk")
        || name == "jenkinsfile"
}

/// A YAML file with `apiVersion:` and `kind:` at the start of a line (sniffing the first 64 KiB).
fn is_kubernetes(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    if std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .is_err()
    {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    text.lines().any(|l| l.starts_with("apiVersion:"))
        && text.lines().any(|l| l.starts_with("kind:"))
}

/// What kind of file `path` is, if caulk lints it.
pub fn kind_of(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    if is_dockerfile(&name) {
        return Some(FileKind::Dockerfile);
    }
    if is_compose(&name) {
        return Some(FileKind::Compose);
    }
    if is_ci(path) {
        return Some(FileKind::Ci);
    }
    let lower = name.to_ascii_lowercase();
    if (lower.ends_with(".yml") || lower.ends_with(".yaml")) && is_kubernetes(path) {
        return Some(FileKind::Kubernetes);
    }
    None
}

/// Directories never descended into.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    ".venv",
    "venv",
    "__pycache__",
];

/// `Dockerfile`, `Containerfile`, `Dockerfile.prod`, `app.Dockerfile`, `x.containerfile`.
pub fn is_dockerfile(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (lower == "dockerfile"
        || lower == "containerfile"
        || lower.starts_with("dockerfile.")
        || lower.starts_with("containerfile.")
        || lower.ends_with(".dockerfile")
        || lower.ends_with(".containerfile"))
        && !lower.ends_with(".dockerignore")
        && !lower.ends_with(".md")
}

/// The files to lint under `paths`, sorted (a file given by name that is of no known kind is
/// linted as a Dockerfile).
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<(PathBuf, FileKind)>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)?;
        if meta.is_file() {
            out.push((p.clone(), kind_of(p).unwrap_or(FileKind::Dockerfile)));
            continue;
        }
        let mut stack = vec![p.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    if !SKIP_DIRS.contains(&name.as_str()) {
                        stack.push(path);
                    }
                } else if ft.is_file() {
                    if let Some(kind) = kind_of(&path) {
                        out.push((path, kind));
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A directory used as a build context.
pub struct DirContext {
    root: PathBuf,
    ignore: Option<Dockerignore>,
    /// Most files listed, so a huge directory cannot stall the lint.
    limit: usize,
}

impl DirContext {
    /// The context for `dockerfile`: its directory, with the `.dockerignore` that applies.
    /// Errors are a malformed `.dockerignore`.
    pub fn for_dockerfile(dockerfile: &Path) -> Result<DirContext, String> {
        let root = dockerfile
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let ignore = match find_ignore_file(&root, Some(dockerfile)) {
            None => None,
            Some(f) => {
                let text =
                    std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
                Some(Dockerignore::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?)
            }
        };
        Ok(DirContext {
            root,
            ignore,
            limit: 200_000,
        })
    }
}

impl BuildContext for DirContext {
    fn included(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel_path = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                if self.ignore.as_ref().is_some_and(|i| i.matches(&rel_path)) {
                    // An excluded directory may still have re-included children (`!dir/keep`);
                    // descend only when some pattern re-includes something.
                    let reincludes = self
                        .ignore
                        .as_ref()
                        .is_some_and(|i| i.patterns().iter().any(|p| p.starts_with('!')));
                    if !(reincludes && entry.file_type().is_ok_and(|t| t.is_dir())) {
                        continue;
                    }
                }
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    if name != ".git" {
                        stack.push((entry.path(), rel_path));
                    }
                } else if !self.ignore.as_ref().is_some_and(|i| i.matches(&rel_path)) {
                    out.push(rel_path);
                    if out.len() >= self.limit {
                        return out;
                    }
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        for yes in [
            "Dockerfile",
            "Containerfile",
            "Dockerfile.prod",
            "app.Dockerfile",
            "x.containerfile",
            "dockerfile",
        ] {
            assert!(is_dockerfile(yes), "{yes}");
        }
        for no in [
            "Dockerfile.dockerignore",
            "Dockerfile.md",
            "docker-compose.yml",
            "Makefile",
        ] {
            assert!(!is_dockerfile(no), "{no}");
        }
    }
}
