//! Helpers shared by caulk's fuzz targets (see `fuzz/README.md`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

use caulk_rules::{RuleSet, Scanner};

/// The builtin detection rules, loaded once per process.
pub fn rule_set() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::builtin().expect("the builtin rules load"))
}

thread_local! {
    static SCANNER: RefCell<Scanner> = RefCell::new(rule_set().scanner());
}

/// Runs `f` with this thread's scanner (scanners are not shared between threads).
pub fn with_scanner<R>(f: impl FnOnce(&mut Scanner) -> R) -> R {
    SCANNER.with(|s| f(&mut s.borrow_mut()))
}

/// Loads the rules and makes this thread's scanner up front (from a target's `init:`), so that
/// the seconds this takes are not charged to the first input as a slow unit.
pub fn warm_up() {
    with_scanner(|_| ());
}

/// The input as text: as is when it is UTF-8, else converted lossily (as caulk reads files).
pub fn text_of(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// FNV-1a of the input: a stable way to pick options per input, so every crash reproduces.
pub fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// libfuzzer-sys aborts on every panic, even one that is caught. `caulk_lint::yaml` wraps
/// yaml-rust2 in `catch_unwind` on purpose (it has `unreachable!` paths), so panics raised inside
/// yaml-rust2's own sources are let through to that `catch_unwind`; any other panic (caulk's own
/// code included, `yaml.rs` too) still aborts and is reported as a crash.
pub fn install_panic_filter() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_yaml_rust2 = info
            .location()
            .is_some_and(|l| l.file().contains("yaml-rust2"));
        if !in_yaml_rust2 {
            previous(info);
        }
    }));
}

/// Keeps an input that is worth a look but is not a crash (for example a yaml-rust2 panic that
/// `caulk_lint::yaml` caught) under `$CAULK_FUZZ_NOTES_DIR/<kind>/`, when that is set.
pub fn note(kind: &str, data: &[u8]) {
    let Some(dir) = std::env::var_os("CAULK_FUZZ_NOTES_DIR") else {
        return;
    };
    let dir = std::path::Path::new(&dir).join(kind);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{:016x}", hash(data))), data);
}

/// Set `CAULK_FUZZ_LENIENT=1` to keep fuzzing past a known property failure (the property is
/// then only recorded with [`note`], not asserted).
pub fn lenient() -> bool {
    static LENIENT: OnceLock<bool> = OnceLock::new();
    *LENIENT.get_or_init(|| std::env::var_os("CAULK_FUZZ_LENIENT").is_some_and(|v| v != "0"))
}
