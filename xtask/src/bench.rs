//! `cargo xtask bench [--quick] [--record] [--no-run]`: run the benchmarks,
//! turn criterion's estimates into figures (each a ratio to a baseline
//! measured in the same run, or a scaling exponent, or an absolute figure
//! with its baseline beside it), write `target/dashboard/results.json`,
//! `index.html` and `figures.md`, optionally append the run to
//! `docs/benchmarks/history.jsonl`, and check the results against the
//! method table of `docs/benchmarks.md`.
//!
//! Every figure is declared once, in [`FIGURES`]. Benchmark names in the
//! table are criterion ids with size placeholders (`{n1}`, `{n2}`, `{dag}`,
//! `{mib}`), resolved by [`Sizes`] for the mode (quick or full); a `{n}` in a
//! scaling figure stands for both `{n1}` and `{n2}`.
//!
//! The noise of a measurement is the half width of criterion's 95 %
//! confidence interval of the median (of the mean when there is no median);
//! it is carried through each figure's formula (relative errors added in
//! quadrature). A recorded figure counts as worse than the previous recorded
//! run of the same mode when it moved in its bad direction by more than the
//! two runs' noises combined in quadrature.

use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Version of the `results.json` and `history.jsonl` layout.
pub const SCHEMA: u64 = 1;

/// How a figure's value is computed from its benchmark (time `t`) and
/// baseline (time `b`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// `t / b`: times the baseline's time (lower is better).
    Ratio,
    /// `b / t`: fraction of the baseline's throughput, e.g. "of memcpy"
    /// (higher is better).
    Fraction,
    /// `ln(t2 / t1) / ln(n2 / n1)` between the sizes `{n1}` and `{n2}`
    /// (1 = linear; lower is better). The baseline's exponent is reported
    /// beside it.
    Exponent,
    /// `t / per` in the measurement's own unit (lower is better); the
    /// baseline, if any, is reported beside it in the same unit.
    Absolute { per: f64 },
}

/// What a figure should reach; `Report` figures are shown without a goal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
    Report,
}

impl Goal {
    pub fn met(self, value: f64) -> Option<bool> {
        match self {
            Goal::AtMost(x) => Some(value <= x),
            Goal::AtLeast(x) => Some(value >= x),
            Goal::Report => None,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Goal::AtMost(x) => format!("≤ {x}"),
            Goal::AtLeast(x) => format!("≥ {x}"),
            Goal::Report => "report".into(),
        }
    }
}

/// Which direction is an improvement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Better {
    Lower,
    Higher,
}

impl Better {
    pub fn as_str(self) -> &'static str {
        match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }
    }
}

/// Where a benchmark's number comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Source {
    /// `<target>/criterion/<id>/new/estimates.json`, in ns.
    Criterion,
    /// `target/bench-results/memory.json` written by the `memory` bench
    /// (the key is the part of the name after `memory/`), in bytes.
    MemoryJson,
}

/// One figure of the dashboard.
#[derive(Debug)]
pub struct Figure {
    pub id: &'static str,
    pub title: &'static str,
    pub bench: &'static str,
    pub baseline: Option<&'static str>,
    pub metric: Metric,
    pub goal: Goal,
    pub unit: &'static str,
    pub source: Source,
}

impl Figure {
    pub fn better(&self) -> Better {
        match self.metric {
            Metric::Fraction => Better::Higher,
            _ => Better::Lower,
        }
    }

    /// The benchmark names (with placeholders) this figure reads, bench
    /// first; a `{n}` expands to `{n1}` and `{n2}`.
    pub fn names(&self) -> Vec<String> {
        let mut v = self.bench_names();
        v.extend(self.baseline_names());
        v
    }

    pub fn bench_names(&self) -> Vec<String> {
        expand(self.bench)
    }

    pub fn baseline_names(&self) -> Vec<String> {
        self.baseline.map(expand).unwrap_or_default()
    }
}

fn expand(s: &str) -> Vec<String> {
    if s.contains("{n}") {
        vec![s.replace("{n}", "{n1}"), s.replace("{n}", "{n2}")]
    } else {
        vec![s.to_string()]
    }
}

use Goal::{AtLeast, AtMost, Report};
use Metric::{Absolute, Exponent, Fraction, Ratio};
use Source::{Criterion, MemoryJson};

