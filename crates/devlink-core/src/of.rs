//! fw_devlink's device-tree side: the nodes of a flattened tree (an
//! overlay fragment, say) attached as [`FwNode`]s, with the supplier hints
//! the kernel's `of_fwnode_add_links` makes from their properties, so that
//! devices made from them get the links the kernel would give them.
//!
//! The properties followed are the kernel's table (`of_supplier_bindings`
//! in `drivers/of/property.c`) for the ones that name suppliers by phandle:
//! lists with a `#…-cells` count in the supplier (`clocks`, `resets`,
//! `power-domains`, `phys`, `mboxes`, `pwms`, `interconnects`,
//! `io-channels`, `io-backends`, `hwlocks`, `msi-parent`, `nvmem-cells`,
//! `access-controllers`, `pses`, `gpio`/`gpios` (not in a `gpio-hog`),
//! every `*-gpios` but `*,nr-gpios`, every `*-gpio`,
//! `interrupts-extended`; a supplier without the cells property counts as
//! having none, as fw_devlink's `parse_prop_cells` reads them), lists of
//! plain phandles
//! (`extcon`, `wakeup-parent`, `pinctrl-0`…`8`, `leds`, `backlight`,
//! `panel`, `power-supplies`, every `*-supply`), and `interrupts` through
//! the nearest `interrupt-parent`. Not followed: `post-init-providers`
//! (the kernel marks those links to be ignored), `remote-endpoint`,
//! `interrupt-map` and `iommu-map`. `dmas` and `iommus` are
//! optional, as in the kernel: followed only in strict mode
//! (`fw_devlink.strict=1`). A supplier whose node, or an ancestor, is
//! disabled (`status` other than `okay`) gets no hint. A phandle that does
//! not resolve within the tree is skipped, as the kernel skips one it
//! cannot find.

use crate::fdt::FdtNode;
use crate::FwNode;
use std::collections::HashMap;

/// `(property, the supplier's cells property, optional)`.
const CELL_LISTS: &[(&str, &str, bool)] = &[
    ("clocks", "#clock-cells", false),
    ("interconnects", "#interconnect-cells", false),
    ("iommus", "#iommu-cells", true),
    ("mboxes", "#mbox-cells", false),
    ("io-channels", "#io-channel-cells", false),
    ("io-backends", "#io-backend-cells", false),
    ("dmas", "#dma-cells", true),
    ("power-domains", "#power-domain-cells", false),
    ("hwlocks", "#hwlock-cells", false),
    ("phys", "#phy-cells", false),
    ("pwms", "#pwm-cells", false),
    ("resets", "#reset-cells", false),
    ("msi-parent", "#msi-cells", false),
    ("interrupts-extended", "#interrupt-cells", false),
    ("nvmem-cells", "#nvmem-cell-cells", false),
    ("access-controllers", "#access-controller-cells", false),
    ("pses", "#pse-cells", false),
];

/// Properties that are plain lists of phandles.
const PLAIN_LISTS: &[&str] = &[
    "extcon",
    "wakeup-parent",
    "pinctrl-0",
    "pinctrl-1",
    "pinctrl-2",
    "pinctrl-3",
    "pinctrl-4",
    "pinctrl-5",
    "pinctrl-6",
    "pinctrl-7",
    "pinctrl-8",
    "leds",
    "backlight",
    "panel",
    "power-supplies",
];

