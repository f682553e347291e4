//! FPGA manager behaviours 1–42 of spec `fpga.md` §10, one test each
//! (`bNN_...`), plus exact op-order tests for every load path (mockall
//! `Sequence`) and a fault-injection test over every op of the load
//! sequence.
//!
//! Most tests use `Fake`, a recording backend: each op call is logged with
//! its arguments (copied) and the manager state the op saw on entry, so
//! the tests can assert exact call lists, byte contents and states.

use bytes::Bytes;
use devlink_core::{Device, DriverCore, ErrorKind, Module, ModuleState};
use fpga_core::ManagerCtx;
use fpga_core::{
    Errno, Fpga, FpgaError, FpgaManager, FpgaManagerOps, ImageInfo, ManagerInfo, MgrCaps, MgrState,
    MgrStatus, MockFpgaManagerOps, OpError, ScatterTable,
};
use futures::executor::block_on;
use mockall::Sequence;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------------------
// Recording backend
// ---------------------------------------------------------------------------

/// One backend op call, with copies of what it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    State,
    Status,
    /// `header_size`/`data_size` as the op saw them on entry.
    ParseHeader {
        header_size: usize,
        data_size: usize,
        buf: Vec<u8>,
    },
    WriteInit {
        header_size: usize,
        buf: Vec<u8>,
    },
    Write(Vec<u8>),
    WriteSg(Vec<Vec<u8>>),
    WriteComplete,
    Remove,
}

/// `parse_header` behaviour: (how many times it ran before, info, buf).
type ParseFn = Box<dyn Fn(usize, &mut ImageInfo, &[u8]) -> Result<(), OpError> + Send + Sync>;

#[derive(Default)]
struct Fake {
    caps: MgrCaps,
    initial_header_size: usize,
    skip_header: bool,
    state: Option<MgrState>,
    status: MgrStatus,
    parse: Option<ParseFn>,
    parse_calls: AtomicUsize,
    /// Ops that fail, by name (`write_sg` counts as `write`).
    fail: Vec<(&'static str, Errno)>,
    on_remove: Option<Box<dyn Fn() + Send + Sync>>,
    /// Each call with the manager state it ran in (from its context: no
    /// handle of the manager is kept, so no reference cycle).
    log: Mutex<Vec<(Call, MgrState)>>,
}

impl Fake {
    fn new(caps: MgrCaps) -> Fake {
        Fake {
            caps,
            ..Fake::default()
        }
    }

    fn header(mut self, n: usize) -> Fake {
        self.initial_header_size = n;
        self
    }

    fn skip(mut self) -> Fake {
        self.skip_header = true;
        self
    }

    fn parse(
        mut self,
        f: impl Fn(usize, &mut ImageInfo, &[u8]) -> Result<(), OpError> + Send + Sync + 'static,
    ) -> Fake {
        self.caps |= MgrCaps::PARSE_HEADER;
        self.parse = Some(Box::new(f));
        self
    }

    fn failing(mut self, op: &'static str, errno: Errno) -> Fake {
        self.fail.push((op, errno));
        self
    }

    fn arc(self) -> Arc<Fake> {
        Arc::new(self)
    }

    fn rec(&self, mgr: &ManagerCtx, c: Call) {
        self.log.lock().unwrap().push((c, mgr.state()));
    }

