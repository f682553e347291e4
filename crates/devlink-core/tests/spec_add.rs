//! Spec `device-links.md` §8, behaviours 1–41: `device_link_add` — initial
//! states (§3.3), validation and rejection without side effects (§2.3),
//! dependency-loop refusal (§4.4), runtime-PM accounting (§2.7) and updates
//! of an existing link (§2.5, §2.6).
//!
//! "add" is `device_link_add(C, S, flags)` = `core.link_add(&c, &s, flags)`.
//! Rejections are typed errors whose kind follows spec A1.

mod common;
mod spec_support;

use common::*;
use devlink_core::*;
use spec_support::*;

const NONE: LinkFlags = LinkFlags::empty();
const STATELESS: LinkFlags = LinkFlags::STATELESS;
const AR_CONSUMER: LinkFlags = LinkFlags::AUTOREMOVE_CONSUMER;
const AR_SUPPLIER: LinkFlags = LinkFlags::AUTOREMOVE_SUPPLIER;
const PM_RUNTIME: LinkFlags = LinkFlags::PM_RUNTIME;
const RPM_ACTIVE: LinkFlags = LinkFlags::RPM_ACTIVE;
const AUTOPROBE: LinkFlags = LinkFlags::AUTOPROBE_CONSUMER;
const SSO: LinkFlags = LinkFlags::SYNC_STATE_ONLY;
const INFERRED: LinkFlags = LinkFlags::INFERRED;
const CYCLE: LinkFlags = LinkFlags::CYCLE;

fn attr(core: &DriverCore, link: &Link, file: &str) -> String {
    let view = core.topology();
    let name = link.name().unwrap();
    view.link_named(&name)
        .unwrap_or_else(|| panic!("no sysfs entry for {name}"))
        .sysfs_attribute(file)
        .unwrap_or_else(|| panic!("{name} has no attribute {file}"))
}

/// Asserts that `r` is a rejection of kind `kind` and that nothing observable
/// changed against `before` (spec §2.3: no link, no reference, no runtime-PM
/// change, no list move, no sysfs entry).
fn assert_rejected(
    what: &str,
    r: Result<Link>,
    kind: ErrorKind,
    core: &DriverCore,
    devs: &[&Device],
    before: &Snapshot,
) {
    match r {
        Ok(l) => panic!("{what}: expected a rejection ({kind:?}), got {l:?}"),
        Err(e) => assert_eq!(e.kind(), kind, "{what}: wrong error kind for {e}"),
    }
    let after = snapshot(core, devs);
    assert_eq!(&after, before, "{what}: the rejected add changed something");
}

// ---------------------------------------------------------------------------
// Behaviours 1–7: the §3.3 initial-state table.
// ---------------------------------------------------------------------------

use DevState::{
    DriverBound as BOUND, NoDriver as NO_DRIVER, Probing as PROBING, Unbinding as UNBINDING,
};

/// `(behaviour number or 0 for a §3.3 cell no behaviour names, S state,
/// C state, expected initial link state)`.
const INITIAL_STATE_TABLE: [(u32, DevState, DevState, LinkState); 16] = [
    (1, NO_DRIVER, NO_DRIVER, LinkState::Dormant),
    (0, NO_DRIVER, PROBING, LinkState::Dormant),
    (0, NO_DRIVER, BOUND, LinkState::Dormant),
    (0, NO_DRIVER, UNBINDING, LinkState::Dormant),
    (6, PROBING, NO_DRIVER, LinkState::Dormant),
    (5, PROBING, PROBING, LinkState::ConsumerProbe),
    (0, PROBING, BOUND, LinkState::Dormant),
    (0, PROBING, UNBINDING, LinkState::Dormant),
    (2, BOUND, NO_DRIVER, LinkState::Available),
    (4, BOUND, PROBING, LinkState::ConsumerProbe),
    (3, BOUND, BOUND, LinkState::Active),
    (0, BOUND, UNBINDING, LinkState::Available),
    (7, UNBINDING, NO_DRIVER, LinkState::SupplierUnbind),
    (7, UNBINDING, PROBING, LinkState::SupplierUnbind),
    (7, UNBINDING, BOUND, LinkState::SupplierUnbind),
    (7, UNBINDING, UNBINDING, LinkState::SupplierUnbind),
];

