//! Spec `device-links.md` §8, behaviours 59–64 (explicit removal and the
//! synchronous part of deletion, §5.1–§5.3), 70–72 (ordering lists, §4.5)
//! and 73–78 (sysfs ABI, §7), plus a property test of the ordering
//! invariant and of side-effect-free rejection over random add sequences.

mod common;
mod spec_support;

use common::*;
use devlink_core::*;
use proptest::prelude::*;
use spec_support::*;
use std::path::Path;

const NONE: LinkFlags = LinkFlags::empty();
const STATELESS: LinkFlags = LinkFlags::STATELESS;
const AR_CONSUMER: LinkFlags = LinkFlags::AUTOREMOVE_CONSUMER;
const AR_SUPPLIER: LinkFlags = LinkFlags::AUTOREMOVE_SUPPLIER;
const PM_RUNTIME: LinkFlags = LinkFlags::PM_RUNTIME;
const SSO: LinkFlags = LinkFlags::SYNC_STATE_ONLY;
const INFERRED: LinkFlags = LinkFlags::INFERRED;
const CYCLE: LinkFlags = LinkFlags::CYCLE;

fn managed_del_warns(core: &DriverCore) -> usize {
    core.diagnostics()
        .count(|d| matches!(d, Diagnostic::ManagedLinkDel { .. }))
}

/// The link's fields without device references (so refcounts stay exact).
fn fields(l: &Link) -> (String, u32, LinkState, u32, u32) {
    let i = l.info().unwrap();
    (i.name, i.flags.bits(), i.state, i.kref, i.rpm_active)
}

fn order_names(core: &DriverCore) -> Vec<String> {
    core.devices()
        .iter()
        .map(|d| d.name().to_string())
        .collect()
}

