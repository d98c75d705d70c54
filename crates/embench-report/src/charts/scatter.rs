//! The speed-vs-quality chart: one point per backend and precision (throughput
//! against recall@10 of the retrieval-agreement check), the Pareto front marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Chart;

/// One cell on the chart.
#[derive(Debug, Clone)]
pub struct Point {
    /// Label beside the point (`ort-int8`).
    pub label: String,
    /// Colour (the backend kind's).
    pub color: RGBColor,
    /// recall@10, the x value.
    pub recall: f64,
    /// Embeddings per second, the y value.
    pub throughput: f64,
    /// Invalid: under its recall bound, or failed another check (drawn hollow).
    pub below: bool,
}

/// Throughput against recall@10.
#[derive(Debug, Clone)]
pub struct ScatterChart {
    /// Title.
    pub title: String,
    /// The points.
    pub points: Vec<Point>,
}

/// The indices of the points no other point beats on both axes (at least as good on
/// both, better on one): the Pareto front, by ascending recall.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let beats = |a: (f64, f64), b: (f64, f64)| a.0 >= b.0 && a.1 >= b.1 && (a.0 > b.0 || a.1 > b.1);
    let mut front: Vec<usize> = (0..points.len()).filter(|&i| !points.iter().any(|&p| beats(p, points[i]))).collect();
    front.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
    front
}

impl Chart for ScatterChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let x0 = self.points.iter().map(|p| p.recall).fold(1.0f64, f64::min);
        let span = (1.0 - x0).max(0.01);
        // Room right of 1.0 for the labels of the points at full recall.
        let (x0, x1) = ((x0 - span * 0.1).max(0.0), 1.0 + span * 0.15);
        let y1 = self.points.iter().map(|p| p.throughput).fold(0f64, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x0..x1, 0f64..y1.max(1e-9))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("recall@10 of fp32's neighbours (retrieval agreement)")
            .y_desc("embeddings per second")
            .x_label_formatter(&|x| format!("{x:.3}"))
            .draw()
            .map_err(|e| err(&e))?;
        let xy: Vec<(f64, f64)> = self.points.iter().map(|p| (p.recall, p.throughput)).collect();
        let front: Vec<(f64, f64)> = pareto_front(&xy).into_iter().map(|i| xy[i]).collect();
        chart
            .draw_series(DashedLineSeries::new(front, 8, 5, BLACK.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label("Pareto front: nothing faster at higher recall")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(2)));
        for p in &self.points {
            let style = if p.below { p.color.stroke_width(2) } else { p.color.filled() };
            let dot = EmptyElement::at((p.recall, p.throughput))
                + Circle::new((0, 0), 6, style)
                + Text::new(p.label.clone(), (8, -14), ("sans-serif", 14).into_font().color(&p.color));
            chart.draw_series(std::iter::once(dot)).map_err(|e| err(&e))?;
        }
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(|e| err(&e))?
            .label("hollow: invalid (under its recall bound, or another check failed)")
            .legend(|(x, y)| Circle::new((x + 12, y), 6, BLACK.stroke_width(2)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_what_nothing_beats_on_both_axes() {
        // fp32 (1.0, 50), bf16 (0.99, 90), int8 (0.87, 100), a slow lossy one (0.6, 80).
        let points = [(1.0, 50.0), (0.99, 90.0), (0.87, 100.0), (0.6, 80.0)];
        assert_eq!(pareto_front(&points), vec![2, 1, 0]);
        // A tie on both axes: neither beats the other.
        assert_eq!(pareto_front(&[(0.9, 10.0), (0.9, 10.0)]), vec![0, 1]);
    }
}
