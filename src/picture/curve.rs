//! Loss curves drawn straight into an RGB image, so a run can save its chart as a PNG with
//! no plotting crate.

use ::image::{Rgb, RgbImage};

use super::font::{GLYPH_HEIGHT, draw_text, draw_text_scaled, draw_text_up, text_width};

/// One named line of a chart; points that are NaN or infinite are skipped and break the line.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    pub name: &'a str,
    pub points: &'a [(f64, f64)],
    pub color: [u8; 3],
}

const WIDTH: u32 = 640;
const HEIGHT: u32 = 400;
/// The plot area inside the picture; the margins hold title, tick labels and axis labels.
const PLOT: Rect = Rect::new(80, 40, WIDTH as i32 - 20, HEIGHT as i32 - 48);
/// The plot area less a margin, where data lies, so values at the axis ends stay visible.
const DATA: Rect = Rect::new(PLOT.left + 4, PLOT.top + 4, PLOT.right - 4, PLOT.bottom - 4);
/// About how many intervals an axis is cut into.
const INTERVALS: f64 = 5.0;
const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [30, 30, 30];
const GRID: [u8; 3] = [225, 225, 225];
const LEGEND_BORDER: [u8; 3] = [170, 170, 170];

/// Draws `series` as lines on shared axes (ticks at round numbers), with a title, axis
/// labels, and a legend naming each series in its color. A series with a single finite point
/// (or a point between two gaps) shows as a dot; no data at all gives empty axes on [0, 1].
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> RgbImage {
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb(BACKGROUND));
    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points)
            .filter(|&&p| is_finite(p))
    };
    let x_axis = Axis::fit(finite().map(|p| p.0));
    let y_axis = Axis::fit(finite().map(|p| p.1));
    let to_pixel = |(x, y): (f64, f64)| {
        (
            f64::from(DATA.left) + x_axis.fraction(x) * f64::from(DATA.right - DATA.left),
            f64::from(DATA.bottom) - y_axis.fraction(y) * f64::from(DATA.bottom - DATA.top),
        )
    };

    for (value, label) in x_axis.ticks() {
        let x = to_pixel((value, y_axis.lo)).0.round() as i32;
        fill(&mut img, Rect::new(x, PLOT.top, x, PLOT.bottom), GRID);
        fill(&mut img, Rect::new(x, PLOT.bottom, x, PLOT.bottom + 4), INK);
        draw_text(
            &mut img,
            x - text_width(&label, 1) / 2,
            PLOT.bottom + 8,
            &label,
            INK,
        );
    }
    for (value, label) in y_axis.ticks() {
        let y = to_pixel((x_axis.lo, value)).1.round() as i32;
        fill(&mut img, Rect::new(PLOT.left, y, PLOT.right, y), GRID);
        fill(&mut img, Rect::new(PLOT.left - 4, y, PLOT.left, y), INK);
        let left = PLOT.left - 8 - text_width(&label, 1);
        draw_text(&mut img, left, y - GLYPH_HEIGHT / 2, &label, INK);
    }
    outline(&mut img, PLOT, INK);

    for s in series {
        for run in s.points.split(|&p| !is_finite(p)) {
            match run {
                [] => {}
                [point] => {
                    let (x, y) = to_pixel(*point);
                    let (x, y) = (x.round() as i32, y.round() as i32);
                    fill_clipped(&mut img, Rect::new(x - 2, y - 2, x + 2, y + 2), s.color);
                }
                _ => {
                    for pair in run.windows(2) {
                        line(&mut img, to_pixel(pair[0]), to_pixel(pair[1]), s.color);
                    }
                }
            }
        }
    }

    legend(&mut img, series);
    let title_x = (WIDTH as i32 - text_width(title, 2)) / 2;
    draw_text_scaled(&mut img, title_x, 12, title, INK, 2);
    let x_label_x = (PLOT.left + PLOT.right - text_width(x_label, 1)) / 2;
    draw_text(&mut img, x_label_x, PLOT.bottom + 26, x_label, INK);
    let y_label_y = (PLOT.top + PLOT.bottom + text_width(y_label, 1)) / 2;
    draw_text_up(&mut img, 8, y_label_y, y_label, INK);
    img
}

