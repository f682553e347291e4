//! Cases on the FPGA view and the one reprogram engine: reprogram,
//! program, and what a load leaves behind.

use super::*;

pub(super) async fn fpga_view<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let v = r.fpga().await.map_err(Miss::Fail)?;
    ensure(v.supported, || "no FPGA support".into())?;
    ensure(
        v.managers.len() == 1 && v.bridges.len() == 1 && v.regions.len() == 1,
        || {
            format!(
                "{} managers, {} bridges, {} regions",
                v.managers.len(),
                v.bridges.len(),
                v.regions.len()
            )
        },
    )?;
    let reg = &v.regions[0];
    ensure(reg.parent.as_deref() == Some(&n.region_host), || {
        format!("region parent {:?}", reg.parent)
    })?;
    ensure(
        reg.manager.as_deref() == Some(v.managers[0].dev.as_str()),
        || format!("region manager {:?}", reg.manager),
    )?;
    ensure(
        v.managers[0].parent.as_deref() == Some(&n.manager_host),
        || format!("manager parent {:?}", v.managers[0].parent),
    )
}

pub(super) async fn reprogram_success<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let steps = Steps::new();
    let rep = ok_or(
        reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await,
        "reprogram",
    )?;
    let got = sorted(rep.unbound_keys());
    ensure(got == sorted(n.users()), || format!("unbound {got:?}"))?;
    ensure(rep.rebound.not_bound.is_empty(), || {
        format!("not rebound {:?}", rep.rebound.not_bound)
    })?;
    ensure(rep.loaded.state == MgrState::Operating, || {
        format!("state {}", rep.loaded.state)
    })?;
    at_rest(&topo(&r).await?, &n)
}

pub(super) async fn reprogram_step_order<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let steps = Steps::new();
    ok_or(
        reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await,
        "reprogram",
    )?;
    let s = steps.take();
    let pos = |f: &dyn Fn(&Step) -> bool| s.iter().position(f);
    let last = |f: &dyn Fn(&Step) -> bool| s.iter().rposition(f);
    let locked = pos(&|x| matches!(x, Step::ManagerLocked { .. }));
    let first_unbind = pos(&|x| matches!(x, Step::Unbind { .. }));
    let last_unbind = last(&|x| matches!(x, Step::Unbind { .. }));
    let wait = pos(&|x| matches!(x, Step::WaitRemoval { .. }));
    let leak = pos(&|x| matches!(x, Step::LeakCheck { .. }));
    let loaded = pos(&|x| matches!(x, Step::Loaded { .. }));
    let released = pos(&|x| matches!(x, Step::Released));
    let first_bind = pos(&|x| matches!(x, Step::Bind { .. }));
    let order = [
        locked,
        first_unbind,
        last_unbind,
        wait,
        leak,
        loaded,
        released,
        first_bind,
    ];
    ensure(order.iter().all(Option::is_some), || {
        format!("missing steps: {s:?}")
    })?;
    ensure(order.windows(2).all(|w| w[0] <= w[1]), || {
        format!("out of order: {s:?}")
    })?;
    // Consumers first down, suppliers first up.
    let unbinds: Vec<String> = s
        .iter()
        .filter_map(|x| match x {
            Step::Unbind { device } => Some(device.clone()),
            _ => None,
        })
        .collect();
    before(&unbinds, &n.eth, &n.dma)?;
    before(&unbinds, &n.sensor, &n.uart)
}

pub(super) async fn reprogram_monitor_stays<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let steps = Steps::new();
    ok_or(
        reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await,
        "reprogram",
    )?;
    let touched = steps.take().iter().any(
        |x| matches!(x, Step::Unbind { device } | Step::Bind { device, .. } if device == &n.monitor),
    );
    ensure(!touched, || {
        format!(
            "{} was unbound: it only consumes through a sync-state-only link",
            &n.monitor
        )
    })
}

pub(super) async fn reprogram_busy<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let guard = r.hold_manager().map_err(Miss::NotApplicable)?;
    let steps = Steps::new();
    let e = match reprogram(r.model(), &r.region_loader(true), &opts(), &steps).await {
        Err(e) => e,
        Ok(_) => return fail("reprogrammed a manager held elsewhere"),
    };
    drop(guard);
    ensure(
        e.stage == Stage::Acquire && e.kind() == ErrorKind::Busy,
        || format!("{:?} {:?}: {e}", e.stage, e.kind()),
    )?;
    ensure(e.left_unbound.is_empty(), || {
        format!("left unbound {:?}", e.left_unbound)
    })?;
    let s = steps.take();
    ensure(!s.iter().any(|x| matches!(x, Step::Unbind { .. })), || {
        format!("unbound something: {s:?}")
    })?;
    at_rest(&topo(&r).await?, &n)?;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}

pub(super) async fn reprogram_check<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let loader = r.region_loader(true);
    ok_or(loader.check().await, "check of a free target")?;
    let guard = r.hold_manager().map_err(Miss::NotApplicable)?;
    let e = match loader.check().await {
        Err(e) => e,
        Ok(()) => return fail("check passed with the manager held"),
    };
    drop(guard);
    ensure(e.kind() == ErrorKind::Busy, || {
        format!("kind {:?}: {e}", e.kind())
    })?;
    at_rest(&topo(&r).await?, &n)?;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}

