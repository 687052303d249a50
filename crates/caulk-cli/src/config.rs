//! The configuration file: `caulk.toml` (custom rules, rule selection, severity overrides,
//! allowlists, scan defaults), or a gitleaks configuration loaded as it is.

use caulk_report::filter::{Allowlist, Filters, Selector, Target};
use caulk_report::Confidence;
use caulk_rules::{RuleSet, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a configuration file contributes to a run.
#[derive(Default)]
pub struct Loaded {
    /// Where it came from (for messages), if a file was read.
    pub source: Option<PathBuf>,
    /// Whether the built-in rules are used.
    pub builtin: bool,
    /// Extra rule files in caulk's YAML format: (name, text).
    pub rule_files: Vec<(String, String)>,
    pub filters: Filters,
    pub fail_on: Option<Severity>,
    /// `[lint]`: rule codes or names never reported, and per-path ignores.
    pub lint: LintConfig,
}

/// The `[lint]` section.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// Lint rule codes (`CK101`) or names not to report anywhere.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// `[[lint.paths]]`: rules not to report in files matching a glob.
    #[serde(default)]
    pub paths: Vec<LintPathIgnore>,
    pub fail_on: Option<Severity>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct LintPathIgnore {
    /// A glob on the file's path as shown in the report (`legacy/**`, `**/Dockerfile.dev`).
    pub path: String,
    /// Codes or names; empty means every rule.
    #[serde(default)]
    pub ignore: Vec<String>,
}

impl Loaded {
    fn new() -> Loaded {
        Loaded {
            builtin: true,
            ..Default::default()
        }
    }

    /// The rule set: built-in rules (unless a gitleaks config without `useDefault`) plus the extra files.
    pub fn rule_set(&self) -> Result<RuleSet, String> {
        let builtin = caulk_rules::BUILTIN_RULE_FILES
            .iter()
            .copied()
            .filter(|_| self.builtin);
        let extra = self
            .rule_files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()));
        RuleSet::from_files(builtin.chain(extra)).map_err(|e| e.to_string())
    }
}

