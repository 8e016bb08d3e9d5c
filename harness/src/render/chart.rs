//! Charts as inline SVG, drawn by plotters' SVG backend: stacked bars per
//! time bucket, lines over time, and a latency-by-percentile curve on a log
//! axis. Text is SVG `<text>` in the reader's sans-serif font, so a chart
//! needs no font file, script or stylesheet.
//!
//! Every chart takes its axis ranges from the caller, so that charts set
//! side by side (a bug's build and its fix) share their scales.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Chart size in pixels.
pub const WIDTH: u32 = 520;
/// Chart height in pixels.
pub const HEIGHT: u32 = 240;

/// Colours, colour-blind safe (Okabe–Ito).
pub mod palette {
    use plotters::style::RGBColor;
    /// Passed requests.
    pub const PASS: RGBColor = RGBColor(0, 158, 115);
    /// Failed requests.
    pub const FAIL: RGBColor = RGBColor(213, 94, 0);
    /// The median.
    pub const P50: RGBColor = RGBColor(0, 114, 178);
    /// The 99th percentile.
    pub const P99: RGBColor = RGBColor(204, 121, 167);
    /// Failure clusters, in order; the last is "other".
    pub const CLUSTERS: [RGBColor; 6] = [
        RGBColor(213, 94, 0),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(204, 121, 167),
        RGBColor(240, 228, 66),
        RGBColor(120, 120, 120),
    ];
}

/// One layer of a stacked bar chart: a value per bucket.
pub struct Layer<'a> {
    /// The legend's name.
    pub name: &'a str,
    /// Its colour.
    pub color: RGBColor,
    /// One value per bucket, from the first.
    pub values: Vec<f64>,
}

/// One line: points `(x, y)`.
pub struct Line<'a> {
    /// The legend's name.
    pub name: &'a str,
    /// Its colour.
    pub color: RGBColor,
    /// The points, by x.
    pub points: Vec<(f64, f64)>,
}

/// What a chart is about and its ranges.
pub struct Frame<'a> {
    /// The caption.
    pub title: &'a str,
    /// The y axis's description.
    pub y_desc: &'a str,
    /// The x range's end (seconds for time charts).
    pub x_max: f64,
    /// The y range's end.
    pub y_max: f64,
    /// Spans of x to shade (a time chart's fault windows).
    pub shade: &'a [(f64, f64)],
}

/// A fault window's shade.
const SHADE: RGBColor = RGBColor(230, 160, 0);

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| Box::new(e) as _))
    };
    match result {
        Ok(()) => out,
        Err(e) => format!("<p class=\"err\">chart not drawn: {e}</p>"),
    }
}

fn nice(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.08
    } else {
        1.0
    }
}

type Linear<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart with linear axes from 0 to the frame's ranges, its mesh drawn
/// (vertical lines only with `x_mesh`).
fn linear<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    frame: &Frame<'_>,
    x_desc: &str,
    x_mesh: bool,
) -> Result<Linear<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .caption(frame.title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..nice(frame.x_max), 0f64..nice(frame.y_max))?;
    let mut mesh = chart.configure_mesh();
    if !x_mesh {
        mesh.disable_x_mesh();
    }
    mesh.x_desc(x_desc)
        .y_desc(frame.y_desc)
        .max_light_lines(0)
        .label_style(("sans-serif", 11))
        .draw()?;
    let top = nice(frame.y_max);
    chart.draw_series(
        frame
            .shade
            .iter()
            .map(|&(from, to)| Rectangle::new([(from, 0.0), (to, top)], SHADE.mix(0.18).filled())),
    )?;
    Ok(chart)
}