pub(super) async fn reprogram_failing<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let steps = Steps::new();
    let e = match reprogram(r.model(), &r.region_loader(false), &opts(), &steps).await {
        Err(e) => e,
        Ok(_) => return fail("a failing load succeeded"),
    };
    ensure(e.stage == Stage::Load, || {
        format!("stage {:?}: {e}", e.stage)
    })?;
    ensure(e.state.is_some_and(MgrState::is_error), || {
        format!("state {:?}", e.state)
    })?;
    let left = sorted(e.left_unbound_keys());
    ensure(left == sorted(n.users()), || {
        format!("left unbound {left:?}")
    })?;
    let t = topo(&r).await?;
    for k in &left {
        ensure(!bound(&t, k)?, || {
            format!("{k} came back over failed logic")
        })?;
    }
    ensure(bound(&t, &n.region_host)?, || {
        "the region host went down".into()
    })?;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}

pub(super) async fn reprogram_recovers<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let e = match reprogram(
        r.model(),
        &r.region_loader(false),
        &opts(),
        &fpga_core::ignore,
    )
    .await
    {
        Err(e) => e,
        Ok(_) => return fail("a failing load succeeded"),
    };
    let back = rebind(r.model(), &e.left_unbound).await;
    ensure(back.not_bound.is_empty(), || {
        format!("not bound {:?}", back.not_bound)
    })?;
    let rep = ok_or(
        reprogram(
            r.model(),
            &r.region_loader(true),
            &opts(),
            &fpga_core::ignore,
        )
        .await,
        "reprogram after the failure",
    )?;
    ensure(rep.loaded.state == MgrState::Operating, || {
        format!("state {}", rep.loaded.state)
    })?;
    at_rest(&topo(&r).await?, &n)
}

pub(super) async fn reprogram_leak<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    r.leak_on_remove(&n.eth).map_err(Miss::NotApplicable)?;
    let e = match reprogram(
        r.model(),
        &r.region_loader(true),
        &opts(),
        &fpga_core::ignore,
    )
    .await
    {
        Err(e) => e,
        Ok(_) => return fail("programmed despite a leaked reference"),
    };
    ensure(e.stage == Stage::LeakCheck, || {
        format!("stage {:?}: {e}", e.stage)
    })?;
    ensure(e.to_string().contains(&n.eth), || {
        format!("{e} does not name {}", &n.eth)
    })?;
    ensure(e.left_unbound.is_empty(), || {
        format!("left unbound {:?}", e.left_unbound)
    })?;
    at_rest(&topo(&r).await?, &n)
}

pub(super) async fn program_region_refuses<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let steps = Steps::new();
    let e = match program(r.model(), &r.region_loader(true), false, &steps).await {
        Err(e) => e,
        Ok(_) => return fail("loaded under bound users"),
    };
    ensure(
        e.kind() == ErrorKind::Busy && e.stage == Stage::Check,
        || format!("{:?} {:?}: {e}", e.stage, e.kind()),
    )?;
    ensure(e.to_string().contains(&n.dma), || {
        format!("{e} does not name the users")
    })?;
    ensure(steps.take().is_empty(), || "something was done".into())?;
    at_rest(&topo(&r).await?, &n)
}

pub(super) async fn program_manager_refuses<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let e = match program(
        r.model(),
        &r.manager_loader(true),
        false,
        &fpga_core::ignore,
    )
    .await
    {
        Err(e) => e,
        Ok(_) => return fail("loaded the manager under bound users of its region"),
    };
    ensure(e.kind() == ErrorKind::Busy, || {
        format!("{:?}: {e}", e.kind())
    })?;
    at_rest(&topo(&r).await?, &n)
}

pub(super) async fn program_force<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let l = ok_or(
        program(r.model(), &r.region_loader(true), true, &fpga_core::ignore).await,
        "program --force",
    )?;
    ensure(l.state == MgrState::Operating, || {
        format!("state {}", l.state)
    })
}

pub(super) async fn program_after_teardown<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    let n = r.names().clone();
    let down = unbind_tree(r.model(), &n.region_host)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    // The host itself went down too; bring it back alone.
    let host: Vec<_> = down
        .iter()
        .filter(|u| u.key == n.region_host)
        .cloned()
        .collect();
    let back = rebind(r.model(), &host).await;
    ensure(back.not_bound.is_empty(), || {
        format!("{:?}", back.not_bound)
    })?;
    let l = ok_or(
        program(r.model(), &r.region_loader(true), false, &fpga_core::ignore).await,
        "program",
    )?;
    ensure(l.state == MgrState::Operating, || {
        format!("state {}", l.state)
    })
}

pub(super) async fn loads_nothing_staged<R: Rig>(r: R) -> Outcome {
    r.fpga_support().map_err(Miss::NotApplicable)?;
    ok_or(
        reprogram(
            r.model(),
            &r.region_loader(true),
            &opts(),
            &fpga_core::ignore,
        )
        .await,
        "reprogram",
    )?;
    let _ = program(
        r.model(),
        &r.manager_loader(false),
        true,
        &fpga_core::ignore,
    )
    .await;
    ensure(r.leftovers().is_empty(), || {
        format!("left behind: {:?}", r.leftovers())
    })
}
