//! Line charts of per-epoch values (`loss.png`), drawn by plotters into memory with a bundled
//! font, so that no system font or fontconfig is needed, then saved as a PNG.

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use ::image::RgbImage;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{PictureError, save_png};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 400;
/// Open Sans Regular (Apache-2.0; see assets/README.md), registered as plotters' sans-serif.
static FONT: &[u8] = include_bytes!("../../assets/OpenSans-Regular.ttf");
/// Line colors, in series order (matplotlib's first four).
const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];
const INK: RGBColor = RGBColor(30, 30, 30);
const GRID: RGBColor = RGBColor(225, 225, 225);
const LEGEND_BORDER: RGBColor = RGBColor(170, 170, 170);
/// The legend's room for a line sample left of each name, and its inner margin, in pixels.
const LEGEND_SWATCH: u32 = 30;
const LEGEND_MARGIN: u32 = 10;
/// Series with at most this many points mark each one; longer ones only isolated points.
const MARKED_POINTS: usize = 25;
/// At most about this many intervals between ticks on an axis.
const X_TICKS: f64 = 10.0;
const Y_TICKS: f64 = 8.0;

/// Draws `series` (name, (epoch, value) points) against the epoch and saves the chart as a
/// PNG: a title, axes with ticks at round numbers (whole epochs on x), axis labels, and a
/// legend naming each series in its color.
///
/// Points that are NaN or infinite are skipped and break their line. Points are marked (all of
/// a series of up to 25, else only isolated ones), so a single epoch shows as a dot. The legend
/// goes in a corner the lines leave free, or the y axis grows to make room for it above them.
/// With no finite point at all the axes span [0, 1].
pub fn save_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[(&str, &[(f64, f64)])],
) -> Result<(), PictureError> {
    let img = line_chart(title, y_label, series).map_err(|error| PictureError::Draw {
        path: path.to_owned(),
        error,
    })?;
    save_png(&img, path)
}

/// What plotters reports: a drawing or a font error.
type DrawResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
type Area<'b> = DrawingArea<BitMapBackend<'b>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Axis, Axis>>;

fn line_chart(
    title: &str,
    y_label: &str,
    series: &[(&str, &[(f64, f64)])],
) -> DrawResult<RgbImage> {
    register_font();
    let finite = || {
        series
            .iter()
            .flat_map(|(_, points)| points.iter())
            .filter(|p| is_finite(p))
    };
    let x = || Axis::fit(finite().map(|p| p.0), X_TICKS, 1.0);
    let y = |top: Option<f64>| Axis::fit(finite().map(|p| p.1).chain(top), Y_TICKS, 0.0);
    let legend = legend_size(series)?;
    let mut pixels = vec![0; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = axes(&root, title, y_label, x(), y(None))?;
        let (mut corner, covered) = legend_corner(&chart, series, legend);
        // The part of the plot's height an upper legend takes, with its 5 px offset and 5 more.
        let legend_rows =
            f64::from(legend.1 + 10) / f64::from(chart.plotting_area().dim_in_pixel().1);
        if covered > 0 && legend_rows < 0.5 {
            // No corner is free: raise the y axis's top so that the lines pass under the legend.
            let Range { start, end } = chart.y_range();
            let top = (end - legend_rows * start) / (1.0 - legend_rows);
            chart = axes(&root, title, y_label, x(), y(Some(top)))?;
            corner = SeriesLabelPosition::UpperRight;
        }
        for (&(name, points), &color) in series.iter().zip(PALETTE.iter().cycle()) {
            let style = color.filled().stroke_width(2);
            let marked = points.len() <= MARKED_POINTS;
            chart
                .draw_series(runs(points).flat_map(|run| {
                    let marker = if marked || run.len() == 1 { 3 } else { 0 };
                    LineSeries::new(run.iter().copied(), style).point_size(marker)
                }))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
        }
        chart
            .configure_series_labels()
            .position(corner)
            .legend_area_size(LEGEND_SWATCH)
            .margin(LEGEND_MARGIN)
            .background_style(WHITE.mix(0.85))
            .border_style(LEGEND_BORDER)
            .label_font(text(14))
            .draw()?;
        root.present()?;
    }
    Ok(RgbImage::from_raw(WIDTH, HEIGHT, pixels)
        .expect("the buffer holds WIDTH x HEIGHT RGB pixels"))
}

