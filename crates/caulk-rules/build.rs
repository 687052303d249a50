//! Embeds every `data/rules/*.yml` file: writes `$OUT_DIR/rule_files.rs`, a slice of
//! `(file name, include_str!(...))` sorted by name, so adding a rule file needs no code change.

use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("data").join("rules");
    println!("cargo:rerun-if-changed=data/rules");
    println!("cargo:rerun-if-changed=data/allowlist.yml");

    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yml"))
        .collect();
    names.sort();

    let mut out = String::from("&[\n");
    for name in &names {
        let path = dir.join(name);
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("]\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("rule_files.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}
