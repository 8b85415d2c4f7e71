//! Metric downsampling that keeps the shape of a series: extremes and ends survive.
//!
//! Points arrive in step order, one at a time, and the series' length is not known up
//! front. Up to `max_points` points are kept as they are (a short series comes back
//! unchanged). Past that, consecutive points are grouped into buckets of `width` points
//! (a power of two), and each bucket remembers only its first, minimum, maximum and last
//! point. When a new point would need more than `max_points / 4` buckets, the width
//! doubles and neighbouring buckets merge pairwise. Memory stays bounded by `max_points`
//! whatever the series' length, and the output never has more than `max_points` points.
//!
//! NaN never counts as a minimum or maximum unless a bucket holds nothing else.

use crate::entities::Point;

/// The fewest points a downsampled series may ask for: a bucket's four points.
pub const MIN_POINTS: usize = 4;
/// The points a request gets when it does not say.
pub const DEFAULT_POINTS: usize = 1_000;
/// The most points a request may ask for.
pub const MAX_POINTS: usize = 10_000;

/// Downsamples one series read in step order; feed it with [`Downsampler::push`].
#[derive(Debug, Clone)]
pub struct Downsampler {
    max_points: usize,
    /// Every point so far, while there are at most `max_points`.
    raw: Vec<Point>,
    /// Once `raw` overflowed: buckets of `width` consecutive points.
    buckets: Vec<Bucket>,
    width: u64,
    total: u64,
}

/// A point with its position in the series, so merged buckets stay in series order.
#[derive(Debug, Clone, Copy)]
struct At {
    index: u64,
    point: Point,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    first: At,
    min: At,
    max: At,
    last: At,
}

impl Bucket {
    fn new(at: At) -> Self {
        Bucket {
            first: at,
            min: at,
            max: at,
            last: at,
        }
    }

    fn add(&mut self, at: At) {
        if beats(at.point.value, self.min.point.value, |a, b| a < b) {
            self.min = at;
        }
        if beats(at.point.value, self.max.point.value, |a, b| a > b) {
            self.max = at;
        }
        self.last = at;
    }

    /// `self` followed by `next`.
    fn merge(self, next: Bucket) -> Bucket {
        let mut merged = self;
        if beats(next.min.point.value, merged.min.point.value, |a, b| a < b) {
            merged.min = next.min;
        }
        if beats(next.max.point.value, merged.max.point.value, |a, b| a > b) {
            merged.max = next.max;
        }
        merged.last = next.last;
        merged
    }

    /// Its distinct points in series order.
    fn points(&self, out: &mut Vec<Point>) {
        let mut four = [self.first, self.min, self.max, self.last];
        four.sort_by_key(|a| a.index);
        let mut previous = None;
        for a in four {
            if previous != Some(a.index) {
                out.push(a.point);
                previous = Some(a.index);
            }
        }
    }
}

/// Whether `new` replaces `current` as an extreme under `better`: NaN loses to any number.
fn beats(new: f64, current: f64, better: fn(f64, f64) -> bool) -> bool {
    if current.is_nan() {
        !new.is_nan()
    } else {
        better(new, current)
    }
}

impl Downsampler {
    /// A downsampler that returns at most `max_points` points (at least [`MIN_POINTS`]).
    pub fn new(max_points: usize) -> Self {
        let max_points = max_points.max(MIN_POINTS);
        Downsampler {
            max_points,
            raw: Vec::new(),
            buckets: Vec::new(),
            width: 1,
            total: 0,
        }
    }

    fn max_buckets(&self) -> usize {
        self.max_points / 4
    }

    /// Adds the next point of the series.
    pub fn push(&mut self, point: Point) {
        let at = At {
            index: self.total,
            point,
        };
        self.total += 1;
        if self.buckets.is_empty() && self.raw.len() < self.max_points {
            self.raw.push(point);
            return;
        }
        if self.buckets.is_empty() {
            self.bucket_raw();
        }
        let slot = (at.index / self.width) as usize;
        if slot < self.buckets.len() {
            self.buckets[slot].add(at);
            return;
        }
        if slot >= self.max_buckets() {
            self.halve();
        }
        let slot = (at.index / self.width) as usize;
        match self.buckets.get_mut(slot) {
            Some(b) => b.add(at),
            None => self.buckets.push(Bucket::new(at)),
        }
    }

    /// The raw points overflowed: group them in the narrowest power-of-two width that fits.
    fn bucket_raw(&mut self) {
        let n = self.raw.len() as u64 + 1;
        let max = self.max_buckets() as u64;
        while n.div_ceil(self.width) > max {
            self.width *= 2;
        }
        for (i, p) in std::mem::take(&mut self.raw).into_iter().enumerate() {
            let at = At {
                index: i as u64,
                point: p,
            };
            let slot = (at.index / self.width) as usize;
            match self.buckets.get_mut(slot) {
                Some(b) => b.add(at),
                None => self.buckets.push(Bucket::new(at)),
            }
        }
    }

