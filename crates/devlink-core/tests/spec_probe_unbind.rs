//! Spec `device-links.md` §8, behaviours 42–58 and 85–90: how links follow
//! probing, binding and unbinding (§3.4–§3.5, §4), forced binds, dual links,
//! the Q3/Q4 quirk switches, `sync_state()` and the async-suspend waits; plus
//! one table-driven test of the §3.4 edge list (state × event → state).
//!
//! S is the supplier, C the consumer, a link S→C is `link_add(C, S, flags)`.

mod common;
use common::*;
use devlink_core::*;
use futures::future::{join, join3};

const NONE: LinkFlags = LinkFlags::empty();

fn state(l: &Link) -> LinkState {
    l.state().expect("link exists")
}

/// Registers a driver named `name` (its device must already be registered)
/// whose first probe is held open; runs `during` while `name` is PROBING,
/// then lets the probe finish, failing with `fail` if given.
fn during_probe<T>(
    b: &Bench,
    name: &str,
    fail: Option<ProbeError>,
    during: impl FnOnce() -> T,
) -> T {
    let drv = TestDriver::new(name, &b.log);
    if let Some(e) = fail {
        drv.fail_next(e);
    }
    let gate = Gate::new();
    drv.gate_next(&gate);
    let line = format!("probe:platform:{name}");
    let (reg, out) = block_on(join(
        b.core.driver_register(&b.module, drv.clone()),
        async {
            until(&line, || b.log.entries().contains(&line)).await;
            let out = during();
            gate.open();
            out
        },
    ));
    reg.unwrap();
    out
}

/// Runs `f` on another thread (for async driver-core calls made while a
/// probe is held open on this one: nested `block_on` is not allowed).
fn on_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("helper thread panicked"))
}

fn missing_of(e: &Error) -> Vec<String> {
    match e {
        Error::ProbeDeferred { missing, .. } => missing.clone(),
        other => panic!("expected a deferral, got {other:?}"),
    }
}

fn q1_warns(b: &Bench) -> usize {
    b.core
        .diagnostics()
        .count(|d| matches!(d, Diagnostic::UnexpectedStateOnConsumerBind { .. }))
}

fn assert_no_diagnostics(b: &Bench) {
    assert!(
        b.core.diagnostics().is_empty(),
        "unexpected WARNs: {:?}",
        b.core.diagnostics().snapshot()
    );
}

// ---------------------------------------------------------------------------
// 42–58
// ---------------------------------------------------------------------------

#[test]
fn b42_supplier_bind_makes_dormant_available() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    assert_eq!(state(&l), LinkState::Dormant);

    b.driver("s");
    assert_eq!(s.state(), DevState::DriverBound);
    assert_eq!(state(&l), LinkState::Available);
    assert_eq!(b.status(&l), "available\n");
    assert_eq!(c.state(), DevState::NoDriver);
    assert!(
        b.core.diagnostics().is_empty(),
        "DORMANT -> AVAILABLE is an expected edge: {:?}",
        b.core.diagnostics().snapshot()
    );
}

#[test]
fn b43_autoprobe_consumer_is_reprobed_when_supplier_binds() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let d = b.dev("d"); // control: the same, without AUTOPROBE_CONSUMER
    for (name, dev) in [("c", &c), ("d", &d)] {
        // The first probe fails for real (not a deferral): the device has
        // matched a driver but is not on the deferred-probe list.
        let drv = TestDriver::new(name, &b.log);
        drv.fail_next(ProbeError::Failed("no clock yet".into()));
        b.register(drv);
        assert_eq!(dev.state(), DevState::NoDriver);
    }
    assert!(b.core.deferred_devices().is_empty());
    let lc = b
        .core
        .link_add(&c, &s, LinkFlags::AUTOPROBE_CONSUMER)
        .unwrap();
    let ld = b.core.link_add(&d, &s, NONE).unwrap();
    assert_eq!(state(&lc), LinkState::Dormant);
    assert_eq!(state(&ld), LinkState::Dormant);
    b.log.take();

    b.driver("s");

    assert_eq!(
        b.log.entries(),
        [
            "probe:platform:s",
            "probe-done:platform:s:true",
            "probe:platform:c",
            "probe-done:platform:c:true"
        ],
        "only the AUTOPROBE_CONSUMER consumer is re-probed"
    );
    assert_eq!(c.driver_name().as_deref(), Some("c"));
    assert_eq!(state(&lc), LinkState::Active);
    assert_eq!(d.driver_name(), None);
    assert_eq!(state(&ld), LinkState::Available);
}

#[test]
fn b44_supplier_bind_leaves_consumer_probe_link_alone() {
    let b = Bench::new();
    let ds = b.driver("s");
    let dc = b.driver("c");
    let (gs, gc) = (Gate::new(), Gate::new());
    ds.gate_next(&gs);
    dc.gate_next(&gc);
    let s = b.init("s");
    let c = b.init("c");
    let (rs, rc, l) = block_on(join3(b.core.device_add(&s), b.core.device_add(&c), async {
        until("S and C probing", || {
            s.state() == DevState::Probing && c.state() == DevState::Probing
        })
        .await;
        // C's probe makes the link while S is still probing (§3.3).
        let l = b.core.link_add(&c, &s, NONE).unwrap();
        assert_eq!(state(&l), LinkState::ConsumerProbe);
        gs.open();
        until("S bound", || s.state() == DevState::DriverBound).await;
        assert_eq!(
            state(&l),
            LinkState::ConsumerProbe,
            "T1 must not touch a CONSUMER_PROBE link"
        );
        assert_eq!(c.state(), DevState::Probing);
        gc.open();
        l
    }));
    rs.unwrap();
    rc.unwrap();
    assert_eq!(c.state(), DevState::DriverBound);
    assert_eq!(state(&l), LinkState::Active);
    assert!(
        b.core.diagnostics().is_empty(),
        "{:?}",
        b.core.diagnostics().snapshot()
    );
}