/// Runs every row of the table selected by `select`: brings S and C into the
/// row's states, adds a managed link with no flags, and checks the state
/// (and that it is an ordinary new managed link: flags 0x040, kref 1).
fn check_initial_state_rows(select: impl Fn(u32) -> bool) {
    let mut ran = 0;
    for (behaviour, s_state, c_state, want) in INITIAL_STATE_TABLE {
        if !select(behaviour) {
            continue;
        }
        ran += 1;
        let row = format!("row (S {s_state:?}, C {c_state:?}) [behaviour {behaviour}]");
        let b = Bench::new();
        let s = b.dev("s");
        let c = b.dev("c");
        let info = in_states(&b, &[(&s, s_state), (&c, c_state)], || {
            let link = b
                .core
                .link_add(&c, &s, NONE)
                .unwrap_or_else(|e| panic!("{row}: add failed: {e}"));
            link.info().unwrap()
        });
        assert_eq!(info.state, want, "{row}: initial state");
        assert_eq!(info.flags.bits(), 0x040, "{row}: stored flags");
        assert_eq!(info.kref, 1, "{row}: kref");
    }
    assert!(ran > 0, "no table row selected");
}

#[test]
fn b01_add_with_no_flags_is_managed_dormant_kref1() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let link = b.core.link_add(&c, &s, NONE).unwrap();
    let info = link.info().unwrap();
    assert_eq!(info.flags.bits(), 0x040);
    assert_eq!(info.flags, LinkFlags::MANAGED);
    assert_eq!(info.state, LinkState::Dormant);
    assert_eq!(info.kref, 1);
    assert_eq!(info.rpm_active, 1);
    assert_eq!(info.supplier, s);
    assert_eq!(info.consumer, c);
    assert_eq!(b.core.link_count(), 1);
    assert_eq!(attr(&b.core, &link, "status"), "dormant\n");
    check_initial_state_rows(|n| n == 1);
}

#[test]
fn b02_supplier_bound_consumer_unbound_is_available() {
    check_initial_state_rows(|n| n == 2);
}

#[test]
fn b03_both_bound_is_active() {
    check_initial_state_rows(|n| n == 3);
}

#[test]
fn b04_supplier_bound_consumer_probing_is_consumer_probe() {
    check_initial_state_rows(|n| n == 4);
}

#[test]
fn b05_both_probing_is_consumer_probe() {
    check_initial_state_rows(|n| n == 5);
}

#[test]
fn b06_supplier_probing_consumer_unbound_is_dormant() {
    check_initial_state_rows(|n| n == 6);
}

#[test]
fn b07_supplier_unbinding_is_supplier_unbind_whatever_the_consumer() {
    check_initial_state_rows(|n| n == 7);
}

/// The whole §3.3 table, including the cells no numbered behaviour names.
#[test]
fn b01_to_b07_initial_state_table_all_cells() {
    check_initial_state_rows(|_| true);
}

// ---------------------------------------------------------------------------
// Behaviours 8–29: validation and rejection.
// ---------------------------------------------------------------------------

#[test]
fn b08_stateless_add_is_not_tracked() {
    let states = [NO_DRIVER, PROBING, BOUND, UNBINDING];
    for s_state in states {
        for c_state in states {
            let row = format!("S {s_state:?}, C {c_state:?}");
            let b = Bench::new();
            let s = b.dev("s");
            let c = b.dev("c");
            let (info, status) = in_states(&b, &[(&s, s_state), (&c, c_state)], || {
                let link = b
                    .core
                    .link_add(&c, &s, STATELESS)
                    .unwrap_or_else(|e| panic!("{row}: {e}"));
                (link.info().unwrap(), attr(&b.core, &link, "status"))
            });
            assert_eq!(info.flags.bits(), 0x001, "{row}: flags");
            assert_eq!(info.state, LinkState::None, "{row}: state");
            assert_eq!(info.kref, 1, "{row}: kref");
            assert_eq!(status, "not tracked\n", "{row}: sysfs status");
        }
    }
}

