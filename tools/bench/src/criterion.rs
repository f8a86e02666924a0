//! Criterion results: `target/criterion/<id>/new/estimates.json`.
//!
//! The "typical" time is what criterion prints on its `time:` line: the slope
//! of the linear regression when it has one (iteration-count sampling), else
//! the mean. Values are nanoseconds per iteration.

use serde_json::Value;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Nanoseconds per iteration (slope, else mean).
    pub typical_ns: f64,
    /// The 95 % confidence interval of that estimate.
    pub lower_ns: f64,
    pub upper_ns: f64,
    pub median_ns: f64,
}

/// Parses an `estimates.json` document.
pub fn parse_estimates(json: &str) -> Result<Estimate, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let point = |key: &str| -> Option<(f64, f64, f64)> {
        let e = v.get(key)?;
        if e.is_null() {
            return None;
        }
        let ci = e.get("confidence_interval")?;
        Some((
            e.get("point_estimate")?.as_f64()?,
            ci.get("lower_bound")?.as_f64()?,
            ci.get("upper_bound")?.as_f64()?,
        ))
    };
    let (typical_ns, lower_ns, upper_ns) = point("slope")
        .or_else(|| point("mean"))
        .ok_or("neither slope nor mean in estimates.json")?;
    let median_ns = point("median").map(|m| m.0).unwrap_or(typical_ns);
    Ok(Estimate {
        typical_ns,
        lower_ns,
        upper_ns,
        median_ns,
    })
}

/// Reads `<criterion dir>/<id>/new/estimates.json` (`id` like
/// `ingest_core/validate_enrich_pack_1000_events`).
pub fn read(criterion_dir: &Path, id: &str) -> Result<Estimate, String> {
    let path = criterion_dir.join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (did the benchmark run?)", path.display()))?;
    parse_estimates(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_SLOPE: &str = r#"{
      "mean": {"confidence_interval": {"confidence_level": 0.95, "lower_bound": 1168507.6, "upper_bound": 1249004.7}, "point_estimate": 1205353.7, "standard_error": 20625.1},
      "median": {"confidence_interval": {"confidence_level": 0.95, "lower_bound": 1132439.9, "upper_bound": 1165560.3}, "point_estimate": 1142691.9, "standard_error": 8247.2},
      "median_abs_dev": {"confidence_interval": {"confidence_level": 0.95, "lower_bound": 1.0, "upper_bound": 2.0}, "point_estimate": 1.5, "standard_error": 0.1},
      "slope": {"confidence_interval": {"confidence_level": 0.95, "lower_bound": 1150000.0, "upper_bound": 1190000.0}, "point_estimate": 1170000.0, "standard_error": 9000.0},
      "std_dev": {"confidence_interval": {"confidence_level": 0.95, "lower_bound": 1.0, "upper_bound": 2.0}, "point_estimate": 1.5, "standard_error": 0.1}
    }"#;

    #[test]
    fn prefers_the_slope() {
        let e = parse_estimates(WITH_SLOPE).unwrap();
        assert_eq!(e.typical_ns, 1_170_000.0);
        assert_eq!((e.lower_ns, e.upper_ns), (1_150_000.0, 1_190_000.0));
        assert_eq!(e.median_ns, 1_142_691.9);
    }

    #[test]
    fn falls_back_to_the_mean_without_a_slope() {
        let v: serde_json::Value = serde_json::from_str(WITH_SLOPE).unwrap();
        let mut m = v.as_object().unwrap().clone();
        m.insert("slope".into(), serde_json::Value::Null);
        let e = parse_estimates(&serde_json::Value::Object(m).to_string()).unwrap();
        assert_eq!(e.typical_ns, 1_205_353.7);
    }

    #[test]
    fn rejects_other_documents() {
        assert!(parse_estimates("{}").is_err());
        assert!(parse_estimates("not json").is_err());
    }

    #[test]
    fn reads_from_the_criterion_layout() {
        let dir = std::env::temp_dir().join(format!("pulse-bench-crit-{}", std::process::id()));
        let d = dir.join("group/function/new");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("estimates.json"), WITH_SLOPE).unwrap();
        assert_eq!(
            read(&dir, "group/function").unwrap().typical_ns,
            1_170_000.0
        );
        assert!(read(&dir, "group/other")
            .unwrap_err()
            .contains("did the benchmark run"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