/// Every figure, in dashboard order. Keep in step with the method table of
/// `docs/benchmarks.md` (a unit test checks both directions).
pub const FIGURES: &[Figure] = &[
    Figure {
        id: "forward_chain_vs_kernel",
        title: "link_add, forward chain, against the kernel's method",
        bench: "link_add/forward_chain/{n1}",
        baseline: Some("link_add/forward_chain_kernel_method/{n1}"),
        metric: Ratio,
        goal: AtMost(1.0),
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "forward_chain_scaling",
        title: "link_add, forward chain, scaling exponent n1 → n2",
        bench: "link_add/forward_chain/{n}",
        baseline: Some("link_add/forward_chain_vec_push/{n}"),
        metric: Exponent,
        goal: AtMost(1.1),
        unit: "exponent",
        source: Criterion,
    },
    Figure {
        id: "reverse_chain_vs_kernel",
        title: "link_add, reverse chain, against the kernel's method",
        bench: "link_add/reverse_chain/{n1}",
        baseline: Some("link_add/reverse_chain_kernel_method/{n1}"),
        metric: Ratio,
        goal: AtMost(0.1),
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "reverse_chain_scaling",
        title: "link_add, reverse chain, scaling exponent n1 → n2",
        bench: "link_add/reverse_chain/{n}",
        baseline: Some("link_add/reverse_chain_vec_push/{n}"),
        metric: Exponent,
        goal: AtMost(1.1),
        unit: "exponent",
        source: Criterion,
    },
    Figure {
        id: "random_dag_vs_vec_push",
        title: "link_add, random DAG, against storing the pairs",
        bench: "link_add/random_dag/{dag}",
        baseline: Some("link_add/random_dag_vec_push/{dag}"),
        metric: Ratio,
        goal: Report,
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "bytes_per_link",
        title: "live heap bytes per link",
        bench: "memory/bytes_per_link",
        baseline: Some("memory/baseline_vec_pair"),
        metric: Absolute { per: 1.0 },
        goal: AtMost(128.0),
        unit: "B/link",
        source: MemoryJson,
    },
    Figure {
        id: "wait_removal_idle",
        title: "wait_removal with nothing pending",
        bench: "wait_removal/idle",
        baseline: Some("wait_removal/idle_baseline_arc_clone"),
        metric: Absolute { per: 1.0 },
        goal: AtMost(100.0),
        unit: "ns",
        source: Criterion,
    },
    Figure {
        id: "wait_removal_pending_10k",
        title: "wait_removal draining 10k releases, against dropping them inline",
        bench: "wait_removal/pending_10k",
        baseline: Some("wait_removal/pending_10k_baseline_inline_drop"),
        metric: Ratio,
        goal: Report,
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "load_buffer_vs_memcpy",
        title: "buffer load, fraction of memcpy's throughput",
        bench: "load/buffer_{mib}",
        baseline: Some("load/memcpy_{mib}"),
        metric: Fraction,
        goal: AtLeast(0.95),
        unit: "of memcpy",
        source: Criterion,
    },
    Figure {
        id: "load_scatter_vs_memcpy",
        title: "scatter load (4 KiB segments), fraction of memcpy's throughput",
        bench: "load/scatter_4KiB_{mib}",
        baseline: Some("load/memcpy_{mib}"),
        metric: Fraction,
        goal: AtLeast(0.85),
        unit: "of memcpy",
        source: Criterion,
    },
    Figure {
        id: "get_vs_arc_clone",
        title: "manager get + put, against an Arc clone + drop",
        bench: "get/manager_get_put",
        baseline: Some("get/arc_clone_drop"),
        metric: Ratio,
        goal: AtMost(2.0),
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "get_floor_vs_arc_clone",
        title: "the floor of any get + put (two counters on two cache lines), against an Arc clone + drop",
        bench: "get/two_counts_floor",
        baseline: Some("get/arc_clone_drop"),
        metric: Ratio,
        goal: Report,
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "get_2threads_vs_arc_clone",
        title: "manager get + put on two threads, against Arc clone + drop on two threads",
        bench: "get/manager_get_put_2threads",
        baseline: Some("get/arc_clone_drop_2threads"),
        metric: Ratio,
        goal: Report,
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "reprogram_per_dependent",
        title: "region reprogram, time per bound dependent (100 dependents)",
        bench: "reprogram/100_dependents",
        baseline: None,
        metric: Absolute { per: 100.0 },
        goal: Report,
        unit: "ns/dependent",
        source: Criterion,
    },
    Figure {
        id: "hwicap_write_vs_raw",
        title: "HWICAP write path on a mapping, fraction of a raw volatile-store loop",
        bench: "write_path/hwicap_fill_fifo",
        baseline: Some("write_path/raw_volatile_loop"),
        metric: Fraction,
        goal: AtLeast(0.9),
        unit: "of raw stores",
        source: Criterion,
    },
    Figure {
        id: "hwicap_load_end_to_end",
        title: "HWICAP partial load on the register model, time per load",
        bench: "load/model_end_to_end",
        baseline: None,
        metric: Absolute { per: 1.0 },
        goal: Report,
        unit: "ns/load",
        source: Criterion,
    },
    Figure {
        id: "sysfs_scan_per_link",
        title: "sysfs scan of 10,000 links, time per link",
        bench: "sysfs/scan_10k",
        baseline: Some("sysfs/scan_10k_std_fs"),
        metric: Absolute { per: 10_000.0 },
        goal: Report,
        unit: "ns/link",
        source: Criterion,
    },
    Figure {
        id: "sysfs_scan_vs_std_fs",
        title: "sysfs scan against reading the same files with std::fs",
        bench: "sysfs/scan_10k",
        baseline: Some("sysfs/scan_10k_std_fs"),
        metric: Ratio,
        goal: AtMost(1.0),
        unit: "×",
        source: Criterion,
    },
    Figure {
        id: "sysfs_syscalls_per_attr",
        title: "system calls per sysfs attribute read (open + read; close aside)",
        bench: "memory/sysfs_syscalls_per_attr",
        baseline: Some("memory/sysfs_syscalls_per_attr_with_close"),
        metric: Absolute { per: 1.0 },
        goal: AtMost(2.0),
        unit: "calls",
        source: MemoryJson,
    },
];

/// The sizes the benchmarks use in a mode (they mirror `benches/benches/*.rs`;
/// a mismatch shows up as a missing estimate).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizes {
    pub n1: u64,
    pub n2: u64,
    pub dag: &'static str,
    pub mib: &'static str,
}

pub const QUICK: Sizes = Sizes {
    n1: 1_000,
    n2: 10_000,
    dag: "1000x10000",
    mib: "16MiB",
};

pub const FULL: Sizes = Sizes {
    n1: 10_000,
    n2: 100_000,
    dag: "100000x1000000",
    mib: "64MiB",
};

impl Sizes {
    /// A benchmark name with its placeholders replaced: a criterion id.
    pub fn resolve(&self, name: &str) -> String {
        name.replace("{n1}", &self.n1.to_string())
            .replace("{n2}", &self.n2.to_string())
            .replace("{dag}", self.dag)
            .replace("{mib}", self.mib)
    }

    fn to_json(self) -> Value {
        json!({"n1": self.n1, "n2": self.n2, "dag": self.dag, "mib": self.mib})
    }
}

/// One benchmark's number.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Name with placeholders, as in [`FIGURES`] and the docs.
    pub name: String,
    /// Resolved id (criterion's).
    pub id: String,
    pub unit: &'static str,
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub std_dev: f64,
    pub statistic: &'static str,
}

impl Measurement {
    /// Half the confidence interval, relative to the estimate.
    pub fn rel_noise(&self) -> f64 {
        if self.estimate == 0.0 {
            0.0
        } else {
            ((self.high - self.low) / 2.0 / self.estimate).abs()
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "id": self.id,
            "unit": self.unit,
            "statistic": self.statistic,
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "std_dev": self.std_dev,
        })
    }
}

// ---- the math ----

/// `t / b`.
pub fn ratio(t: f64, b: f64) -> f64 {
    t / b
}

/// Scaling exponent `k` of `t ∝ n^k` from two sizes.
pub fn exponent(t1: f64, t2: f64, n1: f64, n2: f64) -> f64 {
    (t2 / t1).ln() / (n2 / n1).ln()
}

/// Absolute noise of a ratio (or product) `value` of two quantities with
/// relative noises `rel_a` and `rel_b`.
pub fn ratio_noise(value: f64, rel_a: f64, rel_b: f64) -> f64 {
    value.abs() * rel_a.hypot(rel_b)
}

/// Absolute noise of [`exponent`] from the relative noises of `t1`, `t2`.
pub fn exponent_noise(rel1: f64, rel2: f64, n1: f64, n2: f64) -> f64 {
    rel1.hypot(rel2) / (n2 / n1).ln().abs()
}