#[test]
fn b09_absent_endpoint_is_rejected_without_side_effects() {
    // In Rust an endpoint cannot be NULL; the nearest "absent" device is one
    // that does not exist in this driver core (R1, InvalidInput).
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let other = Bench::new();
    let foreign = other.dev("c");
    let before = snapshot(&b.core, &[&s, &c, &foreign]);
    let foreign_before = snapshot(&other.core, &[&foreign]);
    let r = b.core.link_add(&foreign, &s, NONE);
    assert_rejected(
        "foreign consumer",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&s, &c, &foreign],
        &before,
    );
    let r = b.core.link_add(&c, &foreign, NONE);
    assert_rejected(
        "foreign supplier",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&s, &c, &foreign],
        &before,
    );
    let r = b.core.link_add(&foreign, &foreign, NONE);
    assert_rejected(
        "both foreign",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&s, &c, &foreign],
        &before,
    );
    assert_eq!(snapshot(&other.core, &[&foreign]), foreign_before);
    assert_eq!(other.core.link_count(), 0);
}

#[test]
fn b10_self_link_is_rejected_without_side_effects_or_warn() {
    let b = Bench::new();
    let s = b.dev("s");
    for flags in [NONE, STATELESS, PM_RUNTIME | RPM_ACTIVE] {
        let before = snapshot(&b.core, &[&s]);
        let r = b.core.link_add(&s, &s, flags);
        assert_rejected(
            &format!("self link {flags:?}"),
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s],
            &before,
        );
    }
    assert!(
        b.core.diagnostics().is_empty(),
        "R2 must not WARN: {:?}",
        b.core.diagnostics().snapshot()
    );
}

#[test]
fn b11_caller_passing_managed_is_rejected() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c]);
    for bits in [0x040, 0x040 | 0x002, 0x040 | 0x001] {
        let r = b.core.link_add(&c, &s, LinkFlags::from_bits_retain(bits));
        assert_rejected(
            &format!("flags {bits:#x}"),
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s, &c],
            &before,
        );
    }
}

#[test]
fn b12_unknown_flag_bit_10_is_rejected() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c]);
    for bits in [0x400, 0x400 | 0x001, 0x8000_0000] {
        let r = b.core.link_add(&c, &s, LinkFlags::from_bits_retain(bits));
        assert_rejected(
            &format!("flags {bits:#x}"),
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s, &c],
            &before,
        );
    }
}

#[test]
fn b13_stateless_with_autoremove_consumer_is_rejected_without_sysfs_entry() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c]);
    let r = b.core.link_add(&c, &s, STATELESS | AR_CONSUMER);
    assert_rejected(
        "STATELESS|AUTOREMOVE_CONSUMER",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&s, &c],
        &before,
    );
    let view = b.core.topology();
    assert!(
        view.links().is_empty(),
        "no devlink directory: {:?}",
        view.links()
    );
    assert!(view.link_named("platform:s--platform:c").is_none());
    assert!(view.consumer_entries(view.find("s").unwrap()).is_empty());
    assert!(view.supplier_entries(view.find("c").unwrap()).is_empty());
}

#[test]
fn b14_stateless_with_any_managed_only_flag_is_rejected() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c]);
    let rows = [
        ("SYNC_STATE_ONLY", SSO),
        ("INFERRED", INFERRED),
        ("CYCLE", CYCLE),
        ("AUTOPROBE_CONSUMER", AUTOPROBE),
        ("AUTOREMOVE_SUPPLIER", AR_SUPPLIER),
        ("AUTOREMOVE_CONSUMER", AR_CONSUMER),
    ];
    for (name, flag) in rows {
        let r = b.core.link_add(&c, &s, STATELESS | flag);
        assert_rejected(
            &format!("STATELESS|{name}"),
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s, &c],
            &before,
        );
    }
}

#[test]
fn b15_autoprobe_with_autoremove_is_rejected() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c]);
    let rows = [
        (
            "AUTOPROBE_CONSUMER|AUTOREMOVE_SUPPLIER",
            AUTOPROBE | AR_SUPPLIER,
        ),
        (
            "AUTOPROBE_CONSUMER|AUTOREMOVE_CONSUMER",
            AUTOPROBE | AR_CONSUMER,
        ),
    ];
    for (name, flags) in rows {
        let r = b.core.link_add(&c, &s, flags);
        assert_rejected(
            name,
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s, &c],
            &before,
        );
    }
    // AUTOPROBE_CONSUMER alone is fine.
    let l = b.core.link_add(&c, &s, AUTOPROBE).unwrap();
    assert_eq!(l.flags().unwrap().bits(), 0x060);
}

