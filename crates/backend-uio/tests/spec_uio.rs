//! One test per numbered behaviour of spec `uio.md` §4 that concerns this
//! backend. "fs" tests run the real discovery, `open`, `flock` and `mmap`
//! code on a fixture tree whose `/dev/uioN` is a regular file; "sim"
//! tests run on the UIO simulator and the HWICAP model.

mod common;

use backend_uio::attr;
use backend_uio::bitstream::{
    synthetic_partial, synthetic_words, Bitstream, Format, WordStream, SYNC_WORD, SYNTHETIC_DESIGN,
};
use backend_uio::hwicap::{cr, reg, sr, Hwicap, HwicapTimeouts};
use backend_uio::sim::{Fault, HwicapConfig, IrqModel, RamModel, SimDeviceSpec, SimMap};
use backend_uio::{
    errno, IrqEvent, PrDecoupler, Readiness, Registers, Selector, UioDevice, UioError, UioRoot,
};
use common::*;
use devlink_core::ErrorKind;
use fpga_core::{FpgaBridgeOps, FpgaManagerOps, ImageFlags, ImageInfo, MgrState, MgrStatus};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const P: ImageFlags = ImageFlags::PARTIAL_RECONFIG;

fn kind<T: std::fmt::Debug>(r: Result<T, UioError>) -> ErrorKind {
    r.unwrap_err().kind()
}

fn sim_dev(spec: SimDeviceSpec) -> (backend_uio::sim::SimUio, backend_uio::sim::SimHandle) {
    let sim = backend_uio::sim::SimUio::new().unwrap();
    let h = sim.register(spec);
    (sim, h)
}

fn irq_dev(irq: IrqModel) -> (backend_uio::sim::SimUio, backend_uio::sim::SimHandle) {
    sim_dev(
        SimDeviceSpec::new("irq", "a0000000.irq")
            .with_irq(irq)
            .with_ram_map(0xa000_0000, 0x1000),
    )
}

#[test]
fn b01_map_addr_parses_padded_unpadded_and_upper_case() {
    let fx = Fixture::new();
    let dev = fx.add(0, "accel", "a0001000.accel", &[PAGE_MAP], 4096);
    for text in ["0x00000000a0001000\n", "0xa0001000\n", "0XA0001000\n"] {
        std::fs::write(dev.join("maps/map0/addr"), text).unwrap();
        let maps = backend_uio::read_maps(&fx.class(0)).unwrap();
        assert_eq!(maps[0].addr, 0xA000_1000, "{text:?}");
    }
    // The newline is required, and exactly one is stripped.
    for bad in ["0xa0001000", "0xa0001000\n\n"] {
        std::fs::write(dev.join("maps/map0/addr"), bad).unwrap();
        let e = backend_uio::read_maps(&fx.class(0)).unwrap_err();
        assert!(e.to_string().contains("addr"), "{e}");
        // Malformed attribute text is InvalidInput on every backend (the
        // spec's `Io`; see docs/device-links.md, "Deviations").
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    assert!(attr::hex(Path::new("addr"), "0xa0001000\n\n").is_err());
}

#[test]
fn b02_map_count_and_gaps() {
    let fx = Fixture::new();
    fx.add(0, "nomaps", "a.nomaps", &[], 4096);
    let two = fx.add(1, "two", "b.two", &[PAGE_MAP, PAGE_MAP], 8192);
    assert!(!fx.class(0).join("maps").exists());
    assert_eq!(backend_uio::read_info(&fx.root(), 0).unwrap().maps.len(), 0);
    assert_eq!(backend_uio::read_info(&fx.root(), 1).unwrap().maps.len(), 2);
    fx.write_map(&two, 3, &PAGE_MAP);
    let e = backend_uio::read_info(&fx.root(), 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("map2 is missing"), "{e}");
    assert!(
        backend_uio::scan(&fx.root()).is_err(),
        "never silently skipped"
    );
}

#[test]
fn b03_map_offset_is_index_times_runtime_page_size() {
    let fx = Fixture::new();
    // Two 16 KiB "pages" of file behind the node.
    let m = FxMap {
        addr: "0x00000000a0000000\n",
        size: "0x0000000000004000\n",
        offset: "0x0\n",
    };
    fx.add(
        0,
        "accel",
        "a0000000.accel",
        &[
            m,
            FxMap {
                addr: "0x00000000a0004000\n",
                ..PAGE_MAP
            },
        ],
        2 * 16384,
    );
    std::fs::write(fx.class(0).join("maps/map1/size"), "0x0000000000004000\n").unwrap();
    let faked = fx.root().with_page_size(16384);
    let dev = UioDevice::open(&faked, Selector::Number(0)).unwrap();
    assert_eq!(dev.map_offset(1), 16384);
    let mapping = dev.map(1).unwrap();
    assert_eq!(mapping.mmap_offset(), 16384);
    assert_eq!(mapping.mmap_len(), 16384);
    drop((mapping, dev));
    // Without a fake, the page size is sysconf's.
    let real = UioDevice::open(&fx.root(), Selector::Number(0)).unwrap();
    assert_eq!(real.page_size(), rustix_page());
    assert_eq!(real.map_offset(1), rustix_page() as u64);
}

fn rustix_page() -> usize {
    UioRoot::default().page_size()
}

#[test]
fn b04_register_pointer_is_base_plus_offset() {
    let page = rustix_page();
    let fx = Fixture::new();
    let size = format!("{page:#018x}\n");
    fx.add(
        0,
        "accel",
        "a0001000.accel",
        &[FxMap {
            addr: "0x00000000a0001000\n",
            size: &size,
            offset: "0x100\n",
        }],
        page as u64,
    );
    let dev = UioDevice::open(&fx.root(), Selector::Number(0)).unwrap();
    let regs = dev.map(0).unwrap();
    assert_eq!(regs.register_base(), regs.mmap_base() + 0x100);
    regs.write32(0, 0xC0FF_EE00).unwrap();
    let file = std::fs::read(fx.dir.path().join("dev/uio0")).unwrap();
    assert_eq!(&file[0x100..0x104], &0xC0FF_EE00u32.to_ne_bytes());
    // offset 0 and an unaligned addr: the in-page offset is addr & (PAGE-1).
    let old = backend_uio::MapInfo {
        index: 0,
        name: String::new(),
        addr: 0xa000_1100,
        size: 0x100,
        offset: 0,
    };
    assert_eq!(old.in_page_offset(page), 0x100);
    assert_eq!(old.in_page_offset(16384), 0x1100);
}

#[test]
fn b05_nonexistent_maps_fail_before_mmap() {
    let (sim, _) =
        sim_dev(SimDeviceSpec::new("accel", "a.accel").with_ram_map(0xa000_0000, 0x1000));
    let dev = sim.open(Selector::Number(0)).unwrap();
    for k in [5, 1, 7] {
        let e = dev.map(k).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "map({k}): {e}");
        assert_eq!(e.errno(), Some(errno::EINVAL));
    }
    assert_eq!(sim.mmap_calls(), 0);
    dev.map(0).unwrap();
    assert_eq!(sim.mmap_calls(), 1);
}