fn is_finite((x, y): (f64, f64)) -> bool {
    x.is_finite() && y.is_finite()
}

/// An inclusive pixel rectangle.
#[derive(Debug, Clone, Copy)]
struct Rect {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

impl Rect {
    const fn new(left: i32, top: i32, right: i32, bottom: i32) -> Self {
        Rect {
            left,
            top,
            right,
            bottom,
        }
    }
}

/// A linear axis from `lo` to `hi`, both multiples of a round `step` (1, 2 or 5 × 10ⁿ).
#[derive(Debug, Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    step: f64,
}

impl Axis {
    /// The smallest round axis holding all `values`; a widened one if they are all equal.
    fn fit(values: impl Iterator<Item = f64>) -> Self {
        let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (min, max) = if min > max {
            (0.0, 1.0)
        } else if max - min <= max.abs().max(min.abs()) * 1e-12 {
            let half = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
            (min - half, max + half)
        } else {
            (min, max)
        };
        // Halving first keeps the span finite for values near ±f64::MAX.
        let step = round_step((max / 2.0 - min / 2.0) * 2.0 / INTERVALS);
        let (lo, hi) = ((min / step).floor() * step, (max / step).ceil() * step);
        if step.is_finite() && step > 0.0 && lo.is_finite() && hi.is_finite() && lo < hi {
            Axis { lo, hi, step }
        } else {
            Axis {
                lo: min,
                hi: max,
                step: max - min,
            }
        }
    }

    /// Where `v` falls between `lo` (0) and `hi` (1).
    fn fraction(&self, v: f64) -> f64 {
        (v - self.lo) / (self.hi - self.lo)
    }

    /// Tick values with their labels, printed with as many decimals as the step needs.
    fn ticks(&self) -> Vec<(f64, String)> {
        let count = ((self.hi - self.lo) / self.step).round();
        if !(0.0..=50.0).contains(&count) {
            return Vec::new();
        }
        let step_exponent = self.step.log10().floor();
        let largest = self.lo.abs().max(self.hi.abs());
        let scientific = largest >= 1e6 || step_exponent < -4.0;
        (0..=count as u32)
            .map(|i| {
                let v = self.lo + f64::from(i) * self.step;
                // Snap float noise (e.g. -5.5e-17) to zero, which would print as "-0.0".
                let v = if v.abs() < self.step * 1e-6 { 0.0 } else { v };
                let label = if scientific {
                    let digits = (largest.log10().floor() - step_exponent).clamp(0.0, 6.0);
                    format!("{:.*e}", digits as usize, v)
                } else {
                    format!("{:.*}", (-step_exponent).max(0.0) as usize, v)
                };
                (v, label)
            })
            .collect()
    }
}

/// 1, 2 or 5 × 10ⁿ, the nearest round number to `raw`, so ticks read naturally.
fn round_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let round = if fraction < 1.5 {
        1.0
    } else if fraction < 3.0 {
        2.0
    } else if fraction < 7.0 {
        5.0
    } else {
        10.0
    };
    round * magnitude
}

/// A box in the plot's top-right corner: a short line of each series' color and its name.
fn legend(img: &mut RgbImage, series: &[Series]) {
    const SWATCH: i32 = 18;
    const LINE_HEIGHT: i32 = 12;
    if series.is_empty() {
        return;
    }
    let rows = i32::try_from(series.len()).unwrap_or(i32::MAX);
    let names = series
        .iter()
        .map(|s| text_width(s.name, 1))
        .max()
        .unwrap_or(0);
    let right = PLOT.right - 8;
    let left = (right - (6 + SWATCH + 6 + names + 6)).max(PLOT.left + 8);
    let top = PLOT.top + 8;
    let bottom = (top + 4 + rows.saturating_mul(LINE_HEIGHT) + 2).min(PLOT.bottom - 8);
    let frame = Rect::new(left, top, right, bottom);
    fill(img, frame, BACKGROUND);
    outline(img, frame, LEGEND_BORDER);
    for (i, s) in (0..).zip(series) {
        let y = top + 6 + i * LINE_HEIGHT;
        if y + GLYPH_HEIGHT > bottom {
            break;
        }
        let middle = y + GLYPH_HEIGHT / 2;
        fill(
            img,
            Rect::new(left + 6, middle - 1, left + 6 + SWATCH, middle),
            s.color,
        );
        draw_text(img, left + 6 + SWATCH + 6, y, s.name, s.color);
    }
}

