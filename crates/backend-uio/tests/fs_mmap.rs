//! The real `open`/`flock`/`mmap` code path on a fixture tree whose
//! `/dev/uio0` is a regular file on tmpfs, and the async interrupt wait.

mod common;

use backend_uio::sim::{IrqModel, SimDeviceSpec, SimUio};
use backend_uio::{Registers, Selector, UioDevice, UioRoot};
use common::block_on;
use devlink_core::ErrorKind;
use std::future::Future;
use std::time::Duration;

/// class/uio/uio0/{name,version,event,maps/map0/{addr,size,offset,name}}
/// as plain directories, and dev/uio0 sized to the map.
fn plain_fixture(page: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("class/uio/uio0");
    std::fs::create_dir_all(d.join("maps/map0")).unwrap();
    std::fs::write(d.join("name"), "accel\n").unwrap();
    std::fs::write(d.join("version"), "devicetree\n").unwrap();
    std::fs::write(d.join("event"), "0\n").unwrap();
    std::fs::write(d.join("maps/map0/addr"), "0x00000000a0000000\n").unwrap();
    std::fs::write(d.join("maps/map0/size"), format!("{:#018x}\n", 2 * page)).unwrap();
    std::fs::write(d.join("maps/map0/offset"), "0x0\n").unwrap();
    std::fs::write(d.join("maps/map0/name"), "\n").unwrap();
    std::fs::create_dir_all(dir.path().join("dev")).unwrap();
    let f = std::fs::File::create(dir.path().join("dev/uio0")).unwrap();
    f.set_len(2 * page as u64).unwrap();
    dir
}

#[test]
fn real_mmap_reads_and_writes_the_node() {
    let page = UioRoot::default().page_size();
    let dir = plain_fixture(page);
    // The device-node directory is configurable separately from sysfs.
    let root = UioRoot::at(dir.path()).with_dev_dir(dir.path().join("dev"));
    let dev = UioDevice::open(&root, Selector::Name("accel".into())).unwrap();
    assert_eq!(dev.maps()[0].name, "");
    let regs = dev.map(0).unwrap();
    assert_eq!((regs.len(), regs.mmap_len()), (2 * page, 2 * page));
    for (i, off) in [0usize, 4, page, 2 * page - 4].into_iter().enumerate() {
        regs.write32(off, 0xA5A5_0000 | i as u32).unwrap();
    }
    regs.write32_repeat(8, &[1, 2, 3]).unwrap();
    let file = std::fs::read(dir.path().join("dev/uio0")).unwrap();
    assert_eq!(&file[page..page + 4], &0xA5A5_0002u32.to_ne_bytes());
    assert_eq!(
        &file[8..12],
        &3u32.to_ne_bytes(),
        "the keyhole holds the last word"
    );
    assert_eq!(regs.read32(2 * page - 4).unwrap(), 0xA5A5_0003);
    assert_eq!(
        regs.read32(2 * page).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        regs.write32(6, 0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // The raw baseline writes through the same mapping.
    assert!(backend_uio::raw_store_loop(&regs, 16, &[7, 8]));
    assert_eq!(regs.read32(16).unwrap(), 8);
    assert!(!backend_uio::raw_store_loop(&regs, 2 * page, &[1]));
    // The mapping outlives the descriptor.
    drop(dev);
    assert_eq!(regs.read32(0).unwrap(), 0xA5A5_0000);
}

#[test]
fn missing_node_is_no_device() {
    let page = UioRoot::default().page_size();
    let dir = plain_fixture(page);
    std::fs::remove_file(dir.path().join("dev/uio0")).unwrap();
    let e = UioDevice::open(&UioRoot::at(dir.path()), Selector::Number(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice, "{e}");
    let e = UioDevice::open(&UioRoot::at(dir.path()), Selector::Number(4)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice, "{e}");
}

#[test]
fn async_wait_reports_the_interrupt_and_unregistration() {
    let sim = SimUio::new().unwrap();
    let h = sim.register(SimDeviceSpec::new("irq", "a.irq").with_irq(IrqModel::GenIrq));
    let dev = sim.open(Selector::Number(0)).unwrap();
    let injector = {
        let sim = sim.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            sim.inject_irq(h).unwrap();
        })
    };
    let ev = block_on(dev.wait_irq_async(Some(Duration::from_secs(5)))).unwrap();
    injector.join().unwrap();
    assert_eq!((ev.count, ev.missed), (1, 0));
    let e = block_on(dev.wait_irq_async(Some(Duration::from_millis(30)))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    dev.irq_enable().unwrap();
    let unreg = {
        let sim = sim.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            sim.unregister(h).unwrap();
        })
    };
    let e = block_on(dev.wait_irq_async(None)).unwrap_err();
    unreg.join().unwrap();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
}

#[test]
fn dropping_an_async_wait_stops_its_thread() {
    let sim = SimUio::new().unwrap();
    let h = sim.register(SimDeviceSpec::new("irq", "a.irq"));
    let dev = sim.open(Selector::Number(0)).unwrap();
    {
        let fut = dev.wait_irq_async(None);
        // Poll once so the helper starts, then drop the future.
        let mut fut = Box::pin(fut);
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    drop(dev);
    // The helper noticed within its 20 ms slice and closed the descriptor.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(sim.open_descriptors(h).unwrap(), 0);
}
