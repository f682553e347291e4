//! Cases on the read model: the topology's shape and the queries over it.

use super::*;

pub(super) async fn topology_devices<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    for k in n.users().iter().chain([
        &n.monitor,
        &n.ghost,
        &n.late,
        &n.region_host,
        &n.manager_host,
    ]) {
        ensure(t.named(k).is_some(), || format!("{k} missing"))?;
    }
    at_rest(&t, &n)
}

pub(super) async fn topology_links<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let link = |s: &str, c: &str| {
        t.link_named(&format!("{s}--{c}"))
            .ok_or_else(|| Miss::Fail(format!("no link {s}--{c}")))
    };
    let l = link(&n.region_host, &n.dma)?;
    ensure(
        l.runtime_pm() && l.managed() && l.status == LinkState::Active,
        || format!("{}: {:?} {}", l.name, l.flags, l.status),
    )?;
    let l = link(&n.dma, &n.eth)?;
    ensure(l.auto_remove_on() == "supplier unbind", || {
        format!("{}: {}", l.name, l.auto_remove_on())
    })?;
    let l = link(&n.uart, &n.sensor)?;
    ensure(!l.managed() && l.status == LinkState::None, || {
        format!("{}: {}", l.name, l.status)
    })?;
    let l = link(&n.region_host, &n.monitor)?;
    ensure(l.sync_state_only(), || {
        format!("{} not sync-state-only", l.name)
    })?;
    let l = link(&n.ghost, &n.late)?;
    ensure(l.status == LinkState::Dormant, || {
        format!("{}: {}", l.name, l.status)
    })?;
    ensure(
        l.sysfs_ends && l.supplier.is_some() && l.consumer.is_some(),
        || format!("{} has no ends", l.name),
    )
}

pub(super) async fn topology_parents<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    for k in [&n.dma, &n.uart, &n.eth, &n.accel] {
        let d = t
            .named(k)
            .ok_or_else(|| Miss::Fail(format!("{k} missing")))?;
        let p = d.parent.map(|p| t.device(p).key());
        ensure(p.as_deref() == Some(&n.region_host), || {
            format!("{k}'s parent is {p:?}")
        })?;
    }
    Ok(())
}

pub(super) async fn topology_names<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let a = ok_or(t.find("dma0"), "find dma0")?;
    let b = ok_or(t.find(&n.dma), "find platform:dma0")?;
    ensure(a == b, || "a bare name and bus:name differ".into())?;
    let path = t.device(a).path.clone();
    ensure(ok_or(t.find(&path), "find by path")? == a, || {
        "path lookup differs".into()
    })
}

pub(super) async fn topology_unknown_name<R: Rig>(r: R) -> Outcome {
    let t = topo(&r).await?;
    match t.find("platform:no-such-device") {
        Err(e) => ensure(e.kind() == ErrorKind::NoDevice, || {
            format!("kind {:?}", e.kind())
        }),
        Ok(_) => fail("an unknown name resolved"),
    }
}

pub(super) fn dependents_of(t: &Topology, key: &str) -> Result<Vec<String>, Miss> {
    let id = ok_or(t.find(key), key)?;
    Ok(keys(t, &t.dependents(id)))
}

pub(super) fn sorted(v: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().map(Into::into).collect();
    v.sort();
    v
}

pub(super) async fn queries_dependents<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    // The raw query counts the region's class device (a child of the
    // host); the engine's users leave the FPGA stack out.
    // Without FPGA classes (a stock kernel) there is no class device.
    let fpga = r.fpga_support().is_ok();
    let got = sorted(dependents_of(&t, &n.region_host)?);
    let want = sorted(
        n.users()
            .iter()
            .map(String::as_str)
            .chain(fpga.then_some("fpga_region:region0")),
    );
    ensure(got == want, || format!("dependents {got:?}, want {want:?}"))?;
    if !fpga {
        return Ok(());
    }
    let v = r.fpga().await.map_err(Miss::Fail)?;
    let target = v
        .region_target(&v.regions[0])
        .ok_or_else(|| Miss::Fail("the region's manager is unknown".into()))?;
    let users = ok_or(fpga_core::engine::users(&t, &target), "users")?;
    let got = sorted(keys(&t, &users));
    let want = sorted(n.users());
    ensure(got == want, || format!("users {got:?}, want {want:?}"))
}

pub(super) async fn queries_sync_state_only<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let got = dependents_of(&t, &n.region_host)?;
    ensure(!got.iter().any(|k| k == &n.monitor), || {
        format!(
            "{} counted through a sync-state-only link: {got:?}",
            &n.monitor
        )
    })?;
    // And it is not waited for: the monitor waits for nothing.
    let mon = ok_or(t.find(&n.monitor), "mon0")?;
    ensure(t.waiting_for(mon).is_empty(), || {
        format!("mon0 waits for {:?}", t.waiting_for(mon))
    })
}

pub(super) async fn queries_stateless<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let got = dependents_of(&t, &n.uart)?;
    ensure(got == [n.sensor.clone()], || {
        format!("uart0's dependents {got:?}")
    })
}

pub(super) async fn queries_teardown_order<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let id = ok_or(t.find(&n.region_host), "region host")?;
    let order = keys(&t, &t.teardown_order(id));
    before(&order, &n.eth, &n.dma)?;
    before(&order, &n.sensor, &n.uart)
}

pub(super) async fn queries_bringup_order<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let order = dependents_of(&t, &n.region_host)?;
    before(&order, &n.dma, &n.eth)?;
    before(&order, &n.uart, &n.sensor)?;
    let again = dependents_of(&topo(&r).await?, &n.region_host)?;
    ensure(order == again, || {
        "the order changed between two reads".into()
    })
}

pub(super) async fn queries_waiting<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let late = ok_or(t.find(&n.late), "late0")?;
    let w = t.waiting_for(late);
    let want = Waiting::Supplier {
        supplier: n.ghost.clone(),
        state: LinkState::Dormant,
    };
    ensure(w == [want], || format!("late0 waits for {w:?}"))?;
    let dma = ok_or(t.find(&n.dma), "dma0")?;
    ensure(t.waiting_for(dma).is_empty(), || {
        "a bound device waits".into()
    })
}

pub(super) async fn queries_why<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let t = topo(&r).await?;
    let late = ok_or(t.find(&n.late), "late0")?;
    let why = t.why(late);
    let first = why
        .first()
        .ok_or_else(|| Miss::Fail("why is empty".into()))?;
    ensure(
        first.depth == 0 && first.supplier.map(|s| t.device(s).key()).as_deref() == Some(&n.ghost),
        || format!("why: {why:?}"),
    )
}
