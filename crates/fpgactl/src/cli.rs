//! The command line, as clap sees it. `--help` text is written for people:
//! each command says what it does, what it changes, and how it fails.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Inspect device links and FPGA managers, bridges and regions, and
/// reprogram a region while the devices that use it are safely down.
#[derive(Parser, Debug)]
#[command(name = "fpgactl", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where the devices come from. `sim` builds the board described by
    /// `--scenario` in memory (each run starts from that description);
    /// `sysfs` reads and drives the running kernel through /sys (or the
    /// tree under `--root`); `uio` lists UIO devices and loads partial
    /// bitstreams through an AXI HWICAP mapped by UIO.
    #[arg(long, value_enum, default_value_t = BackendKind::Sim, global = true)]
    pub backend: BackendKind,
    /// The root of the sysfs tree for `--backend sysfs` and `uio`
    /// (default: the running kernel's /sys, with configfs at
    /// /sys/kernel/config, firmware in /lib/firmware, lock files in
    /// /run/lock and device nodes in /dev). With DIR, those are DIR,
    /// DIR/kernel/config, DIR/lib/firmware, DIR/run/lock and DIR/dev.
    #[arg(long, value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,
    /// A scenario file describing the simulated board (default: the
    /// built-in demo board). Format: docs/user-guide.md.
    #[arg(long, value_name = "FILE", global = true)]
    pub scenario: Option<PathBuf>,
    /// Print machine-readable JSON instead of text (every command; the
    /// schema of each command is in docs/schemas/, the same on every
    /// backend).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long each step that waits for the kernel (an unbind, a bind,
    /// the settle after a teardown) may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, global = true)]
    pub step_timeout: f64,
    #[command(subcommand)]
    pub command: Command,
}

