//! The HWICAP loading a generated partial bitstream end to end on the
//! model, through the same `FpgaRegion` reprogram path as the other
//! backends, with every fault of spec §2.8 injected in turn; the
//! manager's state and status strings are checked after each, and a clean
//! load afterwards shows the recovery.

mod common;

use backend_uio::bitstream::synthetic_partial;
use backend_uio::sim::Fault;
use bytes::Bytes;
use common::*;
use devlink_core::{DevState, ErrorKind};
use fpga_core::{ImageFlags, ImageInfo, MgrState, ScatterTable, Step};
use std::time::Duration;

const FRAMES: usize = 4096;

fn image() -> ImageInfo {
    ImageInfo::from_buffer(synthetic_partial(FRAMES, IDCODE).bit)
        .with_flags(ImageFlags::PARTIAL_RECONFIG)
}

fn quiet(_: &Step) {}

fn bring_back(rig: &RegionRig) {
    block_on(async {
        rig.core.bind(&rig.accel).await.unwrap();
        rig.core.bind(&rig.app).await.unwrap();
    });
    assert_eq!(rig.app.state(), DevState::DriverBound);
}

#[test]
fn every_fault_in_turn_then_recovery() {
    let rig = region_rig(Duration::from_millis(100));
    // A clean load first.
    let report = block_on(rig.region.reprogram(image(), &quiet)).unwrap();
    assert_eq!(report.loaded.state, MgrState::Operating);
    assert_eq!(rig.mgr.sysfs_state(), "operating\n");
    assert_eq!(block_on(rig.mgr.sysfs_status()).unwrap(), "");

    const OP_IP: &str = "reconfig operation error\nreconfig IP protocol error\n";
    const OP: &str = "reconfig operation error\n";
    // (fault relative to the words consumed so far, expected kind, state,
    // status, a word of the message)
    type Case = (
        Box<dyn Fn(u64) -> Fault>,
        ErrorKind,
        &'static str,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Box::new(|_| Fault::StuckWfvZero { after_words: 0 }),
            ErrorKind::Timeout,
            "write init error\n",
            OP_IP,
            "WFV",
        ),
        (
            Box::new(|c| Fault::StuckDone {
                after_words: c + 200,
            }),
            ErrorKind::Timeout,
            "write error\n",
            OP_IP,
            "SR",
        ),
        (
            Box::new(|c| Fault::StuckWfvZero {
                after_words: c + 200,
            }),
            ErrorKind::Timeout,
            "write error\n",
            OP_IP,
            "WFV",
        ),
        (
            Box::new(|c| Fault::CfgErr { at_word: c + 200 }),
            ErrorKind::Io,
            "write error\n",
            OP,
            "CFGERR_N",
        ),
        (
            Box::new(|c| Fault::Abort { at_word: c + 200 }),
            ErrorKind::Busy,
            "write error\n",
            OP,
            "abort",
        ),
    ];
    for (fault, kind, state, status, word) in cases {
        let f = fault(rig.model.words_consumed());
        rig.model.inject(f);
        let e = block_on(rig.region.reprogram(image(), &quiet)).unwrap_err();
        assert_eq!(e.stage, fpga_core::Stage::Load, "{f:?}: {e}");
        assert_eq!(e.kind(), kind, "{f:?}: {e}");
        assert!(e.to_string().contains(word), "{f:?}: {e}");
        assert_eq!(rig.mgr.sysfs_state(), state, "{f:?}");
        assert_eq!(block_on(rig.mgr.sysfs_status()).unwrap(), status, "{f:?}");
        assert!(
            rig.region.manager().lock().is_ok(),
            "{f:?}: the manager is unlocked again"
        );
        // Dependents stay down after a failed program (fpga-core's rule).
        assert_eq!(rig.app.state(), DevState::NoDriver, "{f:?}");
        assert!(
            rig.uio_driver.bound_devices().is_empty(),
            "{f:?}: mappings dropped"
        );
        assert_eq!(rig.model.overflow(), 0, "{f:?}");

        // Recovery: clear the fault, bring the dependents back, load again.
        rig.model.clear_faults();
        bring_back(&rig);
        let before = rig.model.frames_written();
        let report = block_on(rig.region.reprogram(image(), &quiet)).unwrap();
        assert_eq!(report.loaded.state, MgrState::Operating, "{f:?}");
        assert_eq!(rig.mgr.sysfs_state(), "operating\n");
        assert_eq!(block_on(rig.mgr.sysfs_status()).unwrap(), "", "{f:?}");
        assert_eq!(rig.model.frames_written() - before, FRAMES as u64);
        assert_eq!(
            rig.uio_driver.bound_devices(),
            vec![ACCEL_PARENT.to_string()]
        );
    }
}

#[test]
fn every_file_form_and_chunking_loads() {
    let rig = region_rig(Duration::from_secs(1));
    let img = synthetic_partial(1000, IDCODE);
    let flags = ImageFlags::PARTIAL_RECONFIG;
    let forms = [
        ImageInfo::from_buffer(img.bin.clone()),
        ImageInfo::from_buffer(img.swapped.clone()),
        ImageInfo::from_table(ScatterTable::from_buffer(&Bytes::from(img.bit.clone()), 7)),
        ImageInfo::from_table(ScatterTable::from_buffer(
            &Bytes::from(img.swapped.clone()),
            4096,
        )),
    ];
    for info in forms {
        let before = rig.model.frames_written();
        let r = block_on(rig.region.reprogram(info.with_flags(flags), &quiet)).unwrap();
        assert_eq!(r.loaded.state, MgrState::Operating);
        assert_eq!(rig.model.frames_written() - before, 1000);
        assert!(!rig.model.dalign());
    }
}

#[test]
fn malformed_images_touch_no_register() {
    let rig = region_rig(Duration::from_millis(100));
    let img = synthetic_partial(64, IDCODE);
    rig.icap_log.set_enabled(true);
    let mut truncated = img.bit.clone();
    truncated.truncate(img.bit.len() - 6);
    let mut no_nul = img.bit.clone();
    no_nul[13 + 3 + backend_uio::bitstream::SYNTHETIC_DESIGN.len()] = b'x';
    for bad in [
        truncated,
        no_nul,
        vec![0xAB; 64],
        img.bin[..img.bin.len() - 1].to_vec(),
    ] {
        let info = ImageInfo::from_buffer(bad).with_flags(ImageFlags::PARTIAL_RECONFIG);
        let e = block_on(rig.region.reprogram(info, &quiet)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert_eq!(rig.mgr.state(), MgrState::ParseHeaderErr, "{e}");
        assert!(rig.icap_log.is_empty(), "{e}");
        bring_back(&rig);
    }
}
