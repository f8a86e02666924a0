//! Order statistics over samples (nearest-rank percentiles, as load tools report).

/// The `p`-th percentile (0–100) by nearest rank; `None` for no samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * s.len() as f64).ceil() as usize;
    Some(s[rank.clamp(1, s.len()) - 1])
}

/// The median: the mean of the two middle values for an even count.
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

pub fn mean(samples: &[f64]) -> Option<f64> {
    (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64)
}

pub fn max(samples: &[f64]) -> Option<f64> {
    samples.iter().copied().reduce(f64::max)
}

/// The knee of a throughput curve measured at rising concurrency: the first
/// level after which more concurrency adds less than `min_gain` (e.g. 0.15 =
/// 15 %) throughput; the last level when throughput kept rising.
/// `levels` are (concurrency, requests/s) in rising concurrency.
pub fn knee(levels: &[(usize, f64)], min_gain: f64) -> Option<usize> {
    for w in levels.windows(2) {
        if w[1].1 < w[0].1 * (1.0 + min_gain) {
            return Some(w[0].0);
        }
    }
    levels.last().map(|l| l.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_knee() {
        let curve = [(1, 100.0), (4, 380.0), (16, 700.0), (64, 720.0)];
        assert_eq!(knee(&curve, 0.15), Some(16));
        // Throughput falling after the peak: the peak is the knee.
        assert_eq!(knee(&[(1, 100.0), (4, 90.0)], 0.15), Some(1));
        // Still rising at the last level.
        assert_eq!(knee(&[(1, 100.0), (4, 300.0)], 0.15), Some(4));
        assert_eq!(knee(&[], 0.15), None);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&xs, 50.0), Some(50.0));
        assert_eq!(percentile(&xs, 99.0), Some(99.0));
        assert_eq!(percentile(&xs, 100.0), Some(100.0));
        assert_eq!(percentile(&xs, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 90.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        // 20 samples: p90 is the 18th smallest.
        let xs: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(percentile(&xs, 90.0), Some(18.0));
    }

    #[test]
    fn medians_means_and_max() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
        assert_eq!(median(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(max(&[1.0, 9.0, 2.0]), Some(9.0));
    }
}
