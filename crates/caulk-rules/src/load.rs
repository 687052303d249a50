//! Rule files: the YAML schema, its checks, and compilation into an [`Engine`].
//! Every problem is reported with the file and the rule id it concerns.

use std::collections::{HashMap, HashSet};

use regex::bytes::{Regex as BytesRegex, RegexBuilder as BytesRegexBuilder};
use regex::Regex;

use crate::allowlist::Allowlist;
use crate::engine::{CompiledRule, ContentRule, Engine, FileNameRule};
use crate::validate::Validator;
use crate::{Rule, RuleError, RuleKind, Severity};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rules: Vec<RuleDef>,
}

#[derive(Clone, Copy, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum KindDef {
    #[default]
    Content,
    Filename,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    name: String,
    description: String,
    severity: Severity,
    #[serde(default)]
    kind: KindDef,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
    // content rules
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    always: bool,
    regex: Option<String>,
    path: Option<String>,
    path_exclude: Option<String>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    validate: Vec<Validator>,
    entropy: Option<f64>,
    /// Capture group holding the secret (0 = the whole match), as gitleaks' `secretGroup`.
    secret_group: Option<usize>,
    #[serde(default)]
    generic: bool,
    #[serde(default)]
    priority: i32,
    on_encrypted: Option<String>,
    // file-name rules
    filename: Option<String>,
    filename_exclude: Option<String>,
    // tests
    example_path: Option<String>,
    #[serde(default)]
    examples: Vec<ExampleDef>,
    #[serde(default)]
    negative_examples: Vec<ExampleDef>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ExampleDef {
    Text(String),
    WithPath(ExampleWithPath),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleWithPath {
    /// Empty means "no path" (an image-config value).
    path: String,
    text: String,
}

/// One example haystack (or path, for file-name rules) and the context to scan it with.
pub(crate) struct Example {
    pub(crate) path: Option<String>,
    pub(crate) text: String,
}

/// A rule's examples, kept for [`crate::RuleSet::example_failures`].
#[derive(Default)]
pub(crate) struct Examples {
    pub(crate) positive: Vec<Example>,
    pub(crate) negative: Vec<Example>,
}

pub(crate) struct Loaded {
    pub(crate) rules: Vec<Rule>,
    pub(crate) engine: Engine,
    pub(crate) examples: Vec<Examples>,
}

/// Minimum keyword length: shorter keywords make the prefilter pass nearly everything.
const MIN_KEYWORD: usize = 3;

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The longest match `pattern` can make, when it is short enough for the matcher to search only
/// around keyword hits (see `ContentRule::reach`).
fn reach(pattern: &str) -> Option<usize> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    hir.properties().maximum_len().filter(|&n| n <= 4096)
}

fn bytes_regex(pattern: &str) -> Result<BytesRegex, regex::Error> {
    BytesRegexBuilder::new(pattern).unicode(false).build()
}

