//! `target/dashboard/index.html`: one self-contained page (inline SVG drawn
//! with `plotters`, inline CSS, no script, nothing fetched at view time).
//!
//! - the run: mode, commit, date, machine, sizes;
//! - every figure of [`FIGURES`] with its benchmark and baseline times, its
//!   value and noise, its goal, and its change since the previous recorded
//!   run of the same mode (marked when worse by more than the noise);
//! - link_add's time per link against the number of devices (log-log), the
//!   picture behind the scaling exponents;
//! - one chart per figure across the recorded runs of the same mode (and
//!   this run if it was not recorded), error bars at ± noise, the goal as a
//!   line, runs that got worse by more than their noise in red.

use crate::bench::{
    fmt_ns, fmt_num, regressions, Figure, FigureValue, Measurement, Run, Sizes, FIGURES,
};
use plotters::prelude::*;
use std::fmt::Write as _;

pub struct Page<'a> {
    pub run: &'a Run,
    pub sizes: &'a Sizes,
    pub measurements: &'a [Measurement],
    pub values: &'a [FigureValue],
    /// Recorded runs, oldest first, then this run (last).
    pub history: &'a [Run],
    /// Whether this run was appended to the history file.
    pub recorded: bool,
    /// The last recorded real-kernel lab run
    /// (`docs/benchmarks/lab-history.jsonl`), if any.
    pub lab: Option<serde_json::Value>,
}

/// The lab's figures as rows: `(id, value with unit, goal and verdict)`,
/// and the run's line (date, kernel, commit).
fn lab_rows(lab: &serde_json::Value) -> (String, Vec<(String, String, String)>) {
    let head = format!(
        "Last recorded real-kernel lab run: {} on Linux {} (commit {})",
        lab["date"].as_str().unwrap_or("?"),
        lab["kernel"].as_str().unwrap_or("?"),
        short(lab["commit"].as_str().unwrap_or("?")),
    );
    let rows = lab["figures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let value = format!(
                "{} {}",
                f["value"].as_f64().map_or("?".into(), fmt_num),
                f["unit"].as_str().unwrap_or("")
            );
            let goal = match (f["goal"].as_str(), f["met"].as_bool()) {
                (Some(g), Some(true)) => format!("{g}: met"),
                (Some(g), Some(false)) => format!("{g}: not met"),
                _ => "report".into(),
            };
            (f["id"].as_str().unwrap_or("?").to_string(), value, goal)
        })
        .collect();
    (head, rows)
}

