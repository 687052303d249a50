//! BuildKit's own parser cases (`tests/conformance/buildkit-parser`, copied from moby/buildkit):
//! every case must dump to BuildKit's expected parse tree, every negative case must be refused.

use std::path::PathBuf;

fn dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/buildkit-parser")
        .join(sub)
}

#[test]
fn every_buildkit_parser_case_dumps_as_buildkit_does() {
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut cases: Vec<_> = std::fs::read_dir(dir("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    for case in &cases {
        let source = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(case.join("result")).unwrap();
        checked += 1;
        match caulk_lint::dockerfile::parse(&source) {
            Err(e) => failures.push(format!("{}: refused: {e}", case.display())),
            Ok(df) => {
                let got: Vec<String> = df.instructions.iter().map(|i| i.dump()).collect();
                let want: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
                if got != want {
                    let diff: Vec<String> = (0..got.len().max(want.len()))
                        .filter(|&k| got.get(k).map(String::as_str) != want.get(k).copied())
                        .take(3)
                        .map(|k| format!("  want {:?}\n   got {:?}", want.get(k), got.get(k)))
                        .collect();
                    failures.push(format!("{}:\n{}", case.display(), diff.join("\n")));
                }
            }
        }
    }
    assert_eq!(checked, 33, "expected the 33 BuildKit cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_negative_case_is_refused_with_a_message() {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir("negative")).unwrap() {
        let case = entry.unwrap().path();
        let source = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        let err = caulk_lint::dockerfile::parse(&source).expect_err(&case.display().to_string());
        assert!(
            !err.message.is_empty() && err.line >= 1,
            "{}: {err:?}",
            case.display()
        );
        checked += 1;
    }
    assert_eq!(checked, 4);
}