#[test]
fn b16_sync_state_only_with_pm_runtime_is_rejected_before_resuming() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c]);
    let resumes = s.runtime_pm().resumes;
    let rows = [
        ("SYNC_STATE_ONLY|PM_RUNTIME", SSO | PM_RUNTIME),
        // Kernel quirk A2: R7 after P1 leaks a usage reference. The library
        // validates first, so nothing leaks and S is not even resumed.
        (
            "SYNC_STATE_ONLY|PM_RUNTIME|RPM_ACTIVE",
            SSO | PM_RUNTIME | RPM_ACTIVE,
        ),
        ("SYNC_STATE_ONLY|RPM_ACTIVE", SSO | RPM_ACTIVE),
        ("SYNC_STATE_ONLY|AUTOREMOVE_CONSUMER", SSO | AR_CONSUMER),
        ("SYNC_STATE_ONLY|AUTOREMOVE_SUPPLIER", SSO | AR_SUPPLIER),
        ("SYNC_STATE_ONLY|AUTOPROBE_CONSUMER", SSO | AUTOPROBE),
    ];
    for (name, flags) in rows {
        let r = b.core.link_add(&c, &s, flags);
        assert_rejected(
            name,
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s, &c],
            &before,
        );
    }
    assert_eq!(s.runtime_pm().resumes, resumes, "R7 runs before P1 (A2)");
    // Markers may accompany SYNC_STATE_ONLY.
    let l = b.core.link_add(&c, &s, SSO | INFERRED | CYCLE).unwrap();
    assert_eq!(l.flags().unwrap().bits(), 0x3C0);
}

#[test]
fn b17_supplier_not_yet_added_is_rejected_but_unregistered_consumer_is_fine() {
    let b = Bench::new();
    let s_init = b.init("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s_init, &c]);
    let r = b.core.link_add(&c, &s_init, NONE);
    assert_rejected(
        "supplier initialised only",
        r,
        ErrorKind::NoDevice,
        &b.core,
        &[&s_init, &c],
        &before,
    );

    // The converse: a consumer that is only initialised may be linked to a
    // registered supplier.
    let s = b.dev("s2");
    let c_init = b.init("c2");
    let l = b.core.link_add(&c_init, &s, NONE).unwrap();
    assert_eq!(l.state().unwrap(), LinkState::Dormant);
    assert_eq!(l.flags().unwrap().bits(), 0x040);
}

#[test]
fn b18_deleted_supplier_is_rejected() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    block_on(b.core.device_del(&s)).unwrap();
    let before = snapshot(&b.core, &[&s, &c]);
    let r = b.core.link_add(&c, &s, NONE);
    assert_rejected(
        "deleted supplier",
        r,
        ErrorKind::NoDevice,
        &b.core,
        &[&s, &c],
        &before,
    );
    let r = b.core.link_add(&c, &s, STATELESS);
    assert_rejected(
        "deleted supplier, stateless",
        r,
        ErrorKind::NoDevice,
        &b.core,
        &[&s, &c],
        &before,
    );
}

#[test]
fn b19_unregistered_consumer_is_linked_and_not_moved() {
    let b = Bench::new();
    let c = b.init("c");
    let _x = b.dev("x");
    let s = b.dev("s");
    let order = |core: &DriverCore| {
        core.devices()
            .iter()
            .map(|d| d.name().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&b.core), ["x", "s"]);
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(l.state().unwrap(), LinkState::Dormant);
    assert_eq!(b.core.link_count(), 1);
    assert_eq!(
        order(&b.core),
        ["x", "s"],
        "C is not in the list and nothing moved"
    );
    assert!(!c.is_registered());
    // Registering C later appends it at the tail, after its supplier.
    block_on(b.core.device_add(&c)).unwrap();
    assert_eq!(order(&b.core), ["x", "s", "c"]);
    assert!(l.exists());
}

#[test]
fn b20_reverse_of_a_managed_link_is_rejected() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    b.core.link_add(&c, &s, NONE).unwrap();
    let before = snapshot(&b.core, &[&s, &c]);
    for flags in [NONE, STATELESS, PM_RUNTIME | RPM_ACTIVE] {
        let r = b.core.link_add(&s, &c, flags);
        assert_rejected(
            &format!("reverse {flags:?}"),
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s, &c],
            &before,
        );
    }
}

