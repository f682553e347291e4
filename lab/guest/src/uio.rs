//! UIO on QEMU's `edu` PCI device (vendor 0x1234, device 0x11e8) through
//! `uio_pci_generic`: discovery in `/sys/class/uio`, `mmap` of BAR0, the
//! identification register, the inverting liveness register, and an
//! interrupt raised by the device and delivered through `/dev/uioN`.

use crate::kernel::write_file;
use crate::{ensure, Report};
use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

fn find_edu() -> Option<PathBuf> {
    let rd = fs::read_dir("/sys/bus/pci/devices").ok()?;
    rd.flatten().map(|e| e.path()).find(|p| {
        let id = |f: &str| fs::read_to_string(p.join(f)).unwrap_or_default();
        id("vendor").trim() == "0x1234" && id("device").trim() == "0x11e8"
    })
}

/// The edu device's PCI name (`0000:00:03.0`).
pub fn edu_name() -> Option<String> {
    find_edu().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

fn attr(dir: &Path, f: &str) -> Result<String, String> {
    fs::read_to_string(dir.join(f))
        .map(|s| s.trim_end_matches('\n').to_string())
        .map_err(|e| format!("{}: {e}", dir.join(f).display()))
}

/// BAR0 of the device, mapped through `/dev/uioN`.
struct Bar {
    ptr: *mut u32,
    len: usize,
}

impl Bar {
    fn map(file: &fs::File, len: usize) -> Result<Bar, String> {
        // SAFETY: mapping a UIO device file at offset 0 (map 0) with the
        // length its sysfs `size` reports; the kernel validates both, and the
        // result is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        Ok(Bar {
            ptr: ptr.cast(),
            len,
        })
    }

    fn read(&self, off: usize) -> u32 {
        assert!(off % 4 == 0 && off + 4 <= self.len);
        // SAFETY: `off` is aligned and inside the mapping (asserted); device
        // registers need volatile access.
        unsafe { self.ptr.add(off / 4).read_volatile() }
    }

    fn write(&self, off: usize, v: u32) {
        assert!(off % 4 == 0 && off + 4 <= self.len);
        // SAFETY: as in `read`.
        unsafe { self.ptr.add(off / 4).write_volatile(v) }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `map`; no reference
        // into it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// Waits up to `ms` for the UIO file to become readable.
fn poll_in(file: &fs::File, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

/// The UIO checks.
pub fn run(report: &mut Report) {
    let Some(pci) = find_edu() else {
        report.check("uio/edu-present", Err("no edu device (-device edu)".into()));
        return;
    };
    report.check("uio/edu-present", Ok(()));
    let addr = pci
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bind = (|| {
        if !pci.join("driver").exists() {
            write_file(pci.join("driver_override"), "uio_pci_generic")
                .map_err(|e| format!("driver_override: {e}"))?;
            write_file("/sys/bus/pci/drivers_probe", &addr)
                .map_err(|e| format!("drivers_probe: {e}"))?;
        }
        let uio_dir = pci.join("uio");
        let mut names: Vec<String> = fs::read_dir(&uio_dir)
            .map_err(|e| format!("{}: {e}", uio_dir.display()))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.into_iter().next().ok_or("no uio device".to_string())
    })();
    let uio = match bind {
        Ok(u) => u,
        Err(e) => return report.check("uio/discovery", Err(e)),
    };
    let class = PathBuf::from("/sys/class/uio").join(&uio);
    let disc = (|| {
        let name = attr(&class, "name")?;
        let version = attr(&class, "version")?;
        let size = attr(&class, "maps/map0/size")?;
        ensure(
            name == "uio_pci_generic" && version == "0.01.0" && size == "0x0000000000100000",
            || format!("name {name:?} version {version:?} map0 size {size:?}"),
        )?;
        let size =
            u64::from_str_radix(size.trim_start_matches("0x"), 16).map_err(|e| e.to_string())?;
        Ok(size as usize)
    })();
    let size = match disc {
        Ok(s) => {
            report.check("uio/discovery", Ok(()));
            s
        }
        Err(e) => return report.check("uio/discovery", Err(e)),
    };
    let dev = format!("/dev/{uio}");
    let file = match fs::OpenOptions::new().read(true).write(true).open(&dev) {
        Ok(f) => f,
        Err(e) => return report.check("uio/mmap", Err(format!("{dev}: {e}"))),
    };
    let bar = match Bar::map(&file, size) {
        Ok(b) => b,
        Err(e) => return report.check("uio/mmap", Err(e)),
    };
    report.check("uio/mmap", Ok(()));
    let id = bar.read(0x00);
    report.check(
        "uio/identification-register",
        ensure(id == 0x0100_00ed, || {
            format!("register 0x00 reads {id:#010x}")
        }),
    );
    let live = [0x1234_5678u32, 0, 0xdead_beef].iter().try_for_each(|&v| {
        bar.write(0x04, v);
        let got = bar.read(0x04);
        ensure(got == !v, || format!("wrote {v:#x} to 0x04, read {got:#x}"))
    });
    report.check("uio/liveness-inverts", live);

    // Interrupt: uio_pci_generic has no irqcontrol (a write to /dev/uioN
    // is ENOSYS); its handler masks INTx, and user space unmasks it by
    // clearing the command register's Interrupt Disable bit (bit 10) in
    // config space. Unmask, raise with the edu's interrupt-raise register
    // (0x60), wait for the event count, acknowledge (0x64), unmask again.
    let config = pci.join("config");
    let unmask = || -> Result<(), String> {
        let cfg = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&config)
            .map_err(|e| format!("{}: {e}", config.display()))?;
        let mut cmd = [0u8; 2];
        std::os::unix::fs::FileExt::read_exact_at(&cfg, &mut cmd, 4).map_err(|e| e.to_string())?;
        let v = u16::from_le_bytes(cmd) & !(1 << 10);
        std::os::unix::fs::FileExt::write_all_at(&cfg, &v.to_le_bytes(), 4)
            .map_err(|e| e.to_string())
    };
    let irq = (|| {
        let mut f = &file;
        // Nothing pending yet (a read would block).
        ensure(!poll_in(&file, 0), || {
            "an event was pending before raising".into()
        })?;
        unmask()?;
        bar.write(0x60, 0x1);
        ensure(poll_in(&file, 2000), || "no interrupt within 2 s".into())?;
        let mut c = [0u8; 4];
        f.read_exact(&mut c).map_err(|e| format!("read: {e}"))?;
        let count = u32::from_ne_bytes(c);
        let status = bar.read(0x24);
        bar.write(0x64, status);
        unmask()?;
        ensure(count >= 1 && status & 1 == 1, || {
            format!("event count {count}, interrupt status {status:#x}")
        })
    })();
    report.check("uio/interrupt", irq);
}