#[test]
fn b06_too_long_and_unaligned_maps() {
    let page = rustix_page() as u64;
    let ram = Arc::new(RamModel::new(page as usize));
    let (sim, _) = sim_dev(
        SimDeviceSpec::new("accel", "a.accel")
            .with_map(SimMap::new(0xa000_0000, page, 0, ram.clone()))
            .with_map(SimMap::new(0xa000_0100, page, 0, ram)),
    );
    let dev = sim.open(Selector::Number(0)).unwrap();
    let e = dev.map_len(0, 3 * page as usize).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = dev.map(1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    assert_eq!(e.errno(), Some(errno::ENODEV));
}

#[test]
fn b07_out_of_range_accesses_touch_nothing() {
    let ram = Arc::new(RamModel::new(0x1000));
    let map = SimMap::new(0xa000_0000, 0x1000, 0, ram);
    let log = map.log.clone();
    let (sim, _) = sim_dev(SimDeviceSpec::new("accel", "a.accel").with_map(map));
    let dev = sim.open(Selector::Number(0)).unwrap();
    let regs = dev.map(0).unwrap();
    assert_eq!(kind(regs.read32(0x1000)), ErrorKind::InvalidInput);
    assert_eq!(kind(regs.write32(0xFFE, 1)), ErrorKind::InvalidInput);
    assert_eq!(kind(regs.read32(2)), ErrorKind::InvalidInput);
    assert_eq!(
        kind(regs.write32_repeat(usize::MAX - 3, &[1, 2])),
        ErrorKind::InvalidInput
    );
    assert!(log.is_empty());
    regs.read32(0xFFC).unwrap();
    assert_eq!(log.entries().len(), 1);
}

#[test]
fn b08_interrupts_before_open_are_not_reported() {
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    sim.inject_irq(h).unwrap();
    let dev = sim.open(Selector::Number(0)).unwrap();
    assert_eq!(dev.event_count().unwrap(), 1);
    assert_eq!(kind(dev.try_wait_irq()), ErrorKind::Deferred);
    assert_eq!(
        kind(dev.wait_irq(Some(Duration::from_millis(30)))),
        ErrorKind::Timeout
    );
}

#[test]
fn b09_three_interrupts_without_waiter_report_two_missed() {
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    let dev = sim.open(Selector::Number(0)).unwrap();
    let before = dev.event_count().unwrap();
    for _ in 0..3 {
        assert!(sim.inject_irq(h).unwrap());
        dev.irq_enable().unwrap();
    }
    let t = Instant::now();
    let ev = dev.wait_irq(Some(Duration::from_secs(5))).unwrap();
    assert!(t.elapsed() < Duration::from_millis(100));
    assert_eq!(
        ev,
        IrqEvent {
            count: before + 3,
            missed: 2
        }
    );
}

#[test]
fn b10_event_counter_wraps() {
    assert_eq!(IrqEvent::between(0xFFFF_FFFF, 1).missed, 1);
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    sim.set_event_count(h, 0xFFFF_FFFF).unwrap();
    let dev = sim.open(Selector::Number(0)).unwrap();
    sim.inject_irq(h).unwrap();
    dev.irq_enable().unwrap();
    sim.inject_irq(h).unwrap();
    assert_eq!(
        dev.wait_irq(None).unwrap(),
        IrqEvent {
            count: 1,
            missed: 1
        }
    );
}

#[test]
fn b11_two_descriptors_each_see_an_interrupt_once() {
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    let a = sim.open(Selector::Number(0)).unwrap();
    let b = sim.open_shared(Selector::Number(0)).unwrap();
    sim.inject_irq(h).unwrap();
    let short = Some(Duration::from_millis(20));
    assert_eq!(a.wait_irq(short).unwrap().count, 1);
    assert_eq!(b.wait_irq(short).unwrap().count, 1);
    assert_eq!(kind(a.wait_irq(short)), ErrorKind::Timeout);
    assert_eq!(kind(b.wait_irq(short)), ErrorKind::Timeout);
}

#[test]
fn b12_raw_read_and_write_need_four_bytes() {
    let (sim, _) = irq_dev(IrqModel::GenIrq);
    let dev = sim.open(Selector::Number(0)).unwrap();
    for n in [0usize, 3, 5, 8] {
        let e = dev.read_raw(&mut vec![0; n]).unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::InvalidInput, Some(errno::EINVAL)),
            "read {n}"
        );
        let e = dev.write_raw(&vec![1; n]).unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::InvalidInput, Some(errno::EINVAL)),
            "write {n}"
        );
    }
    assert_eq!(dev.write_raw(&1i32.to_ne_bytes()).unwrap(), 4);
}