/// A 2 px thick line between two points (Bresenham), clipped to the plot area.
fn line(img: &mut RgbImage, from: (f64, f64), to: (f64, f64), color: [u8; 3]) {
    // Clamping keeps the loop short even for wild coordinates; NaN becomes 0, then clipped.
    let snap = |v: f64, lo: i32, hi: i32| v.round().clamp(f64::from(lo), f64::from(hi)) as i32;
    let (mut x, mut y) = (
        snap(from.0, PLOT.left, PLOT.right),
        snap(from.1, PLOT.top, PLOT.bottom),
    );
    let (x1, y1) = (
        snap(to.0, PLOT.left, PLOT.right),
        snap(to.1, PLOT.top, PLOT.bottom),
    );
    let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
    let (sx, sy) = ((x1 - x).signum(), (y1 - y).signum());
    let mut error = dx + dy;
    loop {
        fill_clipped(img, Rect::new(x, y, x + 1, y + 1), color);
        if (x, y) == (x1, y1) {
            break;
        }
        let doubled = 2 * error;
        if doubled >= dy {
            error += dy;
            x += sx;
        }
        if doubled <= dx {
            error += dx;
            y += sy;
        }
    }
}

/// Fills `rect` intersected with the inside of the plot frame, so data never paints over
/// the frame or the labels.
fn fill_clipped(img: &mut RgbImage, rect: Rect, color: [u8; 3]) {
    let clipped = Rect::new(
        rect.left.max(PLOT.left + 1),
        rect.top.max(PLOT.top + 1),
        rect.right.min(PLOT.right - 1),
        rect.bottom.min(PLOT.bottom - 1),
    );
    fill(img, clipped, color);
}

/// Fills `rect` intersected with the image.
fn fill(img: &mut RgbImage, rect: Rect, color: [u8; 3]) {
    let x_end = rect.right.min(img.width() as i32 - 1);
    let y_end = rect.bottom.min(img.height() as i32 - 1);
    for y in rect.top.max(0)..=y_end {
        for x in rect.left.max(0)..=x_end {
            img.put_pixel(x as u32, y as u32, Rgb(color));
        }
    }
}

