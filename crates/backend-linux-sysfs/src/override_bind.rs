//! Binding a device to a driver of the caller's choosing through
//! `driver_override`: the sequence dfx-mgr uses to hand a platform device
//! to `uio_pdrv_genirq` (spec `uio.md` §1.11 and b49), for any bus that
//! has the attribute (platform, PCI, ...).
//!
//! 1. the device's current driver, if any, is unbound (`driver/unbind`);
//! 2. the driver's name goes into `driver_override`;
//! 3. the device's name goes into `drivers/<driver>/bind`;
//! 4. the UIO device it now has, if the driver is a UIO driver, is found
//!    under `uio/` ([`Kernel::uio_of`]).
//!
//! The undo is the reverse: unbind, then clear `driver_override` with a
//! single newline. A failed bind is undone the same way before the error
//! is returned, and the driver that had the device before gets it back.

use crate::drive::Kernel;
use crate::error::{Result, SysfsError};
use crate::io::Dir;
use crate::lock::safe_name;

/// What [`Kernel::bind_override`] changed, for
/// [`Kernel::unbind_override`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideBinding {
    /// `bus:name`.
    pub device: String,
    /// The driver it is bound to now.
    pub driver: String,
    /// The driver it was bound to before, if any.
    pub previous: Option<String>,
    /// Whether anything was written: a device already bound to the
    /// driver is left as it was, and its undo does nothing either.
    pub changed: bool,
}

fn split(device: &str) -> Result<(&str, &str)> {
    match device.split_once(':') {
        Some((bus, name)) if !bus.is_empty() && !name.is_empty() && !bus.contains('/') => {
            safe_name("device", name)?;
            Ok((bus, name))
        }
        _ => Err(SysfsError::invalid(
            format!("device {device:?}"),
            "name it as bus:name (platform:a0000000.pr-region, pci:0000:00:03.0)",
        )),
    }
}

impl Kernel {
    fn bus_device(&self, bus: &str, name: &str) -> Result<(Dir, Dir)> {
        let sys = Dir::open(self.root().sys())?;
        let bus_dir = sys.sub(format!("bus/{bus}"))?;
        let dev =
            bus_dir
                .sub_opt(format!("devices/{name}"))?
                .ok_or_else(|| SysfsError::NotFound {
                    what: format!("device {bus}:{name}"),
                    root: self.root().sys().to_path_buf(),
                })?;
        Ok((bus_dir, dev))
    }

