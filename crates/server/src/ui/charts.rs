//! Pure geometry for the server-rendered SVG charts.
//!
//! Everything here produces plain data — coordinates in a fixed viewBox and
//! label strings — which the askama templates turn into `<svg>` markup (and
//! escape). Nothing panics: non-finite values are skipped, empty input gives
//! `empty: true`, degenerate ranges are padded and huge ranges are scaled in
//! an overflow-safe way.
//!
//! The pages lay their charts out on [`Frame::plot`]: the plot alone, 1000 × 1000 units,
//! stretched to its box by CSS. The labels are not drawn in that box (they would scale
//! with it: tiny in a small chart, huge in a wide one) but beside it, at the percentage of
//! their position (`Tick::pct`), in text of a fixed CSS size. Y ticks are "nice" numbers
//! written with as many decimals as their step needs, so no two read alike; every other x
//! tick is `minor`, left out where the chart is narrow, so labels never overlap.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc};

/// At most this many date ticks are put on a time axis.
const MAX_DATE_TICKS: usize = 6;
/// Height of one timeline row (bar plus spacing).
const ROW_HEIGHT: f64 = 28.0;
/// Height of a timeline bar inside its row.
const BAR_HEIGHT: f64 = 20.0;
/// Narrowest visible timeline segment.
const MIN_SEGMENT_WIDTH: f64 = 2.0;

/// The viewBox size and the margins around the plot area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Default for Frame {
    /// 640×240 with room for y labels on the left and x labels below.
    fn default() -> Self {
        Frame {
            width: 640.0,
            height: 240.0,
            left: 56.0,
            right: 12.0,
            top: 12.0,
            bottom: 28.0,
        }
    }
}

impl Frame {
    /// The plot alone, 1000 × 1000 units with no margins: positions are thousandths of the
    /// plot's width and height, whatever size the page gives it.
    pub fn plot() -> Self {
        Frame {
            width: 1000.0,
            height: 1000.0,
            left: 0.0,
            right: 0.0,
            top: 0.0,
            bottom: 0.0,
        }
    }

    /// A 320×160 frame with tighter margins, for small multiples.
    pub fn small() -> Self {
        Frame {
            width: 320.0,
            height: 160.0,
            left: 40.0,
            right: 8.0,
            top: 8.0,
            bottom: 24.0,
        }
    }

    /// Width of the plot area (never negative).
    pub fn plot_width(&self) -> f64 {
        (self.width - self.left - self.right).max(0.0)
    }

    /// Height of the plot area (never negative).
    pub fn plot_height(&self) -> f64 {
        (self.height - self.top - self.bottom).max(0.0)
    }

    /// The SVG `viewBox` attribute value, e.g. `"0 0 640 240"`.
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", self.width, self.height)
    }
}

/// An axis tick: its position along the axis (x or y in viewBox units), its label, and
/// whether it is one of the ticks left out where the chart is narrow.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tick {
    pub pos: f64,
    pub label: String,
    pub minor: bool,
}

fn tick(pos: f64, label: String) -> Tick {
    Tick {
        pos,
        label,
        minor: false,
    }
}

impl Tick {
    /// The position as a percentage of `extent` (the frame's width or height), for a label
    /// placed beside a plot drawn on [`Frame::plot`]: `"37.5%"`.
    pub fn pct(&self, extent: impl std::borrow::Borrow<f64>) -> String {
        let extent = *extent.borrow();
        let share = if extent > 0.0 {
            self.pos / extent * 100.0
        } else {
            0.0
        };
        format!("{}%", fmt1(share.clamp(0.0, 100.0)))
    }
}

impl Tick {
    /// How a label at this tick is anchored so that it stays inside the chart: at its start
    /// near the left edge, at its end near the right edge, else at its middle.
    pub fn anchor(&self, extent: impl std::borrow::Borrow<f64>) -> &'static str {
        let extent = *extent.borrow();
        let share = if extent > 0.0 { self.pos / extent } else { 0.5 };
        if share < 0.08 {
            "start"
        } else if share > 0.92 {
            "end"
        } else {
            "middle"
        }
    }
}

/// Marks every other tick minor (the second, the fourth, …).
fn alternate(ticks: &mut [Tick]) {
    for (i, t) in ticks.iter_mut().enumerate() {
        t.minor = i % 2 == 1;
    }
}

/// The decimals that write every tick of `ticks` (evenly spaced) differently: none for a
/// step of 1 or more, one for 0.1–0.5, two for 0.01–0.05, …
pub fn tick_decimals(ticks: &[f64]) -> usize {
    let step = match ticks {
        [a, b, ..] => (b - a).abs(),
        _ => return 0,
    };
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        return 0;
    }
    let decimals = (-step.log10() - 1e-9).ceil();
    if decimals.is_finite() {
        (decimals as usize).min(6)
    } else {
        0
    }
}

/// Formats with one decimal, never `"-0.0"`; non-finite values give `"0.0"`.
pub fn fmt1(v: f64) -> String {
    if !v.is_finite() {
        return "0.0".to_string();
    }
    let s = format!("{v:.1}");
    if s == "-0.0" { "0.0".to_string() } else { s }
}

/// Position of `v` in `lo..hi` as a fraction (0 at `lo`), safe for huge ranges.
fn frac(v: f64, lo: f64, hi: f64) -> f64 {
    let d = hi / 2.0 - lo / 2.0;
    if d > 0.0 && d.is_finite() {
        (v / 2.0 - lo / 2.0) / d
    } else {
        0.5
    }
}