#[test]
fn b21_parent_cannot_depend_on_its_child_but_child_on_parent_can() {
    let b = Bench::new();
    let p = b.dev("p");
    let k = b.core.device("k").bus("platform").parent(&p).create();
    block_on(b.core.device_add(&k)).unwrap();
    let before = snapshot(&b.core, &[&p, &k]);
    let r = b.core.link_add(&p, &k, NONE);
    assert_rejected(
        "consumer P, supplier K",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&p, &k],
        &before,
    );
    let r = b.core.link_add(&p, &k, STATELESS);
    assert_rejected(
        "consumer P, supplier K, stateless",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&p, &k],
        &before,
    );
    let l = b.core.link_add(&k, &p, NONE).unwrap();
    assert_eq!(l.supplier().unwrap(), p);
    assert_eq!(l.consumer().unwrap(), k);

    // Through two levels of parenthood: P cannot depend on its grandchild.
    let k2 = b.core.device("k2").bus("platform").parent(&p).create();
    block_on(b.core.device_add(&k2)).unwrap();
    let grandchild = b.core.device("g").bus("platform").parent(&k2).create();
    block_on(b.core.device_add(&grandchild)).unwrap();
    let before = snapshot(&b.core, &[&p, &k2, &grandchild]);
    let r = b.core.link_add(&p, &grandchild, NONE);
    assert_rejected(
        "consumer P, supplier grandchild",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&p, &k2, &grandchild],
        &before,
    );
}

#[test]
fn b22_transitive_cycle_is_rejected() {
    // Both registration orders: the order list must not matter.
    for names in [["a", "b", "c"], ["c", "b", "a"]] {
        let b = Bench::new();
        for n in names {
            b.dev(n);
        }
        let get = |n: &str| b.core.find_device(n).unwrap();
        let (a, bb, c) = (get("a"), get("b"), get("c"));
        b.core.link_add(&bb, &a, NONE).unwrap(); // A -> B
        b.core.link_add(&c, &bb, NONE).unwrap(); // B -> C
        let before = snapshot(&b.core, &[&a, &bb, &c]);
        let r = b.core.link_add(&a, &c, NONE);
        assert_rejected(
            &format!("consumer A, supplier C (registered {names:?})"),
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&a, &bb, &c],
            &before,
        );
    }
}

#[test]
fn b23_stateless_links_count_for_cycles() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    b.core.link_add(&c, &s, STATELESS).unwrap();
    let before = snapshot(&b.core, &[&s, &c]);
    for flags in [NONE, STATELESS] {
        let r = b.core.link_add(&s, &c, flags);
        assert_rejected(
            &format!("reverse of stateless, {flags:?}"),
            r,
            ErrorKind::InvalidInput,
            &b.core,
            &[&s, &c],
            &before,
        );
    }
}

#[test]
fn b24_sync_state_only_reverse_link_skips_the_dependency_check() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let fwd = b.core.link_add(&c, &s, NONE).unwrap();
    let order_before: Vec<Device> = b.core.devices();
    let rev = b.core.link_add(&s, &c, SSO).unwrap();
    assert_ne!(rev, fwd);
    let info = rev.info().unwrap();
    assert_eq!(info.supplier, c);
    assert_eq!(info.consumer, s);
    assert_eq!(info.flags.bits(), 0x0C0);
    assert_eq!(info.state, LinkState::Dormant);
    assert_eq!(b.core.link_count(), 2);
    assert_eq!(
        b.core.devices(),
        order_before,
        "a sync-state-only link moves nothing"
    );
}

#[test]
fn b25_sync_state_only_to_a_bound_consumer_is_rejected() {
    let b = Bench::new();
    let s = b.dev("s");
    let (c, _) = b.bound("c");
    let before = snapshot(&b.core, &[&s, &c]);
    let r = b.core.link_add(&c, &s, SSO);
    assert_rejected(
        "SYNC_STATE_ONLY, C bound",
        r,
        ErrorKind::Busy,
        &b.core,
        &[&s, &c],
        &before,
    );
    let r = b.core.link_add(&c, &s, SSO | INFERRED);
    assert_rejected(
        "SYNC_STATE_ONLY|INFERRED, C bound",
        r,
        ErrorKind::Busy,
        &b.core,
        &[&s, &c],
        &before,
    );

    // R10 also refuses an UNBINDING consumer, and accepts a PROBING one.
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let r = in_states(&b, &[(&c, UNBINDING)], || b.core.link_add(&c, &s, SSO));
    assert_eq!(r.unwrap_err().kind(), ErrorKind::Busy);
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let st = in_states(&b, &[(&c, PROBING)], || {
        b.core.link_add(&c, &s, SSO).unwrap().state().unwrap()
    });
    assert_eq!(st, LinkState::Dormant);
}