/// Attaches `node`'s children under `parent` (recursively, in the blob's
/// order), resolves the phandles among them, and adds the supplier hints
/// fw_devlink would. Returns every node made, parents before children:
/// the tree refers to its nodes without holding them (a changeset or a
/// populated device does), so they live as long as these handles.
pub fn attach_fdt(parent: &FwNode, node: &FdtNode, strict: bool) -> Vec<FwNode> {
    let mut made: Vec<(FwNode, &FdtNode)> = Vec::new();
    fn walk<'a>(p: &FwNode, n: &'a FdtNode, made: &mut Vec<(FwNode, &'a FdtNode)>) {
        for c in &n.children {
            let f = p.add_child(&c.name);
            if let Some(compat) = c.prop_str("compatible") {
                f.set_compatible(compat);
            }
            made.push((f.clone(), c));
            walk(&f, c, made);
        }
    }
    walk(parent, node, &mut made);
    let by_phandle: HashMap<u32, usize> = made
        .iter()
        .enumerate()
        .filter_map(|(i, (_, n))| n.prop_u32("phandle").map(|p| (p, i)))
        .collect();
    // A node's availability, its ancestors' included (within the tree).
    let available: Vec<bool> = {
        let ok = |n: &FdtNode| {
            n.prop_str("status")
                .map_or(true, |s| s == "okay" || s == "ok")
        };
        let mut out = Vec::with_capacity(made.len());
        for (f, n) in &made {
            let parent_ok = f
                .parent()
                .and_then(|p| made.iter().position(|(m, _)| *m == p))
                .map_or(true, |i| out[i]);
            out.push(parent_ok && ok(n));
        }
        out
    };
    for (i, (con, n)) in made.iter().enumerate() {
        let mut suppliers: Vec<usize> = Vec::new();
        for (prop, _) in &n.props {
            let Some(cells) = n.prop_cells(prop) else {
                continue;
            };
            // The legacy `gpio`/`gpios` are parsed strictly (a supplier
            // without `#gpio-cells` ends them, with no link); the suffixed
            // ones as every other list.
            let legacy = (prop == "gpio" || prop == "gpios") && n.prop("gpio-hog").is_none();
            if legacy {
                let mut at = 0;
                while at < cells.len() {
                    let Some(&s) = by_phandle.get(&cells[at]) else {
                        break;
                    };
                    let Some(n_args) = made[s].1.prop_u32("#gpio-cells") else {
                        break;
                    };
                    suppliers.push(s);
                    at += 1 + n_args as usize;
                }
                continue;
            }
            let gpio = (prop.ends_with("-gpios") && !prop.ends_with(",nr-gpios"))
                || prop.ends_with("-gpio");
            let list = CELL_LISTS
                .iter()
                .find(|(p, _, _)| p == prop)
                .map(|&(_, c, opt)| (Some(c), opt))
                .or_else(|| gpio.then_some((Some("#gpio-cells"), false)))
                .or_else(|| {
                    (PLAIN_LISTS.contains(&prop.as_str()) || prop.ends_with("-supply"))
                        .then_some((None, false))
                });
            if let Some((cells_name, optional)) = list {
                if optional && !strict {
                    continue;
                }
                // As fw_devlink parses: a supplier without its cells
                // property counts as having none.
                let mut at = 0;
                while at < cells.len() {
                    let Some(&s) = by_phandle.get(&cells[at]) else {
                        break;
                    };
                    let n_args =
                        cells_name.and_then(|c| made[s].1.prop_u32(c)).unwrap_or(0) as usize;
                    suppliers.push(s);
                    at += 1 + n_args;
                }
            }
        }
        // `interrupts`: the controller is the node's `interrupt-parent`, or
        // the nearest ancestor's (within the tree; `of_irq_find_parent`).
        if n.prop("interrupts").is_some() {
            let mut at = Some(i);
            while let Some(j) = at {
                if let Some(ph) = made[j].1.prop_u32("interrupt-parent") {
                    suppliers.extend(by_phandle.get(&ph));
                    break;
                }
                at = made[j]
                    .0
                    .parent()
                    .and_then(|p| made.iter().position(|(m, _)| *m == p));
            }
        }
        for s in suppliers {
            if s != i && available[s] {
                con.add_supplier_hint(&made[s].0);
            }
        }
    }
    made.into_iter().map(|(f, _)| f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, props: &[(&str, &[u32])]) -> FdtNode {
        let mut n = FdtNode::new(name);
        n.set_str("compatible", "x,dev");
        for (p, c) in props {
            n.set_cells(p, c);
        }
        n
    }

    #[test]
    fn the_properties_fw_devlink_follows_become_hints() {
        let mut ov = FdtNode::new("__overlay__");
        ov.children.push(node(
            "src",
            &[
                ("phandle", &[1]),
                ("#clock-cells", &[1]),
                ("#gpio-cells", &[2]),
                ("#dma-cells", &[1]),
            ],
        ));
        ov.children
            .push(node("two", &[("phandle", &[2]), ("#clock-cells", &[0])]));
        // Two suppliers in one list, stepping over src's one argument.
        ov.children.push(node("a", &[("clocks", &[1, 7, 2])]));
        ov.children.push(node("b", &[("enable-gpios", &[1, 3, 0])]));
        ov.children.push(node("c", &[("dmas", &[1, 0])]));
        ov.children.push(node(
            "d",
            &[("vendor,nr-gpios", &[1]), ("vendor,thing", &[1])],
        ));
        // No #clock-cells on the supplier: read as none, linked.
        ov.children.push(node("g", &[("phandle", &[4])]));
        ov.children
            .push(node("h", &[("clocks", &[4]), ("vdd-supply", &[2])]));
        // interrupts through an ancestor's interrupt-parent; legacy
        // `gpios` to a supplier without #gpio-cells: no link.
        let mut outer = node("outer", &[("interrupt-parent", &[2])]);
        outer
            .children
            .push(node("i", &[("interrupts", &[3]), ("gpios", &[4, 0])]));
        ov.children.push(outer);
        let mut off = node("off", &[("phandle", &[3]), ("#clock-cells", &[0])]);
        off.set_str("status", "disabled");
        ov.children.push(off);
        ov.children.push(node("e", &[("clocks", &[3])]));
        let hints = |strict: bool| {
            let root = FwNode::new_root(None);
            let made = attach_fdt(&root, &ov, strict);
            made.iter()
                .map(|n| {
                    let mut s: Vec<String> = n
                        .supplier_hints()
                        .iter()
                        .map(|h| h.path().to_string())
                        .collect();
                    s.sort();
                    (n.name().to_string(), s)
                })
                .filter(|(_, s)| !s.is_empty())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            hints(false),
            [
                ("a".to_string(), vec!["/src".to_string(), "/two".into()]),
                ("b".to_string(), vec!["/src".to_string()]),
                ("h".to_string(), vec!["/g".to_string(), "/two".into()]),
                ("i".to_string(), vec!["/two".to_string()]),
            ]
        );
        // dmas is optional: only in strict mode.
        assert!(hints(true).iter().any(|(n, _)| n == "c"));
    }
}