    fn current_driver(dev: &Dir) -> Result<Option<String>> {
        Ok(dev
            .symlink("driver")?
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned())))
    }

    fn wait_driver(&self, dev: &Dir, key: &str, want: Option<&str>) -> Result<()> {
        self.wait_until(&format!("driver of {key}"), self.timeout(), || {
            let now = Self::current_driver(dev)?;
            Ok(if now.as_deref() == want {
                Vec::new()
            } else {
                vec![format!(
                    "{key} bound to {}, wanted {}",
                    now.as_deref().unwrap_or("nothing"),
                    want.unwrap_or("nothing")
                )]
            })
        })
        .map(|_| ())
    }

    /// Binds `device` (`bus:name`) to `driver` through `driver_override`
    /// (uio.md b49): unbind its driver, write `driver_override`, write the
    /// driver's `bind`, and read back that it is bound to `driver`. On
    /// failure the override is cleared and the previous driver, if there
    /// was one, gets the device back; the error says what the kernel did.
    pub fn bind_override(&self, device: &str, driver: &str) -> Result<OverrideBinding> {
        let (bus, name) = split(device)?;
        safe_name("driver", driver)?;
        let (bus_dir, dev) = self.bus_device(bus, name)?;
        if !dev.exists("driver_override")? {
            return Err(SysfsError::Unsupported {
                what: format!("{device}/driver_override"),
                hint: format!("the {bus} bus has no driver_override"),
            });
        }
        if !bus_dir.exists(format!("drivers/{driver}"))? {
            return Err(SysfsError::NotFound {
                what: format!("driver {driver} on the {bus} bus (is its module loaded?)"),
                root: self.root().sys().to_path_buf(),
            });
        }
        let previous = Self::current_driver(&dev)?;
        if previous.as_deref() == Some(driver) {
            return Ok(OverrideBinding {
                device: device.to_string(),
                driver: driver.to_string(),
                previous,
                changed: false,
            });
        }
        if previous.is_some() {
            dev.write("driver/unbind", name.as_bytes())?;
            if let Err(e) = self.wait_driver(&dev, device, None) {
                // Still bound, or gone: give the old driver its device back.
                if let Some(prev) = &previous {
                    let _ = bus_dir.write(format!("drivers/{prev}/bind"), name.as_bytes());
                }
                return Err(e);
            }
        }
        let bound = dev
            .write("driver_override", driver.as_bytes())
            .and_then(|()| bus_dir.write(format!("drivers/{driver}/bind"), name.as_bytes()))
            .and_then(|()| self.wait_driver(&dev, device, Some(driver)));
        if let Err(e) = bound {
            // Undo: nothing of the override stays, the old driver is back
            // (each step tried whatever the one before gave).
            if Self::current_driver(&dev).ok().flatten().is_some() {
                let _ = dev.write("driver/unbind", name.as_bytes());
            }
            let _ = dev.write("driver_override", b"\n");
            let restored = match &previous {
                Some(prev) => bus_dir
                    .write(format!("drivers/{prev}/bind"), name.as_bytes())
                    .and_then(|()| self.wait_driver(&dev, device, Some(prev)))
                    .map(|()| format!("; {prev} has it back"))
                    .unwrap_or_else(|r| format!("; giving it back to {prev} failed too: {r}")),
                None => String::new(),
            };
            return Err(SysfsError::Kernel {
                what: device.to_string(),
                why: format!("binding to {driver} through driver_override failed: {e}{restored}"),
                kind: e.kind(),
                state: None,
                status: Vec::new(),
            });
        }
        Ok(OverrideBinding {
            device: device.to_string(),
            driver: driver.to_string(),
            previous,
            changed: true,
        })
    }

    /// Undoes [`bind_override`](Self::bind_override): unbinds the device,
    /// then clears `driver_override` with a single newline. The previous
    /// driver is not bound again (binding is the caller's next step, in
    /// the order the topology says).
    pub fn unbind_override(&self, binding: &OverrideBinding) -> Result<()> {
        if !binding.changed {
            return Ok(());
        }
        let (bus, name) = split(&binding.device)?;
        let (_, dev) = self.bus_device(bus, name)?;
        if Self::current_driver(&dev)?.is_some() {
            dev.write("driver/unbind", name.as_bytes())?;
            self.wait_driver(&dev, &binding.device, None)?;
        }
        dev.write("driver_override", b"\n")?;
        // Read back: the kernel shows a cleared override as `(null)`.
        self.wait_until(
            &format!("driver_override of {} cleared", binding.device),
            self.timeout(),
            || {
                // `(null)`: the kernel prints the cleared (NULL) string so.
                let now = dev.read("driver_override")?;
                Ok(if now.trim_end() == "(null)" {
                    Vec::new()
                } else {
                    vec![format!("{} driver_override reads {now:?}", binding.device)]
                })
            },
        )
        .map(|_| ())
    }

    /// The UIO device of `device` (`bus:name`): the one entry of its
    /// `uio/` directory (`uio3`), `None` if it has none. Several entries
    /// are an error: which one is meant cannot be told.
    pub fn uio_of(&self, device: &str) -> Result<Option<String>> {
        let (bus, name) = split(device)?;
        let (_, dev) = self.bus_device(bus, name)?;
        let Some(uio) = dev.sub_opt("uio")? else {
            return Ok(None);
        };
        let entries: Vec<String> = uio
            .entries()?
            .into_iter()
            .filter(|e| e.starts_with("uio"))
            .collect();
        match entries.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            many => Err(SysfsError::invalid(
                format!("{device}/uio"),
                format!(
                    "{} UIO devices ({}); expected one",
                    many.len(),
                    many.join(", ")
                ),
            )),
        }
    }
}