#[test]
fn b26_autoremove_supplier_wins_over_autoremove_consumer() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, AR_CONSUMER | AR_SUPPLIER).unwrap();
    let flags = l.flags().unwrap();
    assert_eq!(flags.bits(), 0x050);
    assert!(!flags.contains(AR_CONSUMER));
    assert_eq!(attr(&b.core, &l, "auto_remove_on"), "supplier unbind\n");
}

#[test]
fn b27_rpm_active_without_pm_runtime_is_ignored() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let (s_rpm, c_rpm) = (s.runtime_pm(), c.runtime_pm());
    let l = b.core.link_add(&c, &s, RPM_ACTIVE).unwrap();
    let info = l.info().unwrap();
    // The flag is stored as passed (as the kernel stores it), but has no effect.
    assert_eq!(info.flags.bits(), 0x048);
    assert_eq!(info.rpm_active, 1);
    assert_eq!(attr(&b.core, &l, "runtime_pm"), "0\n");
    assert_eq!(
        s.runtime_pm(),
        s_rpm,
        "supplier usage and resumes unchanged"
    );
    assert_eq!(c.runtime_pm(), c_rpm, "consumer link counter unchanged");
}

#[test]
fn b28_failed_runtime_resume_rejects_and_restores_usage() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    s.set_runtime_resume_fails(true);
    let before = snapshot(&b.core, &[&s, &c]);
    let resumes = s.runtime_pm().resumes;
    let r = b.core.link_add(&c, &s, PM_RUNTIME | RPM_ACTIVE);
    assert_rejected("R6", r, ErrorKind::Io, &b.core, &[&s, &c], &before);
    assert_eq!(
        s.runtime_pm().resumes,
        resumes + 1,
        "the resume was attempted"
    );
    assert_eq!(s.runtime_pm().usage, 0);
    // PM_RUNTIME alone does not resume, so it is unaffected.
    let l = b.core.link_add(&c, &s, PM_RUNTIME).unwrap();
    assert_eq!(l.info().unwrap().rpm_active, 1);
}

#[test]
fn b29_rejection_after_the_resume_restores_supplier_usage() {
    let flags = PM_RUNTIME | RPM_ACTIVE;

    // R8: supplier not registered.
    let b = Bench::new();
    let s = b.init("s");
    let c = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c]);
    let r = b.core.link_add(&c, &s, flags);
    assert_rejected("R8", r, ErrorKind::NoDevice, &b.core, &[&s, &c], &before);
    assert_eq!(s.runtime_pm().usage, 0);

    // R9: the link would close a loop.
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    b.core.link_add(&s, &c, NONE).unwrap();
    let before = snapshot(&b.core, &[&s, &c]);
    let r = b.core.link_add(&c, &s, flags);
    assert_rejected(
        "R9",
        r,
        ErrorKind::InvalidInput,
        &b.core,
        &[&s, &c],
        &before,
    );
    assert_eq!(s.runtime_pm().usage, 0);
    assert_eq!(c.runtime_pm().usage, 0);

    // R10 cannot combine with PM_RUNTIME (R7 refuses first): see b16.

    // R12: the link's sysfs name is taken (an unregistered consumer with the
    // same bus and name as an existing consumer of S). The half-built link
    // is released by the removal worker, so compare after wait_removal.
    let b = Bench::new();
    let s = b.dev("s");
    let c1 = b.dev("c");
    b.core.link_add(&c1, &s, NONE).unwrap();
    let c2 = b.init("c");
    let before = snapshot(&b.core, &[&s, &c1, &c2]);
    let r = b.core.link_add(&c2, &s, flags);
    assert_rejected("R12", r, ErrorKind::Io, &b.core, &[&s, &c1, &c2], &before);
    assert_eq!(s.runtime_pm().usage, 0);

    // R12 the other way round: the unregistered namesake was linked first,
    // so the registered consumer's link is the one whose name is taken.
    let b = Bench::new();
    let s = b.dev("s");
    let c1 = b.init("c");
    b.core.link_add(&c1, &s, NONE).unwrap();
    let c2 = b.dev("c");
    let before = snapshot(&b.core, &[&s, &c1, &c2]);
    let r = b.core.link_add(&c2, &s, flags);
    assert_rejected(
        "R12, registered consumer second",
        r,
        ErrorKind::Io,
        &b.core,
        &[&s, &c1, &c2],
        &before,
    );
    assert_eq!(s.runtime_pm().usage, 0);
}

