//! Running the cases on rigs, and the matrix of results.

use crate::cases::{cases, Miss};
use crate::Rig;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Passed.
    Ok,
    /// Failed, with why.
    Fail(String),
    /// Does not apply, with why.
    NotApplicable(String),
}

/// Cases × backends.
#[derive(Debug, Default, Clone)]
pub struct Matrix {
    backends: Vec<String>,
    cases: Vec<String>,
    cells: BTreeMap<(String, String), Cell>,
}

/// Runs every case on a fresh rig from `make`, and records the column.
/// A panicking case (or rig) is a failure with the panic's message.
pub fn run<R: Rig + 'static>(matrix: &mut Matrix, make: impl Fn() -> R) {
    let mut name = None;
    for case in cases::<R>() {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let rig = make();
            name.get_or_insert(rig.name());
            futures::executor::block_on((case.run)(rig))
        }));
        let cell = match outcome {
            Ok(Ok(())) => Cell::Ok,
            Ok(Err(Miss::Fail(why))) => Cell::Fail(why),
            Ok(Err(Miss::NotApplicable(why))) => Cell::NotApplicable(why),
            Err(p) => Cell::Fail(format!(
                "panicked: {}",
                p.downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            )),
        };
        matrix.record(name.unwrap_or("?"), case.name, cell);
    }
}

impl Matrix {
    /// Records one cell.
    pub fn record(&mut self, backend: &str, case: &str, cell: Cell) {
        if !self.backends.iter().any(|b| b == backend) {
            self.backends.push(backend.to_string());
        }
        if !self.cases.iter().any(|c| c == case) {
            self.cases.push(case.to_string());
        }
        self.cells
            .insert((case.to_string(), backend.to_string()), cell);
    }

    /// One backend's column, `(case, cell)` in case order.
    pub fn column(&self, backend: &str) -> Vec<(String, Cell)> {
        self.cases
            .iter()
            .filter_map(|c| {
                self.cells
                    .get(&(c.clone(), backend.to_string()))
                    .map(|cell| (c.clone(), cell.clone()))
            })
            .collect()
    }

    /// The failures, as `(case, backend, why)`.
    pub fn failures(&self) -> Vec<(String, String, String)> {
        self.cells
            .iter()
            .filter_map(|((c, b), cell)| match cell {
                Cell::Fail(why) => Some((c.clone(), b.clone(), why.clone())),
                _ => None,
            })
            .collect()
    }

    /// How many cells are ok, failed, not applicable.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for c in self.cells.values() {
            match c {
                Cell::Ok => n.0 += 1,
                Cell::Fail(_) => n.1 += 1,
                Cell::NotApplicable(_) => n.2 += 1,
            }
        }
        n
    }

    /// The matrix as text: one row per case, one column per backend, then
    /// every failure and every "n/a" reason in full.
    pub fn render(&self) -> String {
        let w = self.cases.iter().map(String::len).max().unwrap_or(4).max(4);
        let cols: Vec<usize> = self.backends.iter().map(|b| b.len().max(4)).collect();
        let mut s = format!("{:<w$}", "CASE");
        for (b, cw) in self.backends.iter().zip(&cols) {
            let _ = write!(s, "  {b:<cw$}");
        }
        s.push('\n');
        let mut notes = Vec::new();
        for c in &self.cases {
            let _ = write!(s, "{c:<w$}");
            for (b, cw) in self.backends.iter().zip(&cols) {
                let text = match self.cells.get(&(c.clone(), b.clone())) {
                    Some(Cell::Ok) => "ok".to_string(),
                    Some(Cell::Fail(why)) => {
                        notes.push(format!("FAIL {c} on {b}: {why}"));
                        "FAIL".to_string()
                    }
                    Some(Cell::NotApplicable(why)) => {
                        notes.push(format!("n/a  {c} on {b}: {why}"));
                        "n/a".to_string()
                    }
                    None => "-".to_string(),
                };
                let _ = write!(s, "  {text:<cw$}");
            }
            s.push('\n');
        }
        let (ok, failed, na) = self.counts();
        let _ = writeln!(
            s,
            "\n{} cases x {} backends: {ok} ok, {failed} FAIL, {na} n/a",
            self.cases.len(),
            self.backends.len()
        );
        for n in notes {
            s.push_str(&n);
            s.push('\n');
        }
        s
    }
}
