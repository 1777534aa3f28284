//! Plots drawn server-side as SVG with plotters. The board's forest plot has one row per
//! entry, its point estimate and 95% interval: aggregates only, nothing per-study. The ROC
//! curve and severity scatter of one submission draw per-study values and are for the
//! organizers' pages only.

use plotters::prelude::*;

/// One entry of a forest plot.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The row's first line: rank and method.
    pub label: String,
    /// The row's second, smaller line: who submitted it.
    pub by: String,
    /// The point estimate.
    pub value: f64,
    /// The interval.
    pub ci: Option<[f64; 2]>,
    /// Drawn in the baselines' colour, not the participants'.
    pub highlight: bool,
}

/// The plot's width in pixels; on a phone the page lets it scroll sideways at 640 px
/// rather than shrink its type (`.plot-wrap` in `static/style.css`).
const WIDTH: u32 = 760;
/// Width of the labels on the left.
const LABELS: u32 = 300;
/// Height of the title and legend above the rows.
const HEADER: u32 = 64;
/// Height of one entry's row.
const ROW: u32 = 40;
/// Characters of a label line that fit in [`LABELS`] at its font size.
const LABEL_CHARS: usize = 33;

/// The participants' colour and the baselines'.
const PARTICIPANT: RGBColor = RGBColor(11, 92, 173);
const BASELINE: RGBColor = RGBColor(150, 95, 0);
const MUTED: RGBColor = RGBColor(91, 102, 117);

/// The size to ask plotters for so that the SVG's text is `px` pixels: its SVG backend
/// writes `font-size` as the size asked for divided by 1.24.
fn font(px: u32) -> f64 {
    f64::from(px) * 1.24
}

/// A label as drawn: markup characters dropped (labels are participants' text, and the SVG
/// must never carry a script, whatever the backend's escaping) and cut to `max` characters
/// with an ellipsis, so that no label runs into the plot.
fn label_text(text: &str, max: usize) -> String {
    let clean: Vec<char> = text
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
        .collect();
    if clean.len() <= max {
        return clean.into_iter().collect();
    }
    let mut cut: String = clean[..max - 1].iter().collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// Draws `entries` top to bottom over `range` on the x axis, with a legend of the two
/// colours.
pub fn forest(title: &str, entries: &[Entry], range: (f64, f64)) -> anyhow::Result<String> {
    let n = entries.len().max(1);
    let rows = u32::try_from(n).unwrap_or(u32::MAX / (2 * ROW)).min(10_000);
    let height = HEADER + ROW * rows + 48;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        root.draw(&Text::new(
            label_text(title, 70),
            (12, 10),
            ("sans-serif", font(18)).into_font().style(FontStyle::Bold),
        ))
        .map_err(plot_error)?;
        let legend = [
            (PARTICIPANT, "participant", 12),
            (BASELINE, "reference baseline", 140),
        ];
        for (colour, text, x) in legend {
            root.draw(&Circle::new((x + 6, 46), 6, colour.filled()))
                .map_err(plot_error)?;
            root.draw(&Text::new(text, (x + 18, 38), ("sans-serif", font(15))))
                .map_err(plot_error)?;
        }
        let (_, body) = root.split_vertically(HEADER);
        let (_, right) = body.split_horizontally(LABELS);
        let mut chart = ChartBuilder::on(&right)
            .margin_right(20)
            .margin_top(4)
            .x_label_area_size(40)
            .build_cartesian_2d(range.0..range.1, -0.5f64..(n as f64 - 0.5))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(6)
            .light_line_style(RGBColor(235, 238, 242))
            .x_label_style(("sans-serif", font(15)))
            .x_label_formatter(&|x| format!("{x:.1}"))
            .draw()
            .map_err(plot_error)?;
        for (i, entry) in entries.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let colour = if entry.highlight {
                BASELINE
            } else {
                PARTICIPANT
            };
            if let Some([low, high]) = entry.ci {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(low.max(range.0), y), (high.min(range.1), y)],
                        colour.stroke_width(3),
                    )))
                    .map_err(plot_error)?;
            }
            let x = entry.value.clamp(range.0, range.1);
            chart
                .draw_series(std::iter::once(Circle::new((x, y), 6, colour.filled())))
                .map_err(plot_error)?;
            let (_, pixel_y) = chart.backend_coord(&(range.0, y));
            root.draw(&Text::new(
                label_text(&entry.label, LABEL_CHARS),
                (12, pixel_y - 17),
                ("sans-serif", font(15)),
            ))
            .map_err(plot_error)?;
            root.draw(&Text::new(
                label_text(&entry.by, LABEL_CHARS + 6),
                (12, pixel_y + 2),
                ("sans-serif", font(13)).into_font().color(&MUTED),
            ))
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
    use super::{Entry, forest, label_text, roc, roc_points, severity_scatter};

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

    fn entry(label: &str, by: &str, highlight: bool) -> Entry {
        Entry {
            label: label.into(),
            by: by.into(),
            value: 0.8,
            ci: Some([0.7, 0.9]),
            highlight,
        }
    }

    #[test]
    fn a_forest_plot_labels_every_entry_in_full_and_has_a_legend() {
        let entries = vec![
            entry("1. Thresholding (reference)", "by reference-models", true),
            entry("2. <b>x</b>", "by bob", false),
        ];
        let svg = forest("AUC vs all", &entries, (0.0, 1.0)).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("1. Thresholding (reference)"));
        assert!(svg.contains("by reference-models"));
        assert!(
            svg.contains("participant") && svg.contains("reference baseline"),
            "the legend"
        );
        assert!(!svg.contains("<b>"), "labels are escaped");
        let sizes: Vec<f64> = svg
            .split("font-size=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect();
        assert!(!sizes.is_empty(), "the plot's text has sizes");
        assert!(
            sizes.iter().all(|size| *size >= 13.0),
            "no text smaller than 13 px: {sizes:?}"
        );
    }

    #[test]
    fn a_label_too_long_for_its_column_ends_in_an_ellipsis() {
        let long = "A very long method name that would run into the plot";
        let cut = label_text(long, 33);
        assert_eq!(cut.chars().count(), 33);
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));
        assert_eq!(label_text("short", 33), "short");
    }

    #[test]
    fn an_empty_plot_still_draws() {
        assert!(forest("Dice", &[], (0.0, 1.0)).unwrap().contains("</svg>"));
    }
}
