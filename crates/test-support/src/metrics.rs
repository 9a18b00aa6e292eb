//! Reading metrics back in tests: from a `prometheus::Registry` ([`metric`]) or from the
//! Prometheus text a `/metrics` endpoint answers ([`scraped`], [`series`]).

use prometheus::proto::MetricType;
use prometheus::Registry;

/// Sum of the samples of metric family `name` whose labels include every `(label, value)` of
/// `labels`: counters and gauges by value, histograms by sample count.
pub fn metric(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut sum = 0.0;
    for family in registry.gather().iter().filter(|f| f.name() == name) {
        for m in family.get_metric() {
            let matches = labels.iter().all(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == *k && l.value() == *v)
            });
            if !matches {
                continue;
            }
            sum += match family.get_field_type() {
                MetricType::COUNTER => m.get_counter().get_value(),
                MetricType::GAUGE => m.get_gauge().get_value(),
                MetricType::HISTOGRAM => m.get_histogram().get_sample_count() as f64,
                _ => 0.0,
            };
        }
    }
    sum
}

/// Everything `registry` holds, as Prometheus text (what `/metrics` answers).
pub fn text(registry: &Registry) -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .expect("metrics encode")
}

/// Sum of the series named exactly `name` (a sample name: `x_total`, `x_count`, `x_bucket` …) in
/// Prometheus `text` whose labels include every `(label, value)` of `labels`.
pub fn scraped(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (series_name, label_text) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let wanted = series_name == name
                && labels.iter().all(|(k, v)| {
                    label_text
                        .split(',')
                        .any(|pair| pair == format!("{k}=\"{v}\""))
                });
            wanted.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// The value of the one series `series`, written as Prometheus text writes it
/// (`name{label="value"}`), or `None` when `text` has no such series.
pub fn series(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{IntCounterVec, Opts};

    #[test]
    fn registry_and_text_agree() {
        let registry = Registry::new();
        let c =
            IntCounterVec::new(Opts::new("t_total", "help"), &["sink", "reason"]).expect("counter");
        registry.register(Box::new(c.clone())).expect("register");
        c.with_label_values(&["a", "x"]).inc_by(2);
        c.with_label_values(&["b", "x"]).inc();
        let text = text(&registry);
        assert_eq!(metric(&registry, "t_total", &[]), 3.0);
        assert_eq!(metric(&registry, "t_total", &[("sink", "a")]), 2.0);
        assert_eq!(scraped(&text, "t_total", &[("reason", "x")]), 3.0);
        assert_eq!(scraped(&text, "t_total", &[("sink", "b")]), 1.0);
        assert_eq!(scraped(&text, "t_tota", &[]), 0.0);
        assert_eq!(series(&text, "t_total{reason=\"x\",sink=\"a\"}"), Some(2.0));
        assert_eq!(series(&text, "t_total{sink=\"c\"}"), None);
    }
}