    fn result(&self, op: &str) -> Result<(), OpError> {
        match self.fail.iter().find(|(o, _)| *o == op) {
            Some((_, e)) => Err(OpError::new(*e)),
            None => Ok(()),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The state each op saw on entry.
    fn states(&self) -> Vec<MgrState> {
        self.log.lock().unwrap().iter().map(|(_, s)| *s).collect()
    }

    fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

#[async_trait::async_trait]
impl FpgaManagerOps for Fake {
    fn caps(&self) -> MgrCaps {
        self.caps
    }
    fn initial_header_size(&self) -> usize {
        self.initial_header_size
    }
    fn skip_header(&self) -> bool {
        self.skip_header
    }
    async fn state(&self, mgr: &ManagerCtx) -> MgrState {
        self.rec(mgr, Call::State);
        self.state.unwrap_or(MgrState::Unknown)
    }
    async fn status(&self, mgr: &ManagerCtx) -> MgrStatus {
        self.rec(mgr, Call::Status);
        self.status
    }
    async fn parse_header(
        &self,
        mgr: &ManagerCtx,
        info: &mut ImageInfo,
        buf: &[u8],
    ) -> Result<(), OpError> {
        self.rec(
            mgr,
            Call::ParseHeader {
                header_size: info.header_size,
                data_size: info.data_size,
                buf: buf.to_vec(),
            },
        );
        let n = self.parse_calls.fetch_add(1, Ordering::SeqCst);
        if let Some(f) = &self.parse {
            f(n, info, buf)?;
        }
        self.result("parse_header")
    }
    async fn write_init(
        &self,
        mgr: &ManagerCtx,
        info: &ImageInfo,
        buf: &[u8],
    ) -> Result<(), OpError> {
        self.rec(
            mgr,
            Call::WriteInit {
                header_size: info.header_size,
                buf: buf.to_vec(),
            },
        );
        self.result("write_init")
    }
    async fn write(&self, mgr: &ManagerCtx, buf: &[u8]) -> Result<(), OpError> {
        self.rec(mgr, Call::Write(buf.to_vec()));
        self.result("write")
    }
    async fn write_sg(&self, mgr: &ManagerCtx, sgt: &ScatterTable) -> Result<(), OpError> {
        self.rec(
            mgr,
            Call::WriteSg(sgt.segments().iter().map(|s| s.to_vec()).collect()),
        );
        self.result("write")
    }
    async fn write_complete(&self, mgr: &ManagerCtx, _info: &ImageInfo) -> Result<(), OpError> {
        self.rec(mgr, Call::WriteComplete);
        self.result("write_complete")
    }
    async fn fpga_remove(&self, mgr: &ManagerCtx) {
        self.rec(mgr, Call::Remove);
        if let Some(f) = &self.on_remove {
            f();
        }
    }
}

const FULL: MgrCaps = MgrCaps::PARSE_HEADER
    .union(MgrCaps::WRITE_INIT)
    .union(MgrCaps::WRITE)
    .union(MgrCaps::WRITE_COMPLETE);

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

struct Env {
    core: DriverCore,
    fpga: Fpga,
    module: Module,
    parent: Device,
}

async fn env() -> Env {
    let core = DriverCore::new().unwrap();
    let parent = core.device("soc:fpga-mgr").bus("platform").create();
    core.device_add(&parent).await.unwrap();
    let fpga = Fpga::new(&core);
    Env {
        core,
        fpga,
        module: Module::new("fpga_test_drv"),
        parent,
    }
}

impl Env {
    async fn platform(&self, name: &str) -> Device {
        let d = self.core.device(name).bus("platform").create();
        self.core.device_add(&d).await.unwrap();
        d
    }

    /// Registers `ops` (owned by `self.module`) without a state probe.
    async fn register_ops(&self, name: &str, ops: Arc<dyn FpgaManagerOps>) -> FpgaManager {
        self.fpga
            .registrar(&self.module)
            .register_manager(&self.parent, ManagerInfo::new(name, ops))
            .await
            .unwrap()
    }

    /// Registers a fake and lets it record the state each op sees.
    async fn register(&self, fake: &Arc<Fake>) -> FpgaManager {
        self.register_ops("test mgr", fake.clone()).await
    }

    /// get + lock + load + unlock + put.
    async fn load(&self, info: &mut ImageInfo) -> Result<(), FpgaError> {
        let held = self.fpga.mgr_get(&self.parent)?;
        let locked = held.lock()?;
        locked.load(info).await
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A table of segments of the given lengths over `pattern(sum)`.
fn table(lens: &[usize]) -> (ScatterTable, Vec<u8>) {
    let all = pattern(lens.iter().sum());
    let mut off = 0;
    let segs = lens
        .iter()
        .map(|&l| {
            let s = Bytes::copy_from_slice(&all[off..off + l]);
            off += l;
            s
        })
        .collect();
    (ScatterTable::new(segs), all)
}

fn info_buf(buf: &[u8]) -> ImageInfo {
    ImageInfo::from_buffer(buf.to_vec())
}

// ---------------------------------------------------------------------------
// 3.1 Registration
// ---------------------------------------------------------------------------

#[test]
fn b01_register_without_ops_is_einval_and_consumes_no_id() {
    block_on(async {
        let env = env().await;
        let err = env
            .fpga
            .registrar(&env.module)
            .register_manager(
                &env.parent,
                ManagerInfo {
                    name: "no ops".into(),
                    ops: None,
                    compat_id: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(env.fpga.managers().is_empty());
        assert!(env.core.topology().named("fpga0").is_none());
        // No id was consumed: the next manager is fpga0.
        let mgr = env
            .register_ops("ok", Fake::new(MgrCaps::empty()).arc())
            .await;
        assert_eq!(mgr.device().name(), "fpga0");
    });
}

#[test]
fn b02_register_with_empty_name_is_einval() {
    block_on(async {
        let env = env().await;
        // `name` is a `String`: empty is the only way to leave it out.
        let err = env
            .fpga
            .registrar(&env.module)
            .register_manager(
                &env.parent,
                ManagerInfo::new("", Fake::new(MgrCaps::WRITE).arc()),
            )
            .await
            .unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(env.fpga.managers().is_empty());
        let mgr = env
            .register_ops("named", Fake::new(MgrCaps::empty()).arc())
            .await;
        assert_eq!(mgr.device().name(), "fpga0");
    });
}

#[test]
fn b03_ids_are_lowest_free_and_reused_after_release() {
    block_on(async {
        let env = env().await;
        let a = env
            .register_ops("a", Fake::new(MgrCaps::empty()).arc())
            .await;
        let b = env
            .register_ops("b", Fake::new(MgrCaps::empty()).arc())
            .await;
        assert_eq!(a.device().name(), "fpga0");
        assert_eq!(b.device().name(), "fpga1");
        assert_eq!((a.id(), b.id()), (0, 1));
        a.unregister().await;
        b.unregister().await;
        drop((a, b));
        let c = env
            .register_ops("c", Fake::new(MgrCaps::empty()).arc())
            .await;
        assert_eq!(c.device().name(), "fpga0");
        assert_eq!(c.sysfs_name(), "c\n");
    });
}

#[test]
fn b04_state_op_power_off_gives_power_off() {
    block_on(async {
        let env = env().await;
        let fake = Fake {
            state: Some(MgrState::PowerOff),
            ..Fake::new(MgrCaps::STATE | MgrCaps::WRITE)
        }
        .arc();
        let mgr = env.register(&fake).await;
        assert_eq!(mgr.sysfs_state(), "power off\n");
        assert_eq!(mgr.state(), MgrState::PowerOff);
        // Asked exactly once, at registration; reads do not ask again.
        assert_eq!(mgr.sysfs_state(), "power off\n");
        assert_eq!(fake.calls(), vec![Call::State]);
    });
}

#[test]
fn b05_no_state_op_gives_unknown() {
    block_on(async {
        let env = env().await;
        // A mock with no `state` expectation: calling it would panic.
        // Only the ops-table fields are read (at registration).
        let ops = mock(MgrCaps::WRITE, 0, false);
        let mgr = env.register_ops("no state", Arc::new(ops)).await;
        assert_eq!(mgr.sysfs_state(), "unknown\n");
        assert_eq!(mgr.state(), MgrState::Unknown);
    });
}

#[test]
fn b06_sysfs_name_is_registration_name_plus_newline() {
    block_on(async {
        let env = env().await;
        let mgr = env
            .register_ops(
                "Xilinx ZynqMP FPGA Manager",
                Fake::new(MgrCaps::WRITE).arc(),
            )
            .await;
        assert_eq!(mgr.sysfs_name(), "Xilinx ZynqMP FPGA Manager\n");
        assert_eq!(mgr.name(), "Xilinx ZynqMP FPGA Manager");
    });
}

#[test]
fn b07_status_0x3_prints_two_lines() {
    block_on(async {
        let env = env().await;
        let fake = Fake {
            status: MgrStatus::from_bits_retain(0x3),
            ..Fake::new(MgrCaps::STATUS)
        }
        .arc();
        let mgr = env.register(&fake).await;
        assert_eq!(
            mgr.sysfs_status().await.unwrap(),
            "reconfig operation error\nreconfig CRC error\n"
        );
        // Asked at each read.
        mgr.sysfs_status().await.unwrap();
        assert_eq!(fake.calls(), vec![Call::Status, Call::Status]);
    });
}

#[test]
fn b08_no_status_op_reads_empty() {
    block_on(async {
        let env = env().await;
        // Only the ops-table fields are read (at registration).
        let ops = mock(MgrCaps::WRITE, 0, false);
        let mgr = env.register_ops("no status", Arc::new(ops)).await;
        assert_eq!(mgr.sysfs_status().await.unwrap(), "");
    });
}

#[test]
fn b09_xilinx_mode_no_status_op_is_enoent() {
    block_on(async {
        let env = env().await;
        // Only the ops-table fields are read (at registration).
        let ops = mock(MgrCaps::WRITE, 0, false);
        let mgr = env.register_ops("no status", Arc::new(ops)).await;
        env.fpga.set_xilinx_mode(true);
        let err = mgr.sysfs_status().await.unwrap_err();
        assert_eq!(err.errno(), Errno::ENOENT);
        assert_eq!(err.kind(), ErrorKind::NoDevice);
        // The same manager in mainline mode prints nothing.
        env.fpga.set_xilinx_mode(false);
        assert_eq!(mgr.sysfs_status().await.unwrap(), "");
    });
}

// ---------------------------------------------------------------------------
// 3.10–3.11 Lock, get, put
// ---------------------------------------------------------------------------

#[test]
fn b10_lock_is_a_non_blocking_try_lock() {
    block_on(async {
        let env = env().await;
        let mgr = env.register(&Fake::new(MgrCaps::WRITE).arc()).await;
        let held = env.fpga.mgr_get(&env.parent).unwrap();
        assert!(!mgr.is_locked());
        let first = held.lock().unwrap();
        assert!(mgr.is_locked());
        let err = held.lock().unwrap_err();
        assert_eq!(err.errno(), Errno::EBUSY);
        assert_eq!(err.kind(), ErrorKind::Busy);
        // Another caller is refused too.
        let other = env.fpga.mgr_get(&env.parent).unwrap();
        assert_eq!(other.lock().unwrap_err().errno(), Errno::EBUSY);
        drop(first);
        assert!(!mgr.is_locked());
        let again = held.lock().unwrap();
        assert!(mgr.is_locked());
        drop(again);
    });
}

#[test]
fn b11_get_is_not_exclusive() {
    block_on(async {
        let env = env().await;
        let mgr = env.register(&Fake::new(MgrCaps::WRITE).arc()).await;
        let refs = mgr.device().refcount();
        let a = env.fpga.mgr_get(&env.parent).unwrap();
        let b = env.fpga.mgr_get(&env.parent).unwrap();
        assert_eq!(a.manager().id(), b.manager().id());
        assert_eq!(env.module.pins(), 2);
        assert_eq!(mgr.device().refcount(), refs + 2);
        drop((a, b));
        assert_eq!(env.module.pins(), 0);
        assert_eq!(mgr.device().refcount(), refs);
    });
}

#[test]
fn b12_get_on_device_without_manager_is_enodev() {
    block_on(async {
        let env = env().await;
        let _mgr = env.register(&Fake::new(MgrCaps::WRITE).arc()).await;
        let other = env.platform("soc:other").await;
        let refs = other.refcount();
        let err = env.fpga.mgr_get(&other).unwrap_err();
        assert_eq!(err.errno(), Errno::ENODEV);
        assert_eq!(err.kind(), ErrorKind::NoDevice);
        assert_eq!(other.refcount(), refs);
        assert_eq!(env.module.pins(), 0);
    });
}

#[test]
fn b13_get_returns_the_manager_and_pins_owner_put_restores() {
    block_on(async {
        let env = env().await;
        let _first = env
            .register_ops("first", Fake::new(MgrCaps::WRITE).arc())
            .await;
        // A second manager on another parent: lookup is by parent.
        let parent2 = env.platform("soc:fpga-mgr2").await;
        let mgr2 = env
            .fpga
            .registrar(&env.module)
            .register_manager(
                &parent2,
                ManagerInfo::new("second", Fake::new(MgrCaps::WRITE).arc()),
            )
            .await
            .unwrap();
        let refs = mgr2.device().refcount();
        assert_eq!(env.module.pins(), 0);
        let held = env.fpga.mgr_get(&parent2).unwrap();
        assert_eq!(held.manager().device().name(), "fpga1");
        assert_eq!(held.manager().name(), "second");
        assert_eq!(held.device().name(), mgr2.device().name());
        assert_eq!(env.module.pins(), 1);
        assert_eq!(mgr2.device().refcount(), refs + 1);
        drop(held);
        assert_eq!(env.module.pins(), 0);
        assert_eq!(mgr2.device().refcount(), refs);
    });
}

// ---------------------------------------------------------------------------
// 3.4 Dispatch
// ---------------------------------------------------------------------------

#[test]
fn b14_no_image_source_is_einval_and_state_unchanged() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL).arc();
        let mgr = env.register(&fake).await;
        let mut empty = ImageInfo::default();
        let err = env.load(&mut empty).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL);
        assert_eq!(mgr.sysfs_state(), "unknown\n");
        // Bring it to `operating`, then fail again: still `operating`.
        env.load(&mut info_buf(&[1, 2, 3, 4])).await.unwrap();
        assert_eq!(mgr.sysfs_state(), "operating\n");
        fake.clear();
        let mut zero = ImageInfo::from_buffer(Vec::new()); // count 0
        let err = env.load(&mut zero).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(mgr.sysfs_state(), "operating\n");
        assert_eq!(fake.calls(), vec![]);
    });
}

#[test]
fn b15_sgt_takes_precedence_over_buf() {
    block_on(async {
        // Chunked write: the table's bytes, never the buffer's.
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE).arc();
        env.register(&fake).await;
        let (sgt, all) = table(&[3, 3]);
        let mut info = ImageInfo {
            sgt: Some(sgt),
            buf: Some(Bytes::from(vec![0xEE; 8])),
            ..ImageInfo::default()
        };
        env.load(&mut info).await.unwrap();
        let calls = fake.calls();
        assert_eq!(
            calls,
            vec![
                Call::Write(all[..3].to_vec()),
                Call::Write(all[3..].to_vec())
            ]
        );

        // write_sg: the table itself.
        let env = env_sg().await;
        let (sgt, all) = table(&[5, 7]);
        let mut info = ImageInfo {
            sgt: Some(sgt),
            buf: Some(Bytes::from(vec![0xEE; 8])),
            ..ImageInfo::default()
        };
        env.0.load(&mut info).await.unwrap();
        assert_eq!(
            env.1.calls(),
            vec![Call::WriteSg(vec![all[..5].to_vec(), all[5..].to_vec()])]
        );
    });
}

/// An environment with a registered write_sg-only fake.
async fn env_sg() -> (Env, Arc<Fake>) {
    let env = env().await;
    let fake = Fake::new(MgrCaps::WRITE_SG).arc();
    env.register(&fake).await;
    (env, fake)
}

// ---------------------------------------------------------------------------
// 3.5–3.6 Buffer path
// ---------------------------------------------------------------------------

#[test]
fn b16_buffer_load_walks_states_to_operating() {
    block_on(async {
        // ops M{write}: `write` once with the 4 bytes, in state `write`.
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE).arc();
        let mgr = env.register(&fake).await;
        env.load(&mut info_buf(&[1, 2, 3, 4])).await.unwrap();
        assert_eq!(fake.calls(), vec![Call::Write(vec![1, 2, 3, 4])]);
        assert_eq!(fake.states(), vec![MgrState::Write]);
        assert_eq!(mgr.sysfs_state(), "operating\n");

        // The intermediate states are only observable from inside ops:
        // with every op present, each sees its own stage.
        let env = self::env().await;
        let fake = Fake::new(FULL).parse(|_, _, _| Ok(())).arc();
        let mgr = env.register(&fake).await;
        env.load(&mut info_buf(&[1, 2, 3, 4])).await.unwrap();
        assert_eq!(
            fake.states(),
            vec![
                MgrState::ParseHeader,
                MgrState::WriteInit,
                MgrState::Write,
                MgrState::WriteComplete
            ]
        );
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn b17_header_and_data_sizes_with_skip_header() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL)
            .skip()
            .parse(|_, info, _| {
                info.header_size = 1024;
                info.data_size = 3072;
                Ok(())
            })
            .arc();
        let mgr = env.register(&fake).await;
        let img = pattern(4096);
        env.load(&mut info_buf(&img)).await.unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                Call::ParseHeader {
                    header_size: 0,
                    data_size: 0,
                    buf: img.clone()
                },
                Call::WriteInit {
                    header_size: 1024,
                    buf: img.clone()
                },
                Call::Write(img[1024..4096].to_vec()),
                Call::WriteComplete,
            ]
        );
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn b18_write_init_gets_no_buffer_without_header() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE_INIT | MgrCaps::WRITE).arc();
        env.register(&fake).await;
        env.load(&mut info_buf(&[9, 8, 7])).await.unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                Call::WriteInit {
                    header_size: 0,
                    buf: vec![]
                },
                Call::Write(vec![9, 8, 7]),
            ]
        );
    });
}