/// Stacked bars, one per bucket of `bucket` x units, layers bottom up.
pub fn stacked_bars(frame: &Frame<'_>, bucket: f64, layers: &[Layer<'_>]) -> String {
    svg(|root| {
        let mut chart = linear(root, frame, "seconds from start", false)?;
        let buckets = layers.iter().map(|l| l.values.len()).max().unwrap_or(0);
        let mut base = vec![0.0; buckets];
        for layer in layers {
            let color = layer.color;
            let bars: Vec<_> = layer
                .values
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > 0.0)
                .map(|(i, &v)| {
                    let x = i as f64 * bucket;
                    let y0 = base[i];
                    Rectangle::new([(x, y0), (x + bucket, y0 + v)], color.filled())
                })
                .collect();
            for (b, v) in base.iter_mut().zip(&layer.values) {
                *b += v;
            }
            chart
                .draw_series(bars)?
                .label(layer.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        legend(&mut chart)
    })
}

/// Lines over x, broken wherever two points are more than `max_gap` apart
/// (a stretch with no data is not drawn as a slope), each point marked.
pub fn lines(frame: &Frame<'_>, x_desc: &str, max_gap: f64, series: &[Line<'_>]) -> String {
    svg(|root| {
        let mut chart = linear(root, frame, x_desc, true)?;
        for line in series {
            let color = line.color;
            let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
            for &p in &line.points {
                match runs.last_mut() {
                    Some(run) if run.last().is_some_and(|q| p.0 - q.0 <= max_gap) => run.push(p),
                    _ => runs.push(vec![p]),
                }
            }
            for run in &runs {
                chart.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))?;
            }
            chart
                .draw_series(
                    line.points
                        .iter()
                        .map(|&p| Circle::new(p, 2, color.filled())),
                )?
                .label(line.name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 12, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    })
}

/// The deepest percentile the distribution chart shows: 99.999 %.
pub const DEEPEST: f64 = 0.99999;

/// The quantiles the distribution chart samples, evenly on its log axis.
pub fn distribution_quantiles() -> Vec<f64> {
    (0..=100)
        .map(|k| 1.0 - 10f64.powf(-f64::from(k) / 20.0))
        .filter(|&q| q <= DEEPEST)
        .collect()
}

/// Latency by percentile: x is the percentile on a log scale of
/// `1 / (1 - q)` (50 %, 90 %, 99 %, 99.9 % … equally apart), `series`
/// points are `(q, ms)`.
pub fn percentiles(frame: &Frame<'_>, series: &[Line<'_>]) -> String {
    svg(|root| {
        let x_max = 1.0 / (1.0 - DEEPEST);
        let mut chart = ChartBuilder::on(root)
            .caption(frame.title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d((1f64..x_max).log_scale(), 0f64..nice(frame.y_max))?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc(frame.y_desc)
            .x_labels(6)
            .x_label_formatter(&|v| {
                let p = 100.0 * (1.0 - 1.0 / v);
                let digits = (v.log10().round() as usize).saturating_sub(2);
                format!("{p:.digits$}%")
            })
            .max_light_lines(0)
            .label_style(("sans-serif", 11))
            .draw()?;
        for line in series {
            let color = line.color;
            let points = line
                .points
                .iter()
                .filter(|(q, _)| *q < 1.0)
                .map(|&(q, ms)| (1.0 / (1.0 - q), ms));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(line.name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 12, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    })
}

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 11))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_text_and_nothing_fetched() {
        let frame = Frame {
            title: "throughput",
            y_desc: "req/s",
            x_max: 3.0,
            y_max: 100.0,
            shade: &[(0.2, 0.4)],
        };
        let bars = stacked_bars(
            &frame,
            0.1,
            &[
                Layer {
                    name: "passed",
                    color: palette::PASS,
                    values: vec![50.0; 15],
                },
                Layer {
                    name: "failed",
                    color: palette::FAIL,
                    values: vec![0.0, 40.0],
                },
            ],
        );
        assert!(bars.starts_with("<svg"), "{}", &bars[..bars.len().min(200)]);
        assert!(bars.contains("throughput") && bars.contains("failed"));
        assert!(bars.matches("<rect").count() >= 16);
        // The fault window is shaded.
        assert!(bars.contains("#E6A000"), "no shade in the chart");
        let curve = percentiles(
            &Frame {
                title: "latency by percentile",
                y_desc: "ms",
                x_max: 1.0,
                y_max: 10.0,
                shade: &[],
            },
            &[Line {
                name: "after",
                color: palette::P50,
                points: distribution_quantiles()
                    .into_iter()
                    .map(|q| (q, q * 10.0))
                    .collect(),
            }],
        );
        assert!(curve.contains("99.9%"), "percentile labels");
        for svg in [bars, curve] {
            for outside in ["href", "src=", "url(", "<script", "<link", "@import"] {
                assert!(!svg.contains(outside), "{outside}");
            }
        }
    }
}
