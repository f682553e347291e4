//! The simulator side of a scenario: devlink-core's `DriverCore` with a
//! `lab` driver that behaves like the lab module's (matching only through
//! a driver override, probe results set per device, links added from
//! probe).

use crate::scenario::{BindResult, Op, ProbeHow};
use devlink_core::{
    async_trait, Device, Driver, DriverCore, ErrorKind, KernelCompat, LinkFlags, ProbeError,
};
use futures::executor::block_on;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Table {
    overridden: HashSet<String>,
    probe: HashMap<String, ProbeHow>,
    onprobe: HashMap<String, (String, String, u32)>,
}

struct LabDriver {
    table: Arc<Mutex<Table>>,
}

#[async_trait]
impl Driver for LabDriver {
    fn name(&self) -> &str {
        "lab"
    }

    fn matches(&self, dev: &Device) -> bool {
        self.table
            .lock()
            .expect("table")
            .overridden
            .contains(dev.name())
    }

    async fn probe(&self, dev: &Device) -> Result<(), ProbeError> {
        let (how, action) = {
            let t = self.table.lock().expect("table");
            (
                t.probe.get(dev.name()).copied().unwrap_or(ProbeHow::Ok),
                t.onprobe.get(dev.name()).cloned(),
            )
        };
        if let (Some((c, s, flags)), Some(core)) = (action, dev.driver_core()) {
            if let (Some(c), Some(s)) = (core.find_device(&c), core.find_device(&s)) {
                let _ = core.link_add(&c, &s, LinkFlags::from_bits_retain(flags));
            }
        }
        match how {
            ProbeHow::Ok => Ok(()),
            ProbeHow::Fail => Err(ProbeError::Failed("-ENXIO".into())),
            ProbeHow::Defer => Err(ProbeError::Defer("-EPROBE_DEFER".into())),
        }
    }
}

/// One simulated driver core running a scenario.
pub struct Sim {
    core: DriverCore,
    devs: BTreeMap<String, Device>,
    table: Arc<Mutex<Table>>,
    released: Arc<Mutex<Vec<String>>>,
}

impl Sim {
    /// A core with the kernel's quirks (`kernel_compat`) or the library's
    /// defaults.
    pub fn new(kernel_compat: bool) -> Result<Sim, String> {
        let mut b = DriverCore::builder();
        if kernel_compat {
            b = b.kernel_compat(KernelCompat::KERNEL);
        }
        let core = b.build().map_err(|e| e.to_string())?;
        let table = Arc::new(Mutex::new(Table::default()));
        let module = core.module("lab_devlink");
        block_on(core.driver_register(
            &module,
            Arc::new(LabDriver {
                table: Arc::clone(&table),
            }),
        ))
        .map_err(|e| e.to_string())?;
        Ok(Sim {
            core,
            devs: BTreeMap::new(),
            table,
            released: Arc::default(),
        })
    }

    fn dev(&self, name: &str) -> Result<&Device, String> {
        self.devs
            .get(name)
            .ok_or_else(|| format!("simulator: no device {name}"))
    }

    /// Executes `op`; the result word as [`crate::kernel::run`]'s.
    pub fn run(&mut self, op: &Op) -> Result<String, String> {
        let n = |s: &str| format!("{}{s}", crate::view::PREFIX);
        match op {
            Op::Dev {
                name,
                parent,
                norpm,
                fwnode,
            } => {
                let released = Arc::clone(&self.released);
                let mut b = self
                    .core
                    .device(&n(name))
                    .bus("platform")
                    .on_release(move |d| released.lock().expect("released").push(d.into()));
                if let Some(p) = parent {
                    b = b.parent(self.dev(p)?);
                }
                let node;
                if *fwnode {
                    node = self.core.of_root().add_child(&n(name));
                    b = b.fwnode(&node);
                }
                let d = b.create();
                if *norpm {
                    d.set_runtime_resume_fails(true);
                }
                block_on(self.core.device_add(&d)).map_err(|e| e.to_string())?;
                self.devs.insert(name.clone(), d);
            }
            Op::Probe { name, how } => {
                self.table
                    .lock()
                    .expect("table")
                    .probe
                    .insert(n(name), *how);
            }
            Op::OnProbe {
                name,
                consumer,
                supplier,
                flags,
            } => {
                self.table
                    .lock()
                    .expect("table")
                    .onprobe
                    .insert(n(name), (n(consumer), n(supplier), *flags));
            }
            Op::Link {
                consumer,
                supplier,
                flags,
            } => {
                let (c, s) = (self.dev(consumer)?, self.dev(supplier)?);
                let r = self
                    .core
                    .link_add(c, s, LinkFlags::from_bits_retain(*flags));
                return Ok(if r.is_ok() { "ok" } else { "null" }.into());
            }
            Op::Unlink { consumer, supplier } => {
                let (c, s) = (self.dev(consumer)?, self.dev(supplier)?);
                let _ = self.core.link_remove(c, s);
            }
            Op::Bind(name) => {
                self.table.lock().expect("table").overridden.insert(n(name));
                let d = self.dev(name)?.clone();
                let r = match block_on(self.core.bind(&d)) {
                    Ok(()) => BindResult::Ok,
                    Err(e) if e.kind() == ErrorKind::Deferred => BindResult::Defer,
                    Err(_) => BindResult::Fail,
                };
                return Ok(r.word().into());
            }
            Op::Unbind(name) => {
                let d = self.dev(name)?.clone();
                block_on(self.core.unbind(&d)).map_err(|e| e.to_string())?;
            }
            Op::Del(name) => {
                let d = self
                    .devs
                    .remove(name)
                    .ok_or_else(|| format!("simulator: no device {name}"))?;
                block_on(self.core.device_del(&d)).map_err(|e| e.to_string())?;
            }
            Op::WaitRemoval => self.core.wait_removal().map_err(|e| e.to_string())?,
            Op::Expect { .. } | Op::ExpectReleased(_) => {}
        }
        Ok("ok".into())
    }

    /// Devices released so far, sorted.
    pub fn released(&self) -> Vec<String> {
        let mut v = self.released.lock().expect("released").clone();
        v.sort();
        v
    }

    /// Renders the core's sysfs view under `dir` (which must not exist).
    pub fn write_view(&self, dir: &Path) -> Result<(), String> {
        self.core
            .topology()
            .write_sysfs(dir)
            .map_err(|e| e.to_string())
    }
}