#[test]
fn b19_initial_header_larger_than_buffer_is_einval_parse_header_error() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE | MgrCaps::WRITE_INIT)
            .header(8)
            .arc();
        let mgr = env.register(&fake).await;
        let err = env.load(&mut info_buf(&[1, 2, 3, 4])).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL);
        assert_eq!(mgr.sysfs_state(), "parse header error\n");
        assert_eq!(fake.calls(), vec![]);
    });
}

#[test]
fn b20_header_plus_data_outrunning_buffer_is_einval() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL)
            .parse(|_, info, _| {
                info.header_size = 4;
                info.data_size = 13;
                Ok(())
            })
            .arc();
        let mgr = env.register(&fake).await;
        let img = pattern(16);
        let err = env.load(&mut info_buf(&img)).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(mgr.sysfs_state(), "parse header error\n");
        assert_eq!(
            fake.calls(),
            vec![Call::ParseHeader {
                header_size: 0,
                data_size: 0,
                buf: img
            }]
        );
    });
}

#[test]
fn b21_eagain_on_contiguous_path_fails_the_load() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL)
            .parse(|_, info, _| {
                info.header_size = 8;
                Err(OpError::new(Errno::EAGAIN))
            })
            .arc();
        let mgr = env.register(&fake).await;
        let err = env.load(&mut info_buf(&pattern(32))).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EAGAIN);
        assert_eq!(mgr.sysfs_state(), "parse header error\n");
        // Called once: no retry on the contiguous path; no write_init.
        assert_eq!(fake.calls().len(), 1);
        assert!(matches!(fake.calls()[0], Call::ParseHeader { .. }));
    });
}

