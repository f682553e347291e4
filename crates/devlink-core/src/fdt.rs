//! Flattened device trees (`.dtb`, and the `.dtbo` overlays `dtc -@`
//! or `/plugin/` makes): a strict reader, a writer, and what an overlay
//! says about itself (its fragments and their targets).
//!
//! The format is the devicetree specification's (v17, readable from
//! version 16): a header of big-endian words, a structure block of
//! tokens (`BEGIN_NODE name`, `PROP len nameoff value`, `END_NODE`, `NOP`,
//! `END`) and a strings block. Every offset and length is checked against
//! the blob; a malformed blob is an [`FdtError`] naming the offset, never
//! a panic.
//!
//! ```
//! use devlink_core::fdt::{Fdt, FdtNode, FragmentTarget};
//! let mut overlay = FdtNode::new("__overlay__");
//! overlay.set_str("firmware-name", "design.bin");
//! overlay.children.push(FdtNode::new("dev-a"));
//! let mut fragment = FdtNode::new("fragment@0");
//! fragment.set_str("target-path", "/fpga-region");
//! fragment.children.push(overlay);
//! let mut root = FdtNode::new("");
//! root.children.push(fragment);
//! let blob = Fdt { root }.to_bytes();
//!
//! let fdt = Fdt::parse(&blob)?;
//! let f = &fdt.fragments()[0];
//! assert_eq!(f.target, FragmentTarget::Path("/fpga-region".into()));
//! assert_eq!(f.overlay.prop_str("firmware-name"), Some("design.bin"));
//! assert_eq!(f.added_nodes(), ["/fpga-region/dev-a"]);
//! # Ok::<(), devlink_core::fdt::FdtError>(())
//! ```

use std::fmt;

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
const HEADER_LEN: usize = 40;
/// Deeper nesting than this is refused (real trees are under 10 deep).
pub const MAX_DEPTH: usize = 64;
/// More nodes than this are refused.
pub const MAX_NODES: usize = 100_000;

/// A malformed blob: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device tree blob, offset {offset}: {what}")]
pub struct FdtError {
    /// Byte offset in the blob.
    pub offset: usize,
    /// What is wrong there.
    pub what: String,
}

fn err(offset: usize, what: impl Into<String>) -> FdtError {
    FdtError {
        offset,
        what: what.into(),
    }
}

/// One node: its name (unit address included), its properties in blob
/// order, its children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FdtNode {
    /// `name@unit`; the root's name is empty.
    pub name: String,
    /// Properties, in the order of the blob.
    pub props: Vec<(String, Vec<u8>)>,
    /// Child nodes, in the order of the blob.
    pub children: Vec<FdtNode>,
}

impl FdtNode {
    /// A node with no properties or children.
    pub fn new(name: &str) -> FdtNode {
        FdtNode {
            name: name.to_string(),
            ..FdtNode::default()
        }
    }

    /// A property's raw value.
    pub fn prop(&self, name: &str) -> Option<&[u8]> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A string property (one NUL-terminated string).
    pub fn prop_str(&self, name: &str) -> Option<&str> {
        let v = self.prop(name)?;
        let v = v.strip_suffix(&[0])?;
        if v.contains(&0) {
            return None;
        }
        std::str::from_utf8(v).ok()
    }

    /// A property as big-endian 32-bit cells (`None` unless its length is
    /// a multiple of 4).
    pub fn prop_cells(&self, name: &str) -> Option<Vec<u32>> {
        let v = self.prop(name)?;
        if v.len() % 4 != 0 {
            return None;
        }
        Some(
            v.chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }

    /// A one-cell property.
    pub fn prop_u32(&self, name: &str) -> Option<u32> {
        match self.prop_cells(name)?.as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// Sets a property (replacing one of that name).
    pub fn set(&mut self, name: &str, value: Vec<u8>) {
        match self.props.iter_mut().find(|(n, _)| n == name) {
            Some(p) => p.1 = value,
            None => self.props.push((name.to_string(), value)),
        }
    }

    /// Sets a string property.
    pub fn set_str(&mut self, name: &str, value: &str) {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.set(name, v);
    }

    /// Sets a cells property.
    pub fn set_cells(&mut self, name: &str, cells: &[u32]) {
        self.set(name, cells.iter().flat_map(|c| c.to_be_bytes()).collect());
    }

    /// The child named `name`.
    pub fn child(&self, name: &str) -> Option<&FdtNode> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every node below this one (not itself), depth first, with its path
    /// relative to this node (`a`, `a/b`, ...).
    pub fn descendants(&self) -> Vec<(String, &FdtNode)> {
        let mut out = Vec::new();
        fn walk<'a>(n: &'a FdtNode, prefix: &str, out: &mut Vec<(String, &'a FdtNode)>) {
            for c in &n.children {
                let p = if prefix.is_empty() {
                    c.name.clone()
                } else {
                    format!("{prefix}/{}", c.name)
                };
                out.push((p.clone(), c));
                walk(c, &p, out);
            }
        }
        walk(self, "", &mut out);
        out
    }
}

/// A parsed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fdt {
    /// The root node.
    pub root: FdtNode,
}

/// Where an overlay fragment applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentTarget {
    /// `target-path = "/..."`.
    Path(String),
    /// `target = <&label>` left for the kernel to resolve against the
    /// live tree's `__symbols__` (the label, from `__fixups__`).
    Label(String),
    /// `target = <phandle>` already resolved.
    Phandle(u32),
}

