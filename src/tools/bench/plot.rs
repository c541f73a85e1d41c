//! `--plot FILE.svg`: a bench's figures as an SVG chart (plotters), the baseline measured in
//! the same run drawn beside the node: curves over a load, or bars side by side. Axes carry
//! their units; a baseline is dashed (lines) or grey (bars).

use std::path::Path;

use plotters::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("nothing to plot: {0}")]
    Empty(String),
    #[error("drawing {path}: {message}")]
    Draw { path: String, message: String },
}

/// One line, or one kind of bar.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// (x, y) for lines; (category index, y) for bars.
    pub points: Vec<(f64, f64)>,
    /// The baseline measured in the same run (drawn dashed / grey).
    pub baseline: bool,
}

impl Series {
    pub fn node(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self { name: name.into(), points, baseline: false }
    }

    pub fn baseline(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self { name: name.into(), points, baseline: true }
    }

    /// A baseline at one level `y` across the span of `xs` (a budget, a target, an idle
    /// figure); nothing to draw when `xs` is empty.
    pub fn level(name: impl Into<String>, xs: impl IntoIterator<Item = f64>, y: f64) -> Self {
        let (low, high) = xs.into_iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), x| (low.min(x), high.max(x)));
        Self::baseline(name, if low.is_finite() { vec![(low, y), (high, y)] } else { Vec::new() })
    }
}