/// Clears `root` and draws the title, the axes, their ticks and labels, and the grid.
fn axes<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    y_label: &str,
    x: Axis,
    y: Axis,
) -> DrawResult<Chart<'a, 'b>> {
    root.fill(&WHITE)?;
    let (x_format, y_format) = (x.formatter(), y.formatter());
    let mut chart = ChartBuilder::on(root)
        .caption(title, text(22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(INK)
        .label_style(text(14))
        .axis_desc_style(text(15))
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .x_desc("epoch")
        .y_desc(y_label)
        .draw()?;
    Ok(chart)
}

/// The bundled font at `size` pixels, in the ink color.
fn text(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

/// The size of the legend box plotters will draw: the names, the swatch and the margins.
fn legend_size(series: &[(&str, &[(f64, f64)])]) -> DrawResult<(i32, i32)> {
    let font = text(14);
    let mut names = MultiLineText::<(i32, i32), &str>::new((0, 0), &font);
    for &(name, _) in series {
        names.push_line(name);
    }
    let (w, h) = names.estimate_dimension()?;
    let margins = 2 * LEGEND_MARGIN as i32;
    Ok((w + LEGEND_SWATCH as i32 + margins, h + margins))
}

/// The legend's corner: of the plot's four, the one whose legend box of size `(w, h)` covers
/// the fewest samples along the lines (the upper right on a tie), as matplotlib's
/// `loc="best"` does; and how many samples it covers.
fn legend_corner(
    chart: &Chart,
    series: &[(&str, &[(f64, f64)])],
    (w, h): (i32, i32),
) -> (SeriesLabelPosition, usize) {
    let area = chart.plotting_area();
    let ((area_w, area_h), (x0, y0)) = (area.dim_in_pixel(), area.get_base_pixel());
    let samples: Vec<(i32, i32)> = series
        .iter()
        .flat_map(|(_, points)| runs(points))
        .flat_map(along)
        .map(|p| {
            let (x, y) = chart.backend_coord(&p);
            (x - x0, y - y0)
        })
        .collect();
    // plotters sets a corner's box 5 px in from both edges.
    let (left, right) = (5, area_w as i32 - w - 5);
    let (top, bottom) = (5, area_h as i32 - h - 5);
    [
        (SeriesLabelPosition::UpperRight, right, top),
        (SeriesLabelPosition::UpperLeft, left, top),
        (SeriesLabelPosition::LowerRight, right, bottom),
        (SeriesLabelPosition::LowerLeft, left, bottom),
    ]
    .into_iter()
    .map(|(corner, bx, by)| {
        let inside =
            |&&(x, y): &&(i32, i32)| (bx..=bx + w).contains(&x) && (by..=by + h).contains(&y);
        (corner, samples.iter().filter(inside).count())
    })
    .min_by_key(|&(_, covered)| covered)
    .expect("four corners")
}

/// The unbroken runs of finite points of a series.
fn runs(points: &[(f64, f64)]) -> impl Iterator<Item = &[(f64, f64)]> {
    points.split(|p| !is_finite(p))
}

/// A run's points and 15 more along each of its segments.
fn along(run: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    let between = run.windows(2).flat_map(|pair| {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        (1..16).map(move |k| {
            let t = f64::from(k) / 16.0;
            (x0 + t * (x1 - x0), y0 + t * (y1 - y0))
        })
    });
    run.iter().copied().chain(between)
}

/// Registers the bundled font as "sans-serif", once per process.
fn register_font() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // A font that does not parse (the unit test below proves it does) leaves "sans-serif"
        // unregistered; drawing text then fails with `FontUnavailable`, which `save_chart`
        // reports as `PictureError::Draw`.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn is_finite(&(x, y): &(f64, f64)) -> bool {
    x.is_finite() && y.is_finite()
}

/// One axis: the range shown (the data's, plus a margin so that marks at the ends stay
/// whole) and ticks at round numbers inside it.
struct Axis {
    coord: RangedCoordf64,
    step: f64,
    ticks: Vec<f64>,
}

/// plotters' own f64 axis with our ticks (plotters' `WithKeyPoints` over an f64 range cannot
/// be given a label formatter).
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.coord.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.coord.range()
    }
}

impl Axis {
    /// Fits `values` with about `intervals` tick intervals, no finer than `min_step`.
    fn fit(values: impl Iterator<Item = f64>, intervals: f64, min_step: f64) -> Self {
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let range = if lo > hi {
            0.0..1.0
        } else if lo == hi {
            let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
            lo - half..hi + half
        } else {
            let margin = (hi - lo) * 0.03;
            lo - margin..hi + margin
        };
        let step = round_step((range.end - range.start) / intervals).max(min_step);
        let first = (range.start / step).ceil();
        let ticks = (0..)
            .map(|i| (first + f64::from(i)) * step)
            .take_while(|&t| t <= range.end)
            .collect();
        Axis {
            coord: range.into(),
            step,
            ticks,
        }
    }

    /// Formats a tick with as many decimals as the step needs (and "0", never "-0").
    fn formatter(&self) -> impl Fn(&f64) -> String + use<> {
        let decimals = (-self.step.log10().floor()).max(0.0) as usize;
        move |&value| format!("{:.*}", decimals, value + 0.0)
    }
}