#[test]
fn b13_nonblocking_wait_is_deferred_and_keeps_the_count() {
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    let dev = sim.open(Selector::Number(0)).unwrap();
    let e = dev.try_wait_irq().unwrap_err();
    assert_eq!(
        (e.kind(), e.errno()),
        (ErrorKind::Deferred, Some(errno::EAGAIN))
    );
    sim.inject_irq(h).unwrap();
    // Remembered count unchanged: the event is new and nothing was missed.
    assert_eq!(
        dev.try_wait_irq().unwrap(),
        IrqEvent {
            count: 1,
            missed: 0
        }
    );
}

#[test]
fn b14_poll_does_not_consume() {
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    let dev = sim.open(Selector::Number(0)).unwrap();
    sim.inject_irq(h).unwrap();
    assert_eq!(
        dev.poll_raw(Some(Duration::ZERO)).unwrap(),
        Readiness::Readable
    );
    assert_eq!(
        dev.poll_raw(Some(Duration::ZERO)).unwrap(),
        Readiness::Readable
    );
    let mut buf = [0u8; 4];
    assert_eq!(dev.read_raw(&mut buf).unwrap(), 4);
    assert_eq!(u32::from_ne_bytes(buf), 1);
    assert_eq!(
        dev.poll_raw(Some(Duration::ZERO)).unwrap(),
        Readiness::TimedOut
    );
}

#[test]
fn b15_device_without_interrupt() {
    let (sim, _) = irq_dev(IrqModel::None);
    let dev = sim.open(Selector::Number(0)).unwrap();
    assert!(!dev.has_irq());
    assert_eq!(kind(dev.wait_irq(None)), ErrorKind::Unsupported);
    assert_eq!(kind(dev.try_wait_irq()), ErrorKind::Unsupported);
    assert_eq!(
        dev.read_raw(&mut [0; 4]).unwrap_err().errno(),
        Some(errno::EIO)
    );
    let t = Instant::now();
    assert_eq!(
        dev.poll_raw(Some(Duration::from_secs(5))).unwrap(),
        Readiness::Error
    );
    assert!(t.elapsed() < Duration::from_millis(100));
}

#[test]
fn b16_no_irqcontrol_is_unsupported() {
    let (sim, _) = irq_dev(IrqModel::NoIrqControl);
    let dev = sim.open(Selector::Number(0)).unwrap();
    let e = dev.irq_enable().unwrap_err();
    assert_eq!(
        (e.kind(), e.errno()),
        (ErrorKind::Unsupported, Some(errno::ENOSYS))
    );
}

#[test]
fn b17_genirq_masks_until_enabled() {
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    let dev = sim.open(Selector::Number(0)).unwrap();
    assert!(sim.inject_irq(h).unwrap());
    assert!(!sim.inject_irq(h).unwrap(), "latched while masked");
    assert!(!sim.inject_irq(h).unwrap(), "at most one pending");
    assert_eq!(dev.event_count().unwrap(), 1);
    dev.irq_enable().unwrap();
    assert_eq!(dev.event_count().unwrap(), 2);
    dev.irq_enable().unwrap();
    assert_eq!(dev.event_count().unwrap(), 2, "exactly one more event");
}