    /// Doubles the width: buckets merge pairwise.
    fn halve(&mut self) {
        self.width *= 2;
        let old = std::mem::take(&mut self.buckets);
        self.buckets = old
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => a.merge(*b),
                [a] => *a,
                _ => unreachable!("chunks(2) yields one or two buckets"),
            })
            .collect();
    }

    /// How many points were pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The downsampled series, in series order.
    pub fn finish(self) -> Vec<Point> {
        if self.buckets.is_empty() {
            return self.raw;
        }
        let mut out = Vec::with_capacity(self.buckets.len() * 4);
        for b in &self.buckets {
            b.points(&mut out);
        }
        out
    }
}

/// Downsamples a whole series (see [`Downsampler`]).
pub fn downsample(points: impl IntoIterator<Item = Point>, max_points: usize) -> Vec<Point> {
    let mut d = Downsampler::new(max_points);
    for p in points {
        d.push(p);
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn series(values: &[f64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| Point {
                value,
                timestamp: 1_000 + i as i64,
                step: i as i64,
            })
            .collect()
    }

    fn steps(points: &[Point]) -> Vec<i64> {
        points.iter().map(|p| p.step).collect()
    }

    #[test]
    fn a_short_series_comes_back_unchanged() {
        let s = series(&[3.0, 1.0, 2.0]);
        assert_eq!(steps(&downsample(s.clone(), 4)), vec![0, 1, 2]);
        assert_eq!(steps(&downsample(s, 1000)), vec![0, 1, 2]);
        assert!(downsample(Vec::new(), 10).is_empty());
    }

    #[test]
    fn a_spike_and_the_last_point_survive() {
        let mut values = vec![1.0; 100_000];
        values[54_321] = 99.0;
        values[12_345] = -7.0;
        values[99_999] = 0.5;
        let out = downsample(series(&values), 100);
        assert!(out.len() <= 100);
        let s = steps(&out);
        assert!(s.contains(&54_321) && s.contains(&12_345));
        assert_eq!(s.first(), Some(&0));
        assert_eq!(s.last(), Some(&99_999));
        assert!(s.windows(2).all(|w| w[0] < w[1]), "in series order");
    }

    #[test]
    fn max_points_below_four_means_four() {
        let out = downsample(series(&[5.0, 1.0, 9.0, 2.0, 3.0, 4.0]), 1);
        assert!(out.len() <= MIN_POINTS);
        assert_eq!(steps(&out), vec![0, 1, 2, 5]);
    }

    #[test]
    fn nan_is_never_an_extreme() {
        let mut values = vec![f64::NAN; 50];
        values[20] = 4.0;
        values[30] = -4.0;
        let out = downsample(series(&values), 8);
        let s = steps(&out);
        assert!(s.contains(&20) && s.contains(&30), "{s:?}");
        assert_eq!((s[0], *s.last().unwrap()), (0, 49));
    }

    #[test]
    fn a_long_series_fills_at_least_half_the_budget() {
        let values: Vec<f64> = (0..1_000_000)
            .map(|i| ((i as f64) / 1000.0).sin())
            .collect();
        let mut d = Downsampler::new(2000);
        for p in series(&values) {
            d.push(p);
        }
        assert_eq!(d.total(), 1_000_000);
        let out = d.finish();
        assert!(out.len() <= 2000 && out.len() >= 1000, "{}", out.len());
    }

    proptest! {
        #[test]
        fn bounded_and_keeps_the_extremes_and_ends(
            values in prop::collection::vec(prop_oneof![
                8 => -1e6f64..1e6,
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
            ], 0..3000),
            max_points in 0usize..300,
        ) {
            let s = series(&values);
            let out = downsample(s.clone(), max_points);
            let budget = max_points.max(MIN_POINTS);
            prop_assert!(out.len() <= budget);
            if s.len() <= budget {
                prop_assert_eq!(steps(&out), steps(&s));
            }
            let kept = steps(&out);
            prop_assert!(kept.windows(2).all(|w| w[0] < w[1]));
            if let (Some(first), Some(last)) = (s.first(), s.last()) {
                prop_assert_eq!(kept.first(), Some(&first.step));
                prop_assert_eq!(kept.last(), Some(&last.step));
            }
            let finite: Vec<&Point> = s.iter().filter(|p| !p.value.is_nan()).collect();
            if !finite.is_empty() {
                let min = finite.iter().map(|p| p.value).fold(f64::INFINITY, f64::min);
                let max = finite.iter().map(|p| p.value).fold(f64::NEG_INFINITY, f64::max);
                prop_assert!(out.iter().any(|p| p.value == min));
                prop_assert!(out.iter().any(|p| p.value == max));
            }
        }
    }
}
