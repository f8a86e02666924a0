//! One table of figures beside their goals, printed and written as JSON.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Goal {
    /// measured ≥ value
    AtLeast(f64),
    /// measured ≤ value
    AtMost(f64),
    /// measured < value
    Below(f64),
    /// Reported, no goal.
    Report,
}

impl Goal {
    pub fn met(self, measured: f64) -> Option<bool> {
        match self {
            Goal::AtLeast(g) => Some(measured >= g),
            Goal::AtMost(g) => Some(measured <= g),
            Goal::Below(g) => Some(measured < g),
            Goal::Report => None,
        }
    }

    fn render(self, unit: &str, decimals: usize) -> String {
        let with = |op: &str, g: f64| {
            let mut shown = num(g, decimals);
            if shown.contains('.') {
                shown = shown.trim_end_matches('0').trim_end_matches('.').to_owned();
            }
            format!("{op} {shown}{}", unit_suffix(unit))
        };
        match self {
            Goal::AtLeast(g) => with("≥", g),
            Goal::AtMost(g) => with("≤", g),
            Goal::Below(g) => with("<", g),
            Goal::Report => "(report)".into(),
        }
    }
}

fn unit_suffix(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

/// `1234567.8` → `1,234,568` (0 decimals) or `1,234,567.80` (2).
pub fn num(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Stable machine id, e.g. `ingest.events_per_s_per_core`.
    pub id: String,
    pub figure: String,
    pub measured: Option<f64>,
    pub unit: String,
    /// The measured value as printed (or why there is none).
    pub display: String,
    pub goal: Goal,
    pub goal_display: String,
    pub met: Option<bool>,
    /// Which tool or file it comes from.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Figure {
    pub fn new(
        id: &str,
        figure: &str,
        measured: Result<f64, String>,
        unit: &str,
        decimals: usize,
        goal: Goal,
        source: &str,
    ) -> Self {
        let (measured, display, met) = match measured {
            Ok(x) => (
                Some(x),
                format!("{}{}", num(x, decimals), unit_suffix(unit)),
                goal.met(x),
            ),
            Err(why) => (None, format!("not measured: {why}"), None),
        };
        Figure {
            id: id.into(),
            figure: figure.into(),
            measured,
            unit: unit.into(),
            display,
            goal,
            goal_display: goal.render(unit, decimals),
            met,
            source: source.into(),
            note: None,
        }
    }

    /// Replaces the printed value (e.g. `5/5 runs`), keeping the number.
    pub fn shown_as(mut self, display: impl Into<String>) -> Self {
        if self.measured.is_some() {
            self.display = display.into();
        }
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// `figure | measured | goal | met?` with aligned columns, notes after the table.
pub fn render_table(figures: &[Figure]) -> String {
    let met = |f: &Figure| match f.met {
        Some(true) => "yes",
        Some(false) => "NO",
        None if f.measured.is_none() => "?",
        None => "-",
    };
    let headers = ["figure", "measured", "goal", "met?"];
    let rows: Vec<[String; 4]> = figures
        .iter()
        .map(|f| {
            let mark = if f.note.is_some() { " *" } else { "" };
            [
                format!("{}{mark}", f.figure),
                f.display.clone(),
                f.goal_display.clone(),
                met(f).to_owned(),
            ]
        })
        .collect();
    let mut w = headers.map(width);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(width(c));
        }
    }
    let line = |cells: [&str; 4]| {
        format!(
            "{} | {} | {} | {}",
            pad(cells[0], w[0]),
            pad(cells[1], w[1]),
            pad(cells[2], w[2]),
            cells[3]
        )
        .trim_end()
        .to_owned()
    };
    let mut out = vec![line(headers)];
    out.push(format!(
        "{}-|-{}-|-{}-|-{}",
        "-".repeat(w[0]),
        "-".repeat(w[1]),
        "-".repeat(w[2]),
        "-".repeat(w[3])
    ));
    for r in &rows {
        out.push(line([&r[0], &r[1], &r[2], &r[3]]));
    }
    let notes: Vec<String> = figures
        .iter()
        .filter_map(|f| f.note.as_ref().map(|n| format!("  * {}: {n}", f.figure)))
        .collect();
    if !notes.is_empty() {
        out.push(String::new());
        out.extend(notes);
    }
    out.join("\n")
}

/// (met, missed, not measured) counts among the figures that have a goal.
pub fn tally(figures: &[Figure]) -> (usize, usize, usize) {
    let with_goal = figures.iter().filter(|f| f.goal != Goal::Report);
    let (mut met, mut missed, mut unknown) = (0, 0, 0);
    for f in with_goal {
        match f.met {
            Some(true) => met += 1,
            Some(false) => missed += 1,
            None => unknown += 1,
        }
    }
    (met, missed, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_with_separators() {
        assert_eq!(num(1_234_567.8, 0), "1,234,568");
        assert_eq!(num(1_234_567.8, 2), "1,234,567.80");
        assert_eq!(num(999.0, 0), "999");
        assert_eq!(num(0.046, 3), "0.046");
        assert_eq!(num(-1500.0, 0), "-1,500");
        assert_eq!(num(-0.0001, 2), "0.00");
    }

    #[test]
    fn goals_decide_met() {
        assert_eq!(Goal::AtLeast(1e6).met(1.07e6), Some(true));
        assert_eq!(Goal::AtLeast(1e6).met(0.92e6), Some(false));
        assert_eq!(Goal::Below(20.0).met(20.0), Some(false));
        assert_eq!(Goal::AtMost(2.5).met(2.5), Some(true));
        assert_eq!(Goal::Report.met(3.0), None);
    }

    #[test]
    fn renders_an_aligned_table_with_notes() {
        let figs = vec![
            Figure::new(
                "a",
                "ingest events/s per core",
                Ok(1_070_000.0),
                "events/s",
                0,
                Goal::AtLeast(1e6),
                "criterion",
            ),
            Figure::new(
                "b",
                "cold start ingest",
                Ok(23.4),
                "ms",
                1,
                Goal::Below(20.0),
                "coldstart",
            )
            .note("against moto on loopback"),
            Figure::new(
                "c",
                "tracker gzip",
                Err("sdk.json missing".into()),
                "KB",
                1,
                Goal::AtMost(17.0),
                "sdk",
            ),
            Figure::new(
                "d",
                "write requests / 1,000 events",
                Ok(1073.0),
                "",
                0,
                Goal::Report,
                "capacity",
            ),
        ];
        let t = render_table(&figs);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("figure"));
        assert!(
            lines[2].contains("1,070,000 events/s")
                && lines[2].contains("≥ 1,000,000 events/s")
                && lines[2].ends_with("yes")
        );
        assert!(lines[3].contains("cold start ingest *") && lines[3].ends_with("NO"));
        assert!(lines[4].contains("not measured: sdk.json missing") && lines[4].ends_with('?'));
        assert!(lines[5].contains("(report)") && lines[5].ends_with('-'));
        // Columns line up: every row has its first separator at the same column.
        let col = |l: &str| l.chars().position(|c| c == '|');
        assert!(lines[2..6].iter().all(|l| col(l) == col(lines[0])));
        assert!(t.contains("* cold start ingest: against moto on loopback"));
        assert_eq!(tally(&figs), (1, 1, 1));
    }

    #[test]
    fn serializes_goals_for_the_json_report() {
        let f = Figure::new("x", "x", Ok(1.0), "ms", 1, Goal::Below(2.0), "t");
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v["goal"],
            serde_json::json!({"kind": "below", "value": 2.0})
        );
        assert_eq!(v["met"], true);
        assert_eq!(v["goal_display"], "< 2 ms");
        let f = Figure::new("y", "y", Ok(0.1), "×", 3, Goal::AtMost(0.5), "t");
        assert_eq!(f.goal_display, "≤ 0.5 ×");
        let f = Figure::new("z", "z", Ok(1.0), "", 0, Goal::AtLeast(1_000_000.0), "t");
        assert_eq!(f.goal_display, "≥ 1,000,000");
        assert!(v.get("note").is_none());
    }
}
