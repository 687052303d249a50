//! The OCI overlay model: which files a later layer deletes, overwrites or hides.
//! Each layer is indexed on its own (so layers can be scanned in parallel and cached); visibility is
//! decided afterwards from the ordered indexes.

use std::collections::{HashMap, HashSet};

/// What a tar entry adds at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Other,
}

/// Which of a layer's paths exist, are whited out, or are opaque directories.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct LayerIndex {
    /// Path → the last tar entry that wrote it.
    entries: HashMap<String, Written>,
    /// Ancestors of every entry: directories this layer implies.
    implied_dirs: HashSet<String>,
    whiteouts: HashSet<String>,
    opaque: HashSet<String>,
    /// Hardlink target → links to it in this layer.
    hardlinks: HashMap<String, Vec<String>>,
    next_ordinal: u32,
}

/// The last entry written at a path of a layer.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Written {
    ordinal: u32,
    /// A non-directory was written here at some point of the layer: anything below the path in
    /// lower layers was removed, even if a directory was written again afterwards.
    replaced: bool,
}

/// Whether a file of a layer is in the final filesystem, and if not, what hid it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Visible,
    Deleted { by: usize },
    Overwritten { by: usize },
    Opaque { by: usize },
}

/// Result of cleaning a tar entry name.
#[derive(Debug, PartialEq, Eq)]
pub enum EntryName {
    /// A normal path (no leading `/`, no `.`/empty components).
    Path(String),
    /// `.wh.<name>`: deletes `<dir>/<name>` from lower layers.
    Whiteout(String),
    /// `.wh..wh..opq`: the directory's lower contents are hidden.
    Opaque(String),
    /// The layer root itself (`./`).
    Root,
}

/// Cleans a raw tar entry name. `..` components are resolved inside the layer root, as Docker does
/// when it extracts a layer; the error carries the cleaned name so callers can report the oddity.
pub fn clean_name(raw: &str) -> Result<EntryName, (EntryName, String)> {
    let mut parts: Vec<&str> = Vec::new();
    let mut dotdot = false;
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                dotdot = true;
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let name = name_of(parts);
    if dotdot {
        let why = format!(
            "entry name `{raw}` contains `..`; read as `{}`",
            name.display()
        );
        return Err((name, why));
    }
    Ok(name)
}

impl EntryName {
    fn display(&self) -> String {
        match self {
            EntryName::Path(p) => p.clone(),
            EntryName::Whiteout(p) => format!("whiteout of {p}"),
            EntryName::Opaque(p) => format!("opaque marker of {p}"),
            EntryName::Root => "/".into(),
        }
    }
}

fn name_of(mut parts: Vec<&str>) -> EntryName {
    let Some(last) = parts.pop() else {
        return EntryName::Root;
    };
    let parent = parts.join("/");
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_string()
        } else {
            format!("{parent}/{name}")
        }
    };
    if last == ".wh..wh..opq" {
        return EntryName::Opaque(parent);
    }
    if let Some(name) = last.strip_prefix(".wh.") {
        if name.starts_with(".wh.") {
            // aufs metadata (`.wh..wh.plnk`, ...): not a whiteout of anything.
            return EntryName::Path(join(last));
        }
        return EntryName::Whiteout(join(name));
    }
    EntryName::Path(join(last))
}

fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

