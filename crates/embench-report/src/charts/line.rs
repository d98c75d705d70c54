//! Line charts (latency and throughput curves).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Chart;

/// How x values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// As they are.
    Linear,
    /// x holds log10 of the value; ticks show the value.
    Log10,
    /// x holds log10(1 / (1 - q)); ticks show the percentile.
    Percentile,
}

/// One line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Colour (the backend's).
    pub color: RGBColor,
    /// Dashed (used for p99 beside a solid p50).
    pub dashed: bool,
    /// Marker shape index (the host's).
    pub marker: usize,
    /// Points, x as described by the chart's [`Axis`].
    pub points: Vec<(f64, f64)>,
}

/// A highlighted point: the best batch size (a ring) or the latency pick (a square).
#[derive(Debug, Clone)]
pub struct Mark {
    /// Position, x as described by the chart's [`Axis`].
    pub at: (f64, f64),
    /// Colour (the series').
    pub color: RGBColor,
    /// The best point (ring) rather than the latency pick (square).
    pub best: bool,
}

/// A chart of lines.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// Title.
    pub title: String,
    /// x-axis description, with unit.
    pub x_desc: String,
    /// y-axis description, with unit.
    pub y_desc: String,
    /// x-axis kind.
    pub x_axis: Axis,
    /// The lines.
    pub series: Vec<Series>,
    /// Highlighted points.
    pub marks: Vec<Mark>,
}

fn tick(axis: Axis, x: f64) -> String {
    match axis {
        Axis::Linear => trim(x),
        Axis::Log10 => trim(10f64.powf(x)),
        Axis::Percentile => {
            let q = 1.0 - 10f64.powf(-x);
            format!("{}%", trim(q * 100.0))
        }
    }
}

fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round())
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

/// A linear f64 axis whose ticks are exactly the given values.
struct TickedAxis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = (value - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

impl Chart for LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let xs = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let y1 = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0f64, f64::max);
        let pad = ((x1 - x0) * 0.05).max(0.05);
        // A marked chart's legend is two lines longer: room above the curves keeps it off them.
        let headroom = if self.marks.is_empty() { 1.1 } else { 1.1 + 0.08 * (self.series.len() + 2) as f64 };
        // Ticks exactly at the measured x values (concurrency levels, batch sizes, percentiles).
        let mut ticks: Vec<f64> = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(TickedAxis { range: (x0 - pad)..(x1 + pad), ticks }, 0f64..(y1 * headroom).max(1e-9))
            .map_err(|e| err(&e))?;
        let axis = self.x_axis;
        chart
            .configure_mesh()
            .x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .x_label_formatter(&|x| tick(axis, *x))
            .y_label_formatter(&|y| trim(*y))
            .draw()
            .map_err(|e| err(&e))?;
        for s in &self.series {
            let style = s.color.stroke_width(2);
            let color = s.color;
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(s.points.clone(), 8, 5, style))
                    .map_err(|e| err(&e))?
                    .label(&s.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 10, y), (x + 14, y), (x + 24, y)], color));
            } else {
                chart
                    .draw_series(LineSeries::new(s.points.clone(), style))
                    .map_err(|e| err(&e))?
                    .label(&s.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2)));
            }
            for &(x, y) in &s.points {
                let filled = s.color.filled();
                match s.marker % 3 {
                    0 => chart.draw_series(std::iter::once(Circle::new((x, y), 4, filled))),
                    1 => chart.draw_series(std::iter::once(TriangleMarker::new((x, y), 6, filled))),
                    _ => chart.draw_series(std::iter::once(Cross::new((x, y), 5, s.color.stroke_width(2)))),
                }
                .map_err(|e| err(&e))?;
            }
        }
        for m in &self.marks {
            let style = m.color.stroke_width(3);
            if m.best {
                chart.draw_series(std::iter::once(Circle::new(m.at, 11, style))).map_err(|e| err(&e))?;
            } else {
                let square = EmptyElement::at(m.at) + Rectangle::new([(-9, -9), (9, 9)], style);
                chart.draw_series(std::iter::once(square)).map_err(|e| err(&e))?;
            }
        }
        if !self.marks.is_empty() {
            let legend = [("ring: best throughput", true), ("square: smallest batch within 5 % of it", false)];
            for (text, ring) in legend {
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(|e| err(&e))?
                    .label(text)
                    .legend(move |(x, y)| -> DynElement<'static, DB, (i32, i32)> {
                        if ring {
                            Circle::new((x + 12, y), 6, BLACK.stroke_width(2)).into_dyn()
                        } else {
                            Rectangle::new([(x + 6, y - 6), (x + 18, y + 6)], BLACK.stroke_width(2)).into_dyn()
                        }
                    });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(|e| err(&e))?;
        Ok(())
    }
}