// ---------------------------------------------------------------------------
// Behaviours 30–41: adding a link that already exists.
// ---------------------------------------------------------------------------

#[test]
fn b30_second_stateless_add_needs_two_deletes() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s, STATELESS).unwrap();
    assert_eq!(l1.kref().unwrap(), 1);
    let l2 = b.core.link_add(&c, &s, STATELESS).unwrap();
    assert_eq!(l1, l2, "the same link is returned");
    assert_eq!(l1.kref().unwrap(), 2);
    assert_eq!(b.core.link_count(), 1);
    b.core.link_del(&l1).unwrap();
    assert!(l1.exists(), "survives the first delete");
    assert_eq!(l1.kref().unwrap(), 1);
    assert_eq!(l1.flags().unwrap().bits(), 0x001);
    b.core.link_del(&l2).unwrap();
    assert!(!l1.exists(), "gone after the second delete");
    assert_eq!(b.core.link_count(), 0);
    assert_eq!(
        b.core.link_del(&l1).unwrap_err().kind(),
        ErrorKind::NoDevice
    );
    assert!(b.core.topology().links().is_empty());
}

#[test]
fn b31_second_managed_add_keeps_kref_1() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s, NONE).unwrap();
    let l2 = b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(l1, l2);
    let info = l1.info().unwrap();
    assert_eq!(info.kref, 1);
    assert_eq!(info.flags.bits(), 0x040);
    assert_eq!(b.core.link_count(), 1);
    drop(info); // it holds references to both devices
    assert_eq!(
        s.refcount(),
        3,
        "registration + handle + one link reference"
    );
    assert_eq!(
        c.refcount(),
        3,
        "registration + handle + one link reference"
    );
}

/// Adds a managed link with `first`, then again with `second`; returns the
/// stored flags and the `auto_remove_on` file.
fn re_add(first: LinkFlags, second: LinkFlags) -> (LinkFlags, String) {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s, first).unwrap();
    let l2 = b.core.link_add(&c, &s, second).unwrap();
    assert_eq!(l1, l2, "the existing link is returned");
    assert_eq!(l1.kref().unwrap(), 1);
    (l1.flags().unwrap(), attr(&b.core, &l1, "auto_remove_on"))
}

#[test]
fn b32_autoremove_supplier_request_upgrades_autoremove_consumer() {
    let (flags, file) = re_add(AR_CONSUMER, AR_SUPPLIER);
    assert_eq!(flags.bits(), 0x050);
    assert!(!flags.contains(AR_CONSUMER));
    assert_eq!(file, "supplier unbind\n");
}

#[test]
fn b33_request_without_autoremove_clears_it() {
    let (flags, file) = re_add(AR_CONSUMER, NONE);
    assert_eq!(flags.bits(), 0x040);
    assert_eq!(file, "never\n");
    let (flags, file) = re_add(AR_SUPPLIER, NONE);
    assert_eq!(flags.bits(), 0x040);
    assert_eq!(file, "never\n");
}

#[test]
fn b34_never_stays_never() {
    for (name, req) in [
        ("AUTOREMOVE_CONSUMER", AR_CONSUMER),
        ("AUTOREMOVE_SUPPLIER", AR_SUPPLIER),
    ] {
        let (flags, file) = re_add(NONE, req);
        assert_eq!(flags.bits(), 0x040, "request {name}");
        assert_eq!(file, "never\n", "request {name}");
    }
}

#[test]
fn b35_autoremove_consumer_request_keeps_autoremove_supplier() {
    let (flags, file) = re_add(AR_SUPPLIER, AR_CONSUMER);
    assert_eq!(flags.bits(), 0x050);
    assert_eq!(file, "supplier unbind\n");
}

#[test]
fn b36_existing_link_never_gains_autoprobe() {
    let (flags, _) = re_add(NONE, AUTOPROBE);
    assert_eq!(flags.bits(), 0x040);
    // Nor SYNC_STATE_ONLY or CYCLE.
    let (flags, _) = re_add(NONE, SSO);
    assert_eq!(flags.bits(), 0x040);
    let (flags, _) = re_add(NONE, CYCLE);
    assert_eq!(flags.bits(), 0x040);
}