#[test]
fn b45_probe_start_moves_available_links_to_consumer_probe() {
    let b = Bench::new();
    let (s1, _) = b.bound("s1");
    let (s2, _) = b.bound("s2");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s1, NONE).unwrap();
    let l2 = b.core.link_add(&c, &s2, NONE).unwrap();
    assert_eq!([state(&l1), state(&l2)], [LinkState::Available; 2]);

    let seen = during_probe(&b, "c", None, || (c.state(), state(&l1), state(&l2)));
    assert_eq!(
        seen,
        (
            DevState::Probing,
            LinkState::ConsumerProbe,
            LinkState::ConsumerProbe
        )
    );
}

#[test]
fn b46_probe_defers_at_first_unready_link() {
    let b = Bench::new();
    let (s1, _) = b.bound("s1");
    let s2 = b.dev("s2");
    let (s3, _) = b.bound("s3");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s1, NONE).unwrap();
    let l2 = b.core.link_add(&c, &s2, NONE).unwrap();
    let l3 = b.core.link_add(&c, &s3, NONE).unwrap();
    assert_eq!(
        [state(&l1), state(&l2), state(&l3)],
        [
            LinkState::Available,
            LinkState::Dormant,
            LinkState::Available
        ]
    );
    b.log.take();

    b.driver("c"); // the registration's probe attempt defers
    let err = block_on(b.core.bind(&c)).unwrap_err(); // and so does this one
    assert_eq!(err.kind(), ErrorKind::Deferred);
    assert_eq!(missing_of(&err), ["platform:s2 (link dormant)"]);

    assert!(
        b.log.with_prefix("probe").is_empty(),
        "the driver's probe must not be called: {:?}",
        b.log.entries()
    );
    assert_eq!(state(&l1), LinkState::Available, "L1 reverted");
    assert_eq!(state(&l2), LinkState::Dormant);
    assert_eq!(state(&l3), LinkState::Available, "L3 untouched");
    assert_eq!(c.driver_name(), None);
    assert_eq!(b.core.deferred_devices(), std::slice::from_ref(&c));
    assert_eq!(
        b.core
            .diagnostics()
            .count(|d| matches!(d, Diagnostic::RevertToDormant { .. })),
        0
    );
}

#[test]
fn b47_stateless_link_does_not_block_probe() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, LinkFlags::STATELESS).unwrap();
    b.driver("c");
    assert_eq!(c.state(), DevState::DriverBound);
    assert_eq!(
        b.log.entries(),
        ["probe:platform:c", "probe-done:platform:c:true"]
    );
    assert_eq!(state(&l), LinkState::None);
    assert_eq!(b.status(&l), "not tracked\n");
    assert_eq!(s.state(), DevState::NoDriver);
}

#[test]
fn b48_sync_state_only_link_does_not_block_probe() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, LinkFlags::SYNC_STATE_ONLY).unwrap();
    assert_eq!(state(&l), LinkState::Dormant);
    let seen = during_probe(&b, "c", None, || b.status(&l));
    assert_eq!(seen, "consumer probing\n");
    assert_eq!(c.state(), DevState::DriverBound);
    assert_eq!(s.state(), DevState::NoDriver);
}

#[test]
fn b49_probe_success_makes_links_active() {
    let b = Bench::new();
    let (s1, _) = b.bound("s1");
    let (s2, _) = b.bound("s2");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s1, NONE).unwrap();
    let l2 = b.core.link_add(&c, &s2, NONE).unwrap();
    let during = during_probe(&b, "c", None, || [state(&l1), state(&l2)]);
    assert_eq!(during, [LinkState::ConsumerProbe; 2]);
    assert_eq!(c.state(), DevState::DriverBound);
    assert_eq!([state(&l1), state(&l2)], [LinkState::Active; 2]);
    assert_eq!(b.status(&l1), "active\n");
    assert_eq!(q1_warns(&b), 0);
}

#[test]
fn b50_sync_state_only_link_dropped_when_consumer_binds() {
    // Alone: dropping the managed part deletes it.
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, LinkFlags::SYNC_STATE_ONLY).unwrap();
    assert_eq!(s.refcount(), 3, "handle + registration + link");
    b.driver("c");
    assert_eq!(c.state(), DevState::DriverBound);
    assert!(!l.exists(), "the sync-state-only link is deleted");
    assert!(s.consumer_links().is_empty());
    assert_eq!(b.core.link_count(), 0);
    b.core.wait_removal().unwrap();
    assert_eq!(s.refcount(), 2, "the link's reference was released");

    // With a second (stateless) owner it survives, unmanaged.
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, LinkFlags::SYNC_STATE_ONLY).unwrap();
    let again = b.core.link_add(&c, &s, LinkFlags::STATELESS).unwrap();
    assert_eq!(again, l);
    assert_eq!(l.kref().unwrap(), 2);
    b.driver("c");
    assert_eq!(c.state(), DevState::DriverBound);
    let info = l.info().unwrap();
    assert_eq!(
        info.flags,
        LinkFlags::STATELESS | LinkFlags::SYNC_STATE_ONLY,
        "MANAGED cleared"
    );
    assert_eq!(info.state, LinkState::None);
    assert_eq!(info.kref, 1);
}