impl LayerIndex {
    /// Records an entry; returns its ordinal (later entries of the same path win).
    pub fn add(&mut self, path: &str, kind: EntryKind) -> u32 {
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        for a in ancestors(path) {
            if !self.implied_dirs.contains(a) {
                self.implied_dirs.insert(a.to_string());
            }
        }
        let replaced = kind != EntryKind::Dir || self.entries.get(path).is_some_and(|w| w.replaced);
        self.entries
            .insert(path.to_string(), Written { ordinal, replaced });
        ordinal
    }
    pub fn add_hardlink(&mut self, path: &str, target: &str) -> u32 {
        self.hardlinks
            .entry(target.to_string())
            .or_default()
            .push(path.to_string());
        self.add(path, EntryKind::Hardlink)
    }
    pub fn add_whiteout(&mut self, path: &str) {
        self.whiteouts.insert(path.to_string());
    }
    pub fn add_opaque(&mut self, dir: &str) {
        self.opaque.insert(dir.to_string());
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How a later layer affects a lower layer's file at `path`, if at all.
    fn effect_on(&self, path: &str, by: usize) -> Option<Visibility> {
        if self.entries.contains_key(path) || self.implied_dirs.contains(path) {
            return Some(Visibility::Overwritten { by });
        }
        if self.whiteouts.contains(path) {
            return Some(Visibility::Deleted { by });
        }
        for a in ancestors(path) {
            if self.whiteouts.contains(a) {
                return Some(Visibility::Deleted { by });
            }
            if self.entries.get(a).is_some_and(|w| w.replaced) {
                return Some(Visibility::Overwritten { by });
            }
        }
        if self.opaque.contains("") || ancestors(path).any(|a| self.opaque.contains(a)) {
            return Some(Visibility::Opaque { by });
        }
        None
    }
}

/// Visibility of the file written at `path` by entry `ordinal` of layer `layer`.
/// A file reachable through a hardlink made in the same layer counts as visible if any link is.
pub fn visibility(layers: &[&LayerIndex], layer: usize, path: &str, ordinal: u32) -> Visibility {
    let own = single_visibility(layers, layer, path, ordinal);
    if own == Visibility::Visible {
        return own;
    }
    if let Some(links) = layers[layer].hardlinks.get(path) {
        for link in links {
            let ord = layers[layer]
                .entries
                .get(link)
                .map(|e| e.ordinal)
                .unwrap_or(0);
            if single_visibility(layers, layer, link, ord) == Visibility::Visible {
                return Visibility::Visible;
            }
        }
    }
    own
}

fn single_visibility(layers: &[&LayerIndex], layer: usize, path: &str, ordinal: u32) -> Visibility {
    let this = &layers[layer];
    if this.entries.get(path).is_some_and(|w| w.ordinal > ordinal) {
        return Visibility::Overwritten { by: layer };
    }
    for (j, upper) in layers.iter().enumerate().skip(layer + 1) {
        if let Some(v) = upper.effect_on(path, j) {
            return v;
        }
    }
    Visibility::Visible
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refs(layers: &[LayerIndex]) -> Vec<&LayerIndex> {
        layers.iter().collect()
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(
            clean_name("./app/.env").unwrap(),
            EntryName::Path("app/.env".into())
        );
        assert_eq!(
            clean_name("/etc//passwd").unwrap(),
            EntryName::Path("etc/passwd".into())
        );
        assert_eq!(
            clean_name("app/.wh.x").unwrap(),
            EntryName::Whiteout("app/x".into())
        );
        assert_eq!(
            clean_name("app/.wh..wh..opq").unwrap(),
            EntryName::Opaque("app".into())
        );
        assert_eq!(clean_name("./").unwrap(), EntryName::Root);
        let (name, why) = clean_name("a/../../etc/shadow").unwrap_err();
        assert_eq!(name, EntryName::Path("etc/shadow".into()));
        assert!(why.contains("`..`"), "{why}");
    }

    fn layer(ops: &[(&str, &str)]) -> LayerIndex {
        let mut l = LayerIndex::default();
        for (op, p) in ops {
            match *op {
                "f" => {
                    l.add(p, EntryKind::File);
                }
                "d" => {
                    l.add(p, EntryKind::Dir);
                }
                "w" => l.add_whiteout(p),
                "o" => l.add_opaque(p),
                _ => unreachable!(),
            }
        }
        l
    }

    #[test]
    fn whiteout_opaque_and_overwrite() {
        let layers = vec![
            layer(&[
                ("d", "app"),
                ("f", "app/.env"),
                ("f", "app/keep"),
                ("f", "etc/conf"),
            ]),
            layer(&[("w", "app/.env")]),
            layer(&[("f", "etc/conf")]),
            layer(&[("o", "app"), ("f", "app/new")]),
        ];
        assert_eq!(
            visibility(&refs(&layers), 0, "app/.env", 1),
            Visibility::Deleted { by: 1 }
        );
        assert_eq!(
            visibility(&refs(&layers), 0, "etc/conf", 3),
            Visibility::Overwritten { by: 2 }
        );
        assert_eq!(
            visibility(&refs(&layers), 0, "app/keep", 2),
            Visibility::Opaque { by: 3 }
        );
        assert_eq!(
            visibility(&refs(&layers), 3, "app/new", 0),
            Visibility::Visible
        );
    }

    #[test]
    fn directory_replaced_by_file_and_back() {
        let layers = vec![
            layer(&[("f", "a/b/secret"), ("f", "x")]),
            layer(&[("f", "a")]),
            layer(&[("f", "x/y")]),
        ];
        assert_eq!(
            visibility(&refs(&layers), 0, "a/b/secret", 0),
            Visibility::Overwritten { by: 1 }
        );
        assert_eq!(
            visibility(&refs(&layers), 0, "x", 1),
            Visibility::Overwritten { by: 2 }
        );
    }

    #[test]
    fn hardlink_keeps_content_visible() {
        let mut l0 = LayerIndex::default();
        let ord = l0.add("a/secret", EntryKind::File);
        l0.add_hardlink("b/link", "a/secret");
        let layers = vec![l0, layer(&[("w", "a/secret")])];
        assert_eq!(
            visibility(&refs(&layers), 0, "a/secret", ord),
            Visibility::Visible
        );
        let layers2 = vec![layers[0].clone(), layer(&[("w", "a/secret"), ("w", "b")])];
        assert_eq!(
            visibility(&refs(&layers2), 0, "a/secret", ord),
            Visibility::Deleted { by: 1 }
        );
    }

    #[test]
    fn file_then_dir_in_one_layer_still_removes_lower_contents() {
        // Found by the property test: extraction removes the lower directory when the file lands,
        // and the directory written after it does not bring the lower contents back.
        let layers = vec![
            layer(&[("f", "a/b/c")]),
            layer(&[("f", "a/b"), ("d", "a/b")]),
        ];
        assert_eq!(
            visibility(&refs(&layers), 0, "a/b/c", 0),
            Visibility::Overwritten { by: 1 }
        );
    }

    #[test]
    fn duplicate_entry_in_one_layer_overwrites() {
        let mut l0 = LayerIndex::default();
        let first = l0.add("etc/app.conf", EntryKind::File);
        let second = l0.add("etc/app.conf", EntryKind::File);
        let layers = vec![l0];
        assert_eq!(
            visibility(&refs(&layers), 0, "etc/app.conf", first),
            Visibility::Overwritten { by: 0 }
        );
        assert_eq!(
            visibility(&refs(&layers), 0, "etc/app.conf", second),
            Visibility::Visible
        );
    }

    // Property: visibility agrees with applying the layers one by one to a reference filesystem.
    const PATHS: &[&str] = &["a", "a/b", "a/b/c", "a/d", "e", "e/f"];

    #[derive(Debug, Clone)]
    enum Op {
        File(usize),
        Dir(usize),
        Whiteout(usize),
        Opaque(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..PATHS.len()).prop_map(Op::File),
            (0..PATHS.len()).prop_map(Op::Dir),
            (0..PATHS.len()).prop_map(Op::Whiteout),
            (0..PATHS.len()).prop_map(Op::Opaque),
        ]
    }

