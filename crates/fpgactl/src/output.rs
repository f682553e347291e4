//! Printing: lines that survive a closed pipe, errors with a hint and an
//! exit code by kind, and load progress (a bar on terminals, plain lines
//! otherwise).

use devlink_core::ErrorKind;
use std::io::IsTerminal;
use std::time::Instant;

/// `println!` that ends the process quietly when stdout is closed (for
/// example `fpgactl links | head`), instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

/// Prints a JSON value, pretty.
pub fn print_json(v: &serde_json::Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values serialise")
    );
}

/// The exit code for an error kind (documented in `--help`).
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => 3,
        ErrorKind::NoDevice => 4,
        ErrorKind::Busy => 5,
        ErrorKind::Deferred => 6,
        ErrorKind::Timeout => 7,
        ErrorKind::Unsupported => 8,
        ErrorKind::Io => 9,
        ErrorKind::OutOfMemory => 10,
    }
}

/// An error for the user: what failed (naming the object), why, and what
/// to try.
#[derive(Debug)]
pub struct Failure {
    /// Decides the exit code.
    pub kind: ErrorKind,
    /// What failed and why.
    pub message: String,
    /// What to try.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds what to try.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl From<fpga_core::FpgaError> for Failure {
    fn from(e: fpga_core::FpgaError) -> Failure {
        Failure::new(e.kind(), e.to_string())
    }
}

impl From<devlink_core::Error> for Failure {
    fn from(e: devlink_core::Error) -> Failure {
        Failure::new(e.kind(), e.to_string())
    }
}

/// Shows how far a load is: an `indicatif` bar with throughput on a
/// terminal (on stderr), else a plain line per tenth (on stdout), or
/// nothing in JSON mode.
pub struct LoadProgress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    started: Instant,
    last_tenth: std::sync::atomic::AtomicU64,
}

impl LoadProgress {
    /// Progress for one load; `quiet` for JSON output.
    pub fn new(quiet: bool) -> LoadProgress {
        let tty = !quiet && std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "   load   [{bar:32}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        });
        LoadProgress {
            bar,
            plain: !quiet && !tty,
            started: Instant::now(),
            last_tenth: std::sync::atomic::AtomicU64::new(u64::MAX),
        }
    }

    /// `written` of `total` bytes are out.
    pub fn update(&self, written: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(written);
            return;
        }
        if !self.plain {
            return;
        }
        let tenth = written * 10 / total.max(1);
        let prev = self
            .last_tenth
            .swap(tenth, std::sync::atomic::Ordering::Relaxed);
        if prev != tenth {
            outln!(
                "   load   {:>3}%  {}/{} bytes",
                written * 100 / total.max(1),
                written,
                total
            );
        }
    }

    /// The load ended; clears the bar and returns the wall time.
    pub fn finish(&self) -> std::time::Duration {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.started.elapsed()
    }
}
