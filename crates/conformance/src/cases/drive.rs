//! Cases on driving the model: unbind, bind, wait for removal.

use super::*;

pub(super) async fn drive_unbind_tree<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let down = unbind_tree(r.model(), &n.dma)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    let got: Vec<String> = down.iter().map(|u| u.key.clone()).collect();
    ensure(got == [n.eth.clone(), n.dma.clone()], || {
        format!("unbound {got:?}")
    })?;
    let t = topo(&r).await?;
    for k in [&n.eth, &n.dma] {
        ensure(!bound(&t, k)?, || format!("{k} still bound"))?;
    }
    ensure(bound(&t, &n.uart)?, || "uart0 went down too".into())
}

pub(super) async fn drive_unbind_unbound<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    match r.model().unbind_one(&n.ghost).await {
        Ok(None) => Ok(()),
        other => fail(format!("unbind of an unbound device: {other:?}")),
    }
}

pub(super) async fn drive_unbind_unknown<R: Rig>(r: R) -> Outcome {
    match r.model().unbind_one("platform:no-such-device").await {
        Err(e) => ensure(e.kind() == ErrorKind::NoDevice, || {
            format!("kind {:?}: {e}", e.kind())
        }),
        Ok(u) => fail(format!("unbind of an unknown device: {u:?}")),
    }
}

pub(super) async fn drive_rebind<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let down = unbind_tree(r.model(), &n.dma)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    let back = rebind(r.model(), &down).await;
    let got: Vec<String> = back.bound.iter().map(|u| u.key.clone()).collect();
    ensure(back.not_bound.is_empty(), || {
        format!("not bound: {:?}", back.not_bound)
    })?;
    ensure(got == [n.dma.clone(), n.eth.clone()], || {
        format!("bound back {got:?}")
    })?;
    at_rest(&topo(&r).await?, &n)
}

pub(super) async fn drive_bind_deferred<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    unbind_tree(r.model(), &n.region_host)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    match ok_or(r.model().bind(&n.dma, None).await, "bind dma0")? {
        BindOutcome::Deferred { waiting } => ensure(
            waiting.iter().any(
                |w| matches!(w, Waiting::Supplier { supplier, .. } if supplier == &n.region_host),
            ),
            || format!("deferred, waiting for {waiting:?}"),
        )?,
        other => return fail(format!("dma0 bound without its supplier: {other:?}")),
    }
    ensure(!bound(&topo(&r).await?, &n.dma)?, || "dma0 is bound".into())
}

pub(super) async fn drive_bind_bound<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    match ok_or(r.model().bind(&n.dma, None).await, "bind dma0")? {
        BindOutcome::Bound {
            was_bound: true, ..
        } => Ok(()),
        other => fail(format!("{other:?}")),
    }
}

pub(super) async fn drive_wait_nothing<R: Rig>(r: R) -> Outcome {
    ok_or(
        r.model()
            .wait_removal(&Settle::default(), Duration::from_secs(2))
            .await,
        "wait",
    )
    .map(|_| ())
}

pub(super) async fn drive_wait_after_unbind<R: Rig>(r: R) -> Outcome {
    let n = r.names().clone();
    let mark = r.model().removal_mark();
    let down = unbind_tree(r.model(), &n.dma)
        .await
        .map_err(|p| Miss::Fail(format!("unbind: {}", p.error)))?;
    let settle = Settle {
        unbound: down.iter().map(|u| u.key.clone()).collect(),
        gone: Vec::new(),
        since: mark,
    };
    let w = ok_or(
        r.model()
            .wait_removal(&settle, Duration::from_secs(5))
            .await,
        "wait",
    )?;
    // The AUTOREMOVE_SUPPLIER link dma0 -> eth0 is gone.
    let t = topo(&r).await?;
    ensure(
        t.link_named(&format!("{}--{}", &n.dma, &n.eth)).is_none(),
        || "dma0--eth0 still there".into(),
    )?;
    ensure(w.releases.map_or(true, |n| n >= 1), || {
        format!("releases {:?}", w.releases)
    })
}

pub(super) async fn drive_wait_timeout<R: Rig>(r: R) -> Outcome {
    let (guard, mention) = r.stall_removal().map_err(Miss::NotApplicable)?;
    let e = match r
        .model()
        .wait_removal(&Settle::default(), Duration::from_millis(100))
        .await
    {
        Err(e) => e,
        Ok(w) => return fail(format!("the wait returned with something pending: {w:?}")),
    };
    drop(guard);
    ensure(e.kind() == ErrorKind::Timeout, || {
        format!("kind {:?}: {e}", e.kind())
    })?;
    ensure(e.to_string().contains(&mention), || {
        format!("{e:?} does not name {mention}")
    })
}