#[test]
fn b18_unregister_wakes_a_blocked_waiter() {
    let (sim, h) = irq_dev(IrqModel::GenIrq);
    let dev = Arc::new(sim.open(Selector::Number(0)).unwrap());
    let waiter = {
        let dev = Arc::clone(&dev);
        std::thread::spawn(move || {
            let r = dev.wait_irq(None);
            (r, Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    sim.unregister(h).unwrap();
    let (r, woke) = waiter.join().unwrap();
    assert_eq!(r.unwrap_err().kind(), ErrorKind::NoDevice);
    assert!(woke.duration_since(t) < Duration::from_millis(100));
    assert_eq!(kind(dev.irq_enable()), ErrorKind::NoDevice);
    assert_eq!(kind(dev.map(0)), ErrorKind::NoDevice);
}

#[test]
fn b19_renumbered_device_is_found_by_parent_and_not_by_stale_number() {
    let fx = Fixture::new();
    fx.add(0, "hwicap", "40200000.hwicap", &[PAGE_MAP], 4096);
    fx.add(1, "gpio", "41200000.gpio", &[PAGE_MAP], 4096);
    let before = UioDevice::open(&fx.root(), Selector::Number(0)).unwrap();
    let id = before.identity();
    drop(before);
    // Unregister, something else takes uio0, the hardware comes back as uio2.
    fx.remove(0);
    fx.add(0, "dma", "40400000.dma", &[PAGE_MAP], 4096);
    fx.add(2, "hwicap", "40200000.hwicap", &[PAGE_MAP], 4096);
    let found =
        UioDevice::open(&fx.root(), Selector::Parent(fx.parent("40200000.hwicap"))).unwrap();
    assert_eq!(found.number(), 2);
    assert_eq!(found.identity(), id);
    drop(found);
    let e = UioDevice::open(&fx.root(), Selector::Same(0, id.clone())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice, "{e}");
    assert_eq!(
        UioDevice::open(&fx.root(), Selector::Identity(id))
            .unwrap()
            .number(),
        2
    );
}

#[test]
fn b20_second_open_is_busy_until_the_first_is_dropped() {
    let (sim, _) = irq_dev(IrqModel::GenIrq);
    let first = sim.open_as(Selector::Number(0), "hwicap-driver").unwrap();
    let e = sim.open_as(Selector::Number(0), "other").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(e.to_string().contains("hwicap-driver"), "{e}");
    drop(first);
    sim.open_as(Selector::Number(0), "other").unwrap();
    // The real flock path on a fixture node behaves the same.
    let fx = Fixture::new();
    fx.add(0, "accel", "a.accel", &[PAGE_MAP], 4096);
    let first = UioDevice::open_as(&fx.root(), Selector::Number(0), "owner-a").unwrap();
    let e = UioDevice::open(&fx.root(), Selector::Number(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(e.to_string().contains("owner-a"), "{e}");
    drop(first);
    UioDevice::open(&fx.root(), Selector::Number(0)).unwrap();
}

#[test]
fn b21_ambiguous_name_lists_both() {
    let fx = Fixture::new();
    fx.add(0, "hwicap", "a.hwicap", &[PAGE_MAP], 4096);
    fx.add(3, "hwicap", "b.hwicap", &[PAGE_MAP], 4096);
    let e = UioDevice::open(&fx.root(), Selector::Name("hwicap".into())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let msg = e.to_string();
    assert!(msg.contains("uio0") && msg.contains("uio3"), "{msg}");
}

fn icap(rig: &IcapRig, t: HwicapTimeouts) -> Hwicap {
    Hwicap::new(Arc::new(rig.open().map(0).unwrap()), "hwicap").with_timeouts(t)
}

#[test]
fn b22_reset_holds_each_bit_in_order() {
    let rig = icap_rig(HwicapConfig::default());
    let hold = Duration::from_micros(300);
    let ic = icap(
        &rig,
        HwicapTimeouts {
            hold,
            ..HwicapTimeouts::default()
        },
    );
    ic.reset().unwrap();
    let writes: Vec<_> = rig
        .log
        .entries()
        .into_iter()
        .filter(|a| a.write && a.off == reg::CR)
        .collect();
    let values: Vec<u32> = writes.iter().map(|a| a.value).collect();
    assert_eq!(values, vec![cr::SW_RESET, 0, cr::FIFO_CLEAR, 0]);
    assert!(writes[1].at.duration_since(writes[0].at) >= hold);
    assert!(writes[3].at.duration_since(writes[2].at) >= hold);
    // Each write is read-modify-write: a CR read precedes it.
    let ops: Vec<(bool, usize)> = rig.log.entries().iter().map(|a| (a.write, a.off)).collect();
    assert_eq!(ops, [(false, reg::CR), (true, reg::CR)].repeat(4));
}

#[test]
fn b23_busy_icap_refuses_and_pushes_nothing() {
    let rig = icap_rig(HwicapConfig::default());
    let ic = icap(&rig, HwicapTimeouts::all(Duration::from_millis(20)));
    rig.model.inject(Fault::StuckDone { after_words: 1 });
    assert_eq!(kind(ic.write_words(&[1, 2, 3])), ErrorKind::Timeout);
    assert_eq!(rig.model.sr() & sr::DONE, 0);
    let pushed = rig.log.writes_to(reg::WF).len();
    let e = ic.write_words(&[4, 5, 6]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.to_string().contains("ICAP transfer in progress"));
    assert_eq!(rig.log.writes_to(reg::WF).len(), pushed);
}

#[test]
fn b24_never_more_words_than_vacancy() {
    for cfg in [
        HwicapConfig::default().with_depth(16),
        HwicapConfig::default(),
        HwicapConfig::lite(),
    ] {
        let depth = cfg.depth;
        let rig = icap_rig(HwicapConfig {
            words_per_tick: 5,
            ..cfg
        });
        let ic = icap(&rig, HwicapTimeouts::default());
        let words: Vec<u32> = (0..3000).collect();
        ic.write_words(&words).unwrap();
        assert_eq!(rig.model.overflow(), 0, "depth {depth}");
        assert_eq!(rig.log.writes_to(reg::WF), words);
        // Every burst is at most the WFV read just before it.
        let mut vacancy = None;
        let mut burst = 0;
        for a in rig.log.entries() {
            match (a.write, a.off) {
                (false, reg::WFV) => {
                    vacancy = Some(a.value);
                    burst = 0;
                }
                (true, reg::WF) => {
                    burst += 1;
                    assert!(
                        burst <= vacancy.unwrap(),
                        "depth {depth}: burst {burst} > WFV {vacancy:?}"
                    );
                }
                _ => {}
            }
        }
    }
}

#[test]
fn b25_start_bits_are_read_modify_write_and_exclusive() {
    let rig = icap_rig(HwicapConfig::default());
    let ic = icap(&rig, HwicapTimeouts::default());
    ic.read_idcode().unwrap();
    let entries = rig.log.entries();
    let mut last_cr = 0;
    let (mut writes, mut reads) = (0, 0);
    for a in &entries {
        if a.off != reg::CR {
            continue;
        }
        if !a.write {
            last_cr = a.value;
            continue;
        }
        if a.value & cr::WRITE != 0 {
            writes += 1;
            assert_eq!(a.value & cr::READ, 0);
            assert_eq!(a.value, (last_cr | cr::WRITE) & !cr::READ);
        }
        if a.value & cr::READ != 0 {
            reads += 1;
            assert_eq!(a.value & cr::WRITE, 0);
            assert_eq!(a.value, (last_cr | cr::READ) & !cr::WRITE);
        }
    }
    assert!(writes > 0 && reads > 0);
}

#[test]
fn b26_stuck_registers_time_out_naming_them() {
    let deadline = Duration::from_millis(50);
    let slack = Duration::from_millis(10);
    for (fault, register) in [
        (Fault::StuckWfvZero { after_words: 0 }, "WFV"),
        (Fault::StuckDone { after_words: 1 }, "SR"),
    ] {
        // The driver's own measurement when it gives up must be within the
        // deadline + 10 ms. A loaded 2-core CI machine can deschedule the
        // thread for longer, so a few attempts are allowed; an
        // implementation that overshoots systematically fails them all.
        let mut tries = Vec::new();
        for _ in 0..5 {
            let rig = icap_rig(HwicapConfig::default());
            let ic = icap(&rig, HwicapTimeouts::all(deadline));
            rig.model.inject(fault);
            let t = Instant::now();
            let e = ic.write_words(&[packet_noop(); 8]).unwrap_err();
            let took = t.elapsed();
            let waited = match &e {
                UioError::Timeout {
                    register: r,
                    waited,
                    ..
                } => {
                    assert_eq!(*r, register, "{e}");
                    *waited
                }
                other => panic!("{fault:?}: {other}"),
            };
            assert!(
                took >= deadline && waited >= deadline,
                "{fault:?}: {took:?}"
            );
            tries.push(waited);
            if waited <= deadline + slack {
                break;
            }
        }
        assert!(
            tries.last().is_some_and(|w| *w <= deadline + slack),
            "{fault:?}: waited {tries:?}"
        );
    }
}

fn packet_noop() -> u32 {
    backend_uio::bitstream::packet::NOOP
}

#[test]
fn b27_cfgerr_is_a_write_error() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    let img = synthetic_partial(256, IDCODE);
    // Past the IDCODE probe of write_init: inside the frame data.
    let probe = rig.icap.model.words_consumed();
    rig.icap.model.inject(Fault::CfgErr {
        at_word: probe + 60 + 100,
    });
    let e = rig.load(img.bit.clone(), P).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert_eq!(rig.mgr.state(), MgrState::WriteErr);
    assert_eq!(rig.mgr.sysfs_state(), "write error\n");
    assert!(
        rig.status().contains("reconfig operation error"),
        "{}",
        rig.status()
    );
    // write_complete itself: a CFGERR on the words it sends is Io too.
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    block_on(async {
        let mut info = ImageInfo::from_buffer(img.bit.clone()).with_flags(P);
        info.header_size = img.bit.len();
        let ctx = rig.mgr.ctx();
        rig.ops.write_init(ctx, &info, &img.bit).await.unwrap();
        rig.ops.write(ctx, &img.bit).await.unwrap();
        rig.icap.model.inject(Fault::CfgErr {
            at_word: rig.icap.model.words_consumed(),
        });
        let e = rig.ops.write_complete(ctx, &info).await.unwrap_err();
        assert_eq!(e.errno, fpga_core::Errno::EIO, "{e}");
        assert!(e.message.contains("CFGERR_N"), "{e}");
    });
    assert_eq!(
        block_on(rig.ops.status(rig.mgr.ctx())),
        MgrStatus::OPERATION_ERR
    );
}

#[test]
fn b28_read_idcode_discards_the_first_read_and_ignores_revision() {
    let rig = icap_rig(HwicapConfig {
        idcode: 0x1362_D093,
        ..HwicapConfig::default()
    });
    let ic = icap(&rig, HwicapTimeouts::default());
    assert_eq!(ic.read_idcode().unwrap(), 0x1362_D093);
    // Two reads were made: the garbage one was discarded.
    let reads = rig.log.writes_to(reg::SZ);
    assert_eq!(reads, vec![1, 1]);
    assert!(backend_uio::hwicap::idcode_matches(
        0x1362_D093,
        0x0362_D093
    ));
    // And a load of a 0x0362D093 image on a revision-1 device succeeds.
    let rig = mgr_rig(
        HwicapConfig {
            idcode: 0x1362_D093,
            ..HwicapConfig::default()
        },
        Duration::from_millis(100),
    );
    rig.load(synthetic_partial(16, IDCODE).bit, P).unwrap();
}

#[test]
fn b29_wrong_idcode_is_rejected_before_any_bitstream_word() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    let img = synthetic_partial(64, 0x0363_1093);
    let e = rig.load(img.bit.clone(), P).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(rig.mgr.state(), MgrState::WriteInitErr);
    assert_eq!(rig.icap.model.frames_written(), 0);
    // Only the IDCODE probe reached WF: no word of the image.
    let wf = rig.icap.log.writes_to(reg::WF);
    assert!(!wf.contains(&0x0363_1093));
    assert!(!wf.windows(2).any(|w| w == [0x3000_4000, 0x5000_0040]));
    assert!(rig.status().contains("reconfig incompatible image"));
}

#[test]
fn b30_readback_is_split_at_4095() {
    use backend_uio::bitstream::packet::*;
    let rig = icap_rig(HwicapConfig::default());
    let ic = icap(&rig, HwicapTimeouts::default());
    ic.write_words(&[
        DUMMY,
        SYNC_WORD,
        NOOP,
        type1(OP_READ, REG_FDRO, 0),
        type2(OP_READ, 5000),
        NOOP,
    ])
    .unwrap();
    let words = ic.read_words(5000).unwrap();
    assert_eq!(words.len(), 5000);
    assert_eq!(rig.log.writes_to(reg::SZ), vec![4095, 905]);
}

#[test]
fn b31_bit_header_fields() {
    let img = synthetic_partial(32, IDCODE);
    let b = Bitstream::parse(&img.bit).unwrap();
    let h = b.header.unwrap();
    assert_eq!(h.design, "rp0_rm1;UserID=0XFFFFFFFF;Version=2023.2");
    assert_eq!(h.design, SYNTHETIC_DESIGN);
    assert_eq!(h.part, "7a35tcpg236");
    assert_eq!(h.date, "2024/01/31");
    assert_eq!(h.time, "12:00:00");
    assert_eq!(h.data_len, img.bit.len() - h.data_offset);
    assert_eq!(b.words, img.words);
}

#[test]
fn b32_truncations_and_missing_nul_name_field_and_offset() {
    let img = synthetic_partial(4, IDCODE);
    for cut in 0..img.bit.len() {
        let e = UioError::from(Bitstream::parse(&img.bit[..cut]).unwrap_err());
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let UioError::Bitstream { field, offset, .. } = &e else {
            panic!("{e}")
        };
        assert!(!field.is_empty() && *offset <= cut, "cut {cut}: {e}");
    }
    // Drop the design name's NUL (and shorten its length to match).
    let mut bad = img.bit.clone();
    let name_len = SYNTHETIC_DESIGN.len() + 1;
    let nul_at = 13 + 3 + name_len - 1;
    assert_eq!(bad[nul_at], 0);
    bad.remove(nul_at);
    bad[14..16].copy_from_slice(&((name_len - 1) as u16).to_be_bytes());
    let e = UioError::from(Bitstream::parse(&bad).unwrap_err());
    let UioError::Bitstream { field, offset, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!((*field, *offset), ("design name", 16), "{e}");
    // Trailing bytes after the data are an error too.
    let mut long = img.bit.clone();
    long.extend([0, 0, 0, 0]);
    assert!(UioError::from(Bitstream::parse(&long).unwrap_err())
        .to_string()
        .contains("data length"));
}

#[test]
fn b33_format_detection() {
    let img = synthetic_partial(20, IDCODE);
    let parsed: Vec<_> = [&img.bit, &img.bin, &img.swapped]
        .iter()
        .map(|f| Bitstream::parse(f).unwrap())
        .collect();
    assert_eq!(
        parsed.iter().map(|b| b.format).collect::<Vec<_>>(),
        [Format::Bit, Format::Bin, Format::SwappedBin]
    );
    assert!(parsed.iter().all(|b| b.words == img.words));
    let no_sync: Vec<u8> = img
        .words
        .iter()
        .filter(|w| **w != SYNC_WORD)
        .flat_map(|w| w.to_be_bytes())
        .collect();
    let e = UioError::from(Bitstream::parse(&no_sync).unwrap_err());
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("no sync word"));
    let mut odd = img.bin.clone();
    odd.push(0);
    assert_eq!(
        UioError::from(Bitstream::parse(&odd).unwrap_err()).kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn b34_streaming_in_any_chunks() {
    let img = synthetic_partial(3000, IDCODE);
    let off = Bitstream::parse(&img.bit)
        .unwrap()
        .header
        .unwrap()
        .data_offset;
    for chunk in [1, 3, 5, 4096, img.bit.len()] {
        let mut ws = WordStream::new(Format::Bit, off);
        let mut out = Vec::new();
        for c in img.bit.chunks(chunk) {
            ws.push(c, &mut out);
        }
        ws.finish().unwrap();
        assert_eq!(out, img.words, "chunk {chunk}");
    }
}

#[test]
fn b35_partial_image_loads_end_to_end() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_secs(1));
    let img = synthetic_partial(5000, IDCODE);
    rig.load(img.bit.clone(), P).unwrap();
    let s = rig.icap.model.sr();
    assert_eq!(s & sr::DALIGN, 0, "DESYNC seen");
    assert_ne!(s & sr::DONE, 0);
    assert_ne!(s & sr::CFGERR_N, 0);
    assert_eq!(rig.mgr.state(), MgrState::Operating);
    assert_eq!(rig.icap.model.frames_written(), 5000);
    assert_eq!(rig.icap.model.overflow(), 0);
    assert_eq!(rig.status(), "");
}

#[test]
fn b36_unsupported_flags_touch_no_register() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    let img = synthetic_partial(16, IDCODE);
    rig.icap.log.take();
    for flags in [
        ImageFlags::empty(),
        P | ImageFlags::ENCRYPTED_BITSTREAM,
        P | ImageFlags::COMPRESSED_BITSTREAM,
        P | ImageFlags::USERKEY_ENCRYPTED_BITSTREAM,
    ] {
        let e = rig.load(img.bit.clone(), flags).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{flags:?}: {e}");
        assert_eq!(rig.mgr.state(), MgrState::WriteInitErr);
    }
    assert!(rig.icap.log.is_empty());
}

#[test]
fn b37_pr_decoupler_bridge() {
    let ram = Arc::new(RamModel::new(0x1000));
    let map = SimMap::new(0xa001_0000, 0x1000, 0, ram);
    let log = map.log.clone();
    let (sim, _) = sim_dev(SimDeviceSpec::new("decoupler", "a0010000.pr_decoupler").with_map(map));
    let br = Arc::new(
        PrDecoupler::new(
            Arc::new(sim.open(Selector::Name("decoupler".into())).unwrap()),
            0,
        )
        .unwrap(),
    );
    block_on(async {
        let core = devlink_core::DriverCore::new().unwrap();
        let parent = core
            .device("a0010000.pr_decoupler")
            .bus("platform")
            .create();
        core.device_add(&parent).await.unwrap();
        let fpga = fpga_core::Fpga::new(&core);
        let bridge = fpga
            .registrar_builtin()
            .register_bridge(&parent, "decoupler", Some(br.clone()))
            .await
            .unwrap();
        // The ops themselves.
        let ctx = bridge.ctx();
        br.enable_set(ctx, false).await.unwrap();
        assert_eq!(log.writes_to(0), vec![1]);
        assert!(!br.enable_show(ctx).await.unwrap());
        br.enable_set(ctx, true).await.unwrap();
        assert_eq!(log.writes_to(0), vec![1, 0]);
        assert!(br.enable_show(ctx).await.unwrap());
        // Through fpga-core: sysfs state "enabled" iff the register reads 0.
        bridge.disable().await.unwrap();
        assert_eq!(bridge.sysfs_state().await.unwrap(), "disabled\n");
        bridge.enable().await.unwrap();
        assert_eq!(bridge.sysfs_state().await.unwrap(), "enabled\n");
    });
}

#[test]
fn b38_owner_pinning_and_vanished_device() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    let held = rig.fpga.mgr_get(&rig.parent).unwrap();
    // Tearing down the owner is deferred while the manager is held.
    assert_eq!(
        rig.module.begin_unload().unwrap_err().kind(),
        ErrorKind::Busy
    );
    drop(held);
    rig.icap.log.take();
    block_on(rig.module.unload()).unwrap();
    let e = rig.fpga.mgr_get(&rig.parent).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice);
    assert!(rig.icap.log.is_empty(), "no HWICAP register accessed");

    // The HWICAP's own UIO device vanishing: every op is ENODEV, no access.
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    rig.icap.sim.unregister(rig.icap.handle).unwrap();
    rig.icap.log.take();
    let e = rig.load(synthetic_partial(16, IDCODE).bit, P).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoDevice, "{e}");
    block_on(async {
        let info = ImageInfo::default().with_flags(P);
        assert_eq!(
            rig.ops
                .write_init(rig.mgr.ctx(), &info, &[])
                .await
                .unwrap_err()
                .errno,
            fpga_core::Errno::ENODEV
        );
        assert_eq!(
            rig.ops
                .write(rig.mgr.ctx(), &[0; 8])
                .await
                .unwrap_err()
                .errno,
            fpga_core::Errno::ENODEV
        );
        assert_eq!(
            rig.ops
                .write_complete(rig.mgr.ctx(), &info)
                .await
                .unwrap_err()
                .errno,
            fpga_core::Errno::ENODEV
        );
    });
    assert!(rig.icap.log.is_empty());
}

#[test]
fn b39_flags_text_parses_with_the_hex_attribute_parser() {
    // The UIO backend's hex parser accepts what the kernel's `flags` file
    // holds; "Partial" is bit 0 and is written as "1".
    assert_eq!(format!("{:x}\n", P.bits()), "1\n");
    for text in ["1\n", "0x1\n", "01\n"] {
        let v = attr::hex(Path::new("flags"), text).unwrap();
        assert_eq!(ImageFlags::from_bits(v as u32), Some(P), "{text:?}");
    }
}

#[test]
fn b40_hwicap_state_strings_round_trip() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    let mut seen = vec![rig.mgr.state()];
    let _ = rig.load(synthetic_partial(8, 0x0363_1093).bit, P);
    seen.push(rig.mgr.state());
    rig.icap.model.inject(Fault::CfgErr {
        at_word: rig.icap.model.words_consumed() + 80,
    });
    let _ = rig.load(synthetic_partial(64, IDCODE).bit, P);
    seen.push(rig.mgr.state());
    rig.icap.model.clear_faults();
    rig.load(synthetic_partial(8, IDCODE).bit, P).unwrap();
    seen.push(rig.mgr.state());
    assert_eq!(
        seen,
        [
            MgrState::Unknown,
            MgrState::WriteInitErr,
            MgrState::WriteErr,
            MgrState::Operating
        ]
    );
    let strings: std::collections::HashSet<&str> =
        MgrState::ALL.iter().map(|s| s.sysfs()).collect();
    assert_eq!(strings.len(), MgrState::ALL.len());
    for s in seen {
        assert_eq!(MgrState::from_sysfs(&format!("{s}\n")), Some(s));
    }
    assert_eq!(MgrState::from_sysfs("on fire\n"), None);
}