#[test]
fn b22_data_size_without_skip_sends_first_bytes() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL)
            .parse(|_, info, _| {
                info.header_size = 16;
                info.data_size = 100;
                Ok(())
            })
            .arc();
        env.register(&fake).await;
        let img = pattern(4096);
        env.load(&mut info_buf(&img)).await.unwrap();
        let writes: Vec<_> = fake
            .calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Write(_)))
            .collect();
        assert_eq!(writes, vec![Call::Write(img[..100].to_vec())]);
    });
}

#[test]
fn b23_write_init_failure_stops_before_write() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL).failing("write_init", Errno::EIO).arc();
        let mgr = env.register(&fake).await;
        let err = env.load(&mut info_buf(&pattern(8))).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EIO);
        assert_eq!(err.kind(), ErrorKind::Io);
        assert_eq!(mgr.sysfs_state(), "write init error\n");
        assert!(!fake.calls().iter().any(|c| matches!(c, Call::Write(_))));
        assert_eq!(
            fake.calls().last(),
            Some(&Call::WriteInit {
                header_size: 0,
                buf: vec![]
            })
        );
    });
}

#[test]
fn b24_write_failure_skips_write_complete() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL).failing("write", Errno::EIO).arc();
        let mgr = env.register(&fake).await;
        let err = env.load(&mut info_buf(&pattern(8))).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EIO);
        assert_eq!(mgr.sysfs_state(), "write error\n");
        assert!(!fake.calls().contains(&Call::WriteComplete));
        assert_eq!(fake.calls().last(), Some(&Call::Write(pattern(8))));
    });
}

#[test]
fn b25_write_complete_failure_is_write_complete_error() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL)
            .failing("write_complete", Errno::ETIMEDOUT)
            .arc();
        let mgr = env.register(&fake).await;
        let err = env.load(&mut info_buf(&pattern(8))).await.unwrap_err();
        assert_eq!(err.errno(), Errno::ETIMEDOUT);
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(mgr.sysfs_state(), "write complete error\n");
    });
}

#[test]
fn b26_no_write_complete_op_still_ends_operating() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE_INIT | MgrCaps::WRITE).arc();
        let mgr = env.register(&fake).await;
        env.load(&mut info_buf(&pattern(8))).await.unwrap();
        assert_eq!(mgr.sysfs_state(), "operating\n");
        assert!(!fake.calls().contains(&Call::WriteComplete));
    });
}

#[test]
fn b27_buffer_with_write_sg_only_is_converted_to_a_table() {
    block_on(async {
        let (env, fake) = env_sg().await;
        let img = pattern(5000);
        env.load(&mut info_buf(&img)).await.unwrap();
        let calls = fake.calls();
        assert_eq!(calls.len(), 1);
        let Call::WriteSg(segs) = &calls[0] else {
            panic!("expected write_sg, got {calls:?}")
        };
        assert!(!segs.is_empty());
        assert_eq!(segs.concat(), img);
        assert_eq!(fake.states(), vec![MgrState::Write]);
        assert_eq!(env.fpga.managers()[0].sysfs_state(), "operating\n");
    });
}

