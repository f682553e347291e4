//! Printing: lines that survive a closed or full stdout, errors with a
//! hint and an exit code by kind, names made safe for a terminal, and
//! load progress (a bar on terminals, plain lines otherwise).

use devlink_core::{Errno, ErrorKind, KindError};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Writes one line to stdout. A closed pipe ends the process quietly
/// with 0; any other write error ends it with exit code 9 and a message
/// on stderr. Never panics.
pub fn out_line(line: std::fmt::Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    let r = o.write_fmt(line).and_then(|()| o.write_all(b"\n"));
    if let Err(e) = r {
        drop(o);
        closed(e);
    }
}

fn closed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    err_line(format_args!("fpgactl: error: writing the output: {e}"));
    std::process::exit(i32::from(exit_code(ErrorKind::Io)));
}

/// Flushes stdout (at exit), with the same rules as [`out_line`].
pub fn flush() {
    if let Err(e) = std::io::stdout().lock().flush() {
        closed(e);
    }
}

/// Writes one line to stderr, ignoring a closed or full stderr (there is
/// nowhere left to report that).
pub fn err_line(line: std::fmt::Arguments<'_>) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(line).and_then(|()| e.write_all(b"\n"));
}

/// `println!` through [`out_line`].
#[macro_export]
macro_rules! outln {
    () => { $crate::output::out_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::output::out_line(format_args!($($arg)*)) };
}

/// Prints a report as pretty JSON.
pub fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| Failure::new(ErrorKind::Io, format!("encoding the report: {e}")))?;
    outln!("{text}");
    Ok(())
}

/// A name made safe to print on a terminal: control characters (a
/// newline, `ESC`, NUL) are shown escaped, so no name can move the
/// cursor, clear the screen or fake a line of output.
pub fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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
    /// The errno behind it, if any (chooses the hint).
    pub errno: Option<Errno>,
    /// What failed and why.
    pub message: String,
    /// What to try.
    pub hint: Option<String>,
    /// What a failed load left behind (in the JSON error).
    pub program: Option<Box<crate::report::ProgramFailure>>,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            errno: None,
            message: message.into(),
            hint: None,
            program: None,
        }
    }

    /// A failure from any of the workspace's errors, with the hint its
    /// kind and errno call for.
    pub fn from_error<E: KindError + ?Sized>(e: &E) -> Failure {
        let mut f = Failure {
            kind: e.kind(),
            errno: e.errno(),
            message: e.to_string(),
            hint: None,
            program: None,
        };
        f.hint = default_hint(f.kind, f.errno).map(str::to_string);
        f
    }

    /// Adds (or replaces) what to try.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

/// What to try, by kind and errno: never chosen from message text.
fn default_hint(kind: ErrorKind, errno: Option<Errno>) -> Option<&'static str> {
    match (kind, errno) {
        (_, Some(Errno::EACCES | Errno::EPERM)) => Some("run as root, or check the file's mode"),
        (ErrorKind::Unsupported, _) => Some("see docs/user-guide.md, \"A real board\""),
        (ErrorKind::Busy, _) => Some("wait for the holder to finish and retry"),
        (ErrorKind::Timeout, _) => {
            Some("retry with a longer --timeout, or look for a stuck driver")
        }
        _ => None,
    }
}

impl Failure {
    /// The `--json` form of this failure.
    pub fn report(&self) -> crate::report::ErrorReport {
        crate::report::ErrorReport {
            error: crate::report::ErrorBody {
                kind: crate::report::kind_name(self.kind).to_string(),
                exit_code: exit_code(self.kind),
                errno: self.errno.map(|e| e.name()),
                message: self.message.clone(),
                hint: self.hint.clone(),
                program: self.program.as_deref().cloned(),
            },
        }
    }
}

impl<E: KindError> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::from_error(&e)
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
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "   load   [{bar:32}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
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
        if !self.plain || total == 0 {
            return;
        }
        let tenth = written.saturating_mul(10) / total;
        let prev = self
            .last_tenth
            .swap(tenth, std::sync::atomic::Ordering::Relaxed);
        if prev != tenth {
            outln!(
                "   load   {:>3}%  {}/{} bytes",
                written.saturating_mul(100) / total,
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