/// HTML-escapes `s`.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1200px}\
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;\
text-align:left;vertical-align:top}th{background:#f0f0f0}td.num{text-align:right;\
white-space:nowrap}.met{color:#080}.miss{color:#b00;font-weight:bold}.worse{color:#b00}\
.small{color:#666;font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px}\
.chart{border:1px solid #ddd;padding:4px}.chart h3{font-size:13px;margin:2px 4px}";

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

fn run_label(r: &Run) -> String {
    format!(
        "{}{}",
        short(r.commit.as_str()),
        if r.dirty { "+" } else { "" }
    )
}

fn measured<'a>(p: &'a Page, name: &str) -> Option<&'a Measurement> {
    p.measurements.iter().find(|m| m.name == name)
}

fn show(m: &Measurement) -> String {
    let v = if m.unit == "ns" {
        fmt_ns(m.estimate)
    } else {
        format!("{} {}", fmt_num(m.estimate), m.unit)
    };
    format!("<code>{}</code>: {v}", esc(&m.id))
}

/// The page.
pub fn render(p: &Page) -> Result<String, String> {
    let mut h = String::new();
    let r = p.run;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Benchmarks {}</title><style>{CSS}</style></head><body>\n\
         <h1>Benchmarks</h1>\n<p>Mode <b>{}</b> · commit <code>{}</code>{} · {} · \
         {} CPUs, {} · sizes n1 = {}, n2 = {}, DAG {}, image {}{}</p>\n\
         <p class=\"small\">Every figure is a ratio to a baseline measured in the same run \
         (or a scaling exponent between two sizes, or an absolute figure with its baseline \
         beside it). Noise: half the 95 % confidence interval of criterion's median, carried \
         through each formula. A change is marked when a figure moved in its bad direction \
         by more than both runs' noise combined.</p>\n",
        esc(short(&r.commit)),
        esc(&r.mode),
        esc(&r.commit),
        if r.dirty {
            " (uncommitted changes)"
        } else {
            ""
        },
        esc(&r.date),
        r.machine.cpus,
        esc(&r.machine.model),
        p.sizes.n1,
        p.sizes.n2,
        p.sizes.dag,
        p.sizes.mib,
        if p.recorded {
            " · recorded in <code>docs/benchmarks/history.jsonl</code>"
        } else {
            " · not recorded"
        },
    );

    // Same-mode runs, oldest first; this run is the last.
    let runs: Vec<Run> = p
        .history
        .iter()
        .filter(|x| x.mode == r.mode)
        .cloned()
        .collect();
    let other_modes = p.history.len() - runs.len();
    let worse = regressions(&runs);
    let now_worse = worse.last().cloned().unwrap_or_default();
    let previous = runs.len().checked_sub(2).map(|i| &runs[i]);

    h.push_str(
        "<h2>Figures</h2>\n<table><tr><th>Figure</th><th>Benchmark</th><th>Baseline</th>\
         <th>Value ± noise</th><th>Baseline's own</th><th>Goal</th><th>Since previous run</th></tr>\n",
    );
    for (f, v) in FIGURES.iter().zip(p.values) {
        let cell = |names: Vec<String>| -> String {
            let parts: Vec<String> = names
                .iter()
                .filter_map(|n| measured(p, n))
                .map(show)
                .collect();
            if parts.is_empty() {
                "—".into()
            } else {
                parts.join("<br>")
            }
        };
        let goal = match v.met {
            Some(true) => format!(
                "<span class=\"met\">{}: met</span>",
                esc(&f.goal.describe())
            ),
            Some(false) => format!(
                "<span class=\"miss\">{}: not met</span>",
                esc(&f.goal.describe())
            ),
            None => "report".into(),
        };
        let since = match previous.and_then(|x| x.figure(f.id)) {
            None => "—".into(),
            Some(prev) => {
                let d = v.value - prev.value;
                let s = format!(
                    "{}{} (was {})",
                    if d >= 0.0 { "+" } else { "" },
                    fmt_num(d),
                    fmt_num(prev.value)
                );
                if now_worse.iter().any(|id| id == f.id) {
                    format!("<span class=\"worse\">{s}: worse beyond noise</span>")
                } else {
                    s
                }
            }
        };
        let _ = writeln!(
            h,
            "<tr><td>{}<br><span class=\"small\">{}</span></td><td>{}</td><td>{}</td>\
             <td class=\"num\"><b>{}</b> ± {} {}</td><td class=\"num\">{}</td><td>{goal}</td>\
             <td>{since}</td></tr>",
            esc(f.title),
            esc(f.id),
            cell(f.bench_names()),
            cell(f.baseline_names()),
            fmt_num(v.value),
            fmt_num(v.noise),
            esc(f.unit),
            v.baseline_value.map_or("—".into(), fmt_num),
        );
    }
    h.push_str("</table>\n");

    h.push_str("<h2>link_add: time per link against size</h2>\n<div class=\"chart\">");
    h.push_str(&scaling_chart(p)?);
    h.push_str("</div>\n");

    let _ = write!(
        h,
        "<h2>History ({} run{} in {} mode{})</h2>\n<div class=\"charts\">\n",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        esc(&r.mode),
        if other_modes > 0 {
            format!("; {other_modes} run(s) of the other mode not shown")
        } else {
            String::new()
        }
    );
    for f in FIGURES {
        let points: Vec<Point> = runs
            .iter()
            .zip(&worse)
            .enumerate()
            .filter_map(|(i, (run, w))| {
                let fig = run.figure(f.id)?;
                let last = i + 1 == runs.len();
                Some(Point {
                    label: if last && !p.recorded {
                        "this run".into()
                    } else {
                        run_label(run)
                    },
                    value: fig.value,
                    noise: fig.noise,
                    worse: w.iter().any(|id| id == f.id),
                })
            })
            .collect();
        let _ = writeln!(
            h,
            "<div class=\"chart\"><h3>{}</h3>{}</div>",
            esc(f.title),
            history_chart(f, &points)?
        );
    }
    h.push_str("</div>\n<h2>Runs</h2>\n<table><tr><th>#</th><th>Commit</th><th>Date</th><th>Mode</th><th>Machine</th><th>Worse beyond noise</th></tr>\n");
    let all_worse = regressions(p.history);
    for (i, (x, w)) in p.history.iter().zip(&all_worse).enumerate() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{} CPUs, {}</td><td>{}</td></tr>",
            i + 1,
            esc(&run_label(x)),
            esc(&x.date),
            esc(&x.mode),
            x.machine.cpus,
            esc(&x.machine.model),
            if w.is_empty() {
                "—".to_string()
            } else {
                format!("<span class=\"worse\">{}</span>", esc(&w.join(", ")))
            }
        );
    }
    h.push_str("</table>\n");
    match &p.lab {
        Some(lab) => {
            let (head, rows) = lab_rows(lab);
            let _ = write!(
                h,
                "<h2>On a real kernel</h2>\n<p>{}. Measured by <code>cargo xtask lab</code> \
                 (its <code>downtime</code> section), recorded with <code>--record</code>; each \
                 figure has its baseline in the same guest run.</p>\n<table>\n\
                 <tr><th>Figure</th><th>Value</th><th>Goal</th></tr>\n",
                esc(&head)
            );
            for (id, v, g) in rows {
                let _ = writeln!(
                    h,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    esc(&id),
                    esc(&v),
                    esc(&g)
                );
            }
            h.push_str("</table>\n");
        }
        None => h.push_str(
            "<h2>On a real kernel</h2>\n<p>No lab run is recorded \
             (<code>cargo xtask lab --record</code>).</p>\n",
        ),
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The figures as a Markdown table (`target/dashboard/figures.md`), ready
/// for the "latest recorded figures" of `docs/benchmarks.md`.
pub fn markdown(p: &Page) -> String {
    let r = p.run;
    let mut s = format!(
        "Run of {} on commit `{}`{}, {} mode, {} CPUs ({}); sizes n1 = {}, n2 = {}, \
         DAG {}, image {}. Median of criterion's estimate; ± is the noise.\n\n\
         | Figure | Benchmark | Baseline | Value | Goal |\n|---|---|---|---|---|\n",
        r.date,
        short(&r.commit),
        if r.dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        r.mode,
        r.machine.cpus,
        r.machine.model,
        p.sizes.n1,
        p.sizes.n2,
        p.sizes.dag,
        p.sizes.mib,
    );
    for (f, v) in FIGURES.iter().zip(p.values) {
        let cell = |names: Vec<String>| -> String {
            let parts: Vec<String> = names
                .iter()
                .filter_map(|n| measured(p, n))
                .map(|m| {
                    let t = if m.unit == "ns" {
                        fmt_ns(m.estimate)
                    } else {
                        format!("{} {}", fmt_num(m.estimate), m.unit)
                    };
                    format!("`{}` {t}", m.id)
                })
                .collect();
            if parts.is_empty() {
                "—".into()
            } else {
                parts.join(", ")
            }
        };
        let mut value = format!("**{}** ± {} {}", fmt_num(v.value), fmt_num(v.noise), f.unit);
        if let Some(b) = v.baseline_value {
            let _ = write!(value, " (baseline {})", fmt_num(b));
        }
        let goal = match v.met {
            Some(true) => format!("{}: met", f.goal.describe()),
            Some(false) => format!("{}: **not met**", f.goal.describe()),
            None => "report".into(),
        };
        let _ = writeln!(
            s,
            "| {} (`{}`) | {} | {} | {value} | {goal} |",
            f.title,
            f.id,
            cell(f.bench_names()),
            cell(f.baseline_names()),
        );
    }
    if let Some(lab) = &p.lab {
        let (head, rows) = lab_rows(lab);
        let _ = write!(s, "\n{head}:\n\n| Figure | Value | Goal |\n|---|---|---|\n");
        for (id, v, g) in rows {
            let _ = writeln!(s, "| `{id}` | {v} | {g} |");
        }
    }
    s
}

/// One run's value of a figure, for its history chart.
pub struct Point {
    pub label: String,
    pub value: f64,
    pub noise: f64,
    pub worse: bool,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("drawing a chart: {e}")
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.15
    } else {
        (hi.abs() * 0.1).max(0.1)
    };
    (lo - pad, hi + pad)
}