/// Whether `cur` got worse than `prev` by more than their noise (each a
/// `(value, noise)` pair; the noises combine in quadrature).
pub fn regressed(prev: (f64, f64), cur: (f64, f64), better: Better) -> bool {
    let worse_by = match better {
        Better::Lower => cur.0 - prev.0,
        Better::Higher => prev.0 - cur.0,
    };
    worse_by > prev.1.hypot(cur.1)
}

/// A figure computed from one run's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureValue {
    pub id: String,
    pub value: f64,
    pub noise: f64,
    /// `t / b` (or `b / t` for fractions); none for exponents.
    pub ratio: Option<f64>,
    /// The baseline's own figure in the same unit (exponent or absolute).
    pub baseline_value: Option<f64>,
    pub met: Option<bool>,
}

/// Computes `fig` from measurements looked up by name.
pub fn compute(
    fig: &Figure,
    sizes: &Sizes,
    get: &dyn Fn(&str) -> Option<Measurement>,
) -> Result<FigureValue, String> {
    let need = |name: String| get(&name).ok_or(format!("{}: no measurement {name}", fig.id));
    let names = fig.names();
    let (value, noise, ratio_v, baseline_value) = match fig.metric {
        Metric::Ratio | Metric::Fraction => {
            let t = need(names[0].clone())?;
            let b = need(
                names
                    .get(1)
                    .cloned()
                    .ok_or(format!("{}: a ratio needs a baseline", fig.id))?,
            )?;
            let v = if fig.metric == Metric::Ratio {
                ratio(t.estimate, b.estimate)
            } else {
                ratio(b.estimate, t.estimate)
            };
            (
                v,
                ratio_noise(v, t.rel_noise(), b.rel_noise()),
                Some(v),
                None,
            )
        }
        Metric::Exponent => {
            let (n1, n2) = (sizes.n1 as f64, sizes.n2 as f64);
            let t1 = need(names[0].clone())?;
            let t2 = need(names[1].clone())?;
            let v = exponent(t1.estimate, t2.estimate, n1, n2);
            let noise = exponent_noise(t1.rel_noise(), t2.rel_noise(), n1, n2);
            let base = match (names.get(2), names.get(3)) {
                (Some(a), Some(b)) => {
                    let (b1, b2) = (need(a.clone())?, need(b.clone())?);
                    Some(exponent(b1.estimate, b2.estimate, n1, n2))
                }
                _ => None,
            };
            (v, noise, None, base)
        }
        Metric::Absolute { per } => {
            let t = need(names[0].clone())?;
            let v = t.estimate / per;
            let noise = (t.high - t.low).abs() / 2.0 / per;
            match names.get(1) {
                Some(b) => {
                    let b = need(b.clone())?;
                    (
                        v,
                        noise,
                        Some(ratio(t.estimate, b.estimate)),
                        Some(b.estimate / per),
                    )
                }
                None => (v, noise, None, None),
            }
        }
    };
    if !value.is_finite() {
        return Err(format!("{}: value is not finite ({value})", fig.id));
    }
    Ok(FigureValue {
        id: fig.id.to_string(),
        value,
        noise,
        ratio: ratio_v,
        baseline_value,
        met: fig.goal.met(value),
    })
}

pub fn figure(id: &str) -> Option<&'static Figure> {
    FIGURES.iter().find(|f| f.id == id)
}

// ---- reading the numbers ----

/// Reads one criterion `estimates.json`: `(estimate, low, high, std_dev,
/// statistic)`, preferring the median.
pub fn parse_estimates(text: &str) -> Result<(f64, f64, f64, f64, &'static str), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("bad JSON: {e}"))?;
    let std_dev = v["std_dev"]["point_estimate"].as_f64().unwrap_or(0.0);
    for stat in ["median", "mean"] {
        let s = &v[stat];
        if let (Some(p), Some(lo), Some(hi)) = (
            s["point_estimate"].as_f64(),
            s["confidence_interval"]["lower_bound"].as_f64(),
            s["confidence_interval"]["upper_bound"].as_f64(),
        ) {
            return Ok((p, lo, hi, std_dev, stat));
        }
    }
    Err("neither median nor mean with a confidence interval".into())
}

fn read_fresh(path: &Path, fresh_after: Option<SystemTime>) -> Result<String, String> {
    let shown = path.display();
    if let Some(t0) = fresh_after {
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("{shown}: {e}"))?;
        if modified < t0 {
            return Err(format!(
                "{shown}: left over from an earlier run (not written by this one)"
            ));
        }
    }
    std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))
}

struct Paths {
    root: PathBuf,
    criterion: PathBuf,
    memory_json: PathBuf,
    dashboard: PathBuf,
    history: PathBuf,
    docs: PathBuf,
}

impl Paths {
    fn new() -> Paths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace")
            .to_path_buf();
        // Criterion writes under cargo's target directory.
        let target = crate::target_dir(&root);
        Paths {
            criterion: target.join("criterion"),
            dashboard: target.join("dashboard"),
            // benches/benches/memory.rs writes here, next to its manifest.
            memory_json: root.join("target/bench-results/memory.json"),
            history: root.join("docs/benchmarks/history.jsonl"),
            docs: root.join("docs/benchmarks.md"),
            root,
        }
    }
}