/// `k * m * 10^e`, dividing for negative exponents so 0.1 steps stay exact-ish.
fn tick_value(k: f64, m: f64, e: i32) -> f64 {
    if (-300..0).contains(&e) {
        k * m / 10f64.powi(-e)
    } else {
        k * m * 10f64.powi(e)
    }
}

/// "Nice" axis ticks: multiples of a 1-2-5 step whose first tick is ≤ `min`
/// and last is ≥ `max`, at most `max_ticks` of them (clamped to 3..=1000; a
/// range straddling zero may need three). `min == max` is padded by 10% (or
/// ±1 around zero); a non-finite bound is replaced by the other. Ticks that
/// would overflow `f64` are dropped, so extreme ranges may not be fully covered.
pub fn nice_ticks(min: f64, max: f64, max_ticks: usize) -> Vec<f64> {
    let (mut lo, mut hi) = match (min.is_finite(), max.is_finite()) {
        (true, true) => (min.min(max), min.max(max)),
        (true, false) => (min, min),
        (false, true) => (max, max),
        (false, false) => (0.0, 0.0),
    };
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo = (lo - pad).max(f64::MIN);
        hi = (hi + pad).min(f64::MAX);
    }
    let n = max_ticks.clamp(3, 1000);
    let raw = hi / (n - 1) as f64 - lo / (n - 1) as f64;
    if !(raw > 0.0 && raw.is_finite()) {
        return vec![lo, hi]; // subnormal spans
    }
    let mut e = raw.log10().floor() as i32;
    let f = raw / 10f64.powi(e);
    // Index into the 1-2-5 mantissas; the step is `MANTISSAS[mi] * 10^e`.
    const MANTISSAS: [f64; 3] = [1.0, 2.0, 5.0];
    let mut mi = match MANTISSAS.iter().position(|m| f <= m * (1.0 + 1e-9)) {
        Some(i) => i,
        None => {
            e += 1;
            0
        }
    };
    for _ in 0..40 {
        let m = MANTISSAS[mi];
        let step = m * 10f64.powi(e);
        let k0 = (lo / step + 1e-9).floor();
        let k1 = (hi / step - 1e-9).ceil();
        if k0.is_finite() && k1.is_finite() && k1 - k0 < n as f64 {
            let count = (k1 - k0) as usize + 1;
            return (0..count)
                .map(|i| tick_value(k0 + i as f64, m, e))
                .filter(|v| v.is_finite())
                .collect();
        }
        mi += 1;
        if mi == MANTISSAS.len() {
            mi = 0;
            e += 1;
        }
    }
    vec![lo, hi]
}

/// Granularity of a date tick boundary.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Day,
    Week,
    Month,
    Year,
}

/// Candidate date steps, finest first; the first giving ≤ `MAX_DATE_TICKS` wins.
const DATE_STEPS: &[(Unit, &[i64])] = &[
    (Unit::Day, &[1, 2, 3]),
    (Unit::Week, &[1, 2, 3]),
    (Unit::Month, &[1, 2, 3, 4, 6]),
    (
        Unit::Year,
        &[1, 2, 5, 10, 20, 50, 100, 1000, 10_000, 100_000, 1_000_000],
    ),
];

/// Smallest multiple of `n` (> 0) that is ≥ `x`, plus `offset`.
fn ceil_to(x: i64, n: i64, offset: i64) -> i64 {
    let x = x - offset;
    x + (n - x.rem_euclid(n)) % n + offset
}

/// The `i`-th `unit × n` boundary on or after `start`.
fn boundary(start: NaiveDate, unit: Unit, n: i64, i: i64) -> Option<NaiveDate> {
    let day = i64::from(start.num_days_from_ce());
    match unit {
        Unit::Day => i32::try_from(ceil_to(day, n, 0) + i * n).ok(),
        // 0001-01-01 (day 1 from CE) is a Monday.
        Unit::Week => i32::try_from(ceil_to(day, 7 * n, 1) + i * 7 * n).ok(),
        Unit::Month => {
            let idx = i64::from(start.year()) * 12 + i64::from(start.month0());
            let idx = ceil_to(idx + i64::from(start.day() != 1), n, 0) + i * n;
            let year = i32::try_from(idx.div_euclid(12)).ok()?;
            return NaiveDate::from_ymd_opt(year, idx.rem_euclid(12) as u32 + 1, 1);
        }
        Unit::Year => {
            let y = i64::from(start.year()) + i64::from(start.ordinal() != 1);
            let year = i32::try_from(ceil_to(y, n, 0) + i * n).ok()?;
            return NaiveDate::from_ymd_opt(year, 1, 1);
        }
    }
    .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Dates in `start..=end` on day, Monday, month-start or year-start
/// boundaries, choosing the finest step that gives at most 6 ticks.
fn date_ticks(start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    let steps = DATE_STEPS
        .iter()
        .flat_map(|&(u, ns)| ns.iter().map(move |&n| (u, n)));
    for (unit, n) in steps {
        let mut out = Vec::new();
        while let Some(d) = boundary(start, unit, n, out.len() as i64) {
            if d > end || out.len() > MAX_DATE_TICKS {
                break;
            }
            out.push(d);
        }
        if out.len() <= MAX_DATE_TICKS {
            return out;
        }
    }
    vec![start, end]
}

/// Values by date, the data of one line.
pub type DatedValues = Vec<(NaiveDate, f64)>;

/// One plotted point: viewBox position plus the data it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePoint {
    pub x: f64,
    pub y: f64,
    pub date: NaiveDate,
    pub value: f64,
}

