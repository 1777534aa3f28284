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
        let (left, right) = root.split_horizontally(260);
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
            .light_line_style(WHITE)
            .x_label_style(("sans-serif", 13))
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

/// The ROC curve's points `(false positive rate, true positive rate)` from (0, 0) to
/// (1, 1), one step per distinct score; empty without positives or negatives.
pub fn roc_points(positives: &[f64], negatives: &[f64]) -> Vec<(f64, f64)> {
    if positives.is_empty() || negatives.is_empty() {
        return Vec::new();
    }
    let mut scores: Vec<f64> = positives
        .iter()
        .chain(negatives)
        .copied()
        .filter(|s| s.is_finite())
        .collect();
    scores.sort_by(|a, b| b.total_cmp(a));
    scores.dedup();
    let rate = |values: &[f64], threshold: f64| {
        values.iter().filter(|v| **v >= threshold).count() as f64 / values.len() as f64
    };
    let mut points = vec![(0.0, 0.0)];
    points.extend(
        scores
            .iter()
            .map(|t| (rate(negatives, *t), rate(positives, *t))),
    );
    points.push((1.0, 1.0));
    points
}

/// An organizer's ROC curve of one submission (per-study data: never for participants).
pub fn roc(title: &str, positives: &[f64], negatives: &[f64]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (420, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption(title, ("sans-serif", 15))
            .x_label_area_size(35)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0f64..1.0, 0.0f64..1.0)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                RGBColor(190, 190, 190),
            )))
            .map_err(plot_error)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                roc_points(positives, negatives),
                RGBColor(11, 92, 173).stroke_width(2),
            )))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// An organizer's scatter of true against predicted severity over COVID-19 studies.
pub fn severity_scatter(points: &[(f64, f64)]) -> anyhow::Result<String> {
    let max = points
        .iter()
        .flat_map(|(a, b)| [*a, *b])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (420, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .caption("Severity: truth against prediction", ("sans-serif", 15))
            .x_label_area_size(35)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..max * 1.05, 0.0..max * 1.05)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("true affected %")
            .y_desc("predicted")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|(a, b)| a.is_finite() && b.is_finite())
                    .map(|(a, b)| Circle::new((*a, *b), 4, RGBColor(11, 92, 173).filled())),
            )
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn plot_error(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing a plot: {err}")
}

#[cfg(test)]
mod tests {
    use super::{Entry, forest, roc, roc_points, severity_scatter};

    #[test]
    fn a_perfect_score_has_a_roc_curve_through_the_top_left_corner() {
        let points = roc_points(&[0.9, 0.8], &[0.1, 0.2]);
        assert_eq!(points.first(), Some(&(0.0, 0.0)));
        assert!(points.contains(&(0.0, 1.0)));
        assert_eq!(points.last(), Some(&(1.0, 1.0)));
        assert!(roc_points(&[], &[0.1]).is_empty());
        assert!(roc("ROC", &[0.9], &[0.1]).unwrap().contains("</svg>"));
        assert!(
            severity_scatter(&[(1.0, 2.0), (f64::NAN, 1.0)])
                .unwrap()
                .contains("</svg>")
        );
    }

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