#[test]
fn b28_no_write_and_no_write_sg_is_eopnotsupp_write_error() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE_INIT | MgrCaps::WRITE_COMPLETE).arc();
        let mgr = env.register(&fake).await;
        let (sgt, _) = table(&[4, 4]);
        let err = env.load(&mut ImageInfo::from_table(sgt)).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EOPNOTSUPP);
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert_eq!(mgr.sysfs_state(), "write error\n");
        assert!(!fake.calls().contains(&Call::WriteComplete));
        // A buffer goes the same way (converted to a table).
        let err = env.load(&mut info_buf(&[1, 2])).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EOPNOTSUPP);
        assert_eq!(mgr.sysfs_state(), "write error\n");
    });
}

// ---------------------------------------------------------------------------
// 3.7 Scatter path
// ---------------------------------------------------------------------------

#[test]
fn b29_scatter_short_path_never_enters_parse_header() {
    block_on(async {
        let env = env().await;
        // M{write} (plus write_init, which is not header handling, so the
        // first stage is observable from inside an op).
        let fake = Fake::new(MgrCaps::WRITE_INIT | MgrCaps::WRITE).arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[4, 4]);
        env.load(&mut ImageInfo::from_table(sgt.clone()))
            .await
            .unwrap();
        assert_eq!(
            fake.states(),
            vec![MgrState::WriteInit, MgrState::Write, MgrState::Write]
        );
        assert_eq!(
            fake.calls(),
            vec![
                Call::WriteInit {
                    header_size: 0,
                    buf: vec![]
                },
                Call::Write(all[..4].to_vec()),
                Call::Write(all[4..].to_vec()),
            ]
        );
        // Best effort on top: a thread sampling the state through many
        // loads never sees `parse header` (it is never stored).
        let stop = Arc::new(AtomicBool::new(false));
        let seen = {
            let (mgr, stop) = (mgr.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = HashSet::new();
                while !stop.load(Ordering::Acquire) {
                    seen.insert(mgr.state());
                }
                seen
            })
        };
        for _ in 0..300 {
            env.load(&mut ImageInfo::from_table(sgt.clone()))
                .await
                .unwrap();
        }
        stop.store(true, Ordering::Release);
        let seen = seen.join().unwrap();
        assert!(!seen.contains(&MgrState::ParseHeader), "saw {seen:?}");
    });
}

#[test]
fn b30_short_first_chunk_assembles_initial_header() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL).header(10).parse(|_, _, _| Ok(())).arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[4, 8, 8]);
        env.load(&mut ImageInfo::from_table(sgt)).await.unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                Call::ParseHeader {
                    header_size: 10,
                    data_size: 0,
                    buf: all[..10].to_vec()
                },
                Call::WriteInit {
                    header_size: 10,
                    buf: all[..10].to_vec()
                },
                Call::Write(all[..4].to_vec()),
                Call::Write(all[4..12].to_vec()),
                Call::Write(all[12..].to_vec()),
                Call::WriteComplete,
            ]
        );
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn b31_eagain_without_growing_header_is_efault() {
    block_on(async {
        // The op saw the first chunk (long enough) and asks again for the
        // same size. (The number of calls before EFAULT is not pinned: the
        // kernel retries once with an assembled copy, the library refuses
        // at once; both end in EFAULT.)
        let env = env().await;
        let fake = Fake::new(FULL)
            .header(4)
            .parse(|_, _, _| Err(OpError::new(Errno::EAGAIN)))
            .arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[8, 8]);
        let err = env.load(&mut ImageInfo::from_table(sgt)).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EFAULT);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(mgr.sysfs_state(), "parse header error\n");
        let calls = fake.calls();
        assert_eq!(
            calls[0],
            Call::ParseHeader {
                header_size: 4,
                data_size: 0,
                buf: all[..8].to_vec()
            }
        );
        assert!(calls.iter().all(|c| matches!(c, Call::ParseHeader { .. })));

        // The op saw an assembled header (first chunk too short) and asks
        // again for the same size: exactly one call, then EFAULT.
        let env = self::env().await;
        let fake = Fake::new(FULL)
            .header(6)
            .parse(|_, _, _| Err(OpError::new(Errno::EAGAIN)))
            .arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[4, 8]);
        let err = env.load(&mut ImageInfo::from_table(sgt)).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EFAULT);
        assert_eq!(mgr.sysfs_state(), "parse header error\n");
        assert_eq!(
            fake.calls(),
            vec![Call::ParseHeader {
                header_size: 6,
                data_size: 0,
                buf: all[..6].to_vec()
            }]
        );
    });
}

#[test]
fn b32_header_longer_than_table_is_efault() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL)
            .parse(|_, info, _| {
                info.header_size = 32;
                Err(OpError::new(Errno::EAGAIN))
            })
            .arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[8, 8, 8]);
        let err = env.load(&mut ImageInfo::from_table(sgt)).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EFAULT);
        assert_eq!(mgr.sysfs_state(), "parse header error\n");
        assert_eq!(
            fake.calls(),
            vec![Call::ParseHeader {
                header_size: 0,
                data_size: 0,
                buf: all[..8].to_vec()
            }]
        );
    });
}

#[test]
fn b33_header_beyond_first_chunk_without_eagain_is_einval_write_init_error() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(FULL)
            .parse(|_, info, _| {
                info.header_size = 16;
                Ok(())
            })
            .arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[8, 8, 8]);
        let err = env.load(&mut ImageInfo::from_table(sgt)).await.unwrap_err();
        assert_eq!(err.errno(), Errno::EINVAL);
        assert_eq!(mgr.sysfs_state(), "write init error\n");
        assert_eq!(
            fake.calls(),
            vec![Call::ParseHeader {
                header_size: 0,
                data_size: 0,
                buf: all[..8].to_vec()
            }]
        );
    });
}

#[test]
fn b34_data_size_clips_chunked_writes() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE).arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[8, 8, 8]);
        let mut info = ImageInfo::from_table(sgt);
        info.data_size = 10;
        env.load(&mut info).await.unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                Call::Write(all[..8].to_vec()),
                Call::Write(all[8..10].to_vec())
            ]
        );
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn b35_write_sg_gets_whole_table_despite_skip_header() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(MgrCaps::WRITE_SG | MgrCaps::WRITE_INIT)
            .header(4)
            .skip()
            .arc();
        let mgr = env.register(&fake).await;
        let (sgt, all) = table(&[6, 6]);
        env.load(&mut ImageInfo::from_table(sgt)).await.unwrap();
        assert_eq!(
            fake.calls(),
            vec![
                Call::WriteInit {
                    header_size: 4,
                    buf: all[..6].to_vec()
                },
                Call::WriteSg(vec![all[..6].to_vec(), all[6..].to_vec()]),
            ]
        );
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

// ---------------------------------------------------------------------------
// 3.8 Firmware path
// ---------------------------------------------------------------------------

