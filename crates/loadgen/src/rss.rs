//! Memory of the bridge under load: `VmRSS` (and the kernel's peak, `VmHWM`) from
//! `/proc/<pid>/status`, or `process_resident_memory_bytes` from a Prometheus `/metrics` page
//! when the bridge exposes it and runs elsewhere. Also the host load average, recorded beside
//! the figures because the machine is shared.

use serde::Serialize;

/// Where RSS samples come from.
#[derive(Debug, Clone)]
pub(crate) enum RssSource {
    /// `/proc/<pid>/status` of a local process.
    Pid(u32),
    /// A Prometheus text page with `process_resident_memory_bytes`.
    Metrics(String),
    /// Not sampled.
    None,
}

/// A `kB` field (`VmRSS`, `VmHWM`, …) of a `/proc/<pid>/status` text, in KiB.
pub(crate) fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let mut words = rest.split_whitespace();
        let value = words.next()?.parse().ok()?;
        (words.next() == Some("kB")).then_some(value)
    })
}

/// The value of an unlabelled sample `name` in a Prometheus text page.
pub(crate) fn metric_value(page: &str, name: &str) -> Option<f64> {
    page.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        // `name value` or `name{…} value`, not a longer metric name sharing the prefix.
        let rest = if rest.starts_with('{') {
            &rest[rest.find('}')? + 1..]
        } else {
            rest
        };
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `/proc/<pid>/status` of `pid`, if it is still running.
pub(crate) fn read_status(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// The host's 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// First, largest and last RSS sample of a run, plus the kernel's peak when known (KiB).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct RssTrack {
    /// Before the load started.
    pub(crate) start_kib: Option<u64>,
    /// Largest sample taken (every report interval and at the ends).
    pub(crate) peak_sampled_kib: Option<u64>,
    /// After the load stopped.
    pub(crate) end_kib: Option<u64>,
    /// `VmHWM` at the end: the true peak since the process started (only with a pid).
    pub(crate) hwm_kib: Option<u64>,
}

impl RssTrack {
    /// Account for one sample (`None` = could not be sampled).
    pub(crate) fn sample(&mut self, kib: Option<u64>) {
        let Some(kib) = kib else { return };
        self.start_kib.get_or_insert(kib);
        self.peak_sampled_kib = Some(self.peak_sampled_kib.map_or(kib, |p| p.max(kib)));
        self.end_kib = Some(kib);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tvodbridge\nVmPeak:\t  900000 kB\nVmHWM:\t   52000 kB\nVmRSS:\t   48123 kB\nThreads:\t5\n";

    #[test]
    fn proc_status_fields() {
        assert_eq!(status_field_kib(STATUS, "VmRSS"), Some(48_123));
        assert_eq!(status_field_kib(STATUS, "VmHWM"), Some(52_000));
        assert_eq!(status_field_kib(STATUS, "Threads"), None);
        assert_eq!(status_field_kib(STATUS, "VmSwap"), None);
        assert_eq!(status_field_kib("VmRSSX:\t1 kB\n", "VmRSS"), None);
    }

    #[test]
    fn prometheus_samples() {
        let page = "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                    # TYPE process_resident_memory_bytes gauge\n\
                    process_resident_memory_bytes_total 5\n\
                    process_resident_memory_bytes 4.5056e+07\n";
        assert_eq!(
            metric_value(page, "process_resident_memory_bytes"),
            Some(45_056_000.0)
        );
        assert_eq!(metric_value("up{job=\"x\"} 1\n", "up"), Some(1.0));
        assert_eq!(metric_value("upper 1\n", "up"), None);
        assert_eq!(metric_value("", "up"), None);
    }

    #[test]
    fn tracking_keeps_first_peak_and_last() {
        let mut t = RssTrack::default();
        t.sample(None);
        for v in [100, 300, 200] {
            t.sample(Some(v));
        }
        t.sample(None);
        assert_eq!(
            (t.start_kib, t.peak_sampled_kib, t.end_kib),
            (Some(100), Some(300), Some(200))
        );
    }

    #[test]
    fn this_process_has_an_rss() {
        let status = read_status(std::process::id()).expect("own /proc status");
        assert!(status_field_kib(&status, "VmRSS").is_some_and(|k| k > 0));
        assert!(load_average().is_some());
    }
}