/// Reads every measurement the figures need.
fn collect(
    paths: &Paths,
    sizes: &Sizes,
    fresh_after: Option<SystemTime>,
) -> Result<Vec<Measurement>, Vec<String>> {
    let mut out: Vec<Measurement> = Vec::new();
    let mut errors = Vec::new();
    let mut memory: Option<Value> = None;
    for fig in FIGURES {
        for name in fig.names() {
            if out.iter().any(|m| m.name == name) {
                continue;
            }
            let id = sizes.resolve(&name);
            let m = match fig.source {
                Source::Criterion => {
                    let path = paths.criterion.join(&id).join("new/estimates.json");
                    read_fresh(&path, fresh_after)
                        .and_then(|t| parse_estimates(&t).map_err(|e| format!("{id}: {e}")))
                        .map(|(estimate, low, high, std_dev, statistic)| Measurement {
                            name: name.clone(),
                            id,
                            unit: "ns",
                            estimate,
                            low,
                            high,
                            std_dev,
                            statistic,
                        })
                }
                Source::MemoryJson => {
                    if memory.is_none() {
                        match read_fresh(&paths.memory_json, fresh_after).and_then(|t| {
                            serde_json::from_str::<Value>(&t)
                                .map_err(|e| format!("{}: {e}", paths.memory_json.display()))
                        }) {
                            Ok(v) => memory = Some(v),
                            Err(e) => {
                                errors.push(e);
                                memory = Some(Value::Null);
                            }
                        }
                    }
                    let key = name.trim_start_matches("memory/");
                    match memory.as_ref().and_then(|m| m[key].as_f64()) {
                        // The count is exact: no noise.
                        Some(b) => Ok(Measurement {
                            name: name.clone(),
                            id,
                            unit: if key.contains("syscalls") {
                                "calls"
                            } else {
                                "B"
                            },
                            estimate: b,
                            low: b,
                            high: b,
                            std_dev: 0.0,
                            statistic: "exact",
                        }),
                        None => Err(format!("{id}: no \"{key}\" in memory.json")),
                    }
                }
            };
            match m {
                Ok(m) => out.push(m),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

// ---- the run's context ----

/// The machine a run was measured on.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    pub cpus: u64,
    pub model: String,
}

impl Machine {
    pub fn from_cpuinfo(text: &str) -> Machine {
        let cpus = text
            .lines()
            .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
            .count() as u64;
        let model = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                matches!(k.trim(), "model name" | "Model" | "cpu model").then(|| v.trim())
            })
            .unwrap_or("unknown")
            .to_string();
        Machine { cpus, model }
    }

    fn this() -> Machine {
        let mut m =
            Machine::from_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
        if m.cpus == 0 {
            m.cpus = std::thread::available_parallelism().map_or(0, |n| n.get() as u64);
        }
        m
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC).
pub fn utc_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

// ---- runs: the current one and the recorded ones ----

/// A figure as kept for a run (current or recorded).
#[derive(Clone, Debug, PartialEq)]
pub struct RunFigure {
    pub id: String,
    pub value: f64,
    pub noise: f64,
    pub met: Option<bool>,
}

impl From<&FigureValue> for RunFigure {
    fn from(v: &FigureValue) -> RunFigure {
        RunFigure {
            id: v.id.clone(),
            value: v.value,
            noise: v.noise,
            met: v.met,
        }
    }
}

/// A run: its context and figures (what `history.jsonl` keeps a line of).
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub commit: String,
    pub dirty: bool,
    pub date: String,
    pub mode: String,
    pub machine: Machine,
    pub figures: Vec<RunFigure>,
}

impl Run {
    pub fn figure(&self, id: &str) -> Option<&RunFigure> {
        self.figures.iter().find(|f| f.id == id)
    }

    /// Reads a history line (or a whole `results.json`).
    pub fn from_json(v: &Value) -> Result<Run, String> {
        let s = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .ok_or(format!("no string \"{k}\""))
        };
        let figures = v["figures"]
            .as_array()
            .ok_or("no array \"figures\"")?
            .iter()
            .map(|f| {
                Ok(RunFigure {
                    id: f["id"].as_str().ok_or("figure without id")?.to_string(),
                    value: f["value"].as_f64().ok_or("figure without value")?,
                    noise: f["noise"].as_f64().unwrap_or(0.0),
                    met: f["met"].as_bool(),
                })
            })
            .collect::<Result<Vec<_>, &str>>()?;
        Ok(Run {
            commit: s("commit")?,
            dirty: v["dirty"].as_bool().unwrap_or(false),
            date: s("date")?,
            mode: s("mode")?,
            machine: Machine {
                cpus: v["machine"]["cpus"].as_u64().unwrap_or(0),
                model: v["machine"]["model"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_string(),
            },
            figures,
        })
    }

    fn context_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("schema".into(), json!(SCHEMA));
        m.insert("commit".into(), json!(self.commit));
        m.insert("dirty".into(), json!(self.dirty));
        m.insert("date".into(), json!(self.date));
        m.insert("mode".into(), json!(self.mode));
        m.insert(
            "machine".into(),
            json!({"cpus": self.machine.cpus, "model": self.machine.model}),
        );
        m
    }

    /// One line of `history.jsonl`.
    pub fn history_line(&self, sizes: &Sizes, measurements: &[Measurement]) -> String {
        let mut m = self.context_json();
        m.insert("sizes".into(), sizes.to_json());
        m.insert(
            "figures".into(),
            Value::Array(
                self.figures
                    .iter()
                    .map(|f| json!({"id": f.id, "value": f.value, "noise": f.noise, "met": f.met}))
                    .collect(),
            ),
        );
        let times: Map<String, Value> = measurements
            .iter()
            .map(|x| (x.id.clone(), json!(x.estimate)))
            .collect();
        m.insert("measurements".into(), Value::Object(times));
        Value::Object(m).to_string()
    }
}

/// Parses `history.jsonl` (blank lines skipped).
pub fn parse_history(text: &str) -> Result<Vec<Run>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Value>(l)
                .map_err(|e| e.to_string())
                .and_then(|v| Run::from_json(&v))
                .map_err(|e| format!("history line {}: {e}", i + 1))
        })
        .collect()
}

/// For each run of `runs` (oldest first), whether each figure got worse than
/// in the previous run of the same mode that has it, by more than the noise.
pub fn regressions(runs: &[Run]) -> Vec<Vec<String>> {
    runs.iter()
        .enumerate()
        .map(|(i, run)| {
            run.figures
                .iter()
                .filter(|f| {
                    let better = figure(&f.id).map_or(Better::Lower, Figure::better);
                    runs[..i]
                        .iter()
                        .rev()
                        .filter(|r| r.mode == run.mode)
                        .find_map(|r| r.figure(&f.id))
                        .is_some_and(|p| regressed((p.value, p.noise), (f.value, f.noise), better))
                })
                .map(|f| f.id.clone())
                .collect()
        })
        .collect()
}

// ---- results.json ----

/// Builds `results.json`.
pub fn results_json(
    run: &Run,
    sizes: &Sizes,
    measurements: &[Measurement],
    values: &[FigureValue],
) -> Value {
    let mut m = run.context_json();
    m.insert("sizes".into(), sizes.to_json());
    m.insert(
        "measurements".into(),
        Value::Array(measurements.iter().map(Measurement::to_json).collect()),
    );
    let figs = FIGURES
        .iter()
        .zip(values)
        .map(|(f, v)| {
            json!({
                "id": f.id,
                "title": f.title,
                "metric": match f.metric {
                    Metric::Ratio => "ratio",
                    Metric::Fraction => "fraction",
                    Metric::Exponent => "exponent",
                    Metric::Absolute { .. } => "absolute",
                },
                "bench": f.bench_names(),
                "baseline": f.baseline_names(),
                "value": v.value,
                "noise": v.noise,
                "ratio": v.ratio,
                "baseline_value": v.baseline_value,
                "unit": f.unit,
                "goal": match f.goal {
                    Goal::AtMost(x) => json!({"op": "<=", "target": x}),
                    Goal::AtLeast(x) => json!({"op": ">=", "target": x}),
                    Goal::Report => Value::Null,
                },
                "met": v.met,
                "better": f.better().as_str(),
            })
        })
        .collect();
    m.insert("figures".into(), Value::Array(figs));
    Value::Object(m)
}