#[test]
fn b36_missing_firmware_is_enoent_firmware_request_error() {
    block_on(async {
        let env = env().await;
        let dir = tempfile::tempdir().unwrap();
        env.fpga.set_firmware_path(vec![dir.path().to_path_buf()]);
        let fake = Fake::new(FULL).arc();
        let mgr = env.register(&fake).await;
        let err = env
            .load(&mut ImageInfo::from_firmware("missing.bit"))
            .await
            .unwrap_err();
        assert_eq!(err.errno(), Errno::ENOENT);
        assert_eq!(err.kind(), ErrorKind::NoDevice);
        assert_eq!(mgr.sysfs_state(), "firmware request error\n");
        assert_eq!(fake.calls(), vec![]);
    });
}

#[test]
fn b37_firmware_load_passes_firmware_request_then_buffer_path() {
    let img = pattern(300);
    let header_parse = |_: usize, info: &mut ImageInfo, _: &[u8]| {
        info.header_size = 16;
        info.data_size = 200;
        Ok(())
    };

    // Reference: the same image as a buffer.
    let env_b = block_on(env());
    let by_buf = Fake::new(FULL).skip().parse(header_parse).arc();
    block_on(env_b.register(&by_buf));
    block_on(env_b.load(&mut info_buf(&img))).unwrap();

    // The file is a FIFO: while the loader blocks reading it, the state
    // is observable and must be `firmware request`.
    let env = block_on(env());
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("top.bin");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    env.fpga.set_firmware_path(vec![dir.path().to_path_buf()]);
    let by_fw = Fake::new(FULL).skip().parse(header_parse).arc();
    let mgr = block_on(env.register(&by_fw));
    let held = env.fpga.mgr_get(&env.parent).unwrap();
    let loader = std::thread::spawn(move || {
        let locked = held.lock().unwrap();
        block_on(locked.load(&mut ImageInfo::from_firmware("top.bin")))
    });
    {
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        assert_eq!(mgr.sysfs_state(), "firmware request\n");
        assert_eq!(by_fw.calls(), vec![]);
        w.write_all(&img).unwrap();
    }
    loader.join().unwrap().unwrap();
    assert_eq!(mgr.sysfs_state(), "operating\n");
    assert_eq!(by_fw.calls(), by_buf.calls());
    assert_eq!(by_fw.states(), by_buf.states());
    assert_eq!(
        by_fw.calls()[2],
        Call::Write(img[16..216].to_vec()),
        "the file's bytes reach write exactly as in the buffer path"
    );
}

#[test]
fn b38_reused_info_resets_header_size_but_keeps_data_size() {
    block_on(async {
        let env = env().await;
        let fake = Fake::new(MgrCaps::PARSE_HEADER | MgrCaps::WRITE)
            .header(4)
            .skip()
            .parse(|n, info, _| {
                match n {
                    0 => {
                        info.header_size = 8;
                        info.data_size = 16;
                    }
                    1 => {} // leaves both alone
                    _ => info.data_size = 2,
                }
                Ok(())
            })
            .arc();
        env.register(&fake).await;
        let img = pattern(32);
        let mut info = info_buf(&img);
        env.load(&mut info).await.unwrap();
        assert_eq!((info.header_size, info.data_size), (8, 16));
        env.load(&mut info).await.unwrap();
        assert_eq!((info.header_size, info.data_size), (4, 16));
        env.load(&mut info).await.unwrap();
        let ph = |hs, ds| Call::ParseHeader {
            header_size: hs,
            data_size: ds,
            buf: img.clone(),
        };
        assert_eq!(
            fake.calls(),
            vec![
                ph(4, 0),
                Call::Write(img[8..24].to_vec()),
                // header_size back to initial_header_size, data_size kept
                ph(4, 16),
                Call::Write(img[4..20].to_vec()),
                ph(4, 16),
                Call::Write(img[4..6].to_vec()),
            ]
        );
    });
}

#[test]
fn b39_image_info_alloc_pins_device_and_free_drops_it() {
    block_on(async {
        let env = env().await;
        let dev = env.platform("soc:user").await;
        let before = dev.refcount();
        let info = ImageInfo::alloc(&dev);
        assert_eq!(dev.refcount(), before + 1);
        assert_eq!(info.dev.as_ref().unwrap().name(), "soc:user");
        assert!(info.buf.is_none() && info.sgt.is_none() && info.firmware_name.is_none());
        assert_eq!(
            (info.header_size, info.data_size, info.flags.bits()),
            (0, 0, 0)
        );
        drop(info); // fpga_image_info_free
        assert_eq!(dev.refcount(), before);
        // Freeing "none" is a no-op.
        let none: Option<ImageInfo> = None;
        drop(none);
        assert_eq!(dev.refcount(), before);
    });
}

// ---------------------------------------------------------------------------
// 3.12 Unregister and lifetime
// ---------------------------------------------------------------------------

#[test]
fn b40_fpga_remove_runs_once_before_removal() {
    block_on(async {
        let env = env().await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let fake = {
            let (fpga, core, parent, seen) = (
                env.fpga.clone(),
                env.core.clone(),
                env.parent.clone(),
                Arc::clone(&seen),
            );
            Fake {
                on_remove: Some(Box::new(move || {
                    let found = fpga.mgr_get(&parent).is_ok();
                    let in_sysfs = core.topology().named("fpga0").is_some();
                    let listed = fpga.managers().len();
                    seen.lock().unwrap().push((found, in_sysfs, listed));
                })),
                ..Fake::new(MgrCaps::WRITE | MgrCaps::REMOVE)
            }
            .arc()
        };
        let mgr = env.register_ops("removable", fake.clone()).await;
        assert!(mgr.device().is_registered());
        mgr.unregister().await;
        assert_eq!(fake.calls(), vec![Call::Remove]);
        // While the op ran, the manager was still found and in sysfs.
        assert_eq!(*seen.lock().unwrap(), vec![(true, true, 1)]);
        // Afterwards it is gone from both.
        assert!(!mgr.device().is_registered());
        assert!(env.core.topology().named("fpga0").is_none());
        assert_eq!(
            env.fpga.mgr_get(&env.parent).unwrap_err().errno(),
            Errno::ENODEV
        );
        assert!(env.fpga.managers().is_empty());
        // Never again: not on a second unregister, not at module unload.
        mgr.unregister().await;
        env.module.unload().await.unwrap();
        assert_eq!(fake.calls(), vec![Call::Remove]);
        assert_eq!(env.module.pins(), 0);
    });
}

