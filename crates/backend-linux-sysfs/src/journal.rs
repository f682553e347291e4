//! The journal of a reprogram on the running kernel, and recovery from an
//! interrupted one.
//!
//! A reprogram changes the outside world: it stages a file, takes a lock,
//! and unbinds devices. The lock dies with its process and a staged file
//! names its process (`<prefix><pid>-...`), so both are cleaned up
//! without help; the unbound devices are not. [`FileJournal`] records
//! each unbind before it is made (and when the load starts and ends), in
//! `<lock dir>/<prefix><manager>.journal`, written whole to a temporary
//! file, synced and renamed over the old one, so it is always either the
//! old or the new record. If the process dies (a signal it could not
//! handle, `SIGKILL`, a power cut), the journal stays; [`recover`], run
//! under the manager's lock by the next command that touches the manager
//! (or `fpgactl recover`), binds back what the journal says went down and
//! removes it.
//!
//! What recovery does by the stage the journal reached:
//! - teardown, or bring-up: the old image is still loaded (or the new one
//!   is loaded and verified): every device that went down is bound again;
//! - loading: the load may have been cut half-way. If the manager reads
//!   `operating`, the devices are bound again; otherwise they stay down
//!   (binding them to half-loaded logic is unsafe), the journal stays,
//!   and the caller is told why; `force` binds them anyway.

use crate::drive::Kernel;
use crate::error::{Result, SysfsError};
use crate::lock::ManagerLockFile;
use crate::root::SysfsRoot;
use devlink_core::drive::{rebind, Rebound, Unbound};
use fpga_core::{LoadTarget, MgrState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const MAGIC: &str = "fpga-devlink journal 1";

/// How far an interrupted reprogram got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalStage {
    /// Taking the users down (or not yet).
    Teardown,
    /// The load had started.
    Loading,
    /// Bringing the users back.
    BringUp,
}

impl JournalStage {
    fn word(self) -> &'static str {
        match self {
            JournalStage::Teardown => "teardown",
            JournalStage::Loading => "loading",
            JournalStage::BringUp => "bringup",
        }
    }
}

/// What a journal says: one reprogram that did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The process that ran it.
    pub pid: u32,
    /// `reprogram`.
    pub op: String,
    /// The region (or manager) being programmed.
    pub target: String,
    /// Its manager.
    pub manager: String,
    /// How far it got.
    pub stage: JournalStage,
    /// The devices it was taking down, in teardown order (the last may
    /// still be bound: it is recorded before its unbind).
    pub unbound: Vec<Unbound>,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = match self.stage {
            JournalStage::Teardown => "while taking its users down",
            JournalStage::Loading => "during the load",
            JournalStage::BringUp => "while bringing its users back",
        };
        write!(
            f,
            "a {} of {} (manager {}, pid {}) was interrupted {when}",
            self.op, self.target, self.manager, self.pid
        )
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

impl Interrupted {
    fn render(&self) -> String {
        let mut s = format!(
            "{MAGIC}\npid {}\nop {}\ntarget {}\nmanager {}\nstage {}\n",
            self.pid,
            escape(&self.op),
            escape(&self.target),
            escape(&self.manager),
            self.stage.word()
        );
        for u in &self.unbound {
            s.push_str(&format!(
                "unbinding {}\t{}\t{}\n",
                escape(&u.key),
                escape(&u.driver),
                escape(&u.path)
            ));
        }
        s
    }