/// The benchmark names of the method table(s) of `docs/benchmarks.md`: the
/// tables whose header has a `Measures` column; in them, every backticked
/// name containing a `/` in the `Benchmark` and `Baseline…` columns.
pub fn doc_benchmarks(markdown: &str) -> Vec<String> {
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut names: Vec<String> = Vec::new();
    let mut columns: Option<Vec<usize>> = None;
    for line in markdown.lines() {
        if !line.trim_start().starts_with('|') {
            columns = None;
            continue;
        }
        let row = cells(line);
        match &columns {
            None => {
                // A table's header row.
                columns = Some(if row.iter().any(|c| c.starts_with("Measures")) {
                    row.iter()
                        .enumerate()
                        .filter(|(_, c)| c.starts_with("Benchmark") || c.starts_with("Baseline"))
                        .map(|(i, _)| i)
                        .collect()
                } else {
                    Vec::new()
                });
            }
            Some(cols) => {
                for &i in cols {
                    let Some(cell) = row.get(i) else { continue };
                    for (k, tok) in cell.split('`').enumerate() {
                        if k % 2 == 1 && tok.contains('/') && !names.iter().any(|n| n == tok) {
                            names.push(tok.to_string());
                        }
                    }
                }
            }
        }
    }
    names
}

/// The check `cargo xtask bench` ends with: `results` follows the schema,
/// its figures read measurements it has, and every benchmark the docs name
/// (see [`doc_benchmarks`]) is among its measurements. Returns every problem.
pub fn check_results(results: &Value, doc_names: &[String]) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    let mut e = |s: String| errs.push(s);
    let is_str = |v: &Value| v.is_string();
    let is_num = |v: &Value| v.as_f64().is_some_and(f64::is_finite);
    if results["schema"].as_u64() != Some(SCHEMA) {
        e(format!("schema: expected {SCHEMA}"));
    }
    for k in ["commit", "date"] {
        if !is_str(&results[k]) {
            e(format!("{k}: expected a string"));
        }
    }
    if !matches!(results["mode"].as_str(), Some("quick" | "full")) {
        e("mode: expected \"quick\" or \"full\"".into());
    }
    if !results["dirty"].is_boolean() {
        e("dirty: expected a boolean".into());
    }
    if results["machine"]["cpus"].as_u64().is_none() || !is_str(&results["machine"]["model"]) {
        e("machine: expected {cpus: integer, model: string}".into());
    }
    if !results["sizes"].is_object() {
        e("sizes: expected an object".into());
    }
    let mut measured: Vec<&str> = Vec::new();
    match results["measurements"].as_array() {
        None => e("measurements: expected an array".into()),
        Some(ms) => {
            for (i, m) in ms.iter().enumerate() {
                let name = m["name"].as_str().unwrap_or("");
                let at = format!("measurements[{i}] ({name})");
                if name.is_empty() || !is_str(&m["id"]) || !is_str(&m["unit"]) {
                    e(format!("{at}: expected name, id and unit strings"));
                }
                if !["estimate", "low", "high", "std_dev"]
                    .iter()
                    .all(|k| is_num(&m[*k]))
                {
                    e(format!(
                        "{at}: expected numbers estimate, low, high, std_dev"
                    ));
                } else {
                    let (p, lo, hi) = (
                        m["estimate"].as_f64().unwrap_or(0.0),
                        m["low"].as_f64().unwrap_or(0.0),
                        m["high"].as_f64().unwrap_or(0.0),
                    );
                    if p < 0.0 || lo > p || p > hi {
                        e(format!("{at}: expected 0 <= low <= estimate <= high"));
                    }
                }
                if measured.contains(&name) {
                    e(format!("{at}: measured twice"));
                }
                measured.push(name);
            }
        }
    }
    match results["figures"].as_array() {
        None => e("figures: expected an array".into()),
        Some(fs) => {
            let mut ids: Vec<&str> = Vec::new();
            for (i, f) in fs.iter().enumerate() {
                let id = f["id"].as_str().unwrap_or("");
                let at = format!("figures[{i}] ({id})");
                if id.is_empty() || !is_str(&f["title"]) || !is_str(&f["unit"]) {
                    e(format!("{at}: expected id, title and unit strings"));
                }
                if ids.contains(&id) {
                    e(format!("{at}: duplicate id"));
                }
                ids.push(id);
                if !matches!(
                    f["metric"].as_str(),
                    Some("ratio" | "fraction" | "exponent" | "absolute")
                ) {
                    e(format!("{at}: unknown metric"));
                }
                if !matches!(f["better"].as_str(), Some("lower" | "higher")) {
                    e(format!("{at}: better: expected \"lower\" or \"higher\""));
                }
                if !is_num(&f["value"]) || !f["noise"].as_f64().is_some_and(|n| n >= 0.0) {
                    e(format!("{at}: expected a finite value and a noise >= 0"));
                }
                for k in ["ratio", "baseline_value"] {
                    if !(f[k].is_null() || is_num(&f[k])) {
                        e(format!("{at}: {k}: expected a number or null"));
                    }
                }
                if !(f["met"].is_null() || f["met"].is_boolean()) {
                    e(format!("{at}: met: expected a boolean or null"));
                }
                let goal = &f["goal"];
                if !(goal.is_null()
                    || (matches!(goal["op"].as_str(), Some("<=" | ">="))
                        && is_num(&goal["target"])))
                {
                    e(format!("{at}: goal: expected null or {{op, target}}"));
                }
                for k in ["bench", "baseline"] {
                    match f[k].as_array() {
                        Some(names) => {
                            for n in names {
                                if !n.as_str().is_some_and(|n| measured.contains(&n)) {
                                    e(format!("{at}: {k} {n} is not among the measurements"));
                                }
                            }
                        }
                        None => e(format!("{at}: {k}: expected an array of names")),
                    }
                }
                if f["bench"].as_array().is_some_and(Vec::is_empty) {
                    e(format!("{at}: bench: expected at least one name"));
                }
            }
        }
    }
    if doc_names.is_empty() {
        e("docs/benchmarks.md: no benchmark names found in its method table".into());
    }
    for n in doc_names {
        if !measured.contains(&n.as_str()) {
            e(format!(
                "{n}: named in docs/benchmarks.md but missing from the results"
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

// ---- the command ----

struct Options {
    quick: bool,
    record: bool,
    run: bool,
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("xtask bench: {msg}");
    crate::usage()
}

/// Runs `f` as a named step, printing what it does and how long it took.
fn step<T>(name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    eprintln!("\n==> {name}");
    let t = Instant::now();
    let r = f();
    let secs = t.elapsed().as_secs_f64();
    match &r {
        Ok(_) => eprintln!("==> {name}: ok in {secs:.1}s"),
        Err(e) => eprintln!("==> {name}: failed after {secs:.1}s\n{e}"),
    }
    r
}

fn run_cargo(name: &str, cmd: &mut std::process::Command) -> Result<(), String> {
    step(name, || {
        eprintln!("    {cmd:?}");
        let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{name}: {status}"))
        }
    })
}

pub fn bench(args: &[String]) -> ExitCode {
    let mut o = Options {
        quick: false,
        record: false,
        run: true,
    };
    for a in args {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--record" => o.record = true,
            "--no-run" => o.run = false,
            bad => return usage_error(&format!("unknown option {bad}")),
        }
    }
    if o.record && !o.run {
        return usage_error("--record needs a fresh run (not --no-run)");
    }
    let total = Instant::now();
    match bench_inner(&o) {
        Ok(()) => {
            eprintln!(
                "\nxtask bench: done in {:.1}s",
                total.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "\nxtask bench: failed after {:.1}s: {e}",
                total.elapsed().as_secs_f64()
            );
            ExitCode::FAILURE
        }
    }
}

fn bench_inner(o: &Options) -> Result<(), String> {
    let paths = Paths::new();
    let sizes = if o.quick { QUICK } else { FULL };
    let mode = if o.quick { "quick" } else { "full" };
    // Anything older than this is not from this run. Slack for coarse
    // file-system clocks.
    let started = SystemTime::now() - Duration::from_secs(2);
    if o.run {
        let mut build = crate::cargo();
        build
            .args(["bench", "-p", "benches", "-p", "backend-uio", "--no-run"])
            .current_dir(&paths.root);
        run_cargo("build the benchmarks (bench profile)", &mut build)?;
        for (package, target) in [
            ("benches", "devlink"),
            ("benches", "fpga"),
            ("benches", "sysfs"),
            ("backend-uio", "hwicap"),
            ("benches", "memory"),
        ] {
            let mut cmd = crate::cargo();
            cmd.args(["bench", "-p", package, "--bench", target])
                .current_dir(&paths.root);
            if o.quick {
                // Groups that set their own times keep them; the rest
                // (criterion's 3 s + 5 s default) get these.
                cmd.args(["--", "--warm-up-time", "1", "--measurement-time", "2"])
                    .env("BENCH_QUICK", "1");
            } else {
                cmd.env_remove("BENCH_QUICK");
            }
            run_cargo(&format!("run bench {target} ({mode})"), &mut cmd)?;
        }
    }
    let fresh = o.run.then_some(started);
    let measurements = step("read criterion's estimates and memory.json", || {
        collect(&paths, &sizes, fresh).map_err(|e| e.join("\n"))
    })?;
    let (run, values, results) = step("compute ratios and exponents", || {
        let get = |name: &str| measurements.iter().find(|m| m.name == name).cloned();
        let values = FIGURES
            .iter()
            .map(|f| compute(f, &sizes, &get))
            .collect::<Result<Vec<_>, _>>()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let run = Run {
            commit: git(&paths.root, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
            dirty: git(
                &paths.root,
                &["status", "--porcelain", "--untracked-files=no"],
            )
            .is_some_and(|s| !s.is_empty()),
            date: utc_date(now),
            mode: mode.into(),
            machine: Machine::this(),
            figures: values.iter().map(RunFigure::from).collect(),
        };
        let results = results_json(&run, &sizes, &measurements, &values);
        for (f, v) in FIGURES.iter().zip(&values) {
            eprintln!("    {}", summary_line(f, v));
        }
        Ok((run, values, results))
    })?;
    let results_path = paths.dashboard.join("results.json");
    step("write target/dashboard/results.json", || {
        std::fs::create_dir_all(&paths.dashboard).map_err(|e| e.to_string())?;
        let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        std::fs::write(&results_path, text + "\n")
            .map_err(|e| format!("{}: {e}", results_path.display()))
    })?;
    let mut history = match std::fs::read_to_string(&paths.history) {
        Ok(t) => parse_history(&t)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: {e}", paths.history.display())),
    };
    if o.record {
        step("record the run in docs/benchmarks/history.jsonl", || {
            use std::io::Write;
            if let Some(dir) = paths.history.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&paths.history)
                .map_err(|e| format!("{}: {e}", paths.history.display()))?;
            writeln!(f, "{}", run.history_line(&sizes, &measurements)).map_err(|e| e.to_string())
        })?;
    }
    history.push(run.clone());
    step("write target/dashboard/index.html and figures.md", || {
        let page = crate::dashboard::Page {
            run: &run,
            sizes: &sizes,
            measurements: &measurements,
            values: &values,
            history: &history,
            recorded: o.record,
            lab: crate::lab::figures::last_recorded(
                &paths.root.join("docs/benchmarks/lab-history.jsonl"),
            ),
        };
        for (name, text) in [
            ("index.html", crate::dashboard::render(&page)?),
            ("figures.md", crate::dashboard::markdown(&page)),
        ] {
            let path = paths.dashboard.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("    {}", path.display());
        }
        Ok(())
    })?;
    step("check results.json against docs/benchmarks.md", || {
        let docs = std::fs::read_to_string(&paths.docs)
            .map_err(|e| format!("{}: {e}", paths.docs.display()))?;
        let written: Value = serde_json::from_str(
            &std::fs::read_to_string(&results_path).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let names = doc_benchmarks(&docs);
        check_results(&written, &names).map_err(|e| e.join("\n"))?;
        eprintln!(
            "    {} figures, {} benchmarks named in the docs: all present",
            values.len(),
            names.len()
        );
        Ok(())
    })
}

/// Formats a value with a few significant digits.
pub fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else {
        // Three significant digits.
        let decimals = (2.0 - a.log10().floor()).clamp(0.0, 9.0) as usize;
        format!("{x:.decimals$}")
    }
}

/// A time in ns, in a readable unit.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{} s", fmt_num(ns / 1e9))
    } else if ns >= 1e6 {
        format!("{} ms", fmt_num(ns / 1e6))
    } else if ns >= 1e3 {
        format!("{} µs", fmt_num(ns / 1e3))
    } else {
        format!("{} ns", fmt_num(ns))
    }
}