    fn under(p: &str, dir: &str) -> bool {
        p.len() > dir.len() && p.starts_with(dir) && p.as_bytes()[dir.len()] == b'/'
    }

    /// Reference filesystem: path → (layer, kind is dir).
    fn apply(fs: &mut HashMap<String, (usize, bool)>, j: usize, ops: &[Op]) {
        // Whiteouts and opaque markers act on lower layers only.
        for o in ops {
            match o {
                Op::Whiteout(i) => fs.retain(|p, _| p != PATHS[*i] && !under(p, PATHS[*i])),
                Op::Opaque(i) => fs.retain(|p, (l, _)| *l == j || !under(p, PATHS[*i])),
                _ => {}
            }
        }
        for o in ops {
            let (p, dir) = match o {
                Op::File(i) => (PATHS[*i], false),
                Op::Dir(i) => (PATHS[*i], true),
                _ => continue,
            };
            // Parents become directories; a non-directory replaces whatever was below it.
            for a in ancestors(p) {
                if matches!(fs.get(a), Some((_, false))) {
                    fs.remove(a);
                }
                fs.entry(a.to_string()).or_insert((j, true));
            }
            if !dir {
                fs.retain(|q, (l, _)| *l == j || !under(q, p));
            }
            fs.insert(p.to_string(), (j, dir));
        }
    }