    fn parse(path: &Path, text: &str) -> Result<Interrupted> {
        let bad = |why: &str| SysfsError::parse(path, text, why);
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(bad("a journal starting with \"fpga-devlink journal 1\""));
        }
        let mut j = Interrupted {
            pid: 0,
            op: String::new(),
            target: String::new(),
            manager: String::new(),
            stage: JournalStage::Teardown,
            unbound: Vec::new(),
        };
        for l in lines {
            let (k, v) = l.split_once(' ').unwrap_or((l, ""));
            match k {
                "pid" => j.pid = v.parse().map_err(|_| bad("a pid"))?,
                "op" => j.op = unescape(v),
                "target" => j.target = unescape(v),
                "manager" => j.manager = unescape(v),
                "stage" => {
                    j.stage = match v {
                        "teardown" => JournalStage::Teardown,
                        "loading" => JournalStage::Loading,
                        "bringup" => JournalStage::BringUp,
                        _ => return Err(bad("a stage: teardown, loading or bringup")),
                    }
                }
                "unbinding" => {
                    let mut f = v.splitn(3, '\t');
                    let (Some(key), Some(driver), Some(p)) = (f.next(), f.next(), f.next()) else {
                        return Err(bad("unbinding KEY<TAB>DRIVER<TAB>PATH"));
                    };
                    j.unbound.push(Unbound {
                        key: unescape(key),
                        driver: unescape(driver),
                        path: unescape(p),
                    });
                }
                _ => {
                    return Err(bad(
                        "journal lines: pid, op, target, manager, stage, unbinding",
                    ))
                }
            }
        }
        if j.manager.is_empty() {
            return Err(bad("a manager line"));
        }
        Ok(j)
    }
}

fn journal_path(root: &SysfsRoot, manager: &str) -> PathBuf {
    root.lock_dir()
        .join(format!("{}{manager}.journal", root.prefix()))
}

fn io_err(path: &Path, source: std::io::Error) -> SysfsError {
    SysfsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `text` to `path` so that a reader sees the old contents or the
/// new, never a part: a fresh temporary file beside it, synced, renamed
/// over it, the directory synced.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc_o_nofollow())
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// The journal of one reprogram, for [`fpga_core::reprogram`]'s
/// `ReprogramOptions::journal`. Its file exists from `begin` to `end`.
#[derive(Debug)]
pub struct FileJournal {
    path: PathBuf,
    rec: Mutex<Option<Interrupted>>,
}

impl FileJournal {
    /// The journal of reprograms through `manager` under `root`.
    pub fn new(root: &SysfsRoot, manager: &str) -> FileJournal {
        FileJournal {
            path: journal_path(root, manager),
            rec: Mutex::new(None),
        }
    }

    /// Where it is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn update(&self, f: impl FnOnce(&mut Interrupted)) -> std::io::Result<()> {
        let mut g = self.rec.lock().unwrap_or_else(|p| p.into_inner());
        let Some(rec) = g.as_mut() else {
            return Err(std::io::Error::other("the journal was not begun"));
        };
        f(rec);
        write_atomically(&self.path, &rec.render())
    }
}

impl fpga_core::Journal for FileJournal {
    fn begin(&self, op: &str, target: &LoadTarget) -> std::io::Result<()> {
        let rec = Interrupted {
            pid: std::process::id(),
            op: op.to_string(),
            target: target.name.clone(),
            manager: target.manager.clone(),
            stage: JournalStage::Teardown,
            unbound: Vec::new(),
        };
        write_atomically(&self.path, &rec.render())?;
        *self.rec.lock().unwrap_or_else(|p| p.into_inner()) = Some(rec);
        Ok(())
    }

    fn unbinding(&self, device: &str, driver: &str, path: &str) -> std::io::Result<()> {
        self.update(|r| {
            r.unbound.push(Unbound {
                key: device.to_string(),
                driver: driver.to_string(),
                path: path.to_string(),
            })
        })
    }

    fn loading(&self) -> std::io::Result<()> {
        self.update(|r| r.stage = JournalStage::Loading)
    }

    fn bringing_up(&self) -> std::io::Result<()> {
        self.update(|r| r.stage = JournalStage::BringUp)
    }