/// A backend.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The deterministic simulator.
    Sim,
    /// The kernel's sysfs (a real board, or a tree under `--root`).
    Sysfs,
    /// UIO devices (`/dev/uioN`), and an AXI HWICAP behind one.
    Uio,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Reprogram the demo board's region with its dependents down, showing
    /// every step (the README's main job).
    Demo,
    /// List FPGA managers, bridges and regions, then every device, with
    /// their states.
    List,
    /// Everything known about one object: a device, a manager (`fpga0`),
    /// a bridge (`br0`) or a region (`region0`).
    Show {
        /// The object's name (`fpga0`, `region0`, `eth0`, `platform:eth0`).
        name: String,
    },
    /// Show every device link.
    Links {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also draw the graph as an SVG picture into FILE.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Explain why DEVICE is not bound: the chain of missing suppliers.
    Why {
        /// A device, as bus:name or a unique name.
        device: String,
    },
    /// Print the order in which DEVICE's dependents are taken down or
    /// brought up.
    Order {
        /// A device, as bus:name or a unique name.
        device: String,
        /// Consumers first (the order to unbind in).
        #[arg(long, conflicts_with = "bringup", required_unless_present = "bringup")]
        teardown: bool,
        /// Suppliers first (the order to bind in).
        #[arg(long)]
        bringup: bool,
    },
    /// Load IMAGE through a manager (`fpga0`) or into a region
    /// (`region0`: its bridges are gated around the load). Refuses a
    /// target that someone holds, and a region whose dependents are bound
    /// (use `reprogram` for that), unless `--force`.
    Program {
        /// A manager or a region.
        target: String,
        /// The image file.
        image: PathBuf,
        /// The image is a partial reconfiguration.
        #[arg(long)]
        partial: bool,
        /// Check the target and the image, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Program even though devices that use the logic are bound (and,
        /// on the simulator, break a stale lock).
        #[arg(long)]
        force: bool,
        /// The manager that programs a region (needed only when the
        /// system has several and does not say which).
        #[arg(long, value_name = "MANAGER")]
        manager: Option<String>,
        /// Load the file as it is: no format check, no conversion.
        #[arg(long)]
        raw: bool,
        /// Do nothing if this image (same SHA-256 and flags) is the one the
        /// manager has loaded, by the record of a load through this tool.
        #[arg(long)]
        if_changed: bool,
    },
    /// Reprogram REGION with IMAGE safely: unbind its dependents
    /// consumers-first, wait for link removal, check for leaked
    /// references, load, and bind them back suppliers-first.
    Reprogram {
        /// A region (`region0`).
        region: String,
        /// The image file.
        image: PathBuf,
        /// The image is a partial reconfiguration.
        #[arg(long)]
        partial: bool,
        /// Break a stale lock on the region's manager (simulator only: a
        /// lock another process holds on a kernel cannot be broken).
        #[arg(long)]
        force: bool,
        /// The manager that programs the region (needed only when the
        /// system has several and does not say which).
        #[arg(long, value_name = "MANAGER")]
        manager: Option<String>,
        /// Load the file as it is: no format check, no conversion.
        #[arg(long)]
        raw: bool,
        /// Program through a device-tree overlay (`--backend sysfs`, a
        /// kernel with the configfs overlay interface): the overlay must
        /// target REGION's node and name the image in `firmware-name`;
        /// IMAGE is staged under that name, the region's old overlays are
        /// removed last-first after the teardown, and the kernel's
        /// of-fpga-region programs the FPGA as it applies FILE (full or
        /// partial as the overlay's `partial-fpga-config` says, so not
        /// with --partial).
        #[arg(long, value_name = "FILE.dtbo", conflicts_with = "partial")]
        overlay: Option<PathBuf>,
        /// The configfs slot for the overlay (default
        /// `fpgactl-REGION-N`, the first N free).
        #[arg(long, value_name = "NAME", requires = "overlay")]
        slot: Option<String>,
        /// An applied overlay slot to remove before the new one goes on
        /// (repeatable; default: the slots this tool applied to REGION's
        /// node).
        #[arg(long, value_name = "SLOT", requires = "overlay")]
        replace: Vec<String>,
    },
    /// What an image file is (format, part, design, date, sizes, full or
    /// partial, SHA-256) and what `program` would do with it here.
    Image {
        /// The image file.
        file: PathBuf,
    },
    /// Unbind DEVICE's driver (its bound consumers are unbound first), then
    /// show what changed.
    Unbind {
        /// A device, as bus:name or a unique name.
        device: String,
    },
    /// Bind DEVICE to its driver (its suppliers must be bound), then show
    /// what changed.
    Bind {
        /// A device, as bus:name or a unique name.
        device: String,
    },
    /// Wait until every queued device-link release has run.
    WaitRemoval {
        /// Give up after this many seconds (exit code 7).
        #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
        timeout: f64,
    },
    /// Finish what an interrupted `reprogram` left (the users it took down
    /// are bound again; after a load that was cut, only once the manager
    /// is operating, or with `--force`), and remove images staged by
    /// processes that are gone. `program` and `reprogram` do this first by
    /// themselves.
    Recover {
        /// Only this manager's (`fpga0`); default: every one with a journal.
        manager: Option<String>,
        /// Bind the users back even after a cut load whose manager is not
        /// operating.
        #[arg(long)]
        force: bool,
    },
    /// Write a simulator image (`SIMBIT` format) to try `program` with.
    SimImage {
        /// Where to write it.
        out: PathBuf,
        /// Payload size in bytes (at most 4294967295).
        #[arg(long, default_value_t = 1 << 20)]
        size: u64,
        /// Mark it as a partial image.
        #[arg(long)]
        partial: bool,
    },
    /// Print shell completions for SHELL (bash, zsh, fish, elvish,
    /// powershell) to standard output.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (fpgactl.1 and one per command) into DIR.
    #[command(hide = true)]
    Man {
        /// The output directory.
        dir: PathBuf,
    },
    /// Write the JSON schema of each command's `--json` report into DIR.
    #[command(hide = true)]
    Schemas {
        /// The output directory.
        dir: PathBuf,
    },
}

/// Output format of `links`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// Graphviz dot.
    Dot,
    /// JSON.
    Json,
}

/// The exit codes, shown after `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  bad command line
  3  invalid input (a malformed scenario or image, a rejected request)
  4  no such device, object or file
  5  busy (held by someone else, or dependents are bound)
  6  deferred (waiting for suppliers)
  7  timed out
  8  not supported
  9  I/O error
  10 out of memory (a worker thread could not start)";