#[test]
fn b51_probe_failure_reverts_links_and_drops_autoremove_consumer() {
    for fail in [
        ProbeError::Failed("broken".into()),
        ProbeError::Defer("not yet".into()),
    ] {
        let b = Bench::new();
        let (s1, _) = b.bound("s1");
        let (s2, _) = b.bound("s2");
        let c = b.dev("c");
        let l1 = b.core.link_add(&c, &s1, NONE).unwrap();
        let l2 = b
            .core
            .link_add(&c, &s2, LinkFlags::AUTOREMOVE_CONSUMER)
            .unwrap();
        let during = during_probe(&b, "c", Some(fail.clone()), || [state(&l1), state(&l2)]);
        assert_eq!(during, [LinkState::ConsumerProbe; 2], "{fail:?}");
        assert!(
            b.log
                .entries()
                .contains(&"probe-done:platform:c:false".to_string()),
            "{fail:?}"
        );
        assert_eq!(state(&l1), LinkState::Available, "{fail:?}");
        assert!(
            !l2.exists(),
            "{fail:?}: AUTOREMOVE_CONSUMER link must be deleted"
        );
        assert!(s2.consumer_links().is_empty(), "{fail:?}");
        assert_eq!(c.state(), DevState::NoDriver, "{fail:?}");
        assert_eq!(c.driver_name(), None, "{fail:?}");
    }
}

#[test]
fn b52_consumer_probe_link_where_failing_device_is_supplier_goes_dormant() {
    let b = Bench::new();
    let dc = b.driver("c");
    let dx = b.driver("x");
    let (gc, gx) = (Gate::new(), Gate::new());
    dc.fail_next(ProbeError::Failed("broken".into()));
    dc.gate_next(&gc);
    dx.fail_next(ProbeError::Failed("x gives up too".into()));
    dx.gate_next(&gx);
    let c = b.init("c");
    let x = b.init("x");
    let (_, _, l) = block_on(join3(b.core.device_add(&c), b.core.device_add(&x), async {
        until("C and X probing", || {
            c.state() == DevState::Probing && x.state() == DevState::Probing
        })
        .await;
        // X's probe makes a link C→X (C supplier, X consumer).
        let l = b.core.link_add(&x, &c, NONE).unwrap();
        assert_eq!(state(&l), LinkState::ConsumerProbe);
        gc.open();
        until("C's probe failed", || c.state() == DevState::NoDriver).await;
        let after = state(&l);
        assert_eq!(x.state(), DevState::Probing);
        gx.open();
        (l, after)
    }));
    let (l, after_c_failed) = l;
    assert_eq!(after_c_failed, LinkState::Dormant);
    assert_eq!(state(&l), LinkState::Dormant);
}

#[test]
fn b53_consumer_unbind_reverts_link_and_drops_autoremove_consumer_after_remove() {
    let b = Bench::new();
    let (s1, _) = b.bound("s1");
    let (s2, _) = b.bound("s2");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s1, NONE).unwrap();
    let l2 = b
        .core
        .link_add(&c, &s2, LinkFlags::AUTOREMOVE_CONSUMER)
        .unwrap();
    let dc = b.hook_driver("c");
    assert_eq!([state(&l1), state(&l2)], [LinkState::Active; 2]);
    {
        let (l2, log) = (l2.clone(), b.log.clone());
        dc.on_remove(move |_| log.push(format!("in-remove:l2-exists={}", l2.exists())));
    }
    {
        let (l2, log) = (l2.clone(), b.log.clone());
        c.devres_add(move || log.push(format!("devres:l2-exists={}", l2.exists())));
    }
    b.log.take();
    block_on(b.core.unbind(&c)).unwrap();
    assert_eq!(
        b.log.entries(),
        [
            "remove:platform:c",
            "in-remove:l2-exists=true",
            "devres:l2-exists=false"
        ],
        "deleted after C's remove callback, before its devres release"
    );
    assert_eq!(state(&l1), LinkState::Available);
    assert!(!l2.exists());
    assert_eq!(c.state(), DevState::NoDriver);
    assert_no_diagnostics(&b);
}

#[test]
fn b54_supplier_unbind_removes_consumer_first() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    let ds = b.hook_driver("s");
    let dc = b.hook_driver("c");
    assert_eq!(state(&l), LinkState::Active);
    for drv in [&ds, &dc] {
        let (l, log) = (l.clone(), b.log.clone());
        drv.on_remove(move |d| log.push(format!("link-at-remove:{d}:{}", state(&l))));
    }
    b.log.take();
    block_on(b.core.unbind(&s)).unwrap();
    assert_eq!(
        b.log.entries(),
        [
            "remove:platform:c",
            "link-at-remove:platform:c:supplier unbinding",
            "remove:platform:s",
            "link-at-remove:platform:s:supplier unbinding",
        ]
    );
    assert_eq!(state(&l), LinkState::Dormant);
    assert_eq!(c.driver_name(), None);
    assert_eq!(c.state(), DevState::NoDriver);
    assert_eq!(s.state(), DevState::NoDriver);
    assert!(
        b.log.with_prefix("probe").is_empty(),
        "C stays unbound: {:?}",
        b.log.entries()
    );
    assert_no_diagnostics(&b);
}