#[test]
fn b37_stateless_add_on_active_managed_link_makes_it_dual() {
    let b = Bench::new();
    let (s, _) = b.bound("s");
    let (c, _) = b.bound("c");
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(l.state().unwrap(), LinkState::Active);
    let l2 = b.core.link_add(&c, &s, STATELESS).unwrap();
    assert_eq!(l, l2);
    let info = l.info().unwrap();
    assert_eq!(info.flags.bits(), 0x041);
    assert_eq!(info.kref, 2);
    assert_eq!(info.state, LinkState::Active);
    assert_eq!(attr(&b.core, &l, "status"), "active\n");
}

#[test]
fn b38_managed_add_on_stateless_link_recomputes_the_state() {
    let b = Bench::new();
    let (s, _) = b.bound("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, STATELESS).unwrap();
    assert_eq!(l.state().unwrap(), LinkState::None);
    let l2 = b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(l, l2);
    let info = l.info().unwrap();
    assert_eq!(info.flags.bits(), 0x041);
    assert_eq!(info.kref, 2);
    assert_eq!(info.state, LinkState::Available);
    assert_eq!(attr(&b.core, &l, "status"), "available\n");
}

#[test]
fn b39_pm_runtime_request_adds_pm_runtime() {
    for first in [NONE, STATELESS] {
        let b = Bench::new();
        let s = b.dev("s");
        let c = b.dev("c");
        let l = b.core.link_add(&c, &s, first).unwrap();
        assert_eq!(attr(&b.core, &l, "runtime_pm"), "0\n");
        let links_count = c.runtime_pm().links_count;
        let again = first | PM_RUNTIME;
        b.core.link_add(&c, &s, again).unwrap();
        assert_eq!(attr(&b.core, &l, "runtime_pm"), "1\n", "first {first:?}");
        assert_eq!(
            c.runtime_pm().links_count,
            links_count + 1,
            "first {first:?}"
        );
        assert!(l.flags().unwrap().contains(PM_RUNTIME));
        // A further PM_RUNTIME request does not count the link twice.
        b.core.link_add(&c, &s, again).unwrap();
        assert_eq!(
            c.runtime_pm().links_count,
            links_count + 1,
            "first {first:?}"
        );
        assert_eq!(s.runtime_pm().usage, 0, "no RPM_ACTIVE, no usage reference");
    }
}

#[test]
fn b40_driver_add_clears_inferred() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, INFERRED).unwrap();
    assert_eq!(l.flags().unwrap().bits(), 0x140);
    // A request that is itself INFERRED keeps the mark.
    b.core.link_add(&c, &s, INFERRED).unwrap();
    assert_eq!(l.flags().unwrap().bits(), 0x140);
    b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(l.flags().unwrap().bits(), 0x040);
}

#[test]
fn b41_two_rpm_active_adds_are_both_dropped_at_delete() {
    // Stateless, deleted by the caller.
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let flags = STATELESS | PM_RUNTIME | RPM_ACTIVE;
    let l = b.core.link_add(&c, &s, flags).unwrap();
    assert_eq!(s.runtime_pm().usage, 1);
    assert_eq!(l.info().unwrap().rpm_active, 2);
    b.core.link_add(&c, &s, flags).unwrap();
    assert_eq!(s.runtime_pm().usage, 2);
    let info = l.info().unwrap();
    assert_eq!(info.rpm_active, 3);
    assert_eq!(info.kref, 2);
    assert_eq!(c.runtime_pm().links_count, 1);
    b.core.link_del(&l).unwrap();
    assert_eq!(s.runtime_pm().usage, 2, "the link still exists");
    b.core.link_del(&l).unwrap();
    assert!(!l.exists());
    assert_eq!(s.runtime_pm().usage, 0, "usage dropped by two");
    assert_eq!(c.runtime_pm().links_count, 0);

    // Managed, deleted with its consumer (T9).
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let flags = PM_RUNTIME | RPM_ACTIVE;
    let l = b.core.link_add(&c, &s, flags).unwrap();
    b.core.link_add(&c, &s, flags).unwrap();
    assert_eq!(s.runtime_pm().usage, 2);
    assert_eq!(l.info().unwrap().rpm_active, 3);
    assert_eq!(l.kref().unwrap(), 1);
    block_on(b.core.device_del(&c)).unwrap();
    assert!(!l.exists());
    assert_eq!(s.runtime_pm().usage, 0, "usage dropped by two");
    b.core.wait_removal().unwrap();
    assert_eq!(
        s.runtime_pm().usage,
        0,
        "the release work drops nothing more"
    );
}