/// A 1 px frame along the edges of `rect`.
fn outline(img: &mut RgbImage, rect: Rect, color: [u8; 3]) {
    let Rect {
        left,
        top,
        right,
        bottom,
    } = rect;
    for edge in [
        Rect::new(left, top, right, top),
        Rect::new(left, bottom, right, bottom),
        Rect::new(left, top, left, bottom),
        Rect::new(right, top, right, bottom),
    ] {
        fill(img, edge, color);
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use ::image::ImageReader;

    use super::*;
    use crate::fsutil::scratch_dir;
    use crate::picture::save_png;

    const RED: [u8; 3] = [220, 40, 40];
    const BLUE: [u8; 3] = [30, 90, 200];

    fn count(img: &RgbImage, color: [u8; 3]) -> usize {
        img.pixels().filter(|p| p.0 == color).count()
    }

    fn labels(axis: Axis) -> Vec<String> {
        axis.ticks().into_iter().map(|(_, label)| label).collect()
    }

    #[test]
    fn two_series_make_a_png_with_both_colors() {
        let train: Vec<_> = (1..=10)
            .map(|e| (f64::from(e), 200.0 / f64::from(e).sqrt()))
            .collect();
        let test: Vec<_> = (1..=10)
            .map(|e| (f64::from(e), 210.0 / f64::from(e).sqrt()))
            .collect();
        let series = [
            Series {
                name: "train",
                points: &train,
                color: RED,
            },
            Series {
                name: "test",
                points: &test,
                color: BLUE,
            },
        ];
        let img = line_chart("VAE loss", "epoch", "loss (nats)", &series);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // Far more than the legend alone (its swatch is 2x19 px plus the name).
        assert!(count(&img, RED) > 300, "red: {}", count(&img, RED));
        assert!(count(&img, BLUE) > 300, "blue: {}", count(&img, BLUE));

        let dir = scratch_dir("chart");
        let path = dir.join("loss.png");
        save_png(&img, &path).expect("save");
        let back = ImageReader::open(&path)
            .expect("open")
            .decode()
            .expect("decode");
        assert_eq!(back.into_rgb8(), img);
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn awkward_data_draws_without_panicking() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let cases: [&[(f64, f64)]; 7] = [
            &[],
            &[(1.0, 5.0)],
            &[(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)],
            &[(0.0, 0.0), (0.0, 0.0)],
            &[
                (1.0, 2.0),
                (2.0, nan),
                (3.0, 1.0),
                (inf, 1.0),
                (nan, nan),
                (5.0, -inf),
            ],
            &[(-f64::MAX, f64::MAX), (f64::MAX, -f64::MAX)],
            &[(1e-12, 1e9), (2e-12, 3e9)],
        ];
        for points in cases {
            let series = [Series {
                name: "s",
                points,
                color: RED,
            }];
            let img = line_chart("t", "x", "y", &series);
            assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        }
        let img = line_chart("", "", "", &[]);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
    }

    #[test]
    fn a_lone_point_is_drawn_as_a_dot() {
        // Only the dot and the legend use this color; the legend uses 2x19 px + the name.
        let lone = [Series {
            name: "s",
            points: &[(3.0, 7.0)],
            color: RED,
        }];
        let with_legend_only = [Series {
            name: "s",
            points: &[],
            color: RED,
        }];
        let dot = count(&line_chart("", "", "", &lone), RED)
            - count(&line_chart("", "", "", &with_legend_only), RED);
        assert_eq!(dot, 25);
        // A point isolated by NaN on both sides is a dot too; the others form a line.
        let broken = [Series {
            name: "s",
            points: &[
                (0.0, 0.0),
                (1.0, 1.0),
                (2.0, f64::NAN),
                (3.0, 2.0),
                (4.0, f64::NAN),
            ],
            color: RED,
        }];
        let drawn = count(&line_chart("", "", "", &broken), RED)
            - count(&line_chart("", "", "", &with_legend_only), RED);
        assert!(drawn > 25 + 100, "{drawn}");
    }

    #[test]
    fn axes_use_round_ticks() {
        let epochs = Axis::fit((1..=10).map(f64::from));
        assert_eq!((epochs.lo, epochs.hi, epochs.step), (0.0, 10.0, 2.0));
        assert_eq!(labels(epochs), ["0", "2", "4", "6", "8", "10"]);
        let losses = Axis::fit([194.7, 133.2, 118.7].into_iter());
        assert_eq!(labels(losses), ["100", "120", "140", "160", "180", "200"]);
        assert_eq!(
            labels(Axis::fit([-0.3, 0.7].into_iter())),
            ["-0.4", "-0.2", "0.0", "0.2", "0.4", "0.6", "0.8"]
        );
        assert_eq!(
            labels(Axis::fit([1e6, 3e6].into_iter())),
            ["1.0e6", "1.5e6", "2.0e6", "2.5e6", "3.0e6"]
        );
        // Equal values get a widened axis around them; no data gets [0, 1].
        let flat = Axis::fit([3.0, 3.0].into_iter());
        assert!(flat.lo < 3.0 && 3.0 < flat.hi);
        let empty = Axis::fit(std::iter::empty());
        assert_eq!((empty.lo, empty.hi), (0.0, 1.0));
    }
}