    proptest! {
        #[test]
        fn visibility_matches_reference(layers_ops in proptest::collection::vec(proptest::collection::vec(op(), 0..5), 1..5)) {
            let mut indexes = Vec::new();
            for ops in &layers_ops {
                let mut l = LayerIndex::default();
                for o in ops {
                    match o {
                        Op::File(i) => { l.add(PATHS[*i], EntryKind::File); }
                        Op::Dir(i) => { l.add(PATHS[*i], EntryKind::Dir); }
                        Op::Whiteout(i) => l.add_whiteout(PATHS[*i]),
                        Op::Opaque(i) => l.add_opaque(PATHS[*i]),
                    }
                }
                indexes.push(l);
            }
            // For every file each layer finally wrote, the first layer where the reference loses it
            // must be the layer visibility names.
            for (i, ops) in layers_ops.iter().enumerate() {
                for o in ops {
                    let Op::File(pi) = o else { continue };
                    let p = PATHS[*pi];
                    let ord = indexes[i].entries[p].ordinal;
                    // Only the last op on p in the layer decides what p is.
                    let last = ops.iter().rev().find(|q| matches!(q, Op::File(k) | Op::Dir(k) if PATHS[*k] == p));
                    if !matches!(last, Some(Op::File(_))) { continue; }
                    // A tar that writes a file and also a path below or above it in the same layer has no
                    // single meaning; builders never emit one.
                    let tangled = ops.iter().any(|q| match q {
                        Op::File(k) | Op::Dir(k) => under(PATHS[*k], p) || under(p, PATHS[*k]),
                        _ => false,
                    });
                    if tangled { continue; }
                    let mut fs = HashMap::new();
                    for (j, ops_j) in layers_ops.iter().enumerate().take(i + 1) {
                        apply(&mut fs, j, ops_j);
                    }
                    // Within layer i, the last op on p decides whether p is this file.
                    let still = fs.get(p) == Some(&(i, false));
                    let mut lost_at = if still { None } else { Some(i) };
                    for (j, ops_j) in layers_ops.iter().enumerate().skip(i + 1) {
                        if lost_at.is_some() { break; }
                        apply(&mut fs, j, ops_j);
                        if fs.get(p) != Some(&(i, false)) { lost_at = Some(j); }
                    }
                    let v = visibility(&refs(&indexes), i, p, ord);
                    match lost_at {
                        None => prop_assert_eq!(v, Visibility::Visible),
                        Some(j) => {
                            let by = match v {
                                Visibility::Deleted { by } | Visibility::Overwritten { by } | Visibility::Opaque { by } => by,
                                Visibility::Visible => usize::MAX,
                            };
                            prop_assert_eq!(by, j, "path {} of layer {}: {:?}", p, i, v);
                        }
                    }
                }
            }
        }
    }
}