#[test]
fn b41_hwicap_status_lines() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(100));
    assert_eq!(rig.status(), "", "no errors yet");
    let _ = rig.load(synthetic_partial(8, 0x0363_1093).bit, P);
    let text = rig.status();
    assert_eq!(
        MgrStatus::from_sysfs(&text).unwrap(),
        MgrStatus::INCOMPATIBLE_IMAGE_ERR
    );
    rig.load(synthetic_partial(8, IDCODE).bit, P).unwrap();
    assert_eq!(rig.status(), "", "a good load clears the errors");
}

#[test]
fn b42_success_only_when_operating() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(50));
    rig.load(synthetic_partial(8, IDCODE).bit, P).unwrap();
    assert!(!rig.mgr.state().is_error());
    rig.icap.model.inject(Fault::StuckDone {
        after_words: rig.icap.model.words_consumed() + 60,
    });
    let e = rig.load(synthetic_partial(256, IDCODE).bit, P).unwrap_err();
    assert!(rig.mgr.state().is_error());
    assert!(rig.mgr.sysfs_state().ends_with("error\n"));
    assert!(e.to_string().contains("SR"), "{e}");
    assert!(rig.status().contains("reconfig IP protocol error"));
}

#[test]
fn b43_bad_firmware_names_are_refused_before_any_register_access() {
    let rig = mgr_rig(HwicapConfig::default(), Duration::from_millis(50));
    rig.icap.log.take();
    let long = "a".repeat(256);
    for name in [
        "/lib/firmware/rp.bit",
        "../rp.bit",
        "x/../../rp.bit",
        long.as_str(),
    ] {
        let e = block_on(async {
            let held = rig.fpga.mgr_get(&rig.parent).unwrap();
            let locked = held.lock().unwrap();
            let mut info = ImageInfo {
                firmware_name: Some(name.to_string()),
                flags: P,
                ..ImageInfo::default()
            };
            locked.load(&mut info).await
        })
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
    }
    assert!(rig.icap.log.is_empty());
}