pub fn summary_line(f: &Figure, v: &FigureValue) -> String {
    let mut s = format!(
        "{:<26} {} ± {} {}",
        f.id,
        fmt_num(v.value),
        fmt_num(v.noise),
        f.unit
    );
    if let Some(b) = v.baseline_value {
        let _ = write!(s, " (baseline {})", fmt_num(b));
    }
    let _ = write!(
        s,
        "  goal {}{}",
        f.goal.describe(),
        match v.met {
            Some(true) => ": met",
            Some(false) => ": NOT met",
            None => "",
        }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, estimate: f64, half_ci: f64) -> Measurement {
        Measurement {
            name: name.into(),
            id: QUICK.resolve(name),
            unit: "ns",
            estimate,
            low: estimate - half_ci,
            high: estimate + half_ci,
            std_dev: half_ci,
            statistic: "median",
        }
    }

    /// Synthetic measurements for every name the table reads.
    fn synthetic() -> Vec<Measurement> {
        let mut v: Vec<Measurement> = Vec::new();
        for f in FIGURES {
            for (i, n) in f.names().into_iter().enumerate() {
                if !v.iter().any(|x| x.name == n) {
                    v.push(m(&n, 100.0 * (i + 1) as f64, 1.0));
                }
            }
        }
        v
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * a.abs().max(1.0)
    }

    #[test]
    fn ratio_and_noise() {
        assert!(close(ratio(300.0, 100.0), 3.0));
        // 3 % and 4 % relative noise: 5 % of the ratio.
        assert!(close(ratio_noise(3.0, 0.03, 0.04), 0.15));
    }

    #[test]
    fn exponent_of_linear_quadratic_and_constant() {
        assert!(close(exponent(1.0, 10.0, 1e4, 1e5), 1.0));
        assert!(close(exponent(1.0, 100.0, 1e4, 1e5), 2.0));
        assert!(close(exponent(5.0, 5.0, 1e3, 1e4), 0.0));
        // 11.7× for 10× the size (the full run's forward chain).
        assert!((exponent(3.26, 38.2, 1e4, 1e5) - 1.069).abs() < 1e-3);
        // Noise: ln(1+r) ≈ r, so 3 % and 4 % over a decade.
        assert!(close(
            exponent_noise(0.03, 0.04, 1e4, 1e5),
            0.05 / 10f64.ln()
        ));
    }

    #[test]
    fn compute_each_metric() {
        let ms = vec![
            m("get/manager_get_put", 60.0, 3.0),
            m("get/arc_clone_drop", 12.0, 0.0),
            m("load/buffer_{mib}", 12.0, 0.0),
            m("load/memcpy_{mib}", 11.4, 0.0),
            m("link_add/forward_chain/{n1}", 1.0e6, 0.0),
            m("link_add/forward_chain/{n2}", 1.2e7, 0.0),
            m("link_add/forward_chain_vec_push/{n1}", 1.0e3, 0.0),
            m("link_add/forward_chain_vec_push/{n2}", 1.0e4, 0.0),
            m("reprogram/100_dependents", 140_000.0, 2000.0),
        ];
        let get = |n: &str| ms.iter().find(|x| x.name == n).cloned();
        let v = compute(figure("get_vs_arc_clone").unwrap(), &QUICK, &get).unwrap();
        assert!(close(v.value, 5.0));
        assert!(close(v.noise, 5.0 * 0.05));
        assert_eq!(v.met, Some(false));
        // Throughput ratio: baseline time over time.
        let v = compute(figure("load_buffer_vs_memcpy").unwrap(), &QUICK, &get).unwrap();
        assert!(close(v.value, 0.95));
        assert_eq!(v.met, Some(true));
        let v = compute(figure("forward_chain_scaling").unwrap(), &QUICK, &get).unwrap();
        assert!(close(v.value, 12f64.ln() / 10f64.ln()));
        assert!(close(v.baseline_value.unwrap(), 1.0));
        assert_eq!(v.ratio, None);
        assert_eq!(v.met, Some(true));
        let v = compute(figure("reprogram_per_dependent").unwrap(), &QUICK, &get).unwrap();
        assert!(close(v.value, 1400.0));
        assert!(close(v.noise, 20.0));
        assert_eq!(v.met, None);
        // A missing measurement is an error naming it.
        let e = compute(figure("wait_removal_idle").unwrap(), &QUICK, &get).unwrap_err();
        assert!(e.contains("wait_removal/idle"), "{e}");
    }

    #[test]
    fn regression_marking() {
        // Lower is better: 10 -> 12 with noise 1 each (combined 1.41): worse.
        assert!(regressed((10.0, 1.0), (12.0, 1.0), Better::Lower));
        // 10 -> 11: within the noise.
        assert!(!regressed((10.0, 1.0), (11.0, 1.0), Better::Lower));
        // Improvements are never marked.
        assert!(!regressed((10.0, 0.0), (5.0, 0.0), Better::Lower));
        // Higher is better (fractions of memcpy).
        assert!(regressed((1.0, 0.01), (0.9, 0.01), Better::Higher));
        assert!(!regressed((0.9, 0.01), (1.0, 0.01), Better::Higher));
        // Exact measurements (no noise): any increase counts, equality not.
        assert!(regressed((61.6, 0.0), (61.7, 0.0), Better::Lower));
        assert!(!regressed((61.6, 0.0), (61.6, 0.0), Better::Lower));
    }

    fn run(mode: &str, figs: &[(&str, f64, f64)]) -> Run {
        Run {
            commit: "c".into(),
            dirty: false,
            date: "d".into(),
            mode: mode.into(),
            machine: Machine {
                cpus: 2,
                model: "m".into(),
            },
            figures: figs
                .iter()
                .map(|&(id, value, noise)| RunFigure {
                    id: id.into(),
                    value,
                    noise,
                    met: None,
                })
                .collect(),
        }
    }

    #[test]
    fn regressions_across_runs_compare_same_mode_only() {
        let runs = vec![
            run("quick", &[("get_vs_arc_clone", 5.0, 0.1)]),
            run("full", &[("get_vs_arc_clone", 9.0, 0.1)]),
            run("quick", &[("get_vs_arc_clone", 6.0, 0.1)]),
            run("quick", &[("load_buffer_vs_memcpy", 0.9, 0.01)]),
            run(
                "quick",
                &[
                    ("get_vs_arc_clone", 6.05, 0.1),
                    ("load_buffer_vs_memcpy", 0.8, 0.01),
                ],
            ),
        ];
        let r = regressions(&runs);
        assert!(r[0].is_empty());
        assert!(r[1].is_empty(), "no earlier full run");
        assert_eq!(
            r[2],
            vec!["get_vs_arc_clone"],
            "5 -> 6, the full run skipped"
        );
        assert!(r[3].is_empty());
        // 6 -> 6.05 is noise; 0.9 -> 0.8 of memcpy is worse.
        assert_eq!(r[4], vec!["load_buffer_vs_memcpy"]);
    }

    #[test]
    fn history_line_round_trips() {
        let r = run("quick", &[("get_vs_arc_clone", 5.5, 0.25)]);
        let line = r.history_line(&QUICK, &[m("get/arc_clone_drop", 12.0, 0.5)]);
        assert!(!line.contains('\n'));
        let back = parse_history(&format!("{line}\n\n{line}\n")).unwrap();
        assert_eq!(back, vec![r.clone(), r]);
        assert!(parse_history("{\"commit\": 1}\n")
            .unwrap_err()
            .starts_with("history line 1"));
    }

    #[test]
    fn parses_criterion_estimates() {
        let text = include_str!("../testdata/estimates.json");
        let (p, lo, hi, sd, stat) = parse_estimates(text).unwrap();
        assert_eq!(stat, "median");
        assert!(close(p, 3063042.825));
        assert!(lo < p && p < hi && sd > 0.0);
        let mean_only = r#"{"mean":{"point_estimate":5.0,
            "confidence_interval":{"lower_bound":4.0,"upper_bound":6.5}}}"#;
        assert_eq!(
            parse_estimates(mean_only).unwrap(),
            (5.0, 4.0, 6.5, 0.0, "mean")
        );
        assert!(parse_estimates("{}").is_err());
    }

    #[test]
    fn machine_from_cpuinfo() {
        let m = Machine::from_cpuinfo(
            "processor\t: 0\nmodel name\t: Test CPU @ 2GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 2GHz\n",
        );
        assert_eq!(
            m,
            Machine {
                cpus: 2,
                model: "Test CPU @ 2GHz".into()
            }
        );
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn sizes_resolve_to_criterion_ids() {
        assert_eq!(
            FULL.resolve("link_add/random_dag/{dag}"),
            "link_add/random_dag/100000x1000000"
        );
        assert_eq!(
            QUICK.resolve("load/scatter_4KiB_{mib}"),
            "load/scatter_4KiB_16MiB"
        );
        assert_eq!(
            figure("reverse_chain_scaling").unwrap().names(),
            vec![
                "link_add/reverse_chain/{n1}",
                "link_add/reverse_chain/{n2}",
                "link_add/reverse_chain_vec_push/{n1}",
                "link_add/reverse_chain_vec_push/{n2}",
            ]
        );
    }

    const DOC: &str = "\
# B

| Benchmark | Measures | Baseline in the same group | Goal |
|---|---|---|---|
| `get/manager_get_put` | a `get` | `get/arc_clone_drop` | ≤ 2× |
| `memory/bytes_per_link` | bytes (`Vec<(u32,u32)>`) | `memory/baseline_vec_pair` | ≤ 128 B |

| Benchmark | Time | Baseline |
|---|---|---|
| `not/a_method_row` | 1 ms | `nor/this` |
";

    #[test]
    fn doc_names_come_from_method_tables_only() {
        assert_eq!(
            doc_benchmarks(DOC),
            vec![
                "get/manager_get_put",
                "get/arc_clone_drop",
                "memory/bytes_per_link",
                "memory/baseline_vec_pair"
            ]
        );
    }

    fn fixture() -> Value {
        serde_json::from_str(include_str!("../testdata/results.json")).unwrap()
    }

    #[test]
    fn fixture_passes_the_check() {
        check_results(&fixture(), &doc_benchmarks(DOC)).unwrap();
    }

    #[test]
    fn check_fails_on_a_benchmark_the_docs_name_but_results_lack() {
        let mut r = fixture();
        r["measurements"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["name"] != "memory/baseline_vec_pair");
        let errs = check_results(&r, &doc_benchmarks(DOC)).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.starts_with("memory/baseline_vec_pair: named in docs/benchmarks.md")),
            "{errs:?}"
        );
        // The figure that reads it is flagged too.
        assert!(errs
            .iter()
            .any(|e| e.contains("baseline \"memory/baseline_vec_pair\"")));
    }

    #[test]
    fn check_fails_on_schema_violations() {
        let mut r = fixture();
        r["figures"][0]["value"] = json!("fast");
        r["figures"][1]["goal"] = json!({"op": "<", "target": 1});
        r["measurements"][0]["low"] = json!(1e12);
        r["mode"] = json!("slow");
        r.as_object_mut().unwrap().remove("commit");
        let errs = check_results(&r, &doc_benchmarks(DOC)).unwrap_err();
        for want in [
            "commit: expected a string",
            "mode: expected",
            "figures[0] (get_vs_arc_clone): expected a finite value",
            "figures[1] (bytes_per_link): goal",
            "measurements[0] (get/manager_get_put): expected 0 <= low",
        ] {
            assert!(errs.iter().any(|e| e.starts_with(want)), "{want}: {errs:?}");
        }
        assert!(check_results(&json!([]), &[]).is_err());
        // No names found in the docs is itself a failure.
        assert!(check_results(&fixture(), &[]).is_err());
    }

    #[test]
    fn built_results_pass_the_check_against_the_real_docs() {
        let docs = include_str!("../../docs/benchmarks.md");
        let ms = synthetic();
        let get = |n: &str| ms.iter().find(|x| x.name == n).cloned();
        let values: Vec<_> = FIGURES
            .iter()
            .map(|f| compute(f, &QUICK, &get).unwrap())
            .collect();
        let r = Run {
            figures: values.iter().map(RunFigure::from).collect(),
            ..run("quick", &[])
        };
        let results = results_json(&r, &QUICK, &ms, &values);
        check_results(&results, &doc_benchmarks(docs)).unwrap();
        // And a results.json parses back as a run.
        assert_eq!(Run::from_json(&results).unwrap(), r);
    }

    #[test]
    fn docs_and_table_name_the_same_benchmarks() {
        let docs = doc_benchmarks(include_str!("../../docs/benchmarks.md"));
        let table: Vec<String> = FIGURES.iter().flat_map(Figure::names).collect();
        for n in &docs {
            assert!(table.contains(n), "docs name {n}, which no figure reads");
        }
        for n in &table {
            assert!(
                docs.contains(n),
                "figure reads {n}, which the docs do not name"
            );
        }
    }

    #[test]
    fn figure_ids_are_unique() {
        for (i, f) in FIGURES.iter().enumerate() {
            assert!(FIGURES[..i].iter().all(|g| g.id != f.id), "{}", f.id);
        }
    }
}