/// The smallest of 1, 2 or 5 × 10^k that is at least `raw`.
fn round_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use ::image::ImageReader;

    use super::*;
    use crate::fsutil::{file_names, scratch_dir};

    fn render(series: &[(&str, &[(f64, f64)])]) -> RgbImage {
        line_chart("A title", "loss (nats)", series).expect("draw")
    }

    /// The x coordinates of the pixels of exactly `color` inside the plot, away from the
    /// title and the tick labels (whose antialiased text has every gray).
    fn columns_of(img: &RgbImage, color: RGBColor) -> Vec<u32> {
        let rgb = [color.0, color.1, color.2];
        img.enumerate_pixels()
            .filter(|&(x, y, p)| x >= 80 && (40..HEIGHT - 60).contains(&y) && p.0 == rgb)
            .map(|(x, _, _)| x)
            .collect()
    }

    /// Pixels that are not white in the rectangle `[x0, x1) × [y0, y1)`.
    fn inked(img: &RgbImage, (x0, y0): (u32, u32), (x1, y1): (u32, u32)) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 != [255, 255, 255])
            .count()
    }

    #[test]
    fn the_bundled_font_parses() {
        assert!(plotters::style::register_font("gengpu-test", FontStyle::Normal, FONT).is_ok());
    }

    #[test]
    fn saves_a_png_of_the_chart_size() {
        let dir = scratch_dir("chart-png");
        let path = dir.join("loss.png");
        let train = [(1.0, 250.0), (2.0, 160.0), (3.0, 140.0)];
        save_chart(&path, "VAE loss", "loss", &[("train", &train)]).expect("save");
        let img = ImageReader::open(&path)
            .expect("open")
            .decode()
            .expect("decode");
        assert_eq!((img.width(), img.height()), (WIDTH, HEIGHT));
        assert_eq!(file_names(&dir), ["loss.png"]);
        std::fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn title_legend_and_series_are_drawn() {
        let a = [(1.0, 0.9), (2.0, 0.7), (3.0, 0.6)];
        let b = [(1.0, 0.2), (2.0, 0.4), (3.0, 0.45)];
        let img = render(&[("D loss", &a), ("G loss", &b)]);
        assert!(
            inked(&img, (200, 0), (440, 34)) > 100,
            "a title in the top margin"
        );
        assert!(!columns_of(&img, LEGEND_BORDER).is_empty(), "a legend");
        assert!(
            !columns_of(&img, PALETTE[0]).is_empty(),
            "series 1 in its color"
        );
        assert!(
            !columns_of(&img, PALETTE[1]).is_empty(),
            "series 2 in its color"
        );
        assert!(columns_of(&img, PALETTE[2]).is_empty(), "no third series");
    }

    #[test]
    fn the_legend_goes_where_the_lines_are_not() {
        let rising = [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)];
        let legend = columns_of(&render(&[("rising", &rising)]), LEGEND_BORDER);
        assert!(legend.iter().all(|&x| x < WIDTH / 2), "upper left");
        let falling = [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)];
        let legend = columns_of(&render(&[("falling", &falling)]), LEGEND_BORDER);
        assert!(legend.iter().all(|&x| x > WIDTH / 2), "upper right");
    }

    #[test]
    fn a_single_point_and_non_finite_values_draw() {
        let one = [(1.0, 194.0)];
        let img = render(&[("train", &one), ("test", &one)]);
        assert!(
            img.pixels()
                .any(|p| p.0 == [PALETTE[1].0, PALETTE[1].1, PALETTE[1].2])
        );
        let gaps = [
            (1.0, f64::NAN),
            (2.0, 3.0),
            (f64::INFINITY, 1.0),
            (4.0, 2.0),
            (5.0, 1.5),
        ];
        let nothing = [(1.0, f64::NAN), (2.0, f64::NEG_INFINITY)];
        render(&[("gaps", &gaps), ("nothing", &nothing), ("empty", &[])]);
        render(&[]);
    }

    #[test]
    fn ticks_are_round_and_epochs_whole() {
        let x = Axis::fit([1.0, 2.0].into_iter(), X_TICKS, 1.0);
        assert_eq!(x.ticks, [1.0, 2.0]);
        let x = Axis::fit([1.0].into_iter(), X_TICKS, 1.0);
        assert_eq!(x.ticks, [1.0]);
        let x = Axis::fit((1..=100).map(f64::from), X_TICKS, 1.0);
        assert_eq!((x.step, x.ticks.len()), (20.0, 6));
        let y = Axis::fit([0.43, 0.92].into_iter(), Y_TICKS, 0.0);
        assert_eq!(y.step, 0.1);
        let labels: Vec<String> = y.ticks.iter().map(y.formatter()).collect();
        assert_eq!(labels, ["0.5", "0.6", "0.7", "0.8", "0.9"]);
        let y = Axis::fit([-1.0, 1.0].into_iter(), Y_TICKS, 0.0);
        assert!(y.ticks.iter().map(y.formatter()).any(|l| l == "0.0"));
    }
}