/// One line: a CSS class suffix (e.g. "raw", "avg"), what the legend calls it, its
/// points sorted by date, and an SVG path `"M x,y L x,y …"` (empty when there are no
/// points).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub name: String,
    pub label: String,
    pub points: Vec<LinePoint>,
    pub path: String,
}

/// A line chart over dates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    pub frame: Frame,
    pub series: Vec<Series>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    /// No finite value in any series; series keep their names but no points.
    pub empty: bool,
}

impl LineChart {
    pub fn x_labels(&self) -> &[Tick] {
        &self.x_ticks
    }

    pub fn y_labels(&self) -> &[Tick] {
        &self.y_ticks
    }
}

/// Lays out date/value series. x spans the union of all dates (a single date
/// gets ±1 day); y spans all values padded ~5% and widened to nice ticks
/// (the padding never pushes a non-negative range below zero).
pub fn line_chart(
    frame: Frame,
    series: Vec<(String, String, DatedValues)>,
    format_y: &dyn Fn(f64, usize) -> String,
    format_date: &dyn Fn(NaiveDate) -> String,
) -> LineChart {
    let series: Vec<_> = series
        .into_iter()
        .map(|(name, label, mut pts)| {
            pts.retain(|p| p.1.is_finite());
            pts.sort_by_key(|p| p.0);
            (name, label, pts)
        })
        .collect();
    let all = || series.iter().flat_map(|s| s.2.iter());
    let (Some(d0), Some(d1)) = (all().map(|p| p.0).min(), all().map(|p| p.0).max()) else {
        let series = series.into_iter().map(|(name, label, _)| Series {
            name,
            label,
            ..Default::default()
        });
        let series = series.collect();
        return LineChart {
            frame,
            series,
            empty: true,
            ..Default::default()
        };
    };
    let (d0, d1) = if d0 == d1 {
        (d0.pred_opt().unwrap_or(d0), d1.succ_opt().unwrap_or(d1))
    } else {
        (d0, d1)
    };
    let span = (d1 - d0).num_days().max(1) as f64;
    let v0 = all().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let v1 = all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad = v1 * 0.05 - v0 * 0.05;
    let lower = (v0 - pad).max(if v0 >= 0.0 { 0.0 } else { f64::MIN });
    let ticks = nice_ticks(lower, (v1 + pad).min(f64::MAX), 6);
    let lo = ticks.first().map_or(v0, |t| t.min(v0));
    let hi = ticks.last().map_or(v1, |t| t.max(v1));

    let x_of = |d: NaiveDate| frame.left + (d - d0).num_days() as f64 / span * frame.plot_width();
    let y_of = |v: f64| frame.top + (1.0 - frac(v, lo, hi)) * frame.plot_height();
    let series = series
        .into_iter()
        .map(|(name, label, pts)| {
            let points: Vec<LinePoint> = pts
                .into_iter()
                .map(|(date, value)| LinePoint {
                    x: x_of(date),
                    y: y_of(value),
                    date,
                    value,
                })
                .collect();
            let path = points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let cmd = if i == 0 { "M" } else { "L" };
                    format!("{cmd} {},{}", fmt1(p.x), fmt1(p.y))
                })
                .collect::<Vec<_>>()
                .join(" ");
            Series {
                name,
                label,
                points,
                path,
            }
        })
        .collect();
    let mut x_ticks: Vec<Tick> = date_ticks(d0, d1)
        .into_iter()
        .map(|d| tick(x_of(d), format_date(d)))
        .collect();
    alternate(&mut x_ticks);
    let decimals = tick_decimals(&ticks);
    let y_ticks = ticks
        .into_iter()
        .map(|v| tick(y_of(v), format_y(v, decimals)))
        .collect();
    LineChart {
        frame,
        series,
        x_ticks,
        y_ticks,
        empty: false,
    }
}

/// Trailing moving average: for each distinct date with finite values, the
/// mean of all values dated within the `days` calendar days ending on that
/// date (inclusive; `days < 1` counts as 1). Output is sorted by date.
pub fn moving_average(points: &[(NaiveDate, f64)], days: i64) -> Vec<(NaiveDate, f64)> {
    let days = days.max(1);
    let mut pts: Vec<_> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
    pts.sort_by_key(|p| p.0);
    let mut out: Vec<(NaiveDate, f64)> = Vec::new();
    let mut lo = 0;
    for hi in 0..pts.len() {
        let date = pts[hi].0;
        if pts.get(hi + 1).is_some_and(|p| p.0 == date) {
            continue; // only the last value of each date closes its window
        }
        while (date - pts[lo].0).num_days() >= days {
            lo += 1;
        }
        let window = &pts[lo..=hi];
        let n = window.len() as f64;
        let mean = window.iter().map(|p| p.1).sum::<f64>() / n;
        // Fall back to summing scaled values if the plain sum overflowed.
        let mean = if mean.is_finite() {
            mean
        } else {
            window.iter().map(|p| p.1 / n).sum()
        };
        out.push((date, mean));
    }
    out
}

