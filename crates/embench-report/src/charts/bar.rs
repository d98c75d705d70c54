//! Bar charts (load time, peak RSS).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Chart;

/// One bar per series.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// Title.
    pub title: String,
    /// y-axis description, with unit.
    pub y_desc: String,
    /// (label, colour, value).
    pub bars: Vec<(String, RGBColor, f64)>,
}

impl Chart for BarChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let n = self.bars.len();
        let top = self.bars.iter().map(|b| b.2).fold(0f64, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..top.max(1e-9))
            .map_err(|e| err(&e))?;
        let labels: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(&self.y_desc)
            .x_labels(n.max(1))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(|e| err(&e))?;
        let colors: Vec<RGBColor> = self.bars.iter().map(|b| b.1).collect();
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .margin(40)
                    .style_func(|x, _| match x {
                        SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => {
                            colors.get(*i).copied().unwrap_or(BLACK).filled()
                        }
                        SegmentValue::Last => BLACK.filled(),
                    })
                    .data(self.bars.iter().enumerate().map(|(i, b)| (i, b.2))),
            )
            .map_err(|e| err(&e))?;
        for (i, (_, _, value)) in self.bars.iter().enumerate() {
            let text = if *value >= 100.0 { format!("{value:.0}") } else { format!("{value:.3}") };
            let label = Text::new(text, (SegmentValue::CenterOf(i), value * 1.03), ("sans-serif", 16));
            chart.draw_series(std::iter::once(label)).map_err(|e| err(&e))?;
        }
        Ok(())
    }
}
