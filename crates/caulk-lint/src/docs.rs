//! Renders the rules' documentation into `docs/rules/` (one page per rule and an index); a test
//! checks that the committed pages are current.

use crate::rules::RULES;

/// (file name, contents) of every page.
pub fn pages() -> Vec<(String, String)> {
    let mut pages = Vec::new();
    let mut index = String::from(
        "# Lint rules\n\nGenerated from the rule sources (`crates/caulk-lint/src/rules/`) by\n`caulk lint --write-docs docs/rules`; do not edit by hand.\n\n| code | name | severity | what it finds |\n| --- | --- | --- | --- |\n",
    );
    for r in RULES {
        index.push_str(&format!(
            "| [{code}]({code}.md) | `{name}` | {sev} | {summary} |\n",
            code = r.code,
            name = r.name,
            sev = r.severity.as_str(),
            summary = r.summary
        ));
        pages.push((
            format!("{}.md", r.code),
            format!(
                "# {} `{}`\n\nSeverity: **{}**. {}.\n\n{}",
                r.code,
                r.name,
                r.severity.as_str(),
                r.summary,
                r.docs.trim_start()
            ),
        ));
    }
    index.push_str("\nSuppress a finding with `# caulk:ignore` (all rules) or `# caulk:ignore=CK101,CK104` on the\nline before the instruction.\n");
    pages.push(("README.md".into(), index));
    pages
}