#[test]
fn b41_id_not_reused_while_a_holder_keeps_a_reference() {
    block_on(async {
        let env = env().await;
        let a = env.register_ops("a", Fake::new(MgrCaps::WRITE).arc()).await;
        assert_eq!(a.device().name(), "fpga0");
        let held = env.fpga.mgr_get(&env.parent).unwrap();
        a.unregister().await;
        drop(a);
        assert_eq!(held.device().name(), "fpga0");
        let b = env.register_ops("b", Fake::new(MgrCaps::WRITE).arc()).await;
        assert_eq!(b.device().name(), "fpga1");
        drop(held); // the last reference to fpga0
        assert_eq!(env.module.pins(), 0);
        let c = env.register_ops("c", Fake::new(MgrCaps::WRITE).arc()).await;
        assert_eq!(c.device().name(), "fpga0");
        assert_eq!(b.device().name(), "fpga1");
    });
}

#[test]
fn owner_unload_unregisters_what_it_registered() {
    // Spec §4.3: unloading a module unregisters everything it registered
    // (behaviour 42, the devm variants, is in tests/devm.rs).
    block_on(async {
        let env = env().await;
        let fa = Fake::new(MgrCaps::WRITE | MgrCaps::REMOVE).arc();
        let fb = Fake::new(MgrCaps::WRITE | MgrCaps::REMOVE).arc();
        let fc = Fake::new(MgrCaps::WRITE | MgrCaps::REMOVE).arc();
        let parent2 = env.platform("soc:fpga-mgr2").await;
        let parent3 = env.platform("soc:fpga-mgr3").await;
        let reg = env.fpga.registrar(&env.module);
        let a = reg
            .register_manager(&env.parent, ManagerInfo::new("a", fa.clone()))
            .await
            .unwrap();
        let b = reg
            .register_manager(&parent2, ManagerInfo::new("b", fb.clone()))
            .await
            .unwrap();
        let builtin = env
            .fpga
            .registrar_builtin()
            .register_manager(&parent3, ManagerInfo::new("c", fc.clone()))
            .await
            .unwrap();
        env.module.unload().await.unwrap();
        assert_eq!(env.module.state(), ModuleState::Gone);
        for (m, f, p) in [(&a, &fa, &env.parent), (&b, &fb, &parent2)] {
            assert!(m.is_unregistered());
            assert!(!m.device().is_registered());
            assert_eq!(f.calls(), vec![Call::Remove]);
            assert_eq!(env.fpga.mgr_get(p).unwrap_err().errno(), Errno::ENODEV);
        }
        // The built-in manager is not the module's: untouched.
        assert!(!builtin.is_unregistered());
        assert_eq!(fc.calls(), vec![]);
        assert_eq!(env.fpga.managers().len(), 1);
        assert!(env.fpga.mgr_get(&parent3).is_ok());
    });
}

// ---------------------------------------------------------------------------
// Exact op order per load path (mockall Sequence)
// ---------------------------------------------------------------------------

fn mock(caps: MgrCaps, header: usize, skip: bool) -> MockFpgaManagerOps {
    let mut m = MockFpgaManagerOps::new();
    m.expect_caps().return_const(caps);
    m.expect_initial_header_size().return_const(header);
    m.expect_skip_header().return_const(skip);
    m
}

async fn load_with(
    ops: MockFpgaManagerOps,
    info: &mut ImageInfo,
    fw_dir: Option<&std::path::Path>,
) -> (Env, FpgaManager, Result<(), FpgaError>) {
    let env = env().await;
    if let Some(d) = fw_dir {
        env.fpga.set_firmware_path(vec![d.to_path_buf()]);
    }
    let mgr = env.register_ops("mock", Arc::new(ops)).await;
    let r = env.load(info).await;
    (env, mgr, r)
}

#[test]
fn seq_buffer_contiguous() {
    block_on(async {
        let img = pattern(64);
        let mut m = mock(FULL, 8, true);
        let mut seq = Sequence::new();
        let i1 = img.clone();
        m.expect_parse_header()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, info, buf| info.header_size == 8 && buf == &i1[..])
            .returning(|_, info, _| {
                info.header_size = 16;
                Ok(())
            });
        let i2 = img.clone();
        m.expect_write_init()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, info, buf| info.header_size == 16 && buf == &i2[..])
            .returning(|_, _, _| Ok(()));
        let i3 = img.clone();
        m.expect_write()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, buf| buf == &i3[16..])
            .returning(|_, _| Ok(()));
        m.expect_write_complete()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let (_env, mgr, r) = load_with(m, &mut info_buf(&img), None).await;
        r.unwrap();
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn seq_buffer_converted_to_scatter_for_write_sg_backend() {
    block_on(async {
        let img = pattern(64);
        let caps = MgrCaps::PARSE_HEADER
            | MgrCaps::WRITE_INIT
            | MgrCaps::WRITE_SG
            | MgrCaps::WRITE_COMPLETE;
        let mut m = mock(caps, 4, false);
        let mut seq = Sequence::new();
        let i1 = img.clone();
        // The first chunk: a non-empty prefix of the image, at least the
        // header (chunking is the library's choice).
        m.expect_parse_header()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, info, buf| {
                info.header_size == 4 && buf.len() >= 4 && i1.starts_with(buf)
            })
            .returning(|_, _, _| Ok(()));
        let i2 = img.clone();
        m.expect_write_init()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, _, buf| buf.len() >= 4 && i2.starts_with(buf))
            .returning(|_, _, _| Ok(()));
        let i3 = img.clone();
        m.expect_write_sg()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, sgt| sgt.to_vec() == i3)
            .returning(|_, _| Ok(()));
        m.expect_write_complete()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let (_env, mgr, r) = load_with(m, &mut info_buf(&img), None).await;
        r.unwrap();
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn seq_scatter_chunked_write() {
    block_on(async {
        let (sgt, all) = table(&[8, 5, 7]);
        let mut m = mock(FULL, 4, true);
        let mut seq = Sequence::new();
        let a = all.clone();
        m.expect_parse_header()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, info, buf| info.header_size == 4 && buf == &a[..8])
            .returning(|_, _, _| Ok(()));
        let a = all.clone();
        m.expect_write_init()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, _, buf| buf == &a[..8])
            .returning(|_, _, _| Ok(()));
        // skip_header: the 4 header bytes are skipped, then one write per
        // segment in table order.
        for range in [4..8, 8..13, 13..20] {
            let want = all[range].to_vec();
            m.expect_write()
                .times(1)
                .in_sequence(&mut seq)
                .withf(move |_, buf| buf == &want[..])
                .returning(|_, _| Ok(()));
        }
        m.expect_write_complete()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let (_env, mgr, r) = load_with(m, &mut ImageInfo::from_table(sgt), None).await;
        r.unwrap();
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn seq_scatter_write_sg() {
    block_on(async {
        let (sgt, _) = table(&[8, 5, 7]);
        let caps = MgrCaps::PARSE_HEADER
            | MgrCaps::WRITE_INIT
            | MgrCaps::WRITE
            | MgrCaps::WRITE_SG
            | MgrCaps::WRITE_COMPLETE;
        let mut m = mock(caps, 0, true);
        let mut seq = Sequence::new();
        m.expect_parse_header()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, info, _| {
                info.header_size = 2;
                Ok(())
            });
        m.expect_write_init()
            .times(1)
            .in_sequence(&mut seq)
            .withf(|_, info, buf| info.header_size == 2 && buf.len() == 8)
            .returning(|_, _, _| Ok(()));
        let want = sgt.clone();
        // write_sg takes precedence over write; it gets the table as is.
        m.expect_write_sg()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, t| *t == want)
            .returning(|_, _| Ok(()));
        m.expect_write().times(0);
        m.expect_write_complete()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let (_env, mgr, r) = load_with(m, &mut ImageInfo::from_table(sgt), None).await;
        r.unwrap();
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

#[test]
fn seq_firmware() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let img = pattern(40);
        std::fs::write(dir.path().join("design.bit"), &img).unwrap();
        let mut m = mock(FULL, 0, false);
        let mut seq = Sequence::new();
        let i = img.clone();
        m.expect_parse_header()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, _, buf| buf == &i[..])
            .returning(|_, info, _| {
                info.data_size = 10;
                Ok(())
            });
        m.expect_write_init()
            .times(1)
            .in_sequence(&mut seq)
            .withf(|_, _, buf| buf.is_empty())
            .returning(|_, _, _| Ok(()));
        let i = img.clone();
        m.expect_write()
            .times(1)
            .in_sequence(&mut seq)
            .withf(move |_, buf| buf == &i[..10])
            .returning(|_, _| Ok(()));
        m.expect_write_complete()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let (_env, mgr, r) = load_with(
            m,
            &mut ImageInfo::from_firmware("design.bit"),
            Some(dir.path()),
        )
        .await;
        r.unwrap();
        assert_eq!(mgr.sysfs_state(), "operating\n");
    });
}