/// The ISO week's Monday on or before `date` (`date` itself near the minimum date).
pub fn week_start(date: NaiveDate) -> NaiveDate {
    let back = u64::from(date.weekday().num_days_from_monday());
    date.checked_sub_days(Days::new(back)).unwrap_or(date)
}

/// Sum of finite values per date, sorted by date.
pub fn daily_totals(points: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut sums = BTreeMap::new();
    for &(d, v) in points.iter().filter(|p| p.1.is_finite()) {
        *sums.entry(d).or_insert(0.0) += v;
    }
    sums.into_iter().collect()
}

/// One bar: its rectangle in viewBox units plus its label and (clamped) value.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub label: String,
    pub value: f64,
}

impl Bar {
    /// The tick of this bar's label, at its middle.
    pub fn tick(&self) -> Tick {
        tick(self.x + self.width / 2.0, self.label.clone())
    }
}

/// A bar chart with a zero-based y axis.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub frame: Frame,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    /// The labelled bars' ticks: at most eight, every other one minor.
    pub x_ticks: Vec<Tick>,
    /// No bars were given.
    pub empty: bool,
}

impl BarChart {
    pub fn x_labels(&self) -> &[Tick] {
        &self.x_ticks
    }

    pub fn y_labels(&self) -> &[Tick] {
        &self.y_ticks
    }
}

/// Evenly spaced bars (each slot 80% bar, 20% gap), in input order. The y
/// axis runs from 0 to the largest value, so the tallest bar fills the plot
/// height; y ticks are the nice values within that range. Negative and
/// non-finite values become 0 (the bar keeps its slot and label).
pub fn bar_chart(
    frame: Frame,
    bars: Vec<(String, f64)>,
    format_y: &dyn Fn(f64, usize) -> String,
) -> BarChart {
    let clamp = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let max = bars.iter().map(|b| clamp(b.1)).fold(0.0, f64::max);
    let top = if max > 0.0 { max } else { 1.0 };
    let (pw, ph) = (frame.plot_width(), frame.plot_height());
    let y_of = |v: f64| frame.top + ph - v / top * ph;
    let slot = pw / bars.len().max(1) as f64;
    let empty = bars.is_empty();
    let bars = bars
        .into_iter()
        .enumerate()
        .map(|(i, (label, v))| {
            let value = clamp(v);
            let height = value / top * ph;
            let x = frame.left + i as f64 * slot + slot * 0.1;
            Bar {
                x,
                y: frame.top + ph - height,
                width: slot * 0.8,
                height,
                label,
                value,
            }
        })
        .collect::<Vec<Bar>>();
    let values: Vec<f64> = nice_ticks(0.0, top, 5)
        .into_iter()
        .filter(|&t| (0.0..=top * (1.0 + 1e-9)).contains(&t))
        .collect();
    let decimals = tick_decimals(&values);
    let y_ticks = values
        .into_iter()
        .map(|t| tick(y_of(t), format_y(t, decimals)))
        .collect();
    let step = bars.len().div_ceil(8).max(1);
    let mut x_ticks: Vec<Tick> = bars.iter().step_by(step).map(Bar::tick).collect();
    alternate(&mut x_ticks);
    BarChart {
        frame,
        bars,
        y_ticks,
        x_ticks,
        empty,
    }
}

/// State of a subscription grant during a segment of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    Running,
    Waiting,
    Paused,
    Expired,
}

impl SegmentKind {
    /// CSS class name for the segment.
    pub fn class(&self) -> &'static str {
        match self {
            SegmentKind::Running => "running",
            SegmentKind::Waiting => "waiting",
            SegmentKind::Paused => "paused",
            SegmentKind::Expired => "expired",
        }
    }
}

/// Input row of the access timeline: a label and `(start, end, kind)` segments.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    pub label: String,
    pub segments: Vec<(DateTime<Utc>, DateTime<Utc>, SegmentKind)>,
}

/// A laid-out timeline segment; `title` describes the unclipped segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentGeometry {
    pub x: f64,
    pub width: f64,
    pub kind: SegmentKind,
    pub title: String,
}

/// A laid-out row: `y` is the top of its bars, `height` their height; the
/// label is meant to be drawn in the left margin at `y + height / 2`.
#[derive(Debug, Clone, PartialEq)]
pub struct RowGeometry {
    pub label: String,
    pub y: f64,
    pub height: f64,
    pub segments: Vec<SegmentGeometry>,
}

/// The access timeline: one row per grant over a time window.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub frame: Frame,
    pub rows: Vec<RowGeometry>,
    /// Midnight-UTC date ticks inside the window (x positions).
    pub ticks: Vec<Tick>,
    /// x of `now` when it lies inside the window.
    pub now_x: Option<f64>,
    /// No rows were given.
    pub empty: bool,
}

impl Timeline {
    pub fn x_labels(&self) -> &[Tick] {
        &self.ticks
    }
}