#[test]
fn b44_concurrent_loads_are_serialised() {
    let rig = Arc::new(mgr_rig(HwicapConfig::default(), Duration::from_secs(1)));
    let img = synthetic_partial(2000, IDCODE).bit;
    rig.load(img.clone(), P).unwrap();
    let one = rig.icap.log.take();
    let one: Vec<u32> = one
        .iter()
        .filter(|a| a.write && a.off == reg::WF)
        .map(|a| a.value)
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (rig, img) = (Arc::clone(&rig), img.clone());
            std::thread::spawn(move || loop {
                match rig.load(img.clone(), P) {
                    Err(e) if e.kind() == ErrorKind::Busy => std::thread::yield_now(),
                    other => return other,
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let wf = rig.icap.log.writes_to(reg::WF);
    assert_eq!(
        wf,
        [one.clone(), one].concat(),
        "the two loads' words interleaved"
    );
    assert_eq!(rig.icap.model.frames_written(), 3 * 2000);
}

#[test]
fn b50_full_region_cycle() {
    use fpga_core::Step;
    let rig = region_rig(Duration::from_secs(1));
    let img = synthetic_partial(4096, IDCODE);
    let dev_dir = rig.sim.root().dev_dir().display().to_string();
    let old = rig.accel_uio.lock().unwrap().number;
    rig.uio_driver
        .with_bound(&rig.accel, |b| b.maps[0].write32(0, 0x1234).unwrap())
        .unwrap();
    let obs = |step: &Step| {
        match step {
            Step::Loading { .. } => return,
            Step::WaitRemoval { .. } => rig.push("step WaitRemoval"),
            other => rig.push(format!("step {other:?}")),
        }
        match step {
            // The overlay that held the accelerator goes: its UIO device is
            // unregistered, and another device takes its number.
            Step::WaitRemoval { .. } => {
                let h = *rig.accel_uio.lock().unwrap();
                assert_eq!(
                    rig.sim.open_descriptors(h).unwrap(),
                    0,
                    "descriptor still open"
                );
                rig.sim.unregister(h).unwrap();
                let filler = rig.sim.register(SimDeviceSpec::new("dma", "a0020000.dma"));
                rig.push(format!(
                    "uio{} unregistered; uio{} is now dma",
                    h.number, filler.number
                ));
            }
            // The new logic is in: its UIO device comes back, renumbered.
            Step::Loaded { .. } => {
                let h = rig.sim.register(accel_spec());
                *rig.accel_uio.lock().unwrap() = h;
                rig.push(format!("accel registered as uio{}", h.number));
            }
            _ => {}
        }
    };
    let info = ImageInfo::from_buffer(img.bit.clone()).with_flags(P);
    let report = block_on(rig.region.reprogram(info, &obs)).unwrap();
    assert_eq!(report.loaded.state, MgrState::Operating);
    let new = rig.accel_uio.lock().unwrap().number;
    assert_ne!(new, old);
    let expected = vec![
        "step RegionHeld { region: \"region0\" }".to_string(),
        "step ManagerLocked { manager: \"fpga0\" }".into(),
        // 1. Teardown, consumers first; mappings dropped, descriptor closed.
        "step Unbind { device: \"platform:app0\" }".into(),
        "remove app0".into(),
        format!("step Unbind {{ device: \"platform:{ACCEL_PARENT}\" }}"),
        format!("Unmapped {{ device: \"{ACCEL_PARENT}\", index: 0 }}"),
        format!("Closed {{ device: \"{ACCEL_PARENT}\", node: \"{dev_dir}/uio{old}\" }}"),
        // 2. The barrier.
        "step WaitRemoval".into(),
        format!("uio{old} unregistered; uio{old} is now dma"),
        "step LeakCheck { devices: 2, references: true }".into(),
        // 3. Program with the bridge off.
        "step BridgesGot { count: 1 }".into(),
        "step BridgesDisabled".into(),
        "step Loaded { state: Operating }".into(),
        format!("accel registered as uio{new}"),
        "step BridgesEnabled".into(),
        "step Released".into(),
        // 4. Re-resolve by identity (new number), suppliers first.
        format!("Opened {{ device: \"{ACCEL_PARENT}\", node: \"{dev_dir}/uio{new}\" }}"),
        format!("Mapped {{ device: \"{ACCEL_PARENT}\", index: 0 }}"),
        format!("step Bind {{ device: \"platform:{ACCEL_PARENT}\", bound: true, why: None }}"),
        "probe app0".into(),
        "step Bind { device: \"platform:app0\", bound: true, why: None }".into(),
    ];
    assert_eq!(rig.take_log(), expected);
    assert_eq!(rig.decoupler_log.writes_to(0), vec![1, 0]);
    assert_eq!(rig.model.frames_written(), 4096);
    // The fresh mapping is the new device's: the old register value is gone.
    let v = rig.uio_driver.with_bound(&rig.accel, |b| {
        (b.device.number(), b.maps[0].read32(0).unwrap())
    });
    assert_eq!(v, Some((new, 0)));
}

#[test]
fn write_words_ignores_unrelated_sr_bits() {
    // SR is tested bit by bit: a core reporting EOS and RIP still works.
    let rig = icap_rig(HwicapConfig::default());
    let ic = icap(&rig, HwicapTimeouts::default());
    ic.write_words(&synthetic_words(4, IDCODE)).unwrap();
    assert_eq!(rig.model.frames_written(), 4);
}
