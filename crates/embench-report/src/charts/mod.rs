//! Charts, each written as PNG and SVG under `charts/`.
//!
//! Colours are fixed per backend, so a backend looks the same in every chart of
//! every report; hosts differ by marker shape.

mod bar;
mod line;
mod plan;
mod scatter;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use bar::BarChart;
pub use line::{Axis, LineChart, Mark, Series};
pub use plan::render_all;
pub use scatter::{pareto_front, Point, ScatterChart};

use crate::runs::ReportError;

/// A chart written to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Model key.
    pub model: String,
    /// Sequence length label.
    pub seq: String,
    /// Title (also the image's alt text).
    pub title: String,
    /// File name without extension, under `charts/`.
    pub stem: String,
}

/// The colour of a backend in every chart.
pub fn backend_color(backend: &str) -> RGBColor {
    match backend {
        "candle" => RGBColor(230, 120, 20),
        "ort" => RGBColor(31, 119, 180),
        "openvino" => RGBColor(148, 103, 189),
        "tch" => RGBColor(214, 39, 40),
        "mock" => RGBColor(110, 110, 110),
        other => {
            let h = other.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
            RGBColor(40 + (h % 160) as u8, 40 + (h / 160 % 160) as u8, 40 + (h / 25600 % 160) as u8)
        }
    }
}

/// Something drawable on any plotters backend.
pub trait Chart {
    /// Draws onto `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

const SIZE: (u32, u32) = (960, 600);

/// Registers the embedded DejaVu Sans font once (no system fonts needed).
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font is valid"));
    });
}

/// Writes `chart` as `dir/stem.png` and `dir/stem.svg`.
pub fn save(chart: &impl Chart, dir: &Path, stem: &str) -> Result<(), ReportError> {
    register_font();
    let out = |ext: &str, e: String| ReportError::Output {
        path: dir.join(format!("{stem}.{ext}")).display().to_string(),
        message: e,
    };
    let png = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        chart.draw(&root).map_err(|e| out("png", e))?;
        root.present().map_err(|e| out("png", e.to_string()))?;
    }
    let svg = dir.join(format!("{stem}.svg"));
    let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
    chart.draw(&root).map_err(|e| out("svg", e))?;
    root.present().map_err(|e| out("svg", e.to_string()))
}