/// Spec §4.5 invariant: in the ordering list every registered device comes
/// after its (registered) parent and after every registered supplier it has
/// through a link that is not sync-state-only (the §2.8 predicate).
fn assert_order_invariant(core: &DriverCore, ctx: &str) {
    let devs = core.devices();
    let pos = |d: &Device| devs.iter().position(|x| x == d);
    for d in &devs {
        if let Some(p) = d.parent() {
            if let Some(pp) = pos(&p) {
                assert!(
                    Some(pp) < pos(d),
                    "{ctx}: parent {p} after child {d} in {:?}",
                    order_names(core)
                );
            }
        }
    }
    for l in core.links() {
        let i = l.info().unwrap();
        if i.flags.is_sync_state_only() {
            continue;
        }
        if let (Some(ps), Some(pc)) = (pos(&i.supplier), pos(&i.consumer)) {
            assert!(
                ps < pc,
                "{ctx}: supplier {} after consumer {} (link {:#x}) in {:?}",
                i.supplier,
                i.consumer,
                i.flags.bits(),
                order_names(core)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Behaviours 59–64: explicit removal and deletion.
// ---------------------------------------------------------------------------

#[test]
fn b59_del_of_managed_link_with_registered_consumer_warns_and_changes_nothing() {
    let b = Bench::new();
    let (s, _) = b.bound("s");
    let (c, _) = b.bound("c");
    let l = b.core.link_add(&c, &s, AR_CONSUMER).unwrap();
    let before = fields(&l);
    assert_eq!(before.1, 0x042);
    assert_eq!(before.2, LinkState::Active);
    let snap = snapshot(&b.core, &[&s, &c]);

    // The kernel's device_link_del returns nothing; the library also
    // returns an InvalidInput error.
    let e = b.core.link_del(&l).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(matches!(e, Error::ManagedLinkReference { .. }), "{e:?}");
    assert_eq!(managed_del_warns(&b.core), 1);
    assert_eq!(fields(&l), before);
    assert_eq!(snapshot(&b.core, &[&s, &c]), snap);

    // device_link_remove takes the same path.
    let e = b.core.link_remove(&c, &s).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(managed_del_warns(&b.core), 2);
    assert_eq!(fields(&l), before);
    assert_eq!(snapshot(&b.core, &[&s, &c]), snap);
    assert_eq!(
        b.core.diagnostics().len(),
        2,
        "{:?}",
        b.core.diagnostics().snapshot()
    );
}

#[test]
fn b60_del_of_managed_link_with_unregistered_consumer_deletes_it() {
    for via_remove in [false, true] {
        let b = Bench::new();
        let s = b.dev("s");
        let c = b.init("c");
        let (s0, c0) = (s.refcount(), c.refcount());
        let l = b.core.link_add(&c, &s, NONE).unwrap();
        assert_eq!(l.flags().unwrap().bits(), 0x040);
        if via_remove {
            assert!(b.core.link_remove(&c, &s).unwrap());
        } else {
            b.core.link_del(&l).unwrap();
        }
        assert!(!l.exists(), "deleted immediately (via_remove={via_remove})");
        assert_eq!(b.core.link_count(), 0);
        assert!(s.consumer_links().is_empty());
        assert!(c.supplier_links().is_empty());
        assert_eq!(managed_del_warns(&b.core), 0);
        b.core.wait_removal().unwrap();
        assert_eq!((s.refcount(), c.refcount()), (s0, c0));
    }
}

#[test]
fn b61_remove_with_consumer_equal_to_supplier_warns_and_changes_nothing() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    b.core.link_add(&c, &s, STATELESS).unwrap();
    let snap = snapshot(&b.core, &[&s, &c]);
    let e = b.core.link_remove(&s, &s).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        b.core.diagnostics().snapshot(),
        [Diagnostic::RemoveSelfLink {
            device: "platform:s".into()
        }]
    );
    assert_eq!(snapshot(&b.core, &[&s, &c]), snap);
}

#[test]
fn b62_remove_without_a_link_does_nothing_silently() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let snap = snapshot(&b.core, &[&s, &c]);
    assert!(!b.core.link_remove(&c, &s).unwrap());
    assert_eq!(snapshot(&b.core, &[&s, &c]), snap);

    // Only the S->C direction counts: a link C->S is not a link S->C.
    let l = b.core.link_add(&s, &c, STATELESS).unwrap();
    let snap = snapshot(&b.core, &[&s, &c]);
    assert!(!b.core.link_remove(&c, &s).unwrap());
    assert_eq!(snapshot(&b.core, &[&s, &c]), snap);
    assert_eq!(l.kref().unwrap(), 1);
    assert!(
        b.core.diagnostics().is_empty(),
        "{:?}",
        b.core.diagnostics().snapshot()
    );

    // Devices of another driver core have no link in this one, even when
    // they sit at the same positions as a linked pair here.
    let other = Bench::new();
    let s2 = other.dev("s");
    let c2 = other.dev("c");
    let l2 = other.core.link_add(&c2, &s2, STATELESS).unwrap();
    let theirs = snapshot(&other.core, &[&s2, &c2]);
    let ours = snapshot(&b.core, &[&s, &c]);
    // The library refuses the foreign pair (R1's error, InvalidInput).
    let e = b.core.link_remove(&s2, &c2).unwrap_err();
    assert!(matches!(e, Error::ForeignDevice { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(b.core.find_link(&s2, &c2).is_none());
    // A foreign handle names no link of this core either.
    let e = b.core.link_del(&l2).unwrap_err();
    assert!(matches!(e, Error::ForeignDevice { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(snapshot(&b.core, &[&s, &c]), ours);
    assert_eq!(snapshot(&other.core, &[&s2, &c2]), theirs);
    assert!(b.core.diagnostics().is_empty());
}

#[test]
fn b63_deleting_the_consumer_deletes_a_stateless_link_whatever_its_kref() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, STATELESS).unwrap();
    b.core.link_add(&c, &s, STATELESS).unwrap();
    b.core.link_add(&c, &s, STATELESS).unwrap();
    assert_eq!(l.kref().unwrap(), 3);
    block_on(b.core.device_del(&c)).unwrap();
    assert!(!l.exists(), "deleted at once");
    assert_eq!(b.core.link_count(), 0);
    assert!(s.consumer_links().is_empty());
    // The caller's handle is invalid: every use reports a stale handle.
    assert_eq!(l.kref().unwrap_err().kind(), ErrorKind::NoDevice);
    assert_eq!(l.state().unwrap_err().kind(), ErrorKind::NoDevice);
    let e = b.core.link_del(&l).unwrap_err();
    assert!(matches!(e, Error::StaleLink { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::NoDevice);
    assert!(format!("{l:?}").contains("deleted"), "{l:?}");
}

#[test]
fn b64_deleted_link_awaiting_release_is_unlisted_but_still_holds_its_devices() {
    // Deleted by the caller (device_link_del).
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let (s0, c0) = (s.refcount(), c.refcount());
    let l = b.core.link_add(&c, &s, STATELESS | PM_RUNTIME).unwrap();
    let name = l.name().unwrap();
    assert_eq!((s.refcount(), c.refcount()), (s0 + 1, c0 + 1));
    let hold = b.core.hold_removals();
    b.core.link_del(&l).unwrap();
    assert!(!l.exists());
    assert!(s.consumer_links().is_empty(), "not in S's consumer list");
    assert!(c.supplier_links().is_empty(), "not in C's supplier list");
    let view = b.core.topology();
    assert!(view.link_named(&name).is_none(), "no devlink directory");
    assert!(view.consumer_entries(view.find("s").unwrap()).is_empty());
    assert!(view.supplier_entries(view.find("c").unwrap()).is_empty());
    assert_eq!(
        c.runtime_pm().links_count,
        0,
        "runtime PM dropped synchronously"
    );
    assert_eq!(b.core.removal_queue().pending(), 1);
    assert_eq!(
        (s.refcount(), c.refcount()),
        (s0 + 1, c0 + 1),
        "the pending release still holds both"
    );
    drop(hold);
    b.core.wait_removal().unwrap();
    assert_eq!((s.refcount(), c.refcount()), (s0, c0));

    // Deleted with its consumer (T9): the consumer is unregistered, yet
    // alive through the pending release.
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    b.core.link_add(&c, &s, NONE).unwrap();
    let hold = b.core.hold_removals();
    block_on(b.core.device_del(&c)).unwrap();
    assert_eq!(b.core.link_count(), 0);
    assert!(s.consumer_links().is_empty());
    assert!(b.core.topology().links().is_empty());
    assert_eq!(
        c.refcount(),
        2,
        "the caller's handle + the pending link release"
    );
    assert_eq!(
        s.refcount(),
        3,
        "registration + handle + the pending link release"
    );
    drop(hold);
    b.core.wait_removal().unwrap();
    assert_eq!(c.refcount(), 1);
    assert_eq!(s.refcount(), 2);
}

// ---------------------------------------------------------------------------
// Behaviours 70–72: ordering lists.
// ---------------------------------------------------------------------------

#[test]
fn b70_link_moves_consumer_its_children_and_consumers_after_the_supplier() {
    for flags in [NONE, STATELESS, PM_RUNTIME, AR_SUPPLIER, INFERRED | CYCLE] {
        let b = Bench::new();
        let c = b.dev("c");
        let child = b.core.device("cc").bus("platform").parent(&c).create();
        block_on(b.core.device_add(&child)).unwrap();
        let x = b.dev("x");
        b.core.link_add(&x, &c, NONE).unwrap(); // x consumes c
        b.dev("o"); // unrelated
        let s = b.dev("s");
        assert_eq!(order_names(&b.core), ["c", "cc", "x", "o", "s"]);
        b.core.link_add(&c, &s, flags).unwrap();
        let order = order_names(&b.core);
        let at = |n: &str| order.iter().position(|x| x == n).unwrap();
        for later in ["c", "cc", "x"] {
            assert!(
                at("s") < at(later),
                "{flags:?}: s must precede {later}: {order:?}"
            );
        }
        assert_order_invariant(&b.core, &format!("{flags:?}"));
        // The devices kset list and the PM list are the same list here.
        assert_eq!(order.len(), 5);
        drop((c, child, x, s));
    }
}

#[test]
fn b71_sync_state_only_link_moves_nothing() {
    let b = Bench::new();
    let c = b.dev("c");
    let x = b.dev("x");
    b.core.link_add(&x, &c, NONE).unwrap();
    let s = b.dev("s");
    let before = b.core.devices();
    assert_eq!(order_names(&b.core), ["c", "x", "s"]);
    let l = b.core.link_add(&c, &s, SSO).unwrap();
    assert_eq!(b.core.devices(), before, "no device moved");
    let l2 = b.core.link_add(&c, &s, SSO | INFERRED).unwrap();
    assert_eq!(l, l2);
    assert_eq!(b.core.devices(), before, "no device moved");
    assert_order_invariant(&b.core, "sync-state-only");

    // §2.5: once a managed request clears SYNC_STATE_ONLY, C is reordered.
    b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(l.flags().unwrap().bits(), 0x040);
    let order = order_names(&b.core);
    let at = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert!(at("s") < at("c") && at("s") < at("x"), "{order:?}");
    assert_order_invariant(&b.core, "after clearing SYNC_STATE_ONLY");
}

#[test]
fn b72_shutdown_runs_consumer_before_supplier() {
    for flags in [NONE, STATELESS] {
        let b = Bench::new();
        let (c, _) = b.bound("c");
        let (s, _) = b.bound("s");
        let (u, _) = b.bound("u"); // unrelated, registered last
        assert_eq!(order_names(&b.core), ["c", "s", "u"]);
        b.core.link_add(&c, &s, flags).unwrap();
        b.log.take();
        let done: Vec<String> = block_on(b.core.shutdown())
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        let at = |n: &str| done.iter().position(|x| x == n).unwrap();
        assert_eq!(done.len(), 3, "{done:?}");
        assert!(at("c") < at("s"), "{flags:?}: {done:?}");
        let log = b.log.with_prefix("shutdown:");
        let at = |n: &str| log.iter().position(|x| x == n).unwrap();
        assert!(
            at("shutdown:platform:c") < at("shutdown:platform:s"),
            "{log:?}"
        );
        // Shutdown walks the list backwards.
        let mut rev = order_names(&b.core);
        rev.reverse();
        assert_eq!(done, rev);
        drop((c, s, u));
    }
}

// ---------------------------------------------------------------------------
// Behaviours 73–78: sysfs.
// ---------------------------------------------------------------------------

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn canon(p: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn b73_link_directory_and_device_symlinks_on_disk() {
    let b = Bench::new();
    let s = b.core.device("soc:pmic").bus("platform").create();
    let c = b.core.device("1-0050").bus("i2c").create();
    block_on(b.core.device_add(&s)).unwrap();
    block_on(b.core.device_add(&c)).unwrap();
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    let name = "platform:soc:pmic--i2c:1-0050";
    assert_eq!(l.name().unwrap(), name);

    let view = b.core.topology();
    assert!(view.link_named(name).is_some());
    let sv = view.find("platform:soc:pmic").unwrap();
    let cv = view.find("i2c:1-0050").unwrap();
    assert_eq!(
        view.consumer_entries(sv),
        [("consumer:i2c:1-0050".to_string(), name.to_string())]
    );
    assert_eq!(
        view.supplier_entries(cv),
        [("supplier:platform:soc:pmic".to_string(), name.to_string())]
    );

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    view.write_sysfs(root).unwrap();
    let class_entry = root.join("class/devlink").join(name);
    assert!(class_entry.is_dir(), "/sys/class/devlink/{name} exists");
    assert!(std::fs::symlink_metadata(&class_entry)
        .unwrap()
        .file_type()
        .is_symlink());
    let link_dir = canon(&class_entry);
    assert_eq!(
        link_dir,
        canon(&root.join("devices/virtual/devlink").join(name))
    );
    for (file, value) in [
        ("status", "dormant\n"),
        ("auto_remove_on", "never\n"),
        ("runtime_pm", "0\n"),
        ("sync_state_only", "0\n"),
    ] {
        assert_eq!(read(&class_entry.join(file)), value, "{file}");
    }
    let s_dir = root.join(&view.device(sv).path);
    let c_dir = root.join(&view.device(cv).path);
    assert_eq!(
        canon(&root.join("bus/platform/devices/soc:pmic")),
        canon(&s_dir)
    );
    assert_eq!(canon(&root.join("bus/i2c/devices/1-0050")), canon(&c_dir));
    // In S's directory: consumer:<C bus>:<C name> -> the link directory.
    let consumer_link = s_dir.join("consumer:i2c:1-0050");
    assert!(std::fs::symlink_metadata(&consumer_link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(canon(&consumer_link), link_dir);
    // In C's directory: supplier:<S bus>:<S name> -> the link directory.
    let supplier_link = c_dir.join("supplier:platform:soc:pmic");
    assert!(std::fs::symlink_metadata(&supplier_link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(canon(&supplier_link), link_dir);
    // Inside the link directory: supplier -> S, consumer -> C.
    assert_eq!(canon(&link_dir.join("supplier")), canon(&s_dir));
    assert_eq!(canon(&link_dir.join("consumer")), canon(&c_dir));
    // The relative symlink targets resolve inside the tree.
    let target = std::fs::read_link(&consumer_link).unwrap();
    assert!(target.is_relative(), "{}", target.display());
    // Exactly one link entry per device directory.
    let entries = |dir: &Path, prefix: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(prefix))
            .collect();
        v.sort();
        v
    };
    assert_eq!(entries(&s_dir, "consumer:"), ["consumer:i2c:1-0050"]);
    assert_eq!(entries(&s_dir, "supplier:"), Vec::<String>::new());
    assert_eq!(entries(&c_dir, "supplier:"), ["supplier:platform:soc:pmic"]);
    assert_eq!(entries(&c_dir, "consumer:"), Vec::<String>::new());
}

#[test]
fn b74_supplier_without_bus_or_class_gives_empty_bus_part() {
    let b = Bench::new();
    let s = b.core.device("foo").create();
    let c = b.core.device("bar").bus("platform").create();
    block_on(b.core.device_add(&s)).unwrap();
    block_on(b.core.device_add(&c)).unwrap();
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(l.name().unwrap(), ":foo--platform:bar");
    let view = b.core.topology();
    assert!(view.link_named(":foo--platform:bar").is_some());
    let cv = view.find("platform:bar").unwrap();
    assert_eq!(
        view.supplier_entries(cv),
        [(
            "supplier::foo".to_string(),
            ":foo--platform:bar".to_string()
        )]
    );
    let tmp = tempfile::tempdir().unwrap();
    view.write_sysfs(tmp.path()).unwrap();
    assert!(tmp.path().join("class/devlink/:foo--platform:bar").is_dir());
    assert_eq!(
        read(&tmp.path().join("class/devlink/:foo--platform:bar/status")),
        "dormant\n"
    );
}

/// Produces a link in `state` through the ordinary flows and returns the
/// `status` file as the view and the on-disk tree show it.
fn status_in(state: LinkState) -> (LinkState, String, String) {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let read_status = |l: &Link| {
        let name = l.name().unwrap();
        let view = b.core.topology();
        let mem = view
            .link_named(&name)
            .unwrap()
            .sysfs_attribute("status")
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        view.write_sysfs(tmp.path()).unwrap();
        let disk = read(&tmp.path().join("class/devlink").join(&name).join("status"));
        (l.state().unwrap(), mem, disk)
    };
    match state {
        LinkState::None => read_status(&b.core.link_add(&c, &s, STATELESS).unwrap()),
        LinkState::Dormant => read_status(&b.core.link_add(&c, &s, NONE).unwrap()),
        LinkState::Available => {
            b.driver("s");
            read_status(&b.core.link_add(&c, &s, NONE).unwrap())
        }
        LinkState::ConsumerProbe => {
            // T2: an AVAILABLE link goes to CONSUMER_PROBE while C probes.
            b.driver("s");
            let l = b.core.link_add(&c, &s, NONE).unwrap();
            let (probe, gate) = probe_held(&b, &c);
            let ready =
                || l.state().unwrap() == LinkState::ConsumerProbe && c.state() == DevState::Probing;
            let r = run_during(vec![probe], &[gate], ready, || read_status(&l));
            assert_eq!(l.state().unwrap(), LinkState::Active, "after the probe");
            r
        }
        LinkState::Active => {
            b.driver("s");
            b.driver("c");
            read_status(&b.core.link_add(&c, &s, NONE).unwrap())
        }
        LinkState::SupplierUnbind => {
            // T5: S's unbind sets the link to SUPPLIER_UNBIND before S's
            // remove callback, which is held open here.
            let gate = bind_hold_remove(&b, &s);
            let l = b.core.link_add(&c, &s, NONE).unwrap();
            assert_eq!(l.state().unwrap(), LinkState::Available);
            let unbind: Action<'_> = Box::pin(async { b.core.unbind(&s).await.unwrap() });
            let ready = || {
                s.state() == DevState::Unbinding
                    && b.log.entries().contains(&"remove:platform:s".to_string())
            };
            let r = run_during(vec![unbind], &[gate], ready, || read_status(&l));
            assert_eq!(l.state().unwrap(), LinkState::Dormant, "after the unbind");
            r
        }
    }
}

#[test]
fn b75_status_strings_for_every_state() {
    let table = [
        (LinkState::None, "not tracked\n"),
        (LinkState::Dormant, "dormant\n"),
        (LinkState::Available, "available\n"),
        (LinkState::ConsumerProbe, "consumer probing\n"),
        (LinkState::Active, "active\n"),
        (LinkState::SupplierUnbind, "supplier unbinding\n"),
    ];
    assert_eq!(
        table.map(|(s, _)| s),
        LinkState::ALL,
        "the table covers every state"
    );
    for (state, want) in table {
        let (got_state, mem, disk) = status_in(state);
        assert_eq!(
            got_state, state,
            "row {state:?}: scenario reached the state"
        );
        assert_eq!(mem, want, "row {state:?}: status in the view");
        assert_eq!(disk, want, "row {state:?}: status file on disk");
        assert_ne!(mem, "unknown\n");
    }
    // "unknown" is not a state a reader may accept.
    assert_eq!(LinkState::from_sysfs("unknown\n"), None);
}

#[test]
fn b76_auto_remove_on_strings() {
    let table = [
        ("AUTOREMOVE_SUPPLIER", AR_SUPPLIER, "supplier unbind\n"),
        ("AUTOREMOVE_CONSUMER", AR_CONSUMER, "consumer unbind\n"),
        ("none", NONE, "never\n"),
        ("stateless", STATELESS, "never\n"),
        // Supplier is checked first (N2 also clears AUTOREMOVE_CONSUMER).
        ("both", AR_SUPPLIER | AR_CONSUMER, "supplier unbind\n"),
    ];
    for (row, flags, want) in table {
        let b = Bench::new();
        let s = b.dev("s");
        let c = b.dev("c");
        let l = b.core.link_add(&c, &s, flags).unwrap();
        let view = b.core.topology();
        let got = view
            .link_named(&l.name().unwrap())
            .unwrap()
            .sysfs_attribute("auto_remove_on");
        assert_eq!(got.as_deref(), Some(want), "row {row}");
    }
}

#[test]
fn b77_sync_state_only_and_runtime_pm_strings() {
    // (row, flags of first add, flags of a second add (or None), file, value)
    let table: [(&str, LinkFlags, Option<LinkFlags>, &str, &str); 9] = [
        ("SYNC_STATE_ONLY", SSO, None, "sync_state_only", "1\n"),
        (
            "SYNC_STATE_ONLY|INFERRED|CYCLE",
            SSO | INFERRED | CYCLE,
            None,
            "sync_state_only",
            "1\n",
        ),
        ("managed", NONE, None, "sync_state_only", "0\n"),
        ("stateless", STATELESS, None, "sync_state_only", "0\n"),
        // The raw bit, not the §2.8 predicate: a sync-state-only link made
        // dual by a stateless add still reads 1.
        (
            "SYNC_STATE_ONLY + STATELESS add",
            SSO,
            Some(STATELESS),
            "sync_state_only",
            "1\n",
        ),
        ("PM_RUNTIME", PM_RUNTIME, None, "runtime_pm", "1\n"),
        (
            "STATELESS|PM_RUNTIME",
            STATELESS | PM_RUNTIME,
            None,
            "runtime_pm",
            "1\n",
        ),
        ("managed", NONE, None, "runtime_pm", "0\n"),
        ("SYNC_STATE_ONLY", SSO, None, "runtime_pm", "0\n"),
    ];
    for (row, first, second, file, want) in table {
        let b = Bench::new();
        let s = b.dev("s");
        let c = b.dev("c");
        let l = b.core.link_add(&c, &s, first).unwrap();
        if let Some(f) = second {
            assert_eq!(b.core.link_add(&c, &s, f).unwrap(), l, "row {row}");
        }
        let view = b.core.topology();
        let got = view
            .link_named(&l.name().unwrap())
            .unwrap()
            .sysfs_attribute(file);
        assert_eq!(got.as_deref(), Some(want), "row {row}: {file}");
    }
}

#[test]
fn b78_removal_after_consumer_deletion_removes_only_the_supplier_side_symlink() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let keep = b.dev("k"); // a second consumer whose symlinks must stay
    let l = b.core.link_add(&c, &s, STATELESS).unwrap();
    b.core.link_add(&keep, &s, STATELESS).unwrap();
    let name = l.name().unwrap();
    let view = b.core.topology();
    assert_eq!(view.consumer_entries(view.find("s").unwrap()).len(), 2);
    assert_eq!(
        view.supplier_entries(view.find("c").unwrap()),
        [("supplier:platform:s".to_string(), name.clone())]
    );

    // The consumer goes first; the link's sysfs removal runs while C is no
    // longer registered.
    block_on(b.core.device_del(&c)).unwrap();
    assert!(!l.exists());
    let view = b.core.topology();
    assert!(view.link_named(&name).is_none());
    assert!(
        view.find("c").is_err(),
        "C's directory is gone with C; nothing left to touch"
    );
    assert_eq!(
        view.consumer_entries(view.find("s").unwrap()),
        [(
            "consumer:platform:k".to_string(),
            "platform:s--platform:k".to_string()
        )],
        "the supplier-side consumer:platform:c symlink is removed, the other stays"
    );
    assert_eq!(
        b.core
            .diagnostics()
            .count(|d| matches!(d, Diagnostic::Symlink { .. })),
        0,
        "no attempt to remove the consumer-side symlink (no WARN)"
    );
    let tmp = tempfile::tempdir().unwrap();
    view.write_sysfs(tmp.path()).unwrap();
    let s_dir = tmp.path().join(&view.device(view.find("s").unwrap()).path);
    assert!(std::fs::symlink_metadata(s_dir.join("consumer:platform:c")).is_err());
    assert!(s_dir.join("consumer:platform:k").is_dir());
    assert!(!tmp.path().join("class/devlink").join(&name).exists());

    // A link made while its consumer was not registered never had device
    // symlinks (the class-interface hook failed); removing it is silent.
    let c2 = b.init("c2");
    let l2 = b.core.link_add(&c2, &s, NONE).unwrap();
    let view = b.core.topology();
    let lv = view.link_named(&l2.name().unwrap()).unwrap();
    // No sysfs ends: the consumer is not in the topology, and the
    // directory has no supplier/consumer symlinks.
    assert_eq!(lv.consumer, None);
    assert!(!lv.sysfs_ends);
    assert_eq!(view.consumer_entries(view.find("s").unwrap()).len(), 1);
    b.core.link_del(&l2).unwrap();
    assert!(!l2.exists());
    assert_eq!(
        {
            let t = b.core.topology();
            t.consumer_entries(t.find("s").unwrap())
        },
        [(
            "consumer:platform:k".to_string(),
            "platform:s--platform:k".to_string()
        )]
    );
    assert!(
        b.core.diagnostics().is_empty(),
        "{:?}",
        b.core.diagnostics().snapshot()
    );
}

// ---------------------------------------------------------------------------
// Property: random device adds and link adds keep the ordering invariant,
// and a rejected add changes nothing.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// Create a device (child of an existing one if `parent` is set) and
    /// register it unless `register` is false.
    AddDevice {
        parent: Option<usize>,
        register: bool,
    },
    /// Register an initialised device (if its parent is registered).
    Register(usize),
    /// Register a driver for a device (binding it if it can probe).
    Bind(usize),
    /// `link_add(consumer, supplier, flags)`.
    Link {
        consumer: usize,
        supplier: usize,
        flags: u32,
    },
}

fn flags_strategy() -> impl Strategy<Value = u32> {
    let valid = LinkFlags::ADD_VALID.bits();
    prop_oneof![
        3 => Just(0u32),
        2 => Just(STATELESS.bits()),
        2 => Just(SSO.bits()),
        1 => Just((SSO | INFERRED | CYCLE).bits()),
        1 => Just((PM_RUNTIME | LinkFlags::RPM_ACTIVE).bits()),
        1 => Just((STATELESS | PM_RUNTIME | LinkFlags::RPM_ACTIVE).bits()),
        1 => Just(AR_SUPPLIER.bits()),
        1 => Just((LinkFlags::AUTOPROBE_CONSUMER | INFERRED).bits()),
        4 => (0u32..0x400).prop_map(move |x| x & valid),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (proptest::option::weighted(0.4, 0usize..64), proptest::bool::weighted(0.85))
            .prop_map(|(parent, register)| Op::AddDevice { parent, register }),
        1 => (0usize..64).prop_map(Op::Register),
        1 => (0usize..64).prop_map(Op::Bind),
        8 => (0usize..64, 0usize..64, flags_strategy())
            .prop_map(|(consumer, supplier, flags)| Op::Link { consumer, supplier, flags }),
    ]
}

/// `device_is_dependent(x, target)` straight from spec §4.4 (no order
/// shortcut): `x` is `target`, an ancestor of it, or reaches it through
/// registered children and links that are not sync-state-only.
fn model_is_dependent(core: &DriverCore, x: &Device, target: &Device) -> bool {
    if x == target {
        return true;
    }
    let mut p = target.parent();
    while let Some(pp) = p {
        if &pp == x {
            return true;
        }
        p = pp.parent();
    }
    let children = core
        .devices()
        .into_iter()
        .filter(|d| d.parent().as_ref() == Some(x));
    for child in children {
        if model_is_dependent(core, &child, target) {
            return true;
        }
    }
    x.consumer_links().iter().any(|l| {
        let i = l.info().unwrap();
        !i.flags.is_sync_state_only() && model_is_dependent(core, &i.consumer, target)
    })
}

/// What `device_link_add(c, s, flags)` must return, by the §2.3 checks in
/// order (R1, R6, R11 and R12 cannot happen in the property test).
fn model_verdict(core: &DriverCore, c: &Device, s: &Device, flags: u32) -> Result<(), ErrorKind> {
    let has = |f: LinkFlags| flags & f.bits() != 0;
    let invalid = ErrorKind::InvalidInput;
    if c == s {
        return Err(invalid); // R2
    }
    if flags & !0x3BF != 0 {
        return Err(invalid); // R3
    }
    if has(STATELESS) && flags & 0x3B2 != 0 {
        return Err(invalid); // R4
    }
    if has(LinkFlags::AUTOPROBE_CONSUMER) && has(AR_CONSUMER | AR_SUPPLIER) {
        return Err(invalid); // R5
    }
    let sso = has(SSO);
    if sso && (flags & !0x340) != 0x080 {
        return Err(invalid); // R7
    }
    if !s.is_registered() {
        return Err(ErrorKind::NoDevice); // R8
    }
    if !sso && model_is_dependent(core, c, s) {
        return Err(invalid); // R9
    }
    if sso && !matches!(c.state(), DevState::NoDriver | DevState::Probing) {
        return Err(ErrorKind::Busy); // R10
    }
    Ok(())
}

fn run_ops(ops: &[Op]) {
    let b = Bench::new();
    let mut devs: Vec<Device> = Vec::new();
    let mut drivers = std::collections::HashSet::new();
    for (step, op) in ops.iter().enumerate() {
        let ctx = format!("step {step} {op:?}");
        match *op {
            Op::AddDevice { parent, register } => {
                let name = format!("d{}", devs.len());
                let mut builder = b.core.device(&name).bus("platform").compatible(&name);
                if let Some(p) = parent.filter(|_| !devs.is_empty()) {
                    let p = &devs[p % devs.len()];
                    if p.is_registered() {
                        builder = builder.parent(p);
                    }
                }
                let d = builder.create();
                if register {
                    block_on(b.core.device_add(&d)).unwrap();
                }
                devs.push(d);
            }
            Op::Register(i) => {
                if let Some(d) = devs.get(i % devs.len().max(1)) {
                    if !d.is_registered() && d.parent().map_or(true, |p| p.is_registered()) {
                        block_on(b.core.device_add(d)).unwrap();
                    }
                }
            }
            Op::Bind(i) => {
                if let Some(d) = devs.get(i % devs.len().max(1)) {
                    if drivers.insert(d.name().to_string()) {
                        b.driver(d.name());
                    }
                }
            }
            Op::Link {
                consumer,
                supplier,
                flags,
            } => {
                if devs.is_empty() {
                    continue;
                }
                let refs: Vec<&Device> = devs.iter().collect();
                let before = snapshot(&b.core, &refs);
                let (c, s) = (refs[consumer % refs.len()], refs[supplier % refs.len()]);
                let expected = model_verdict(&b.core, c, s, flags);
                let r = b.core.link_add(c, s, LinkFlags::from_bits_retain(flags));
                assert_eq!(
                    r.as_ref().map(|_| ()).map_err(Error::kind),
                    expected,
                    "{ctx}: verdict differs from the spec's checks (§2.3, §4.4)"
                );
                if let Err(e) = r {
                    let after = snapshot(&b.core, &refs);
                    assert_eq!(after, before, "{ctx}: rejected ({e}) but something changed");
                }
            }
        }
        assert_order_invariant(&b.core, &ctx);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn prop_random_adds_keep_order_invariant_and_rejections_change_nothing(
        ops in proptest::collection::vec(op_strategy(), 1..40)
    ) {
        run_ops(&ops);
    }
}
