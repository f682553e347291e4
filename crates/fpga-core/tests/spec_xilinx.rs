//! Spec `fpga.md` §8.4: the Xilinx manager attributes `flags`, `key`,
//! `firmware` and `status`, behaviours 85–90 of §10.

mod fpga_rig;

use devlink_core::ErrorKind;
use fpga_core::{
    Errno, Fpga, FpgaManager, FpgaManagerOps, ImageFlags, ManagerInfo, MgrCaps, MgrState,
    MAX_FIRMWARE_NAME, MAX_XLNX_KEY,
};
use fpga_rig::{block_on, new_log, platform, setup, take, Log, RecMgr};
use std::sync::Arc;

struct Xlnx {
    _core: devlink_core::DriverCore,
    _fpga: Fpga,
    log: Log,
    ops: Arc<RecMgr>,
    mgr: FpgaManager,
    dir: tempfile::TempDir,
}

async fn xlnx(ops: RecMgr) -> Xlnx {
    let (core, fpga) = setup();
    fpga.set_xilinx_mode(true);
    let dir = tempfile::tempdir().unwrap();
    fpga.set_firmware_path(vec![dir.path().to_path_buf()]);
    let log = Arc::clone(&ops.log);
    let ops = Arc::new(ops);
    let parent = platform(&core, "firmware:zynqmp-firmware:pcap").await;
    let ops_dyn: Arc<dyn FpgaManagerOps> = ops.clone();
    let mgr = fpga
        .registrar_builtin()
        .register_manager(
            &parent,
            ManagerInfo::new("Xilinx ZynqMP FPGA Manager", ops_dyn),
        )
        .await
        .unwrap();
    Xlnx {
        _core: core,
        _fpga: fpga,
        log,
        ops,
        mgr,
        dir,
    }
}

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[test]
fn b85_flags_are_hex_and_invalid_text_keeps_the_value() {
    block_on(async {
        let x = xlnx(RecMgr::writer("fpga0", &new_log())).await;
        assert_eq!(x.mgr.xlnx_flags(), "0\n");
        x.mgr.xlnx_write_flags("1\n").unwrap();
        assert_eq!(x.mgr.xlnx_flags(), "1\n");
        x.mgr.xlnx_write_flags("0x20").unwrap();
        assert_eq!(x.mgr.xlnx_flags(), "20\n");
        let e = x.mgr.xlnx_write_flags("xyz").unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(x.mgr.xlnx_flags(), "20\n");
        // fpgautil's words: printf "%x" of the sum, read back lowercase.
        x.mgr.xlnx_write_flags("A0\n").unwrap();
        assert_eq!(x.mgr.xlnx_flags(), "a0\n");
        // [library rule] negatives and empty text are rejected too.
        for bad in ["-1", "", "\n", "0x"] {
            let e = x.mgr.xlnx_write_flags(bad).unwrap_err();
            assert_eq!(e.errno(), Errno::EINVAL, "{bad:?}");
        }
        assert_eq!(x.mgr.xlnx_flags(), "a0\n");
    });
}

#[test]
fn b86_firmware_write_loads_the_file_with_the_sysfs_flags() {
    block_on(async {
        let x = xlnx(RecMgr::writer("fpga0", &new_log())).await;
        let image: Vec<u8> = (0u8..32).collect();
        std::fs::write(x.dir.path().join("top.bin"), &image).unwrap();
        x.mgr.xlnx_write_flags("1").unwrap();
        let n = x.mgr.xlnx_write_firmware("top.bin\n").await.unwrap();
        assert_eq!(n, "top.bin\n".len());
        assert_eq!(
            take(&x.log),
            [
                "fpga0 write_init 0",
                "fpga0 write 32",
                "fpga0 write_complete"
            ]
        );
        let infos = x.ops.init_infos.lock().unwrap().clone();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].flags, ImageFlags::PARTIAL_RECONFIG);
        assert_eq!(infos[0].flags.bits(), 0x1);
        assert_eq!(infos[0].firmware_name.as_deref(), Some("top.bin"));
        assert_eq!(infos[0].key, None, "no key without flag 0x20");
        assert_eq!(x.ops.written.lock().unwrap().as_slice(), &image[..]);
        assert_eq!(x.mgr.sysfs_state(), "operating\n");
        // The write does not take the manager lock.
        assert!(!x.mgr.is_locked());
        // Without a trailing newline the count is the text length too.
        assert_eq!(x.mgr.xlnx_write_firmware("top.bin").await.unwrap(), 7);
    });
}

