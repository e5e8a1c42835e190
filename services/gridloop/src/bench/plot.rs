//! The latency-over-time plot: p99 of report → dispatched visible for each second of the run,
//! as SVG. plotters draws it without a font library (its SVG text is laid out by estimate and
//! rendered by whatever shows the file), so it needs nothing installed.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// An SVG line chart of `p99_ms` (one value per second).
pub fn svg(p99_ms: &[f64], title: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let seconds = p99_ms.len().max(1) as f64;
        let top = p99_ms.iter().copied().fold(1.0_f64, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..seconds, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("seconds into the measured window")
            .y_desc("p99 report → dispatched (ms)")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(
                p99_ms.iter().enumerate().map(|(second, ms)| (second as f64 + 0.5, *ms)),
                &RED,
            ))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn plot_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the latency plot: {error}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plot_is_svg_with_its_labels_as_text() {
        let svg = super::svg(&[3.0, 5.5, 40.0, 4.0], "gridloop bench").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("gridloop bench"));
        assert!(svg.contains("p99 report → dispatched (ms)"));
        assert!(svg.contains("<polyline") || svg.contains("<path"), "no line drawn");
    }
}