// ---------------------------------------------------------------------------
// Fault injection over every op of the load sequence
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Path {
    Contiguous,
    BufferAsTable,
    ScatterChunked,
    ScatterSg,
    Firmware,
}

#[test]
fn fault_injection_every_load_op() {
    let faults: [(&str, Errno, MgrState); 4] = [
        ("parse_header", Errno::EPERM, MgrState::ParseHeaderErr),
        ("write_init", Errno::EIO, MgrState::WriteInitErr),
        ("write", Errno::ENOMEM, MgrState::WriteErr),
        (
            "write_complete",
            Errno::ETIMEDOUT,
            MgrState::WriteCompleteErr,
        ),
    ];
    let img = pattern(48);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("img.bin"), &img).unwrap();
    let paths = [
        Path::Contiguous,
        Path::BufferAsTable,
        Path::ScatterChunked,
        Path::ScatterSg,
        Path::Firmware,
    ];
    let mut cases = 0;
    for path in paths {
        for (op, errno, err_state) in faults {
            cases += 1;
            let env = block_on(env());
            env.fpga.set_firmware_path(vec![dir.path().to_path_buf()]);
            let caps = match path {
                Path::Contiguous | Path::ScatterChunked | Path::Firmware => FULL,
                Path::BufferAsTable | Path::ScatterSg => {
                    (FULL - MgrCaps::WRITE) | MgrCaps::WRITE_SG
                }
            };
            let fake = Fake::new(caps).header(4).failing(op, errno).arc();
            let mgr = block_on(env.register(&fake));
            let mut info = match path {
                Path::Contiguous | Path::BufferAsTable => info_buf(&img),
                Path::ScatterChunked | Path::ScatterSg => {
                    ImageInfo::from_table(ScatterTable::from_buffer(&Bytes::from(img.clone()), 16))
                }
                Path::Firmware => ImageInfo::from_firmware("img.bin"),
            };
            let pins = env.module.pins();
            let refs = mgr.device().refcount();
            {
                let held = env.fpga.mgr_get(&env.parent).unwrap();
                let locked = held.lock().unwrap();
                let err = block_on(locked.load(&mut info)).unwrap_err();
                let ctx = format!("{path:?}, {op} failing");
                assert_eq!(err.errno(), errno, "{ctx}");
                assert_eq!(
                    mgr.sysfs_state(),
                    format!("{}\n", err_state.sysfs()),
                    "{ctx}"
                );
                assert!(mgr.is_locked(), "{ctx}: a failed load does not unlock");
                // Nothing ran after the failing op.
                let calls = fake.calls();
                let last = calls.last().unwrap();
                let last_name = match last {
                    Call::ParseHeader { .. } => "parse_header",
                    Call::WriteInit { .. } => "write_init",
                    Call::Write(_) | Call::WriteSg(_) => "write",
                    Call::WriteComplete => "write_complete",
                    other => panic!("{ctx}: unexpected {other:?}"),
                };
                assert_eq!(last_name, op, "{ctx}: {calls:?}");
                if matches!(path, Path::ScatterChunked) && op == "write" {
                    // Chunked writes stop at the first error.
                    assert_eq!(
                        calls.iter().filter(|c| matches!(c, Call::Write(_))).count(),
                        1,
                        "{ctx}"
                    );
                }
                drop(locked);
                assert!(!mgr.is_locked(), "{ctx}: unlocked when the guard drops");
                drop(held);
            }
            assert_eq!(env.module.pins(), pins, "{path:?}, {op}");
            assert_eq!(mgr.device().refcount(), refs, "{path:?}, {op}");
            // The manager is usable again: a clean backend would now load.
            let held = env.fpga.mgr_get(&env.parent).unwrap();
            drop(held.lock().unwrap());
        }
    }

    // Firmware missing.
    let env = block_on(env());
    env.fpga.set_firmware_path(vec![dir.path().to_path_buf()]);
    let fake = Fake::new(FULL).arc();
    let mgr = block_on(env.register(&fake));
    let refs = mgr.device().refcount();
    {
        let held = env.fpga.mgr_get(&env.parent).unwrap();
        let locked = held.lock().unwrap();
        let err = block_on(locked.load(&mut ImageInfo::from_firmware("nope.bin"))).unwrap_err();
        assert_eq!(err.errno(), Errno::ENOENT);
        assert_eq!(mgr.sysfs_state(), "firmware request error\n");
        assert_eq!(fake.calls(), vec![]);
        drop(locked);
        assert!(!mgr.is_locked());
    }
    assert_eq!(env.module.pins(), 0);
    assert_eq!(mgr.device().refcount(), refs);
    assert_eq!(cases, 20);
}