    fn end(&self) -> std::io::Result<()> {
        *self.rec.lock().unwrap_or_else(|p| p.into_inner()) = None;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The journal left for `manager`, if any (it may belong to a run still
/// going: [`recover`] takes the lock before it acts on one).
pub fn journal_of(root: &SysfsRoot, manager: &str) -> Result<Option<Interrupted>> {
    let path = journal_path(root, manager);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() > 1 << 20 => Err(SysfsError::parse(
            &path,
            "(over 1 MiB)",
            "a journal of at most 1 MiB",
        )),
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Interrupted::parse(&path, &text).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path, e)),
    }
}

/// The managers with a journal under `root`'s lock directory.
pub fn journalled_managers(root: &SysfsRoot) -> Result<Vec<String>> {
    let dir = root.lock_dir();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, e)),
    };
    let mut out: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix(root.prefix())?
                .strip_suffix(".journal")
                .map(str::to_string)
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Whether process `pid` is alive.
fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    let Some(p) = rustix::process::Pid::from_raw(raw) else {
        return false;
    };
    // Signal 0 checks existence; EPERM means it exists (another user's).
    match rustix::process::test_kill_process(p) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// Removes the images staged in the firmware directory by processes that
/// are gone (`<prefix><pid>-...`, and the `fpgactl-<pid>-...` names of
/// earlier versions); returns their names. A live process's files stay.
pub fn remove_stale_staged(root: &SysfsRoot) -> Result<Vec<String>> {
    let dir = root.firmware();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, e)),
    };
    let mut removed = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rest = name
            .strip_prefix(root.prefix())
            .or_else(|| name.strip_prefix("fpgactl-"));
        let Some(pid) = rest
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        // Only regular files this naming scheme made; never a symlink.
        let regular = std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.file_type().is_file());
        if regular && !alive(pid) {
            std::fs::remove_file(e.path()).map_err(|err| io_err(&e.path(), err))?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// What the journal said.
    pub interrupted: Interrupted,
    /// The devices bound again, and those that would not bind.
    pub rebound: Rebound,
    /// Why the devices were left down instead (an interrupted load whose
    /// manager is not `operating`, without `force`); the journal stays.
    pub left_down: Option<String>,
}