const INK: RGBColor = RGBColor(40, 90, 170);
const BAD: RGBColor = RGBColor(200, 20, 20);
const GOAL: RGBColor = RGBColor(40, 150, 60);

/// A figure across runs: value ± noise, the goal as a line, worse runs red.
pub fn history_chart(f: &Figure, points: &[Point]) -> Result<String, String> {
    let mut svg = String::new();
    if points.is_empty() {
        return Ok("<p class=\"small\">no runs</p>".into());
    }
    let target = match f.goal {
        crate::bench::Goal::AtMost(x) | crate::bench::Goal::AtLeast(x) => Some(x),
        crate::bench::Goal::Report => None,
    };
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in points {
        lo = lo.min(p.value - p.noise);
        hi = hi.max(p.value + p.noise);
    }
    if let Some(t) = target {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    let (lo, hi) = padded(lo, hi);
    let k = points.len();
    let xmax = k as f64 - 0.5;
    {
        let root = SVGBackend::with_string(&mut svg, (380, 220)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.5f64..xmax, lo..hi)
            .map_err(err)?;
        let label = |x: &f64| -> String {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < k {
                points[i as usize].label.clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(k.clamp(2, 6) * 2 + 1)
            .x_label_formatter(&label)
            .y_labels(5)
            .y_label_formatter(&|y| fmt_num(*y))
            .y_desc(f.unit)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        if let Some(t) = target {
            chart
                .draw_series(LineSeries::new(
                    vec![(-0.5, t), (xmax, t)],
                    GOAL.stroke_width(1),
                ))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().enumerate().map(|(i, p)| (i as f64, p.value)),
                INK.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(points.iter().enumerate().map(|(i, p)| {
                PathElement::new(
                    vec![(i as f64, p.value - p.noise), (i as f64, p.value + p.noise)],
                    INK.mix(0.5).stroke_width(1),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(points.iter().enumerate().map(|(i, p)| {
                let c = if p.worse { BAD } else { INK };
                Circle::new((i as f64, p.value), if p.worse { 5 } else { 3 }, c.filled())
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// link_add's chains and their baselines: time per link against devices.
fn scaling_chart(p: &Page) -> Result<String, String> {
    let series: [(&str, &str, RGBColor); 6] = [
        ("link_add/forward_chain", "forward chain", INK),
        (
            "link_add/reverse_chain",
            "reverse chain",
            RGBColor(120, 40, 160),
        ),
        (
            "link_add/forward_chain_vec_push",
            "forward, Vec push",
            RGBColor(120, 120, 120),
        ),
        (
            "link_add/reverse_chain_vec_push",
            "reverse, Vec push",
            RGBColor(170, 170, 170),
        ),
        (
            "link_add/forward_chain_kernel_method",
            "forward, kernel method",
            RGBColor(230, 140, 20),
        ),
        (
            "link_add/reverse_chain_kernel_method",
            "reverse, kernel method",
            BAD,
        ),
    ];
    let sizes = [("{n1}", p.sizes.n1), ("{n2}", p.sizes.n2)];
    type Series<'s> = (&'s str, RGBColor, Vec<(f64, f64)>);
    let data: Vec<Series> = series
        .iter()
        .map(|&(name, label, color)| {
            let pts = sizes
                .iter()
                .filter_map(|&(ph, n)| {
                    let m = measured(p, &format!("{name}/{ph}"))?;
                    Some((n as f64, m.estimate / (n as f64 - 1.0)))
                })
                .collect();
            (label, color, pts)
        })
        .filter(|(_, _, pts): &(_, _, Vec<_>)| !pts.is_empty())
        .collect();
    let ys = data.iter().flat_map(|(_, _, v)| v.iter().map(|&(_, y)| y));
    let (ylo, yhi) = ys.fold((f64::INFINITY, 0f64), |(a, b), y| (a.min(y), b.max(y)));
    if data.is_empty() || ylo <= 0.0 {
        return Ok("<p class=\"small\">no link_add measurements</p>".into());
    }
    let (n1, n2) = (p.sizes.n1 as f64, p.sizes.n2 as f64);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (n1 / 3.0..n2 * 3.0).log_scale(),
                (ylo / 3.0..yhi * 3.0).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("devices in the chain (n)")
            .y_desc("ns per link")
            .light_line_style(WHITE)
            .x_labels(12)
            .x_label_formatter(&|x| {
                // Only the sizes measured and the powers of ten.
                let decade = (x.log10() - x.log10().round()).abs() < 1e-9;
                if decade || *x == n1 || *x == n2 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| fmt_num(*y))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        for (label, color, pts) in &data {
            let c = *color;
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(err)?
                .label(*label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&xy| Circle::new(xy, 4, c.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{figure, Machine, RunFigure, QUICK};

    #[test]
    fn history_chart_is_inline_svg_marking_worse_runs() {
        let f = figure("get_vs_arc_clone").unwrap();
        let pts = vec![
            Point {
                label: "aaaa".into(),
                value: 5.0,
                noise: 0.1,
                worse: false,
            },
            Point {
                label: "bbbb".into(),
                value: 6.0,
                noise: 0.1,
                worse: true,
            },
        ];
        let svg = history_chart(f, &pts).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
        assert!(svg.contains("aaaa") && svg.contains("bbbb"));
        // One red, larger point: the run that got worse.
        let circles: Vec<&str> = svg.split("<circle").skip(1).collect();
        assert_eq!(circles.len(), 2);
        assert!(circles[1].contains("fill=\"#C81414\"") && circles[1].contains("r=\"5\""));
        assert!(!circles[0].contains("#C81414"));
    }

    #[test]
    fn page_is_self_contained() {
        let run = Run {
            commit: "0123456789abcdef".into(),
            dirty: true,
            date: "2026-11-22T10:00:00Z".into(),
            mode: "quick".into(),
            machine: Machine {
                cpus: 2,
                model: "<cpu>".into(),
            },
            figures: vec![RunFigure {
                id: "get_vs_arc_clone".into(),
                value: 5.0,
                noise: 0.2,
                met: Some(false),
            }],
        };
        let values: Vec<FigureValue> = FIGURES
            .iter()
            .map(|f| FigureValue {
                id: f.id.into(),
                value: 1.0,
                noise: 0.1,
                ratio: Some(1.0),
                baseline_value: None,
                met: f.goal.met(1.0),
            })
            .collect();
        let ms = vec![
            Measurement {
                name: "link_add/forward_chain/{n1}".into(),
                id: "link_add/forward_chain/1000".into(),
                unit: "ns",
                estimate: 3.0e5,
                low: 2.9e5,
                high: 3.1e5,
                std_dev: 1e4,
                statistic: "median",
            },
            Measurement {
                name: "link_add/forward_chain/{n2}".into(),
                id: "link_add/forward_chain/10000".into(),
                unit: "ns",
                estimate: 3.3e6,
                low: 3.2e6,
                high: 3.4e6,
                std_dev: 1e5,
                statistic: "median",
            },
        ];
        let history = vec![run.clone(), run.clone()];
        let page = Page {
            run: &run,
            sizes: &QUICK,
            measurements: &ms,
            values: &values,
            history: &history,
            recorded: false,
            lab: None,
        };
        let html = render(&page).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("&lt;cpu&gt;"));
        assert!(html.contains("this run"));
        for f in FIGURES {
            assert!(html.contains(&esc(f.title)), "{}", f.id);
        }
        // Nothing to fetch: no scripts, stylesheets or images by address.
        for bad in ["<script", "<link", "src=", "href="] {
            assert!(!html.contains(bad), "{bad}");
        }
        let md = markdown(&page);
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| ")).count(),
            FIGURES.len() + 1
        );
        assert!(md.contains("`link_add/forward_chain/1000` 300 µs"), "{md}");
        assert!(html.contains("No lab run is recorded"));

        // The last recorded lab run, on the page and in the table.
        let lab = serde_json::json!({
            "date": "2026-12-01T16:59:02Z", "commit": "da69c92db47f", "kernel": "6.12.117",
            "figures": [{"id": "downtime/ratio", "value": 2.48, "unit": "x",
                         "goal": "<= 1.2x the plain script", "met": false}],
        });
        let page = Page {
            lab: Some(lab),
            ..page
        };
        let html = render(&page).unwrap();
        assert!(html.contains("on Linux 6.12.117"), "{html}");
        assert!(html.contains("<code>downtime/ratio</code></td><td>2.48 x</td><td>&lt;= 1.2x the plain script: not met"));
        let md = markdown(&page);
        assert!(
            md.contains("| `downtime/ratio` | 2.48 x | <= 1.2x the plain script: not met |"),
            "{md}"
        );
    }
}