pub(crate) fn load<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    allowlist: (&str, &str),
) -> Result<Loaded, RuleError> {
    let allowlist = Allowlist::parse(allowlist.0, allowlist.1)?;
    let mut rules = Vec::new();
    let mut compiled = Vec::new();
    let mut examples = Vec::new();
    let mut keywords = Vec::new();
    // Rule index -> (file, on_encrypted id), resolved once every rule is known.
    let mut pending_redirects = Vec::new();
    let mut seen = HashMap::new();

    for (file, text) in files {
        let parsed: RuleFile = serde_yaml::from_str(text).map_err(|e| RuleError::Invalid {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        for def in parsed.rules {
            let invalid = |message: String| RuleError::Invalid {
                file: file.to_string(),
                message: format!("rule `{}`: {message}", def.id),
            };
            if !is_kebab(&def.id) {
                return Err(invalid(
                    "id must be kebab-case (lowercase letters, digits, single dashes)".into(),
                ));
            }
            if let Some(other) = seen.insert(def.id.clone(), file.to_string()) {
                return Err(invalid(format!("duplicate id (first defined in {other})")));
            }
            if def.name.trim().is_empty() || def.description.trim().is_empty() {
                return Err(invalid("name and description must not be empty".into()));
            }
            let idx = rules.len();
            let (kind, rule) = match def.kind {
                KindDef::Content => (
                    RuleKind::Content,
                    compile_content(&def, idx, &mut keywords).map_err(invalid)?,
                ),
                KindDef::Filename => (RuleKind::FileName, compile_filename(&def).map_err(invalid)?),
            };
            if let Some(target) = &def.on_encrypted {
                pending_redirects.push((idx, file.to_string(), def.id.clone(), target.clone()));
            }
            let example = |e: &ExampleDef| match e {
                ExampleDef::Text(text) => Example {
                    path: def.example_path.clone(),
                    text: text.clone(),
                },
                ExampleDef::WithPath(e) => Example {
                    path: (!e.path.is_empty()).then(|| e.path.clone()),
                    text: e.text.clone(),
                },
            };
            examples.push(Examples {
                positive: def.examples.iter().map(example).collect(),
                negative: def.negative_examples.iter().map(example).collect(),
            });
            rules.push(Rule {
                id: def.id,
                name: def.name,
                description: def.description.trim().to_string(),
                severity: def.severity,
                kind,
                tags: def.tags,
                references: def.references,
                generic: def.generic,
            });
            compiled.push(rule);
        }
    }

    let index: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    for (idx, file, id, target) in pending_redirects {
        let invalid = |message: String| RuleError::Invalid {
            file: file.clone(),
            message: format!("rule `{id}`: {message}"),
        };
        let Some(&to) = index.get(target.as_str()) else {
            return Err(invalid(format!(
                "on_encrypted names unknown rule `{target}`"
            )));
        };
        if rules[to].kind != RuleKind::Content {
            return Err(invalid(format!(
                "on_encrypted rule `{target}` is not a content rule"
            )));
        }
        if let CompiledRule::Content(rule) = &mut compiled[idx] {
            rule.on_encrypted = Some(to);
        }
    }

    let engine =
        Engine::new(compiled, keywords, allowlist).map_err(|message| RuleError::Invalid {
            file: "(rule set)".to_string(),
            message,
        })?;
    Ok(Loaded {
        rules,
        engine,
        examples,
    })
}

fn compile_content(
    def: &RuleDef,
    idx: usize,
    keywords: &mut Vec<(String, usize)>,
) -> Result<CompiledRule, String> {
    if def.filename.is_some() || def.filename_exclude.is_some() {
        return Err("`filename` belongs to `kind: filename` rules".into());
    }
    let pattern = def.regex.as_deref().ok_or("content rules need a `regex`")?;
    let regex = bytes_regex(pattern).map_err(|e| format!("regex: {e}"))?;
    if def.keywords.is_empty() && !def.always {
        return Err("content rules need `keywords` for the prefilter (or `always: true`)".into());
    }
    let mut unique = HashSet::new();
    for keyword in &def.keywords {
        if keyword.len() < MIN_KEYWORD {
            return Err(format!(
                "keyword {keyword:?} is shorter than {MIN_KEYWORD} bytes"
            ));
        }
        if unique.insert(keyword.to_ascii_lowercase()) {
            keywords.push((keyword.clone(), idx));
        }
    }
    let secret_group = match def.secret_group {
        Some(g) if g >= regex.captures_len() => {
            return Err(format!(
                "secret_group {g} but the regex has {} groups",
                regex.captures_len() - 1
            ))
        }
        Some(g) => Some(g),
        None => regex
            .capture_names()
            .position(|name| name == Some("secret")),
    };
    let path = def
        .path
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| format!("path: {e}"))?;
    let path_exclude = def
        .path_exclude
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| format!("path_exclude: {e}"))?;
    let requires = def
        .requires
        .iter()
        .map(|r| bytes_regex(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("requires: {e}"))?;
    let exclude = def
        .exclude
        .iter()
        .map(|r| bytes_regex(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("exclude: {e}"))?;
    if let Some(bits) = def.entropy {
        if !(0.0..=8.0).contains(&bits) {
            return Err(format!("entropy {bits} is outside 0..=8 bits per byte"));
        }
    }
    if def.on_encrypted.is_some() && !def.validate.contains(&Validator::PrivateKey) {
        return Err("`on_encrypted` needs the `private_key` validator".into());
    }
    Ok(CompiledRule::Content(ContentRule {
        reach: reach(pattern),
        regex,
        secret_group,
        path,
        path_exclude,
        requires,
        exclude,
        validators: def.validate.clone(),
        entropy: def.entropy,
        generic: def.generic,
        priority: def.priority,
        always: def.always,
        on_encrypted: None,
    }))
}

fn compile_filename(def: &RuleDef) -> Result<CompiledRule, String> {
    let content_only = def.regex.is_some()
        || !def.keywords.is_empty()
        || def.always
        || def.path.is_some()
        || def.path_exclude.is_some()
        || !def.requires.is_empty()
        || !def.exclude.is_empty()
        || !def.validate.is_empty()
        || def.entropy.is_some()
        || def.generic
        || def.priority != 0
        || def.on_encrypted.is_some()
        || def.example_path.is_some();
    if content_only {
        return Err(
            "file-name rules take only `filename` and `filename_exclude` (examples are paths)"
                .into(),
        );
    }
    let pattern = def
        .filename
        .as_deref()
        .ok_or("file-name rules need a `filename` regex")?;
    let filename = Regex::new(pattern).map_err(|e| format!("filename: {e}"))?;
    let exclude = def
        .filename_exclude
        .as_deref()
        .map(Regex::new)
        .transpose()
        .map_err(|e| format!("filename_exclude: {e}"))?;
    Ok(CompiledRule::FileName(FileNameRule { filename, exclude }))
}

#[cfg(test)]
mod tests {
    use crate::RuleSet;

    fn err(yaml: &str) -> String {
        RuleSet::from_yaml("test.yml", yaml)
            .unwrap_err()
            .to_string()
    }

    const MINIMAL: &str = "rules:\n  - id: demo-token\n    name: Demo\n    description: Demo token.\n    severity: high\n";

    #[test]
    fn rejects_missing_keywords() {
        let msg = err(&format!("{MINIMAL}    regex: 'demo_[a-z]{{8}}'\n"));
        assert!(
            msg.contains("demo-token") && msg.contains("keywords"),
            "{msg}"
        );
    }

    #[test]
    fn accepts_always_without_keywords() {
        let yaml = format!("{MINIMAL}    regex: 'demo_[a-z]{{8}}'\n    always: true\n");
        RuleSet::from_yaml("test.yml", &yaml).unwrap();
    }

    #[test]
    fn rejects_bad_regex_unknown_field_and_bad_id() {
        assert!(err(&format!(
            "{MINIMAL}    keywords: [demo_]\n    regex: 'demo_[a-z'\n"
        ))
        .contains("regex"));
        assert!(err(&format!(
            "{MINIMAL}    keywords: [demo_]\n    regex: 'x'\n    colour: red\n"
        ))
        .contains("colour"));
        let bad_id =
            MINIMAL.replace("demo-token", "Demo_Token") + "    keywords: [demo_]\n    regex: 'x'\n";
        assert!(err(&bad_id).contains("kebab-case"));
        assert!(err(&format!("{MINIMAL}    keywords: [de]\n    regex: 'x'\n")).contains("shorter"));
        assert!(err(&format!(
            "{MINIMAL}    keywords: [demo_]\n    regex: 'x'\n    validate: [nonsense]\n"
        ))
        .contains("nonsense"));
    }

    #[test]
    fn rejects_duplicate_ids() {
        let one = format!("{MINIMAL}    keywords: [demo_]\n    regex: 'x'\n");
        let msg = RuleSet::from_files([("a.yml", one.as_str()), ("b.yml", one.as_str())])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("duplicate") && msg.contains("a.yml"), "{msg}");
    }

    #[test]
    fn rejects_unknown_redirect_target() {
        let yaml = format!("{MINIMAL}    keywords: [demo_]\n    regex: 'x'\n    validate: [private_key]\n    on_encrypted: nowhere\n");
        assert!(err(&yaml).contains("nowhere"));
    }

    #[test]
    fn rejects_content_fields_on_filename_rules() {
        let yaml = format!("{MINIMAL}    kind: filename\n    filename: 'x$'\n    regex: 'x'\n");
        assert!(err(&yaml).contains("file-name rules"));
    }
}
