//! Line charts drawn on the server as inline SVG: readable without
//! JavaScript, refreshed by the page script like any other live part.
//! Colours come from the stylesheet (classes `s0`, `s1`, `s2`), so the
//! chart follows dark mode and needs no inline style.
use maud::{Markup, html};

/// One line: its name in the legend and its points (x in ms, y).
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// Its points in time order: x in ms since the epoch, y the value.
    pub points: Vec<(i64, f64)>,
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const PAD_L: f64 = 48.0;
const PAD_B: f64 = 20.0;

/// A chart of `series` over x in `from..=to` (ms), labelled `left` and `right` below.
pub fn line_chart(label: &str, from: i64, to: i64, left: &str, right: &str, series: &[Series]) -> Markup {
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
    let top = nice_ceiling(max);
    let span = (to - from).max(1) as f64;
    let x = |t: i64| PAD_L + (t - from) as f64 / span * (W - PAD_L - 4.0);
    let y = |v: f64| 4.0 + (1.0 - v / top) * (H - PAD_B - 8.0);
    let empty = series.iter().all(|s| s.points.is_empty());
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(label) preserveAspectRatio="none" {
                line.axis x1=(PAD_L) y1=(y(0.0)) x2=(W - 4.0) y2=(y(0.0)) {}
                line.grid x1=(PAD_L) y1=(y(top)) x2=(W - 4.0) y2=(y(top)) {}
                line.grid x1=(PAD_L) y1=(y(top / 2.0)) x2=(W - 4.0) y2=(y(top / 2.0)) {}
                text.tick x=(PAD_L - 6.0) y=(y(top) + 4.0) text-anchor="end" { (fmt_tick(top)) }
                text.tick x=(PAD_L - 6.0) y=(y(0.0) + 4.0) text-anchor="end" { "0" }
                text.tick x=(PAD_L) y=(H - 4.0) { (left) }
                text.tick x=(W - 4.0) y=(H - 4.0) text-anchor="end" { (right) }
                @for (i, s) in series.iter().enumerate() {
                    @let pts: Vec<String> = s.points.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
                    polyline class=(format!("line s{i}")) points=(pts.join(" ")) {}
                }
                @if empty {
                    text.tick x=(W / 2.0) y=(H / 2.0) text-anchor="middle" { "no samples yet" }
                }
            }
            figcaption {
                (label) ": "
                @for (i, s) in series.iter().enumerate() {
                    span class=(format!("key s{i}")) { (s.name) }
                    " "
                }
            }
        }
    }
}

/// The next 1, 2 or 5 times a power of ten at or above `v` (1 for 0).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|c| *c >= v).unwrap_or(10.0 * mag)
}

fn fmt_tick(v: f64) -> String {
    if v >= 10.0 || v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(51.0), 100.0);
        assert_eq!(nice_ceiling(0.15), 0.2);
    }

    #[test]
    fn names_are_escaped() {
        let s = Series { name: "<b>x</b>".into(), points: vec![(0, 1.0), (10, 2.0)] };
        let out = line_chart("t", 0, 10, "a", "b", &[s]).into_string();
        assert!(out.contains("&lt;b&gt;x") && !out.contains("<b>"));
    }
}