#[test]
fn b55_chain_unbinds_consumers_first() {
    let b = Bench::new();
    let (a, _) = b.bound("a");
    let (bb, _) = b.bound("b");
    let (c, _) = b.bound("c");
    let ab = b.core.link_add(&bb, &a, NONE).unwrap();
    let bc = b.core.link_add(&c, &bb, NONE).unwrap();
    assert_eq!([state(&ab), state(&bc)], [LinkState::Active; 2]);
    b.log.take();
    block_on(b.core.unbind(&a)).unwrap();
    assert_eq!(
        b.log.entries(),
        [
            "remove:platform:c",
            "remove:platform:b",
            "remove:platform:a"
        ]
    );
    assert_eq!([state(&ab), state(&bc)], [LinkState::Dormant; 2]);
    for d in [&a, &bb, &c] {
        assert_eq!(d.state(), DevState::NoDriver, "{d}");
    }
    assert_no_diagnostics(&b);
}

#[test]
fn b56_supplier_unbind_waits_for_probing_consumer() {
    // A plain link; and (spec A6, the library's choice) a sync-state-only
    // link, which is waited on the same way instead of spinning.
    for (flags, expected_log) in [
        (
            NONE,
            &[
                "probe:platform:c",
                "probe-done:platform:c:true",
                "remove:platform:c",
                "remove:platform:s",
            ][..],
        ),
        (
            LinkFlags::SYNC_STATE_ONLY,
            &[
                "probe:platform:c",
                "probe-done:platform:c:true",
                "remove:platform:s",
            ][..],
        ),
    ] {
        let b = Bench::new();
        let (s, _) = b.bound("s");
        let c = b.dev("c");
        let l = b.core.link_add(&c, &s, flags).unwrap();
        let dc = TestDriver::new("c", &b.log);
        let gate = Gate::new();
        dc.gate_next(&gate);
        b.log.take();
        let (reg, unbound, ()) = block_on(join3(
            b.core.driver_register(&b.module, dc.clone()),
            async {
                until("C probing", || c.state() == DevState::Probing).await;
                b.core.unbind(&s).await
            },
            async {
                until("S unbinding", || s.state() == DevState::Unbinding).await;
                settle(200).await;
                assert!(
                    b.log.with_prefix("remove:").is_empty(),
                    "{flags:?}: no remove callback while C probes: {:?}",
                    b.log.entries()
                );
                assert_eq!(state(&l), LinkState::ConsumerProbe, "{flags:?}");
                gate.open();
            },
        ));
        reg.unwrap();
        unbound.unwrap();
        assert_eq!(b.log.entries(), expected_log, "{flags:?}");
        assert_eq!(s.state(), DevState::NoDriver, "{flags:?}");
        if flags.is_empty() {
            assert_eq!(state(&l), LinkState::Dormant);
            assert_eq!(c.state(), DevState::NoDriver);
        } else {
            assert!(!l.exists(), "dropped when C bound");
            assert_eq!(c.state(), DevState::DriverBound, "not forced off");
        }
        assert_no_diagnostics(&b);
    }
}

#[test]
fn b57_autoremove_supplier_link_deleted_between_remove_and_devres() {
    let b = Bench::new();
    let s = b.dev("s");
    let c = b.dev("c");
    let l = b
        .core
        .link_add(&c, &s, LinkFlags::AUTOREMOVE_SUPPLIER)
        .unwrap();
    let ds = b.hook_driver("s");
    b.driver("c");
    assert_eq!(state(&l), LinkState::Active);
    {
        let (l, log) = (l.clone(), b.log.clone());
        ds.on_remove(move |_| log.push(format!("in-remove:link-exists={}", l.exists())));
    }
    {
        let (l, log) = (l.clone(), b.log.clone());
        s.devres_add(move || log.push(format!("devres:link-exists={}", l.exists())));
    }
    b.log.take();
    block_on(b.core.unbind(&s)).unwrap();
    assert_eq!(
        b.log.entries(),
        [
            "remove:platform:c",
            "remove:platform:s",
            "in-remove:link-exists=true",
            "devres:link-exists=false",
        ]
    );
    assert!(!l.exists());
    assert_eq!(b.core.link_count(), 0);
    assert_no_diagnostics(&b);
}

