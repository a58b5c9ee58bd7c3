//! Peak memory of this process, for the figures long commands and benchmarks print.

/// Peak resident set size in bytes (Linux `VmHWM`), if the platform tells.
pub fn peak_rss() -> Option<u64> {
    status_kb("VmHWM:")
}

/// Resident set size now in bytes (Linux `VmRSS`), if the platform tells.
pub fn rss() -> Option<u64> {
    status_kb("VmRSS:")
}

/// Anonymous memory backed by transparent huge pages, in bytes (Linux `AnonHugePages`), if the
/// platform tells: a trace index on huge pages takes far fewer TLB misses.
pub fn huge_pages() -> Option<u64> {
    kb_in("/proc/self/smaps_rollup", "AnonHugePages:")
}

fn status_kb(field: &str) -> Option<u64> {
    kb_in("/proc/self/status", field)
}

fn kb_in(file: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(file).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Writes the peak to the file named by `SHIAN_PEAK_MEMORY_FILE`, if set (used by `shian bench`
/// to read a child process's peak).
pub fn report_peak() {
    if let (Ok(path), Some(peak)) = (std::env::var("SHIAN_PEAK_MEMORY_FILE"), peak_rss()) {
        let _ = std::fs::write(path, peak.to_string());
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