#[derive(Debug, Clone)]
pub enum Shape {
    Lines,
    /// Grouped bars, one group per category (the series' x is the category's index).
    Bars { categories: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub shape: Shape,
    pub series: Vec<Series>,
}

const NODE_COLOURS: [RGBColor; 7] = [
    RGBColor(47, 111, 222),
    RGBColor(214, 96, 39),
    RGBColor(31, 138, 76),
    RGBColor(142, 68, 173),
    RGBColor(23, 156, 171),
    RGBColor(184, 134, 11),
    RGBColor(199, 21, 133),
];
/// A line with more points than this is drawn without a marker on each (a distribution's curve).
const MARKED_POINTS: usize = 40;
const BASELINE_COLOURS: [RGBColor; 2] = [RGBColor(120, 120, 120), RGBColor(170, 170, 170)];

impl Chart {
    /// Writes the chart as SVG to `path`.
    pub fn save(&self, path: &Path) -> Result<(), PlotError> {
        let points: Vec<(f64, f64)> = self.series.iter().flat_map(|s| s.points.iter().copied()).filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
        if points.is_empty() {
            return Err(PlotError::Empty(self.title.clone()));
        }
        let draw = |message: String| PlotError::Draw { path: path.display().to_string(), message };
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !folder.is_dir()
        {
            return Err(draw(format!("no folder {}", folder.display())));
        }
        let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(e.to_string()))?;
        let y_max = points.iter().map(|(_, y)| *y).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE) * 1.15;
        match &self.shape {
            Shape::Lines => self.lines(&root, &points, y_max).map_err(draw)?,
            Shape::Bars { categories } => self.bars(&root, categories, y_max).map_err(draw)?,
        }
        root.present().map_err(|e| draw(e.to_string()))
    }

    /// The caption and axis areas every chart has.
    fn frame<'a, 'b>(&self, root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
        let mut builder = ChartBuilder::on(root);
        builder.caption(&self.title, ("sans-serif", 22)).margin(16).x_label_area_size(48).y_label_area_size(72);
        builder
    }

    /// Each series' colour: the node's series in turn from one palette, baselines from a grey one.
    fn colours(&self) -> Vec<RGBColor> {
        let (mut node, mut base) = (0, 0);
        self.series
            .iter()
            .map(|series| {
                let (palette, count): (&[RGBColor], &mut usize) = if series.baseline { (&BASELINE_COLOURS, &mut base) } else { (&NODE_COLOURS, &mut node) };
                *count += 1;
                palette[(*count - 1) % palette.len()]
            })
            .collect()
    }

    fn lines(&self, root: &DrawingArea<SVGBackend, plotters::coord::Shift>, points: &[(f64, f64)], y_max: f64) -> Result<(), String> {
        let x_min = points.iter().map(|(x, _)| *x).fold(f64::INFINITY, f64::min);
        let x_max = points.iter().map(|(x, _)| *x).fold(f64::NEG_INFINITY, f64::max);
        let x_span = if x_max > x_min { x_max - x_min } else { 1.0 };
        let mut chart = self.frame(root).build_cartesian_2d((x_min - 0.02 * x_span)..(x_max + 0.02 * x_span), 0.0..y_max).map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .draw()
            .map_err(|e| e.to_string())?;
        for (series, colour) in self.series.iter().zip(self.colours()) {
            let line: Vec<(f64, f64)> = series.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
            let style = colour.stroke_width(if series.baseline { 2 } else { 3 });
            let drawn = if series.baseline {
                chart.draw_series(DashedLineSeries::new(line.clone(), 8, 5, style))
            } else {
                chart.draw_series(LineSeries::new(line.clone(), style))
            };
            drawn.map_err(|e| e.to_string())?.label(&series.name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
            if line.len() <= MARKED_POINTS {
                chart.draw_series(line.iter().map(|p| Circle::new(*p, 3, colour.filled()))).map_err(|e| e.to_string())?;
            }
        }
        legend(&mut chart, emptiest_corner(points, (x_min, x_max), y_max))
    }

    fn bars(&self, root: &DrawingArea<SVGBackend, plotters::coord::Shift>, categories: &[String], y_max: f64) -> Result<(), String> {
        let groups = categories.len().max(1) as f64;
        let names = categories.to_vec();
        let mut chart = self.frame(root).build_cartesian_2d(-0.5..(groups - 0.5), 0.0..y_max).map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(categories.len().max(1))
            .x_label_formatter(&|x| {
                let index = x.round();
                if (x - index).abs() < 1e-6 && index >= 0.0 { names.get(index as usize).cloned().unwrap_or_default() } else { String::new() }
            })
            .y_label_formatter(&|v| tick_label(*v))
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .draw()
            .map_err(|e| e.to_string())?;
        let width = 0.8 / self.series.len().max(1) as f64;
        for (n, (series, colour)) in self.series.iter().zip(self.colours()).enumerate() {
            let left = -0.4 + n as f64 * width;
            let bars = series.points.iter().filter(|(_, y)| y.is_finite()).map(move |(x, y)| Rectangle::new([(x + left, 0.0), (x + left + width * 0.92, *y)], colour.filled()));
            chart
                .draw_series(bars)
                .map_err(|e| e.to_string())?
                .label(&series.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

type Plane<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// The series' names in a box at `position`.
/// Where the legend hides the fewest points: the corner (a third of each axis) holding fewest,
/// upper left first on a tie.
fn emptiest_corner(points: &[(f64, f64)], (x_min, x_max): (f64, f64), y_max: f64) -> SeriesLabelPosition {
    let x_span = (x_max - x_min).max(f64::MIN_POSITIVE);
    let in_corner = |left: bool, upper: bool| {
        points
            .iter()
            .filter(|(x, y)| {
                let (across, up) = ((x - x_min) / x_span, y / y_max.max(f64::MIN_POSITIVE));
                (if left { across < 0.34 } else { across > 0.66 }) && (if upper { up > 0.6 } else { up < 0.4 })
            })
            .count()
    };
    [
        (SeriesLabelPosition::UpperLeft, in_corner(true, true)),
        (SeriesLabelPosition::UpperRight, in_corner(false, true)),
        (SeriesLabelPosition::LowerRight, in_corner(false, false)),
        (SeriesLabelPosition::LowerLeft, in_corner(true, false)),
    ]
    .into_iter()
    .min_by_key(|(_, count)| *count)
    .map_or(SeriesLabelPosition::UpperLeft, |(position, _)| position)
}

fn legend<'a, 'b: 'a>(chart: &mut Plane<'a, 'b>, position: SeriesLabelPosition) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(position)
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws a bench's chart when `--plot` names a file, and says where.
pub fn save_if(path: Option<std::path::PathBuf>, chart: impl FnOnce() -> Chart) -> Result<(), PlotError> {
    if let Some(path) = path {
        chart().save(&path)?;
        println!("  chart: {}", path.display());
    }
    Ok(())
}

/// An axis value as people write it: 5,000 and 0.25, not 5000.0 and 0.250000.
pub(super) fn tick_label(value: f64) -> String {
    if value.abs() >= 100.0 || value == value.trunc() {
        let whole = value.round() as i64;
        let digits = whole.unsigned_abs().to_string();
        let grouped: Vec<String> = digits.as_bytes().rchunks(3).rev().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        format!("{}{}", if whole < 0 { "-" } else { "" }, grouped.join(","))
    } else {
        format!("{value:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(shape: Shape, series: Vec<Series>) -> Chart {
        Chart { title: "finality under load".into(), x_label: "load (tx/s)".into(), y_label: "finality (ms)".into(), shape, series }
    }

    #[test]
    fn a_line_chart_names_its_axes_series_and_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.svg");
        let lines = vec![Series::node("p50", vec![(0.0, 110.0), (500.0, 130.0), (2000.0, 210.0)]), Series::baseline("idle", vec![(0.0, 100.0), (2000.0, 100.0)])];
        chart(Shape::Lines, lines).save(&path).expect("drawn");
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in ["finality under load", "load (tx/s)", "finality (ms)", "p50", "idle"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(svg.contains("<polyline") && svg.contains("stroke-dasharray") || svg.matches("<polyline").count() >= 2);
    }

    #[test]
    fn a_level_spans_its_xs_and_is_empty_without_them() {
        let budget = Series::level("60 Hz", [100.0, 10.0, 1000.0], 16.7);
        assert!(budget.baseline);
        assert_eq!(budget.points, vec![(10.0, 16.7), (1000.0, 16.7)]);
        assert!(Series::level("none", [], 1.0).points.is_empty());
    }

    #[test]
    fn the_legend_goes_where_the_lines_are_not() {
        // Steep curves near the origin fill the upper left; the lower right is empty.
        let crowded: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, (i * 2) as f64)).chain([(1000.0, 100.0)]).collect();
        assert!(matches!(emptiest_corner(&crowded, (0.0, 1000.0), 110.0), SeriesLabelPosition::LowerRight));
        let flat: Vec<(f64, f64)> = (0..10).map(|i| (i as f64 * 100.0, 10.0)).collect();
        assert!(matches!(emptiest_corner(&flat, (0.0, 900.0), 110.0), SeriesLabelPosition::UpperLeft), "upper left on a tie");
    }

    #[test]
    fn axis_values_read_as_people_write_them() {
        assert_eq!(tick_label(5000.0), "5,000");
        assert_eq!(tick_label(1_234_567.0), "1,234,567");
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(12.5), "12.5");
        assert_eq!(tick_label(-2000.0), "-2,000");
    }

    #[test]
    fn a_bar_chart_labels_its_categories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bars.svg");
        let bars = vec![Series::node("zgnode", vec![(0.0, 12.0), (1.0, 30.0)]), Series::baseline("EZKL", vec![(0.0, 40.0), (1.0, 95.0)])];
        chart(Shape::Bars { categories: vec!["digits-small".into(), "digits-large".into()] }, bars).save(&path).expect("drawn");
        let svg = std::fs::read_to_string(&path).unwrap();
        for text in ["digits-small", "digits-large", "zgnode", "EZKL", "<rect"] {
            assert!(svg.contains(text), "{text} missing");
        }
    }

    #[test]
    fn nothing_to_draw_or_nowhere_to_draw_it_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let empty = chart(Shape::Lines, vec![Series::node("p50", vec![(1.0, f64::NAN)])]);
        assert!(matches!(empty.save(&dir.path().join("e.svg")), Err(PlotError::Empty(_))));
        let fine = chart(Shape::Lines, vec![Series::node("p50", vec![(1.0, 2.0)])]);
        let error = fine.save(&dir.path().join("no/such/folder/x.svg")).expect_err("no folder");
        assert!(error.to_string().contains("no folder"), "{error}");
        fine.save(&dir.path().join("one.svg")).expect("a single point is drawn");
    }
}