#[test]
fn b87_missing_firmware_is_enoent_and_firmware_request_error() {
    block_on(async {
        let x = xlnx(RecMgr::writer("fpga0", &new_log())).await;
        let e = x
            .mgr
            .xlnx_write_firmware("missing.bin\n")
            .await
            .unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
        assert_eq!(e.kind(), ErrorKind::NoDevice);
        assert_eq!(x.mgr.sysfs_state(), "firmware request error\n");
        assert_eq!(x.mgr.state(), MgrState::FirmwareReqErr);
        assert!(take(&x.log).is_empty());
    });
}

#[test]
fn b88_user_key_reaches_the_next_load_with_flag_0x20() {
    block_on(async {
        let x = xlnx(RecMgr::writer("fpga0", &new_log())).await;
        std::fs::write(x.dir.path().join("enc.bin"), [7u8; 8]).unwrap();
        assert_eq!(KEY.len(), 64);
        x.mgr.xlnx_write_key(&format!("{KEY}\n")).unwrap();
        assert_eq!(x.mgr.xlnx_key(), format!("{KEY}\n"));
        x.mgr.xlnx_write_flags("0x20\n").unwrap();
        x.mgr.xlnx_write_firmware("enc.bin\n").await.unwrap();
        let infos = x.ops.init_infos.lock().unwrap().clone();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].flags, ImageFlags::USERKEY_ENCRYPTED_BITSTREAM);
        assert_eq!(infos[0].key.as_deref(), Some(KEY));
        // Flags persist; the key is sent only while 0x20 is set.
        x.mgr.xlnx_write_flags("4").unwrap();
        x.mgr.xlnx_write_firmware("enc.bin").await.unwrap();
        let infos = x.ops.init_infos.lock().unwrap().clone();
        assert_eq!(infos[1].flags, ImageFlags::ENCRYPTED_BITSTREAM);
        assert_eq!(infos[1].key, None);
        assert_eq!(x.mgr.xlnx_key(), format!("{KEY}\n"), "the key persists");
    });
}

#[test]
fn b89_bad_firmware_names_and_long_keys_are_invalid_input() {
    block_on(async {
        let x = xlnx(RecMgr::writer("fpga0", &new_log())).await;
        assert_eq!(MAX_FIRMWARE_NAME, 255);
        assert_eq!(MAX_XLNX_KEY, 64);
        let long = "a".repeat(256);
        for name in ["", "\n", long.as_str()] {
            let e = x.mgr.xlnx_write_firmware(name).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name:?}");
            assert_eq!(e.errno(), Errno::EINVAL, "{name:?}");
            // No load started: the state never reached `firmware request`.
            assert_eq!(x.mgr.state(), MgrState::Unknown, "{name:?}");
        }
        // 255 bytes is accepted (and then not found): the load starts.
        let e = x
            .mgr
            .xlnx_write_firmware(&"a".repeat(255))
            .await
            .unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
        assert_eq!(x.mgr.state(), MgrState::FirmwareReqErr);
        assert!(take(&x.log).is_empty());

        x.mgr.xlnx_write_key(KEY).unwrap();
        let e = x.mgr.xlnx_write_key(&format!("{KEY}0")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.errno(), Errno::EINVAL);
        let e = x.mgr.xlnx_write_key(&format!("{KEY}0\n")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        // Only one newline is stripped: 64 characters plus "\n\n" is 65.
        let e = x.mgr.xlnx_write_key(&format!("{KEY}\n\n")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(x.mgr.xlnx_key(), format!("{KEY}\n"), "key unchanged");
    });
}

#[test]
fn b90_status_bit_0x100_is_high_z_line() {
    block_on(async {
        let mut ops = RecMgr::new("fpga0", MgrCaps::STATUS, &new_log());
        ops.status = 0x100;
        let x = xlnx(ops).await;
        assert_eq!(
            x.mgr.sysfs_status().await.unwrap(),
            "all I/Os are placed in High-Z state\n"
        );
        // Without a status op, Xilinx mode fails the read with ENOENT.
        let y = xlnx(RecMgr::writer("fpga0", &new_log())).await;
        let e = y.mgr.sysfs_status().await.unwrap_err();
        assert_eq!(e.errno(), Errno::ENOENT);
        // All Xilinx bits, ascending.
        let mut ops = RecMgr::new("fpga0", MgrCaps::STATUS, &new_log());
        ops.status = 0x7e0;
        let z = xlnx(ops).await;
        assert_eq!(
            z.mgr.sysfs_status().await.unwrap(),
            "reconfig security error\n\
             initialization has not finished\n\
             device internal signal error\n\
             all I/Os are placed in High-Z state\n\
             start-up sequence has not finished\n\
             firmware request error\n"
        );
    });
}