/// Lays out timeline rows over `window` (swapped if reversed; an empty window
/// becomes one day) on the plot alone: 1000 wide and 28 high per row (the row labels and
/// the date ticks go beside it). Segments are clipped to the window, empty ones dropped, and
/// ones narrower than 2 units widened to 2 (kept inside the plot).
pub fn timeline(
    rows: Vec<TimelineRow>,
    window: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    format_date: &dyn Fn(NaiveDate) -> String,
) -> Timeline {
    let (ws, we) = (window.0.min(window.1), window.0.max(window.1));
    let we = if we == ws {
        ws.checked_add_signed(TimeDelta::days(1)).unwrap_or(ws)
    } else {
        we
    };
    // The plot alone (the labels go beside it): 1000 wide, a row high per grant.
    let top = 0.0;
    let frame = Frame {
        height: ROW_HEIGHT * rows.len().max(1) as f64,
        ..Frame::plot()
    };
    let total = (we - ws).num_seconds().max(1) as f64;
    let pw = frame.plot_width();
    let x_of = |t: DateTime<Utc>| frame.left + (t - ws).num_seconds() as f64 / total * pw;

    let empty = rows.is_empty();
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let segments = row
                .segments
                .into_iter()
                .filter_map(|(a, b, kind)| {
                    let (s, e) = (a.min(b), a.max(b));
                    let (x0, x1) = (x_of(s.max(ws)), x_of(e.min(we)));
                    if x1 <= x0 {
                        return None;
                    }
                    let (mut x, mut width) = (x0, x1 - x0);
                    if width < MIN_SEGMENT_WIDTH {
                        width = MIN_SEGMENT_WIDTH;
                        x = x.min(frame.left + pw - width).max(frame.left);
                    }
                    let (sd, ed) = (s.date_naive(), e.date_naive());
                    let mut title = format!("{}: {}", kind.class(), format_date(sd));
                    if ed != sd {
                        title = format!("{title} – {}", format_date(ed));
                    }
                    Some(SegmentGeometry {
                        x,
                        width,
                        kind,
                        title,
                    })
                })
                .collect();
            let y = top + i as f64 * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2.0;
            RowGeometry {
                label: row.label,
                y,
                height: BAR_HEIGHT,
                segments,
            }
        })
        .collect();
    let mut ticks: Vec<Tick> = date_ticks(ws.date_naive(), we.date_naive())
        .into_iter()
        .filter_map(|d| {
            let t = d.and_time(NaiveTime::MIN).and_utc();
            (ws..=we)
                .contains(&t)
                .then(|| tick(x_of(t), format_date(d)))
        })
        .collect();
    alternate(&mut ticks);
    let now_x = (ws..=we).contains(&now).then(|| x_of(now));
    Timeline {
        frame,
        rows,
        ticks,
        now_x,
        empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SegmentKind::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn t(y: i32, m: u32, day: u32) -> DateTime<Utc> {
        d(y, m, day).and_time(NaiveTime::MIN).and_utc()
    }
    fn fy(v: f64, decimals: usize) -> String {
        format!("{v:.decimals$}")
    }
    fn fd(d: NaiveDate) -> String {
        d.format("%-d %b").to_string()
    }
    fn line(series: Vec<(&str, Vec<(NaiveDate, f64)>)>) -> LineChart {
        let series = series
            .into_iter()
            .map(|(n, p)| (n.into(), n.into(), p))
            .collect();
        line_chart(Frame::default(), series, &fy, &fd)
    }
    /// Every point and y tick of `c` lies inside its plot area.
    fn all_inside(c: &LineChart) -> bool {
        let f = &c.frame;
        let (x1, y1) = (f.width - f.right + 1e-9, f.height - f.bottom + 1e-9);
        let inside = |x: f64, y: f64| x >= f.left && x <= x1 && y >= f.top && y <= y1;
        c.series
            .iter()
            .flat_map(|s| &s.points)
            .all(|p| inside(p.x, p.y))
            && c.y_ticks.iter().all(|t| inside(f.left, t.pos))
            && c.x_ticks.iter().all(|t| inside(t.pos, f.top))
    }

    #[test]
    fn frame_and_fmt1() {
        let f = Frame::default();
        assert_eq!(f.view_box(), "0 0 640 240");
        assert_eq!(f.plot_width(), 640.0 - f.left - f.right);
        assert_eq!(f.plot_height(), 240.0 - f.top - f.bottom);
        assert_eq!(Frame { left: 900.0, ..f }.plot_width(), 0.0);
        assert_eq!(Frame::small().view_box(), "0 0 320 160");
        let cases = [
            (3.0, "3.0"),
            (12.345, "12.3"),
            (-0.04, "0.0"),
            (-1.26, "-1.3"),
        ];
        for (v, s) in cases {
            assert_eq!(fmt1(v), s);
        }
        assert_eq!(fmt1(f64::NAN), "0.0");
        assert_eq!(fmt1(f64::NEG_INFINITY), "0.0");
    }

    /// Y labels never repeat: each tick is written with the decimals its step needs
    /// (a weight between 79 and 81 in steps of 0.5 reads 79.0, 79.5, …, not 79, 80, 80, …).
    #[test]
    fn tick_labels_are_distinct() {
        for (lo, hi) in [
            (79.2, 80.9),
            (33.1, 34.6),
            (0.0, 3.0),
            (0.01, 0.07),
            (1000.0, 1004.0),
        ] {
            let ticks = nice_ticks(lo, hi, 6);
            let decimals = tick_decimals(&ticks);
            let labels: Vec<String> = ticks.iter().map(|v| format!("{v:.decimals$}")).collect();
            let distinct: std::collections::BTreeSet<&String> = labels.iter().collect();
            assert_eq!(distinct.len(), labels.len(), "{lo}..{hi}: {labels:?}");
        }
        assert_eq!(tick_decimals(&[79.0, 79.5, 80.0]), 1);
        assert_eq!(tick_decimals(&[0.0, 0.05]), 2);
        assert_eq!(tick_decimals(&[0.0, 0.2]), 1);
        assert_eq!(tick_decimals(&[0.0, 5.0]), 0);
        assert_eq!(tick_decimals(&[1.0]), 0);
    }

    /// Labels beside a plot are placed by percentage and anchored to stay inside; every
    /// other x label is minor (left out on a phone).
    #[test]
    fn labels_are_placed_beside_the_plot() {
        let c = line(vec![(
            "raw",
            vec![(d(2026, 1, 1), 80.0), (d(2026, 3, 1), 78.0)],
        )]);
        let f = Frame::plot();
        let c = line_chart(
            f,
            c.series
                .iter()
                .map(|s| {
                    let points = s.points.iter().map(|p| (p.date, p.value)).collect();
                    (s.name.clone(), s.label.clone(), points)
                })
                .collect(),
            &fy,
            &fd,
        );
        assert!(c.x_ticks.len() >= 2);
        for (i, t) in c.x_ticks.iter().enumerate() {
            assert_eq!(t.minor, i % 2 == 1);
            let pct: f64 = t.pct(f.width).trim_end_matches('%').parse().unwrap();
            assert!((0.0..=100.0).contains(&pct));
        }
        let edge = |pos: f64| Tick {
            pos,
            ..Tick::default()
        };
        assert_eq!(edge(0.0).anchor(1000.0), "start");
        assert_eq!(edge(500.0).anchor(1000.0), "middle");
        assert_eq!(edge(1000.0).anchor(1000.0), "end");
        assert_eq!(edge(250.0).pct(1000.0), "25.0%");
    }

    #[test]
    fn ticks_are_nice_and_cover() {
        let cases = [(0.0, 10.0), (0.3, 0.7), (-3.2, 47.9), (71.4, 88.2)];
        let more = [(1e-6, 3e-6), (-5e9, 2e9), (7.0, 7.0001), (-0.5, 0.5)];
        for (lo, hi) in cases.into_iter().chain(more) {
            for max_ticks in [3, 5, 6, 10] {
                let ticks = nice_ticks(lo, hi, max_ticks);
                let msg = format!("{lo}..{hi} ({max_ticks}): {ticks:?}");
                assert!(ticks.len() >= 2 && ticks.len() <= max_ticks, "{msg}");
                let step = ticks[1] - ticks[0];
                let tol = step * 1e-6;
                assert!(
                    ticks[0] <= lo + tol && ticks[ticks.len() - 1] >= hi - tol,
                    "{msg}"
                );
                let mant = step / 10f64.powf(step.log10().floor());
                let nice = [1.0, 2.0, 5.0, 10.0]
                    .iter()
                    .any(|m| (mant - m).abs() < 1e-6);
                assert!(nice, "{msg}");
                assert!(ticks.windows(2).all(|w| (w[1] - w[0] - step).abs() <= tol));
            }
        }
        assert_eq!(nice_ticks(0.0, 10.0, 6), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(0.3, 0.7, 5), [0.3, 0.4, 0.5, 0.6, 0.7]);
        assert_eq!(nice_ticks(10.0, 0.0, 6), nice_ticks(0.0, 10.0, 6));
    }

    #[test]
    fn ticks_degenerate_inputs() {
        let t = nice_ticks(80.0, 80.0, 5);
        assert!(t[0] < 80.0 && t[t.len() - 1] > 80.0, "{t:?}");
        let t = nice_ticks(0.0, 0.0, 5);
        assert!(t[0] <= -1.0 && t[t.len() - 1] >= 1.0, "{t:?}");
        assert_eq!(nice_ticks(f64::NAN, 5.0, 5), nice_ticks(5.0, 5.0, 5));
        let nan_inf = nice_ticks(f64::NAN, f64::INFINITY, 5);
        assert_eq!(nan_inf, nice_ticks(0.0, 0.0, 5));
        assert!(nice_ticks(0.0, 1.0, 0).len() >= 2);
        assert!(nice_ticks(0.0, 1.0, usize::MAX).len() <= 1000);
        let extreme = [(f64::MIN, f64::MAX), (f64::MAX, f64::MAX), (0.0, 5e-324)];
        for (lo, hi) in extreme.into_iter().chain([(1e300, 1.0000001e300)]) {
            let t = nice_ticks(lo, hi, 6);
            assert!(!t.is_empty() && t.iter().all(|v| v.is_finite()), "{t:?}");
        }
    }

    #[test]
    fn date_ticks_fit_spans() {
        let start = d(2024, 1, 17);
        let spans = [
            1, 2, 5, 9, 13, 20, 40, 70, 100, 200, 400, 800, 2000, 5000, 20000,
        ];
        for days in spans.into_iter().chain([100_000]) {
            let end = start + TimeDelta::days(days);
            let ticks = date_ticks(start, end);
            assert!((2..=6).contains(&ticks.len()), "{days}: {ticks:?}");
            assert!(ticks.windows(2).all(|w| w[0] < w[1]));
            assert!(ticks.iter().all(|t| (start..=end).contains(t)));
        }
        let weeks = date_ticks(d(2024, 1, 3), d(2024, 2, 5));
        assert!(weeks.iter().all(|t| t.weekday() == chrono::Weekday::Mon));
        let months = date_ticks(d(2024, 1, 3), d(2024, 6, 5));
        assert_eq!(months, (2..=6).map(|m| d(2024, m, 1)).collect::<Vec<_>>());
        assert!(date_ticks(NaiveDate::MIN, NaiveDate::MAX).len() <= 6);
    }

    #[test]
    fn line_chart_basic_geometry() {
        let raw = vec![
            (d(2024, 3, 10), 82.0),
            (d(2024, 3, 1), 80.0),
            (d(2024, 3, 5), f64::NAN),
        ];
        let c = line(vec![("raw", raw), ("avg", vec![(d(2024, 3, 31), 81.0)])]);
        assert!(!c.empty && all_inside(&c));
        let raw = &c.series[0];
        assert_eq!(
            (raw.name.as_str(), raw.points.len()),
            ("raw", 2),
            "NaN skipped"
        );
        let (p, q) = (&raw.points[0], &raw.points[1]);
        assert_eq!(
            (p.date, p.value, p.x),
            (d(2024, 3, 1), 80.0, c.frame.left),
            "sorted"
        );
        assert_eq!(c.series[1].points[0].x, 628.0, "x spans the union of dates");
        assert!(q.y < p.y, "higher value is higher up");
        let path = format!(
            "M {},{} L {},{}",
            fmt1(p.x),
            fmt1(p.y),
            fmt1(q.x),
            fmt1(q.y)
        );
        assert_eq!(raw.path, path);
        assert!((4..=6).contains(&c.x_ticks.len()), "{:?}", c.x_ticks);
        assert!(c.y_ticks.len() >= 2 && c.y_ticks.windows(2).all(|w| w[0].pos > w[1].pos));
    }

    #[test]
    fn line_chart_degenerate_series() {
        let c = line(vec![
            ("raw", vec![]),
            ("avg", vec![(d(2024, 1, 1), f64::INFINITY)]),
        ]);
        assert!(c.empty && c.x_ticks.is_empty() && c.y_ticks.is_empty());
        assert_eq!(c.series.len(), 2);
        assert!(
            c.series
                .iter()
                .all(|s| s.points.is_empty() && s.path.is_empty())
        );
        assert!(line(vec![]).empty);

        let c = line(vec![("raw", vec![(d(2024, 1, 1), 70.0)])]);
        let p = &c.series[0].points[0];
        assert_eq!(
            p.x,
            c.frame.left + c.frame.plot_width() / 2.0,
            "single date centred"
        );
        assert!(all_inside(&c) && c.series[0].path.starts_with("M "));
        assert!(!c.series[0].path.contains('L') && c.x_ticks.len() == 3);

        let c = line(vec![(
            "raw",
            (1..=5).map(|i| (d(2024, 1, i), 5.0)).collect(),
        )]);
        let y0 = c.series[0].points[0].y;
        assert!(all_inside(&c) && c.series[0].points.iter().all(|p| p.y == y0));
        assert!(c.y_ticks.len() >= 2);

        let huge = vec![(d(2024, 1, 1), f64::MIN), (NaiveDate::MAX, f64::MAX)];
        assert!(all_inside(&line(vec![("raw", huge)])));
    }

    #[test]
    fn moving_average_known_series() {
        let pts = [
            (d(2024, 1, 3), 3.0),
            (d(2024, 1, 1), 1.0),
            (d(2024, 1, 2), 2.0),
            (d(2024, 1, 2), 4.0),
            (d(2024, 1, 10), 10.0),
            (d(2024, 1, 4), f64::NAN),
        ];
        let avg = moving_average(&pts, 3);
        let want = [(1, 1.0), (2, 7.0 / 3.0), (3, 2.5), (10, 10.0)];
        assert_eq!(avg, want.map(|(day, v)| (d(2024, 1, day), v)));
        assert_eq!(moving_average(&pts, 0)[1], (d(2024, 1, 2), 3.0));
        assert_eq!(moving_average(&pts, i64::MAX)[3].1, 4.0);
        assert!(moving_average(&[], 7).is_empty());
        let huge = [(d(2024, 1, 1), f64::MAX), (d(2024, 1, 2), f64::MAX)];
        assert_eq!(moving_average(&huge, 2)[1].1, f64::MAX);
    }

    #[test]
    fn weekly_helpers() {
        assert_eq!(week_start(d(2024, 3, 7)), d(2024, 3, 4)); // Thursday -> Monday
        assert_eq!(week_start(d(2024, 3, 4)), d(2024, 3, 4));
        assert_eq!(week_start(d(2024, 3, 10)), d(2024, 3, 4)); // Sunday
        assert_eq!(week_start(NaiveDate::MIN), NaiveDate::MIN);
        let pts = [(2, 1.5), (1, 2.0), (2, 2.5), (3, f64::NAN)].map(|(n, v)| (d(2024, 1, n), v));
        assert_eq!(
            daily_totals(&pts),
            [(d(2024, 1, 1), 2.0), (d(2024, 1, 2), 4.0)]
        );
    }

    #[test]
    fn bars_scale_to_tallest() {
        let input = [
            ("Mon", 5.0),
            ("Tue", 20.0),
            ("Wed", -3.0),
            ("Thu", f64::NAN),
        ];
        let c = bar_chart(
            Frame::default(),
            input.map(|(l, v)| (l.into(), v)).into(),
            &fy,
        );
        let (f, b) = (c.frame, &c.bars);
        assert!(!c.empty && b.len() == 4 && b[0].label == "Mon");
        assert_eq!(
            (b[1].height, b[1].y),
            (f.plot_height(), f.top),
            "tallest fills"
        );
        assert_eq!(b[0].height, f.plot_height() / 4.0);
        assert_eq!(
            b[0].y + b[0].height,
            f.height - f.bottom,
            "bars sit on the baseline"
        );
        assert_eq!((b[2].value, b[2].height, b[3].height), (0.0, 0.0, 0.0));
        let gap = b[1].x - (b[0].x + b[0].width);
        assert!(
            gap > 0.0
                && b.windows(2)
                    .all(|w| (w[1].x - w[0].x - gap - w[0].width).abs() < 1e-9)
        );
        assert!(b[0].x > f.left && b[3].x + b[3].width < f.width - f.right);
        let labels: Vec<&str> = c.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0", "5", "10", "15", "20"]);
        assert_eq!(c.y_ticks[0].pos, f.height - f.bottom);

        let c = bar_chart(Frame::default(), vec![], &fy);
        assert!(c.empty && c.bars.is_empty());
        let c = bar_chart(Frame::default(), vec![("a".into(), 0.0)], &fy);
        assert!(!c.empty && c.bars[0].height == 0.0 && !c.y_ticks.is_empty());
    }

    type Seg = (DateTime<Utc>, DateTime<Utc>, SegmentKind);
    fn row(label: &str, segments: Vec<Seg>) -> TimelineRow {
        let label = label.into();
        TimelineRow { label, segments }
    }

    #[test]
    fn timeline_layout() {
        let gold = vec![
            (t(2024, 2, 15), t(2024, 3, 31), Running), // clipped at the window start
            (t(2024, 3, 31), t(2024, 4, 10), Paused),  // clipped at the window end
            (t(2024, 5, 1), t(2024, 6, 1), Expired),   // outside: dropped
        ];
        let (mar10, apr1) = (t(2024, 3, 10), t(2024, 4, 1));
        let silver = vec![
            (mar10, mar10 + TimeDelta::minutes(5), Waiting), // tiny
            (t(2024, 3, 20), t(2024, 3, 20), Running),       // zero width: dropped
            (apr1 - TimeDelta::seconds(1), apr1, Running),   // tiny, at the end
        ];
        let rows = vec![row("Gold", gold), row("Silver", silver)];
        let window = (t(2024, 3, 1), apr1);
        let tl = timeline(rows, window, t(2024, 3, 16) + TimeDelta::hours(12), &fd);
        let f = tl.frame;
        let plot_end = f.width - f.right;
        assert!(
            !tl.empty && f.width == 1000.0 && f.left == 0.0,
            "the plot alone"
        );
        assert_eq!(
            f.height,
            f.top + f.bottom + 2.0 * ROW_HEIGHT,
            "height grows per row"
        );
        assert_eq!(tl.rows[1].y - tl.rows[0].y, ROW_HEIGHT, "rows stack");
        assert!(
            tl.rows
                .iter()
                .all(|r| r.y >= f.top && r.y + r.height <= f.height - f.bottom)
        );

        let gold = &tl.rows[0].segments;
        assert_eq!(gold.len(), 2);
        assert_eq!((gold[0].x, gold[0].kind.class()), (f.left, "running"));
        assert_eq!(gold[0].title, "running: 15 Feb – 31 Mar");
        assert!((gold[1].x + gold[1].width - plot_end).abs() < 1e-9);
        assert_eq!(gold[1].title, "paused: 31 Mar – 10 Apr");

        let silver = &tl.rows[1].segments;
        assert_eq!(silver.len(), 2, "zero-width dropped");
        assert_eq!(silver[0].width, MIN_SEGMENT_WIDTH);
        assert_eq!(silver[0].title, "waiting: 10 Mar");
        assert_eq!(silver[1].width, MIN_SEGMENT_WIDTH);
        assert!(
            (silver[1].x + silver[1].width - plot_end).abs() < 1e-9,
            "kept inside"
        );

        assert!((tl.now_x.unwrap() - (f.left + f.plot_width() / 2.0)).abs() < 1e-9);
        assert!((4..=6).contains(&tl.ticks.len()), "{:?}", tl.ticks);
        assert!(
            tl.ticks
                .iter()
                .all(|k| k.pos >= f.left && k.pos <= plot_end)
        );
        assert_eq!(tl.ticks[0].label, "4 Mar", "weekly ticks on Mondays");
        assert_eq!(timeline(vec![], window, t(2025, 1, 1), &fd).now_x, None);
    }

    #[test]
    fn timeline_degenerate_windows() {
        let jan = |day| t(2024, 1, day);
        let rows = vec![row("x", vec![(jan(1), jan(3), Running)])];
        let tl = timeline(vec![], (jan(1), jan(1)), jan(1), &fd);
        assert!(tl.empty && tl.rows.is_empty() && tl.now_x == Some(tl.frame.left));
        let tl = timeline(rows.clone(), (jan(2), jan(1)), jan(1), &fd);
        assert_eq!(
            tl.rows[0].segments[0].x, tl.frame.left,
            "reversed window swapped"
        );
        let all_time = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let tl = timeline(rows, all_time, jan(1), &fd);
        let s = &tl.rows[0].segments[0];
        assert!(s.x.is_finite() && s.width == MIN_SEGMENT_WIDTH && tl.ticks.len() <= 6);
    }
}
