//! The comparable view of the lab devices and their links, read with
//! `backend-linux-sysfs` from the live `/sys` or from devlink-core's
//! rendered tree, so both sides go through the same reader.

use backend_linux_sysfs::{read_topology, SysfsRoot};
use std::collections::BTreeMap;
use std::path::Path;

/// Object key (`device lab-a`, `link platform:lab-a--platform:lab-b`) to
/// its fields.
pub type View = BTreeMap<String, BTreeMap<String, String>>;

/// Prefix of every lab device name.
pub const PREFIX: &str = "lab-";

fn is_lab_link(name: &str) -> bool {
    name.starts_with("platform:lab-") && name.contains("--platform:lab-")
}

/// Reads the view under the sysfs root `root`.
pub fn read(root: &Path) -> Result<View, String> {
    let snap = read_topology(&SysfsRoot::at(root)).map_err(|e| e.to_string())?;
    let mut view = View::new();
    for d in snap.devices() {
        if d.bus.as_deref() != Some("platform") || !d.name.starts_with(PREFIX) {
            continue;
        }
        let mut f = BTreeMap::new();
        f.insert("path".into(), d.path.clone());
        f.insert("driver".into(), d.driver.clone().unwrap_or("-".into()));
        f.insert(
            "waiting_for_supplier".into(),
            match d.waiting_for_supplier {
                None => "-".into(),
                Some(b) => u8::from(b).to_string(),
            },
        );
        let dir = root.join(&d.path);
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("consumer:") || name.starts_with("supplier:") {
                let target = std::fs::read_link(e.path())
                    .map_err(|err| format!("{}: {err}", e.path().display()))?;
                let link = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                f.insert(name, link);
            }
        }
        view.insert(format!("device {}", d.name), f);
    }
    for l in snap.links() {
        if !is_lab_link(&l.name) {
            continue;
        }
        let end = |e: Option<usize>| match (e, l.sysfs_ends) {
            (Some(i), true) => snap.device(i).path.clone(),
            _ => "-".into(),
        };
        let mut f = BTreeMap::new();
        f.insert("status".into(), l.status.sysfs_status().to_string());
        f.insert("auto_remove_on".into(), l.auto_remove_on().to_string());
        f.insert("runtime_pm".into(), u8::from(l.runtime_pm()).to_string());
        f.insert(
            "sync_state_only".into(),
            u8::from(l.sync_state_only()).to_string(),
        );
        f.insert("supplier".into(), end(l.supplier));
        f.insert("consumer".into(), end(l.consumer));
        view.insert(format!("link {}", l.name), f);
    }
    Ok(view)
}

fn render(fields: Option<&BTreeMap<String, String>>) -> String {
    match fields {
        None => "(absent)".into(),
        Some(f) => f
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Side-by-side lines for every object, `!=` marking the differing ones.
pub fn side_by_side(left_name: &str, left: &View, right_name: &str, right: &View) -> Vec<String> {
    let mut keys: Vec<&String> = left.keys().chain(right.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let (l, r) = (left.get(k), right.get(k));
        let mark = if l == r { "  " } else { "!=" };
        out.push(format!("{mark} {k}"));
        if l == r {
            out.push(format!("     both:   {}", render(l)));
        } else {
            out.push(format!("     {left_name:<7} {}", render(l)));
            out.push(format!("     {right_name:<7} {}", render(r)));
        }
    }
    out
}