impl fmt::Display for FragmentTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FragmentTarget::Path(p) => f.write_str(p),
            FragmentTarget::Label(l) => write!(f, "&{l}"),
            FragmentTarget::Phandle(p) => write!(f, "<phandle {p:#x}>"),
        }
    }
}

/// One `fragment@N { target...; __overlay__ { ... } }` of an overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The fragment node's name.
    pub name: &'a str,
    /// Where it applies.
    pub target: FragmentTarget,
    /// Its `__overlay__` node: the properties and nodes it adds.
    pub overlay: &'a FdtNode,
}

impl Fragment<'_> {
    /// The full paths of the nodes this fragment adds, when its target is
    /// a path (empty for a label target, whose path only the live tree
    /// knows), parents before children.
    pub fn added_nodes(&self) -> Vec<String> {
        let FragmentTarget::Path(base) = &self.target else {
            return Vec::new();
        };
        let base = base.trim_end_matches('/');
        self.overlay
            .descendants()
            .into_iter()
            .map(|(p, _)| format!("{base}/{p}"))
            .collect()
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    end: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32, FdtError> {
        if self.pos + 4 > self.end {
            return Err(err(self.pos, "structure block ends inside a token"));
        }
        let v = be32(self.b, self.pos);
        self.pos += 4;
        Ok(v)
    }

    fn align(&mut self) {
        self.pos = (self.pos + 3) & !3;
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn cstr(b: &[u8], at: usize, end: usize, what: &str) -> Result<String, FdtError> {
    let slice = &b[at..end];
    let n = slice
        .iter()
        .position(|&c| c == 0)
        .ok_or_else(|| err(at, format!("{what} is not NUL-terminated")))?;
    String::from_utf8(slice[..n].to_vec()).map_err(|_| err(at, format!("{what} is not UTF-8")))
}

impl Fdt {
    /// Reads a blob; any inconsistency is an error naming its offset.
    pub fn parse(b: &[u8]) -> Result<Fdt, FdtError> {
        if b.len() < HEADER_LEN {
            return Err(err(
                0,
                format!("{} bytes: shorter than the header", b.len()),
            ));
        }
        if be32(b, 0) != MAGIC {
            return Err(err(
                0,
                format!("magic {:#010x}, not 0xd00dfeed", be32(b, 0)),
            ));
        }
        let total = be32(b, 4) as usize;
        if total > b.len() || total < HEADER_LEN {
            return Err(err(
                4,
                format!("totalsize {total}, but the blob has {} bytes", b.len()),
            ));
        }
        let (off_struct, off_strings) = (be32(b, 8) as usize, be32(b, 12) as usize);
        let version = be32(b, 20);
        let last_comp = be32(b, 24);
        if version < 16 || last_comp > 17 {
            return Err(err(
                20,
                format!("version {version} (compatible with {last_comp}); 16 and 17 are read"),
            ));
        }
        let size_strings = be32(b, 32) as usize;
        // Version 16 has no `size_dt_struct` (its header is 36 bytes): the
        // structure block runs to the end of the blob at most.
        let size_struct = if version >= 17 {
            be32(b, 36) as usize
        } else {
            total.saturating_sub(off_struct)
        };
        let within = |off: usize, len: usize| off.checked_add(len).is_some_and(|e| e <= total);
        if !within(off_struct, size_struct) || off_struct % 4 != 0 {
            return Err(err(8, "structure block outside the blob or unaligned"));
        }
        if !within(off_strings, size_strings) {
            return Err(err(12, "strings block outside the blob"));
        }
        let strings_end = off_strings + size_strings;
        let mut r = Reader {
            b,
            pos: off_struct,
            end: off_struct + size_struct,
        };
        let mut stack: Vec<FdtNode> = Vec::new();
        let mut root: Option<FdtNode> = None;
        let mut nodes = 0usize;
        loop {
            let at = r.pos;
            match r.u32()? {
                BEGIN_NODE => {
                    if root.is_some() {
                        return Err(err(at, "a second root node"));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(err(at, format!("nesting deeper than {MAX_DEPTH}")));
                    }
                    nodes += 1;
                    if nodes > MAX_NODES {
                        return Err(err(at, format!("more than {MAX_NODES} nodes")));
                    }
                    let name = cstr(b, r.pos, r.end, "node name")?;
                    if name.is_empty() && !stack.is_empty() {
                        return Err(err(r.pos, "a node below the root without a name"));
                    }
                    if name.contains('/') {
                        return Err(err(r.pos, format!("node name {name:?} contains '/'")));
                    }
                    r.pos += name.len() + 1;
                    r.align();
                    stack.push(FdtNode::new(&name));
                }
                END_NODE => {
                    let node = stack
                        .pop()
                        .ok_or_else(|| err(at, "END_NODE without a node"))?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                }
                PROP => {
                    let len = r.u32()? as usize;
                    let nameoff = r.u32()? as usize;
                    let node = stack
                        .last_mut()
                        .ok_or_else(|| err(at, "a property outside every node"))?;
                    if r.pos.checked_add(len).filter(|&e| e <= r.end).is_none() {
                        return Err(err(
                            at,
                            format!("property of {len} bytes runs past the block"),
                        ));
                    }
                    let at_name = off_strings
                        .checked_add(nameoff)
                        .filter(|&p| p < strings_end)
                        .ok_or_else(|| {
                            err(at + 8, format!("name offset {nameoff} outside the strings"))
                        })?;
                    let name = cstr(b, at_name, strings_end, "property name")?;
                    node.props.push((name, b[r.pos..r.pos + len].to_vec()));
                    r.pos += len;
                    r.align();
                }
                NOP => {}
                END => {
                    if !stack.is_empty() {
                        return Err(err(at, "END inside a node"));
                    }
                    break;
                }
                t => return Err(err(at, format!("unknown token {t:#x}"))),
            }
        }
        let root = root.ok_or_else(|| err(off_struct, "no root node"))?;
        Ok(Fdt { root })
    }

    /// The blob (version 17, no memory reservations, strings shared).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut st: Vec<u8> = Vec::new();
        let mut strings: Vec<u8> = Vec::new();
        let mut offsets: std::collections::HashMap<String, u32> = Default::default();
        fn put(v: &mut Vec<u8>, w: u32) {
            v.extend_from_slice(&w.to_be_bytes());
        }
        fn pad(v: &mut Vec<u8>) {
            while v.len() % 4 != 0 {
                v.push(0);
            }
        }
        fn node(
            n: &FdtNode,
            st: &mut Vec<u8>,
            strings: &mut Vec<u8>,
            offsets: &mut std::collections::HashMap<String, u32>,
        ) {
            put(st, BEGIN_NODE);
            st.extend_from_slice(n.name.as_bytes());
            st.push(0);
            pad(st);
            for (name, value) in &n.props {
                let off = *offsets.entry(name.clone()).or_insert_with(|| {
                    let o = strings.len() as u32;
                    strings.extend_from_slice(name.as_bytes());
                    strings.push(0);
                    o
                });
                put(st, PROP);
                put(st, value.len() as u32);
                put(st, off);
                st.extend_from_slice(value);
                pad(st);
            }
            for c in &n.children {
                node(c, st, strings, offsets);
            }
            put(st, END_NODE);
        }
        node(&self.root, &mut st, &mut strings, &mut offsets);
        put(&mut st, END);
        let rsv = HEADER_LEN; // one empty reservation entry (16 bytes)
        let off_struct = rsv + 16;
        let off_strings = off_struct + st.len();
        let total = off_strings + strings.len();
        let mut out = Vec::with_capacity(total);
        for w in [
            MAGIC,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            rsv as u32,
            17,
            16,
            0,
            strings.len() as u32,
            st.len() as u32,
        ] {
            put(&mut out, w);
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&st);
        out.extend_from_slice(&strings);
        out
    }

    /// The overlay's fragments: each child of the root with an
    /// `__overlay__` node and a `target-path` or `target`. Nodes that are
    /// not fragments (`__fixups__`, `__local_fixups__`, `__symbols__`) are
    /// skipped.
    pub fn fragments(&self) -> Vec<Fragment<'_>> {
        let fixups = self.root.child("__fixups__");
        let mut out = Vec::new();
        for f in &self.root.children {
            let Some(overlay) = f.child("__overlay__") else {
                continue;
            };
            let target = if let Some(p) = f.prop_str("target-path") {
                FragmentTarget::Path(p.to_string())
            } else if let Some(ph) = f.prop_u32("target") {
                // An unresolved reference: __fixups__ has
                // `label = "/fragment@0:target:0"`.
                let want = format!("/{}:target:0", f.name);
                let label = fixups.and_then(|fx| {
                    fx.props.iter().find_map(|(label, v)| {
                        v.split(|&c| c == 0)
                            .any(|s| s == want.as_bytes())
                            .then(|| label.clone())
                    })
                });
                match label {
                    Some(l) => FragmentTarget::Label(l),
                    None => FragmentTarget::Phandle(ph),
                }
            } else {
                continue;
            };
            out.push(Fragment {
                name: &f.name,
                target,
                overlay,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fdt {
        let mut a = FdtNode::new("a@0");
        a.set_cells("reg", &[0, 0x100]);
        a.set_str("compatible", "x,y");
        a.set("flag", Vec::new());
        let mut b = FdtNode::new("b");
        b.children.push(FdtNode::new("c"));
        let mut root = FdtNode::new("");
        root.set_cells("#address-cells", &[1]);
        root.children.push(a);
        root.children.push(b);
        Fdt { root }
    }

    #[test]
    fn round_trip() {
        let f = sample();
        let blob = f.to_bytes();
        assert_eq!(Fdt::parse(&blob).unwrap(), f);
        let a = &f.root.children[0];
        assert_eq!(a.prop_cells("reg"), Some(vec![0, 0x100]));
        assert_eq!(a.prop_str("compatible"), Some("x,y"));
        assert_eq!(a.prop_u32("reg"), None);
        assert_eq!(a.prop_str("reg"), None);
        let names: Vec<String> = f.root.descendants().into_iter().map(|(p, _)| p).collect();
        assert_eq!(names, ["a@0", "b", "b/c"]);
    }

    #[test]
    fn malformed_blobs_are_errors() {
        let blob = sample().to_bytes();
        assert!(Fdt::parse(&blob[..20]).is_err());
        let mut bad = blob.clone();
        bad[0] = 0;
        assert!(Fdt::parse(&bad).unwrap_err().what.contains("magic"));
        let mut bad = blob.clone();
        bad[4..8].copy_from_slice(&(blob.len() as u32 + 1).to_be_bytes());
        assert!(Fdt::parse(&bad).unwrap_err().what.contains("totalsize"));
        // Every truncation of the structure block is an error, not a panic.
        for cut in HEADER_LEN..blob.len() {
            let mut t = blob[..cut].to_vec();
            t[4..8].copy_from_slice(&(cut as u32).to_be_bytes());
            let _ = Fdt::parse(&t);
        }
    }

    #[test]
    fn a_version_16_blob_reads_without_a_structure_size() {
        let f = sample();
        let mut blob = f.to_bytes();
        blob[20..24].copy_from_slice(&16u32.to_be_bytes());
        blob[36..40].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
        assert_eq!(Fdt::parse(&blob).unwrap(), f);
    }

    #[test]
    fn fragments_by_path_and_by_label() {
        let mut ov = FdtNode::new("__overlay__");
        ov.children.push(FdtNode::new("dev"));
        let mut f0 = FdtNode::new("fragment@0");
        f0.set_str("target-path", "/r");
        f0.children.push(ov.clone());
        let mut f1 = FdtNode::new("fragment@1");
        f1.set_cells("target", &[0xffff_ffff]);
        f1.children.push(ov);
        let mut fx = FdtNode::new("__fixups__");
        fx.set_str("region0", "/fragment@1:target:0");
        let mut root = FdtNode::new("");
        root.children.extend([f0, f1, fx]);
        let fdt = Fdt::parse(&Fdt { root }.to_bytes()).unwrap();
        let fr = fdt.fragments();
        assert_eq!(fr.len(), 2);
        assert_eq!(fr[0].added_nodes(), ["/r/dev"]);
        assert_eq!(fr[1].target, FragmentTarget::Label("region0".into()));
        assert!(fr[1].added_nodes().is_empty());
    }

    proptest::proptest! {
        /// Arbitrary bytes, and a valid blob with any bytes changed, are
        /// an error or a tree, never a panic; a tree that parses writes
        /// back to a blob that parses to the same tree.
        #[test]
        fn the_parser_never_panics(
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            flips in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..8),
        ) {
            let _ = Fdt::parse(&junk);
            let mut blob = sample().to_bytes();
            for (at, v) in flips {
                let n = blob.len();
                blob[at % n] = v;
            }
            if let Ok(f) = Fdt::parse(&blob) {
                for fr in f.fragments() {
                    let _ = fr.added_nodes();
                }
                proptest::prop_assert_eq!(Fdt::parse(&f.to_bytes()).unwrap(), f);
            }
        }
    }
}