/// Finds and reads the configuration: `--config PATH`, else `caulk.toml` or `.caulk.toml` in the
/// working directory, else none.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, String> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match ["caulk.toml", ".caulk.toml"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
        {
            Some(p) => p,
            None => return Ok(Loaded::new()),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: toml::Value =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    // gitleaks configurations have `[[rules]]` at the top level (an array); caulk's has a `[rules]` table.
    let gitleaks = value.get("rules").is_some_and(|r| r.is_array())
        || value.get("extend").is_some()
        || value.get("allowlists").is_some();
    let mut loaded = if gitleaks {
        gitleaks_config(&path, 0)?
    } else {
        let cfg: CaulkToml =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        caulk_config(&path, cfg)?
    };
    loaded.source = Some(path);
    Ok(loaded)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CaulkToml {
    #[serde(default)]
    rules: RulesToml,
    /// Rule id or `tag:NAME` → severity.
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
    #[serde(default)]
    allowlist: Vec<AllowlistToml>,
    #[serde(default)]
    scan: ScanToml,
    #[serde(default)]
    lint: LintConfig,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RulesToml {
    /// Rule ids or `tag:NAME` not to report.
    #[serde(default)]
    disable: Vec<String>,
    /// When given, only these rule ids or tags report.
    enable_only: Option<Vec<String>>,
    /// Rule files in caulk's YAML format, relative to the config file.
    #[serde(default)]
    files: Vec<PathBuf>,
    /// Rules written inline, with the same fields as the YAML rule files.
    #[serde(default)]
    custom: Vec<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AllowlistToml {
    description: Option<String>,
    /// Rule ids or `tag:NAME` it applies to (default: all).
    #[serde(default)]
    rules: Vec<String>,
    /// Globs on the path in the image (`**/testdata/**`, `usr/share/doc/**`).
    #[serde(default)]
    paths: Vec<String>,
    /// Regexes on the secret (or `target`).
    #[serde(default)]
    regexes: Vec<String>,
    /// `secret` (default), `match` or `line`.
    target: Option<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    fingerprints: Vec<String>,
    /// `or` (default) or `and`.
    condition: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScanToml {
    min_confidence: Option<Confidence>,
    fail_on: Option<Severity>,
}

fn selectors(v: &[String]) -> Vec<Selector> {
    v.iter().map(|s| Selector::parse(s)).collect()
}

fn target(t: Option<&str>, at: &str) -> Result<Target, String> {
    match t.map(str::to_ascii_lowercase).as_deref() {
        None | Some("secret") => Ok(Target::Secret),
        Some("match") => Ok(Target::Match),
        Some("line") => Ok(Target::Line),
        Some(o) => Err(format!(
            "{at}: unknown regex target `{o}` (secret, match or line)"
        )),
    }
}

fn all(condition: Option<&str>, at: &str) -> Result<bool, String> {
    match condition.map(str::to_ascii_lowercase).as_deref() {
        None | Some("or") => Ok(false),
        Some("and") => Ok(true),
        Some(o) => Err(format!("{at}: unknown condition `{o}` (or, and)")),
    }
}

fn bytes_regexes(v: &[String], at: &str) -> Result<Vec<regex::bytes::Regex>, String> {
    v.iter()
        .map(|r| regex::bytes::Regex::new(r).map_err(|e| format!("{at}: regex `{r}`: {e}")))
        .collect()
}

fn caulk_config(path: &Path, cfg: CaulkToml) -> Result<Loaded, String> {
    let at = path.display().to_string();
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut loaded = Loaded::new();
    for f in &cfg.rules.files {
        let p = dir.join(f);
        let text = std::fs::read_to_string(&p)
            .map_err(|e| format!("{at}: rules file {}: {e}", p.display()))?;
        loaded.rule_files.push((p.display().to_string(), text));
    }
    if !cfg.rules.custom.is_empty() {
        let yaml = serde_yaml::to_string(&serde_json::json!({ "rules": cfg.rules.custom }))
            .map_err(|e| format!("{at}: [[rules.custom]]: {e}"))?;
        loaded
            .rule_files
            .push((format!("{at} [[rules.custom]]"), yaml));
    }
    loaded.filters.disabled = selectors(&cfg.rules.disable);
    loaded.filters.enabled_only = cfg.rules.enable_only.as_deref().map(selectors);
    loaded.filters.severity = cfg
        .severity
        .iter()
        .map(|(k, v)| (Selector::parse(k), *v))
        .collect();
    for (i, a) in cfg.allowlist.iter().enumerate() {
        let here = format!("{at}: [[allowlist]] #{}", i + 1);
        let mut globs = globset::GlobSetBuilder::new();
        for g in &a.paths {
            let g = g.trim_start_matches('/');
            globs.add(
                globset::GlobBuilder::new(g)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("{here}: path glob `{g}`: {e}"))?,
            );
        }
        loaded.filters.allowlists.push(Allowlist {
            description: a.description.clone(),
            rules: selectors(&a.rules),
            path_regexes: Vec::new(),
            path_globs: if a.paths.is_empty() {
                None
            } else {
                Some(globs.build().map_err(|e| format!("{here}: {e}"))?)
            },
            regexes: bytes_regexes(&a.regexes, &here)?,
            target: target(a.target.as_deref(), &here)?,
            stopwords: a.stopwords.clone(),
            fingerprints: a.fingerprints.iter().cloned().collect(),
            all: all(a.condition.as_deref(), &here)?,
        });
    }
    if let Some(c) = cfg.scan.min_confidence {
        loaded.filters.min_confidence = c;
    }
    loaded.fail_on = cfg.scan.fail_on;
    for code in cfg
        .lint
        .ignore
        .iter()
        .chain(cfg.lint.paths.iter().flat_map(|p| p.ignore.iter()))
    {
        if caulk_lint::rules::rule(code).is_none() {
            return Err(format!(
                "{}: [lint] ignores `{code}`, which is not a lint rule (see docs/rules)",
                path.display()
            ));
        }
    }
    for p in &cfg.lint.paths {
        globset::Glob::new(&p.path)
            .map_err(|e| format!("{}: [[lint.paths]] `{}`: {e}", path.display(), p.path))?;
    }
    loaded.lint = cfg.lint;
    Ok(loaded)
}

// ---- gitleaks ----

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GlConfig {
    #[serde(default)]
    extend: Option<GlExtend>,
    #[serde(default)]
    rules: Vec<GlRule>,
    /// Global allowlist (gitleaks < 8.25).
    allowlist: Option<GlAllowlist>,
    /// Global allowlists (gitleaks >= 8.25).
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GlExtend {
    #[serde(default)]
    use_default: bool,
    path: Option<String>,
    #[serde(default)]
    disabled_rules: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GlRule {
    id: String,
    description: Option<String>,
    regex: Option<String>,
    secret_group: Option<usize>,
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    path: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    allowlist: Option<GlAllowlist>,
    #[serde(default)]
    allowlists: Vec<GlAllowlist>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct GlAllowlist {
    description: Option<String>,
    condition: Option<String>,
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    /// Global allowlists may name the rules they apply to.
    #[serde(default)]
    target_rules: Vec<String>,
}

fn gl_allowlist(a: &GlAllowlist, rules: Vec<Selector>, at: &str) -> Result<Allowlist, String> {
    let path_regexes = a
        .paths
        .iter()
        .map(|p| regex::Regex::new(p).map_err(|e| format!("{at}: path regex `{p}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Allowlist {
        description: a.description.clone(),
        rules,
        path_regexes,
        path_globs: None,
        regexes: bytes_regexes(&a.regexes, at)?,
        target: target(a.regex_target.as_deref(), at)?,
        stopwords: a.stopwords.clone(),
        fingerprints: Default::default(),
        all: all(a.condition.as_deref(), at)?,
    })
}

/// A gitleaks configuration as it is: its rules become caulk rules (severity high, tag
/// `gitleaks`), its allowlists become filters, `[extend] useDefault` keeps caulk's built-in rules
/// (in place of gitleaks' defaults), `path` extends another file, `disabledRules` disables ids.
fn gitleaks_config(path: &Path, depth: u32) -> Result<Loaded, String> {
    let at = path.display().to_string();
    if depth > 4 {
        return Err(format!("{at}: [extend] nests more than 4 deep"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
    let cfg: GlConfig = toml::from_str(&text).map_err(|e| format!("{at}: {e}"))?;
    let mut loaded = Loaded::new();
    loaded.builtin = false;
    if let Some(ext) = &cfg.extend {
        if let Some(p) = &ext.path {
            let base =
                gitleaks_config(&path.parent().unwrap_or(Path::new(".")).join(p), depth + 1)?;
            loaded.builtin = base.builtin;
            loaded.rule_files = base.rule_files;
            loaded.filters.allowlists = base.filters.allowlists;
            loaded.filters.disabled = base.filters.disabled;
        }
        loaded.builtin |= ext.use_default;
        loaded
            .filters
            .disabled
            .extend(selectors(&ext.disabled_rules));
    }
    let mut defs = Vec::new();
    for r in &cfg.rules {
        let here = format!("{at}: rule `{}`", r.id);
        let name = r.description.clone().unwrap_or_else(|| r.id.clone());
        let mut tags = vec!["gitleaks".to_string()];
        tags.extend(r.tags.iter().cloned());
        let mut def = serde_json::json!({
            "id": r.id, "name": name, "description": r.description.clone().unwrap_or_default(),
            "severity": "high", "tags": tags,
        });
        match (&r.regex, &r.path) {
            (Some(re), path) => {
                def["regex"] = re.clone().into();
                // The prefilter needs literals of 3+ bytes; without them the rule runs everywhere.
                let kws: Vec<String> = r
                    .keywords
                    .iter()
                    .filter(|k| k.len() >= 3)
                    .map(|k| k.to_ascii_lowercase())
                    .collect();
                if kws.is_empty() || kws.len() < r.keywords.len() {
                    def["always"] = true.into();
                } else {
                    def["keywords"] = kws.into();
                }
                if let Some(g) = r.secret_group {
                    def["secret_group"] = g.into();
                }
                if let Some(e) = r.entropy {
                    def["entropy"] = e.into();
                }
                if let Some(p) = path {
                    def["path"] = p.clone().into();
                }
            }
            (None, Some(p)) => {
                def["kind"] = "filename".into();
                def["filename"] = p.clone().into();
            }
            (None, None) => return Err(format!("{here}: needs a regex or a path")),
        }
        defs.push(def);
        let rule_sel = vec![Selector::Id(r.id.clone())];
        for a in r.allowlist.iter().chain(&r.allowlists) {
            loaded
                .filters
                .allowlists
                .push(gl_allowlist(a, rule_sel.clone(), &here)?);
        }
    }
    if !defs.is_empty() {
        let yaml = serde_yaml::to_string(&serde_json::json!({ "rules": defs }))
            .map_err(|e| format!("{at}: {e}"))?;
        loaded.rule_files.push((at.clone(), yaml));
    }
    for a in cfg.allowlist.iter().chain(&cfg.allowlists) {
        loaded.filters.allowlists.push(gl_allowlist(
            a,
            selectors(&a.target_rules),
            &format!("{at}: allowlist"),
        )?);
    }
    Ok(loaded)
}
