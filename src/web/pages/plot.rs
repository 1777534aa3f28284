//! Forest plots drawn server-side as SVG with plotters: one line per entry, the point
//! estimate and its 95% interval. Aggregates only: nothing per-study is drawn.

use plotters::prelude::*;

/// One entry of a forest plot.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The row's label.
    pub label: String,
    /// The point estimate.
    pub value: f64,
    /// The interval.
    pub ci: Option<[f64; 2]>,
    /// Drawn in another colour (baselines).
    pub highlight: bool,
}

/// Draws `entries` top to bottom over `range` on the x axis.
pub fn forest(title: &str, entries: &[Entry], range: (f64, f64)) -> anyhow::Result<String> {
    let n = entries.len().max(1);
    let height = 80 + 26 * u32::try_from(n).unwrap_or(u32::MAX / 64);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (820, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (left, right) = root.split_horizontally(300);
        let mut chart = ChartBuilder::on(&right)
            .margin(12)
            .caption(title, ("sans-serif", 16))
            .x_label_area_size(30)
            .build_cartesian_2d(range.0..range.1, -0.5f64..(n as f64 - 0.5))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(6)
            .x_label_formatter(&|x| format!("{x:.1}"))
            .draw()
            .map_err(plot_error)?;
        let accent = RGBColor(11, 92, 173);
        let baseline = RGBColor(122, 77, 0);
        for (i, entry) in entries.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let colour = if entry.highlight { baseline } else { accent };
            if let Some([low, high]) = entry.ci {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(low.max(range.0), y), (high.min(range.1), y)],
                        colour.stroke_width(2),
                    )))
                    .map_err(plot_error)?;
            }
            let x = entry.value.clamp(range.0, range.1);
            chart
                .draw_series(std::iter::once(Circle::new((x, y), 5, colour.filled())))
                .map_err(plot_error)?;
            let (_, pixel_y) = chart.backend_coord(&(range.0, y));
            // Labels are participants' text: markup characters are dropped, whatever the
            // backend's escaping, so the SVG can never carry a script.
            let label: String = entry
                .label
                .chars()
                .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
                .take(40)
                .collect();
            left.draw(&Text::new(label, (8, pixel_y - 7), ("sans-serif", 13)))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn plot_error(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing a plot: {err}")
}

#[cfg(test)]
mod tests {
    use super::{Entry, forest};

    #[test]
    fn a_forest_plot_is_an_svg_with_one_label_per_entry() {
        let entries = vec![
            Entry {
                label: "1. net (alice)".into(),
                value: 0.9,
                ci: Some([0.8, 0.95]),
                highlight: false,
            },
            Entry {
                label: "2. <b>x</b> (bob)".into(),
                value: 0.7,
                ci: None,
                highlight: true,
            },
        ];
        let svg = forest("AUC vs all", &entries, (0.0, 1.0)).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("1. net (alice)"));
        assert!(!svg.contains("<b>"), "labels are escaped");
    }

    #[test]
    fn an_empty_plot_still_draws() {
        assert!(forest("Dice", &[], (0.0, 1.0)).unwrap().contains("</svg>"));
    }
}