/// Finishes the reprogram through `manager` that the journal says was
/// interrupted, under the manager's lock (`Busy` if a run holds it: it
/// is not interrupted, it is running). `Ok(None)`: nothing to recover.
/// See the module documentation for what is done at each stage; `force`
/// binds the devices back even after an interrupted load whose manager
/// is not `operating`.
pub async fn recover(kernel: &Kernel, manager: &str, force: bool) -> Result<Option<Recovered>> {
    let root = kernel.root();
    let Some(j) = journal_of(root, manager)? else {
        return Ok(None);
    };
    let _lock = ManagerLockFile::acquire(root, manager)?;
    // Read again under the lock: the run may have finished meanwhile.
    let Some(j) = journal_of(root, manager)?.filter(|again| *again == j || again.pid == j.pid)
    else {
        return Ok(None);
    };
    if j.stage == JournalStage::Loading && !force {
        let state = crate::fpga::read_fpga(root)
            .ok()
            .and_then(|v| v.manager(manager).map(|m| m.state));
        if state != Some(MgrState::Operating) {
            let shown = state.map_or("unreadable".to_string(), |s| s.to_string());
            return Ok(Some(Recovered {
                interrupted: j,
                rebound: Rebound::default(),
                left_down: Some(format!(
                    "the load was cut and the manager is {shown}: binding its users to that logic is unsafe; load a good image, then recover again (or recover with force)"
                )),
            }));
        }
    }
    let rebound = rebind(kernel, &j.unbound).await;
    let path = journal_path(root, manager);
    if rebound.not_bound.is_empty() {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&path, e)),
            _ => {}
        }
    }
    Ok(Some(Recovered {
        interrupted: j,
        rebound,
        left_down: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Interrupted {
        Interrupted {
            pid: 42,
            op: "reprogram".into(),
            target: "region0".into(),
            manager: "fpga0".into(),
            stage: JournalStage::Loading,
            unbound: vec![Unbound {
                key: "platform:odd\tname\\x".into(),
                driver: "drv\nx".into(),
                path: "devices/platform/odd".into(),
            }],
        }
    }

    #[test]
    fn a_journal_reads_back_what_was_written() {
        let j = sample();
        let text = j.render();
        assert_eq!(Interrupted::parse(Path::new("j"), &text).unwrap(), j);
    }

    proptest::proptest! {
        /// Whatever a journal file holds (a torn disk, another tool's file),
        /// reading it never panics; and any record reads back as written.
        #[test]
        fn the_journal_parser_never_panics(text in ".{0,300}") {
            let _ = Interrupted::parse(Path::new("j"), &text);
            let _ = Interrupted::parse(Path::new("j"), &format!("{MAGIC}\n{text}"));
        }

        #[test]
        fn any_record_round_trips(
            pid in proptest::prelude::any::<u32>(),
            keys in proptest::collection::vec((".{0,20}", ".{0,10}", ".{0,30}"), 0..5),
            stage in 0u8..3,
            target in ".{0,20}",
        ) {
            let j = Interrupted {
                pid,
                op: "reprogram".into(),
                target,
                manager: "fpga0".into(),
                stage: [JournalStage::Teardown, JournalStage::Loading, JournalStage::BringUp][stage as usize],
                unbound: keys
                    .into_iter()
                    .map(|(key, driver, path)| Unbound { key, driver, path })
                    .collect(),
            };
            proptest::prop_assert_eq!(Interrupted::parse(Path::new("j"), &j.render()).unwrap(), j);
        }
    }

    #[test]
    fn a_malformed_journal_is_an_error_naming_the_file() {
        for bad in [
            "",
            "fpga-devlink journal 1\npid x\n",
            "fpga-devlink journal 1\nwhat\n",
            "other\n",
        ] {
            let e = Interrupted::parse(Path::new("/run/lock/j"), bad).unwrap_err();
            assert!(e.to_string().contains("/run/lock/j"), "{e}");
        }
    }

    #[test]
    fn the_file_journal_exists_from_begin_to_end() {
        use fpga_core::Journal;
        let dir = tempfile::tempdir().unwrap();
        let root = SysfsRoot::at(dir.path()).with_lock_dir(dir.path());
        let j = FileJournal::new(&root, "fpga0");
        let target = LoadTarget {
            name: "region0".into(),
            manager: "fpga0".into(),
            guarded: vec![],
        };
        assert!(j.unbinding("a", "b", "c").is_err(), "not begun");
        j.begin("reprogram", &target).unwrap();
        j.unbinding("platform:eth0", "eth", "devices/platform/eth0")
            .unwrap();
        j.loading().unwrap();
        let read = journal_of(&root, "fpga0").unwrap().unwrap();
        assert_eq!(read.stage, JournalStage::Loading);
        assert_eq!(read.unbound.len(), 1);
        assert_eq!(read.pid, std::process::id());
        assert_eq!(journalled_managers(&root).unwrap(), ["fpga0"]);
        j.end().unwrap();
        assert_eq!(journal_of(&root, "fpga0").unwrap(), None);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_staged_files_of_dead_processes_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = SysfsRoot::at(dir.path()).with_firmware(dir.path());
        // A pid that cannot exist (beyond pid_max), and ours.
        let dead = format!("fpga-devlink-{}-0-00000000.bin", 4_194_304 + 7);
        let old = "fpgactl-4194311-1-0000abcd.bit".to_string();
        let live = format!("fpga-devlink-{}-0-00000000.bin", std::process::id());
        for n in [&dead, &old, &live, &"design.bit".to_string()] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        let removed = remove_stale_staged(&root).unwrap();
        let mut want = vec![dead.clone(), old.clone()];
        want.sort();
        assert_eq!(removed, want);
        assert!(dir.path().join(&live).exists());
        assert!(dir.path().join("design.bit").exists());
    }
}