#[test]
fn b58_consumer_probe_defers_while_supplier_unbinds() {
    let b = Bench::new();
    let s = b.dev("s");
    let ds = b.hook_driver("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    let dc = TestDriver::new("c", &b.log);
    dc.fail_next(ProbeError::Failed("first try fails".into()));
    b.register(dc);
    assert_eq!(c.state(), DevState::NoDriver);
    assert_eq!(state(&l), LinkState::Available);
    let gate = Gate::new();
    ds.gate_remove(&gate);
    b.log.take();
    let (unbound, err) = block_on(join(b.core.unbind(&s), async {
        until("S's remove callback running", || {
            b.log.entries().contains(&"remove:platform:s".to_string())
        })
        .await;
        assert_eq!(state(&l), LinkState::SupplierUnbind);
        let err = b.core.bind(&c).await.unwrap_err();
        gate.open();
        err
    }));
    unbound.unwrap();
    assert_eq!(err.kind(), ErrorKind::Deferred);
    assert_eq!(missing_of(&err), ["platform:s (link supplier unbinding)"]);
    assert!(
        !b.log.entries().iter().any(|e| e == "probe:platform:c"),
        "{:?}",
        b.log.entries()
    );
    assert_eq!(c.driver_name(), None);
    assert_eq!(state(&l), LinkState::Dormant);
}

// ---------------------------------------------------------------------------
// 85–90
// ---------------------------------------------------------------------------

#[test]
fn b85_force_bind_activates_available_and_unmanages_others() {
    let b = Bench::new();
    let (s1, _) = b.bound("s1");
    let s2 = b.dev("s2");
    let s3 = b.dev("s3");
    let c = b.dev("c");
    let l1 = b.core.link_add(&c, &s1, NONE).unwrap();
    let l2 = b.core.link_add(&c, &s2, NONE).unwrap();
    let l3 = b.core.link_add(&c, &s3, NONE).unwrap();
    b.core.link_add(&c, &s3, LinkFlags::STATELESS).unwrap(); // l3 is dual
    assert_eq!(
        [state(&l1), state(&l2), state(&l3)],
        [LinkState::Available, LinkState::Dormant, LinkState::Dormant]
    );
    b.driver("c");
    assert_eq!(c.driver_name(), None, "deferred by L2");
    b.log.take();

    block_on(b.core.force_bind(&c, "c")).unwrap();

    assert!(
        b.log.entries().is_empty(),
        "no probe: {:?}",
        b.log.entries()
    );
    assert_eq!(c.driver_name().as_deref(), Some("c"));
    assert_eq!(c.state(), DevState::DriverBound);
    assert_eq!(state(&l1), LinkState::Active);
    assert_eq!(q1_warns(&b), 0, "L1 went through CONSUMER_PROBE");
    assert!(!l2.exists(), "L2 lost MANAGED and had no other owner");
    let i3 = l3.info().unwrap();
    assert!(!i3.flags.contains(LinkFlags::MANAGED));
    assert_eq!(i3.flags, LinkFlags::STATELESS);
    assert_eq!(i3.state, LinkState::None);
    assert_eq!(i3.kref, 1);
}

#[test]
fn b86_dual_link_survives_one_link_del() {
    let b = Bench::new();
    let (s, _) = b.bound("s");
    let (c, _) = b.bound("c");
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    let stateless = b.core.link_add(&c, &s, LinkFlags::STATELESS).unwrap();
    assert_eq!(stateless, l);
    assert_eq!(l.kref().unwrap(), 2);

    b.core.link_del(&stateless).unwrap();

    let i = l.info().unwrap();
    assert_eq!(i.kref, 1);
    assert_eq!(i.state, LinkState::Active);
    assert_eq!(i.flags, LinkFlags::MANAGED | LinkFlags::STATELESS);
    assert_eq!(
        b.core
            .diagnostics()
            .count(|d| matches!(d, Diagnostic::ManagedLinkDel { .. })),
        0
    );
    // Still managed: unbinding S forces C off first.
    b.log.take();
    block_on(b.core.unbind(&s)).unwrap();
    assert_eq!(b.log.entries(), ["remove:platform:c", "remove:platform:s"]);
    assert_eq!(state(&l), LinkState::Dormant);
}

#[test]
fn b87_dual_autoremove_supplier_link_after_supplier_unbind() {
    for (b, mode, want, status) in [
        (Bench::new(), "fixed (Q4)", LinkState::None, "not tracked\n"),
        (
            Bench::kernel_compat(),
            "kernel-compatible",
            LinkState::Dormant,
            "dormant\n",
        ),
    ] {
        let (s, _) = b.bound("s");
        let (c, _) = b.bound("c");
        let l = b
            .core
            .link_add(&c, &s, LinkFlags::AUTOREMOVE_SUPPLIER)
            .unwrap();
        b.core.link_add(&c, &s, LinkFlags::STATELESS).unwrap();
        assert_eq!(l.kref().unwrap(), 2, "{mode}");
        block_on(b.core.unbind(&s)).unwrap();
        let i = l.info().unwrap();
        assert_eq!(
            i.flags,
            LinkFlags::STATELESS | LinkFlags::AUTOREMOVE_SUPPLIER,
            "{mode}: MANAGED dropped"
        );
        assert_eq!(i.kref, 1, "{mode}");
        assert_eq!(i.state, want, "{mode}");
        assert_eq!(b.status(&l), status, "{mode}");
        assert_eq!(c.driver_name(), None, "{mode}: C forced off");
    }
}

#[test]
fn b88_consumer_state_after_link_gate_deferral() {
    for (b, mode, want, new_link) in [
        (
            Bench::new(),
            "fixed (Q3)",
            DevState::NoDriver,
            LinkState::Available,
        ),
        (
            Bench::kernel_compat(),
            "kernel-compatible",
            DevState::Probing,
            LinkState::ConsumerProbe,
        ),
    ] {
        let s = b.dev("s");
        let c = b.dev("c");
        b.core.link_add(&c, &s, NONE).unwrap();
        b.driver("c");
        assert!(b.log.with_prefix("probe").is_empty(), "{mode}");
        assert_eq!(c.state(), want, "{mode}");
        let err = block_on(b.core.bind(&c)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deferred, "{mode}");
        assert_eq!(c.state(), want, "{mode}");
        // The consequence Q3 describes: a new managed link from a bound
        // supplier starts from C's stale state.
        let (s2, _) = b.bound("s2");
        let l2 = b.core.link_add(&c, &s2, NONE).unwrap();
        assert_eq!(state(&l2), new_link, "{mode}");
    }
}

#[test]
fn b89_sync_state_runs_once_all_consumers_bound() {
    let b = Bench::new();
    let s = b.dev("s");
    let c1 = b.dev("c1");
    let c2 = b.dev("c2");
    b.core.link_add(&c1, &s, NONE).unwrap();
    b.core.link_add(&c2, &s, NONE).unwrap();
    let syncs = |b: &Bench| b.log.with_prefix("sync_state:");
    b.sync_state_driver("s");
    assert_eq!(s.state(), DevState::DriverBound);
    assert!(syncs(&b).is_empty());
    b.driver("c1");
    assert_eq!(c1.state(), DevState::DriverBound);
    assert!(syncs(&b).is_empty(), "one consumer still unbound");
    b.driver("c2");
    assert_eq!(c2.state(), DevState::DriverBound);
    assert_eq!(syncs(&b), ["sync_state:platform:s"]);
    // A consumer rebinding does not call it again.
    block_on(b.core.unbind(&c1)).unwrap();
    block_on(b.core.bind(&c1)).unwrap();
    assert_eq!(syncs(&b), ["sync_state:platform:s"]);
}

#[test]
fn b90_async_suspend_waits_for_consumers_except_through_dormant_links() {
    let b = Bench::new();
    let s1 = b.dev("s1");
    let s2 = b.dev("s2");
    let c = b.dev("c");
    let stateless = b.core.link_add(&c, &s1, LinkFlags::STATELESS).unwrap();
    let managed = b.core.link_add(&c, &s2, NONE).unwrap();
    assert_eq!(state(&stateless), LinkState::None);
    assert_eq!(state(&managed), LinkState::Dormant);
    assert_eq!(b.core.suspend_waits_for(&s1), std::slice::from_ref(&c));
    assert_eq!(b.core.suspend_waits_for(&s2), Vec::<Device>::new());
    // Once the managed link is no longer DORMANT it is waited on too.
    b.driver("s2");
    assert_eq!(state(&managed), LinkState::Available);
    assert_eq!(b.core.suspend_waits_for(&s2), std::slice::from_ref(&c));
}

// ---------------------------------------------------------------------------
// The §3.4 edge list, one row per edge that the public API can reach.
//
// Not reachable, so not rows: `DORMANT --T5`, since a link whose supplier
// is bound is never DORMANT (T1 and §3.3 make it AVAILABLE or later);
// `SUPPLIER_UNBIND --T1`, since T6 always moves such a link to DORMANT before
// the supplier can bind again; and the consumer-side `ACTIVE --T3`, since a
// probing consumer's supplier links are never ACTIVE.
// ---------------------------------------------------------------------------

/// What a row observed: the link state just before the event (`None` when
/// that state exists only inside the event), and just after it (`None`
/// when the link is gone).
struct Seen {
    before: Option<LinkState>,
    after: Option<LinkState>,
}

struct Edge {
    edge: &'static str,
    from: Option<LinkState>,
    to: Option<LinkState>,
    /// Expected count of the Q1 WARN (`UnexpectedStateOnConsumerBind`).
    q1_warns: usize,
    drive: fn(&Bench) -> Seen,
}

fn after(l: &Link) -> Option<LinkState> {
    l.state().ok()
}

fn edge_rows() -> Vec<Edge> {
    use LinkState::{Active, Available, ConsumerProbe, Dormant, SupplierUnbind};
    vec![
        Edge {
            edge: "DORMANT --T1--> AVAILABLE",
            from: Some(Dormant),
            to: Some(Available),
            q1_warns: 0,
            drive: |b| {
                let s = b.dev("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, NONE).unwrap();
                let before = l.state().ok();
                b.driver("s");
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "DORMANT --T2 (SYNC_STATE_ONLY bit)--> CONSUMER_PROBE",
            from: Some(Dormant),
            to: Some(ConsumerProbe),
            q1_warns: 0,
            drive: |b| {
                let s = b.dev("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, LinkFlags::SYNC_STATE_ONLY).unwrap();
                let before = l.state().ok();
                let after = during_probe(b, "c", None, || after(&l));
                Seen { before, after }
            },
        },
        Edge {
            edge: "AVAILABLE --T2--> CONSUMER_PROBE",
            from: Some(Available),
            to: Some(ConsumerProbe),
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, NONE).unwrap();
                let before = l.state().ok();
                let after = during_probe(b, "c", None, || after(&l));
                Seen { before, after }
            },
        },
        Edge {
            // T8 is followed by T4 in the same call; passing through
            // CONSUMER_PROBE shows as "no Q1 WARN".
            edge: "AVAILABLE --T8--> CONSUMER_PROBE (then T4: ACTIVE)",
            from: Some(Available),
            to: Some(Active),
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, NONE).unwrap();
                b.register(TestDriver::new("other", &b.log));
                let before = l.state().ok();
                block_on(b.core.force_bind(&c, "other")).unwrap();
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "CONSUMER_PROBE --T4--> ACTIVE",
            from: Some(ConsumerProbe),
            to: Some(Active),
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, NONE).unwrap();
                let before = during_probe(b, "c", None, || after(&l));
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "DORMANT --T4 (WARN, quirk Q1)--> ACTIVE",
            from: Some(Dormant),
            to: Some(Active),
            q1_warns: 1,
            drive: |b| {
                let s = b.dev("s");
                let c = b.dev("c");
                // C's probe makes the link while S has no driver; nothing
                // touches it until C's probe returns (T4).
                let (l, before) = during_probe(b, "c", None, || {
                    let l = b.core.link_add(&c, &s, NONE).unwrap();
                    let before = l.state().ok();
                    (l, before)
                });
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "AVAILABLE --T4 (WARN, quirk Q1)--> ACTIVE",
            from: Some(Available),
            to: Some(Active),
            q1_warns: 1,
            drive: |b| {
                let s = b.dev("s");
                let c = b.dev("c");
                let (l, before) = during_probe(b, "c", None, || {
                    let l = b.core.link_add(&c, &s, NONE).unwrap();
                    // S binds while C is still probing: DORMANT -> AVAILABLE.
                    on_thread(|| b.driver("s"));
                    let before = l.state().ok();
                    (l, before)
                });
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "CONSUMER_PROBE --T2 defer--> AVAILABLE (S bound)",
            from: None,
            to: Some(Available),
            q1_warns: 0,
            drive: |b| {
                let (s1, _) = b.bound("s1");
                let s2 = b.dev("s2");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s1, NONE).unwrap();
                b.core.link_add(&c, &s2, NONE).unwrap();
                b.driver("c");
                assert_eq!(c.driver_name(), None, "the probe must defer");
                Seen {
                    before: None,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "CONSUMER_PROBE --T2 defer--> DORMANT (S unbound, sync-state-only link)",
            from: None,
            to: Some(Dormant),
            q1_warns: 0,
            drive: |b| {
                let s1 = b.dev("s1");
                let s2 = b.dev("s2");
                let c = b.dev("c");
                let l = b
                    .core
                    .link_add(&c, &s1, LinkFlags::SYNC_STATE_ONLY)
                    .unwrap();
                b.core.link_add(&c, &s2, NONE).unwrap();
                b.driver("c");
                assert_eq!(c.driver_name(), None, "the probe must defer");
                Seen {
                    before: None,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "CONSUMER_PROBE --T3--> AVAILABLE (S bound)",
            from: Some(ConsumerProbe),
            to: Some(Available),
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, NONE).unwrap();
                let before =
                    during_probe(b, "c", Some(ProbeError::Failed("x".into())), || after(&l));
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "CONSUMER_PROBE --T3--> DORMANT (S unbound, sync-state-only link)",
            from: Some(ConsumerProbe),
            to: Some(Dormant),
            q1_warns: 0,
            drive: |b| {
                let s = b.dev("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, LinkFlags::SYNC_STATE_ONLY).unwrap();
                let before =
                    during_probe(b, "c", Some(ProbeError::Failed("x".into())), || after(&l));
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "ACTIVE --T7--> AVAILABLE (S bound)",
            from: Some(Active),
            to: Some(Available),
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let (c, _) = b.bound("c");
                let l = b.core.link_add(&c, &s, NONE).unwrap();
                let before = l.state().ok();
                block_on(b.core.unbind(&c)).unwrap();
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "ACTIVE --T7--> DORMANT (S unbound, after quirk Q1)",
            from: Some(Active),
            to: Some(Dormant),
            q1_warns: 1,
            drive: |b| {
                let s = b.dev("s");
                let c = b.dev("c");
                let l = during_probe(b, "c", None, || b.core.link_add(&c, &s, NONE).unwrap());
                let before = l.state().ok();
                block_on(b.core.unbind(&c)).unwrap();
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "CONSUMER_PROBE --T3 on the supplier side--> DORMANT",
            from: Some(ConsumerProbe),
            to: Some(Dormant),
            q1_warns: 0,
            drive: |b| supplier_side_t3(b, false),
        },
        Edge {
            edge: "ACTIVE --T3 on the supplier side--> DORMANT",
            from: Some(Active),
            to: Some(Dormant),
            q1_warns: 0,
            drive: |b| supplier_side_t3(b, true),
        },
        Edge {
            edge: "AVAILABLE --T5--> SUPPLIER_UNBIND",
            from: Some(Available),
            to: Some(SupplierUnbind),
            q1_warns: 0,
            drive: |b| supplier_unbind_edge(b, false, true),
        },
        Edge {
            edge: "ACTIVE --T5 (consumer forced off)--> SUPPLIER_UNBIND",
            from: Some(Active),
            to: Some(SupplierUnbind),
            q1_warns: 0,
            drive: |b| supplier_unbind_edge(b, true, true),
        },
        Edge {
            edge: "SUPPLIER_UNBIND --T6--> DORMANT",
            from: Some(SupplierUnbind),
            to: Some(Dormant),
            q1_warns: 0,
            drive: |b| supplier_unbind_edge(b, true, false),
        },
        Edge {
            edge: "ACTIVE --T10 (via T7, AUTOREMOVE_CONSUMER, other owner left)--> NONE",
            from: Some(Active),
            to: Some(LinkState::None),
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let (c, _) = b.bound("c");
                let l = b
                    .core
                    .link_add(&c, &s, LinkFlags::AUTOREMOVE_CONSUMER)
                    .unwrap();
                b.core.link_add(&c, &s, LinkFlags::STATELESS).unwrap();
                let before = l.state().ok();
                block_on(b.core.unbind(&c)).unwrap();
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "ACTIVE --T10 (via T7, AUTOREMOVE_CONSUMER, last owner)--> deleted",
            from: Some(Active),
            to: None,
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let (c, _) = b.bound("c");
                let l = b
                    .core
                    .link_add(&c, &s, LinkFlags::AUTOREMOVE_CONSUMER)
                    .unwrap();
                let before = l.state().ok();
                block_on(b.core.unbind(&c)).unwrap();
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "ACTIVE --T9 (consumer deleted)--> deleted",
            from: Some(Active),
            to: None,
            q1_warns: 0,
            drive: |b| {
                let (s, _) = b.bound("s");
                let (c, _) = b.bound("c");
                let l = b.core.link_add(&c, &s, NONE).unwrap();
                let before = l.state().ok();
                block_on(b.core.device_del(&c)).unwrap();
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
        Edge {
            edge: "NONE (stateless) --T9 (supplier deleted)--> deleted",
            from: Some(LinkState::None),
            to: None,
            q1_warns: 0,
            drive: |b| {
                let s = b.dev("s");
                let c = b.dev("c");
                let l = b.core.link_add(&c, &s, LinkFlags::STATELESS).unwrap();
                let before = l.state().ok();
                block_on(b.core.device_del(&s)).unwrap();
                Seen {
                    before,
                    after: after(&l),
                }
            },
        },
    ]
}

/// C and X probe at once; X's probe links C→X (C supplier); optionally X
/// binds first (link ACTIVE); then C's probe fails.
fn supplier_side_t3(b: &Bench, x_binds_first: bool) -> Seen {
    let dc = b.driver("c");
    let dx = b.driver("x");
    let (gc, gx) = (Gate::new(), Gate::new());
    dc.fail_next(ProbeError::Failed("broken".into()));
    dc.gate_next(&gc);
    dx.gate_next(&gx);
    if !x_binds_first {
        // Otherwise X binding over the DORMANT link would be quirk Q1.
        dx.fail_next(ProbeError::Failed("x gives up too".into()));
    }
    let c = b.init("c");
    let x = b.init("x");
    let (_, _, seen) = block_on(join3(b.core.device_add(&c), b.core.device_add(&x), async {
        until("C and X probing", || {
            c.state() == DevState::Probing && x.state() == DevState::Probing
        })
        .await;
        let l = b.core.link_add(&x, &c, NONE).unwrap();
        if x_binds_first {
            gx.open();
            until("X bound", || x.state() == DevState::DriverBound).await;
        }
        let before = l.state().ok();
        gc.open();
        until("C's probe failed", || c.state() == DevState::NoDriver).await;
        let seen = Seen {
            before,
            after: after(&l),
        };
        gx.open();
        seen
    }));
    seen
}

/// S unbinds with its remove callback held open; `before`/`after` are the
/// states seen just before T5 and inside S's remove (`t5`), or inside S's
/// remove and after the unbind (T6).
fn supplier_unbind_edge(b: &Bench, consumer_bound: bool, t5: bool) -> Seen {
    let s = b.dev("s");
    let ds = b.hook_driver("s");
    let c = b.dev("c");
    let l = b.core.link_add(&c, &s, NONE).unwrap();
    if consumer_bound {
        b.driver("c");
    }
    let gate = Gate::new();
    ds.gate_remove(&gate);
    let before_t5 = l.state().ok();
    let (r, in_remove) = block_on(join(b.core.unbind(&s), async {
        until("S's remove running", || {
            b.log.entries().contains(&"remove:platform:s".to_string())
        })
        .await;
        let seen = l.state().ok();
        gate.open();
        seen
    }));
    r.unwrap();
    if t5 {
        Seen {
            before: before_t5,
            after: in_remove,
        }
    } else {
        Seen {
            before: in_remove,
            after: after(&l),
        }
    }
}

#[test]
fn edge_list_table() {
    let show = |s: Option<LinkState>| match s {
        Some(s) => format!("{s:?}"),
        None => "-".to_string(),
    };
    let mut failures = Vec::new();
    let rows = edge_rows();
    for row in &rows {
        let b = Bench::new();
        let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (row.drive)(&b)));
        let seen = match seen {
            Ok(s) => s,
            Err(_) => {
                failures.push(format!("row `{}`: setup panicked (see above)", row.edge));
                continue;
            }
        };
        if row.from.is_some() && seen.before != row.from {
            failures.push(format!(
                "row `{}`: before the event the link was {} (expected {})",
                row.edge,
                show(seen.before),
                show(row.from)
            ));
        }
        if seen.after != row.to {
            failures.push(format!(
                "row `{}`: after the event the link is {} (expected {})",
                row.edge,
                show(seen.after),
                show(row.to)
            ));
        }
        let warns = q1_warns(&b);
        if warns != row.q1_warns {
            failures.push(format!(
                "row `{}`: {warns} Q1 WARN(s), expected {}: {:?}",
                row.edge,
                row.q1_warns,
                b.core.diagnostics().snapshot()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} edge rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
