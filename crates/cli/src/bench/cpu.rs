//! CPU time by thread group, from Linux's scheduler statistics (`/proc/…/task/*/schedstat`: the
//! first field is the time the thread spent on a CPU, in nanoseconds). The ingress and the probe
//! run on runtimes of their own with named threads, so that each one's CPU time can be told apart
//! from the load generator's in the same process; the child `nats-server` is read by its pid.

use std::{path::Path, time::Duration};

/// Threads of a runtime whose name starts with this (Linux keeps 15 bytes of a thread's name).
#[derive(Debug, Clone, Copy)]
pub enum Threads<'a> {
    /// This process's threads named `prefix…`.
    Named(&'a str),
    /// Every thread of another process.
    Process(u32),
}

/// CPU time used so far by `threads`; zero where `/proc` cannot be read (not Linux).
pub fn used(threads: Threads<'_>) -> Duration {
    let (dir, prefix) = match threads {
        Threads::Named(prefix) => ("/proc/self/task".to_owned(), Some(prefix)),
        Threads::Process(pid) => (format!("/proc/{pid}/task"), None),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else { return Duration::ZERO };
    entries
        .filter_map(Result::ok)
        .filter(|task| prefix.is_none_or(|p| name_of(&task.path()).is_some_and(|n| n.starts_with(p))))
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| on_cpu_ns(&stat))
        .map(Duration::from_nanos)
        .sum()
}

fn name_of(task: &Path) -> Option<String> {
    std::fs::read_to_string(task.join("comm")).ok().map(|n| n.trim_end().to_owned())
}

/// The first field of a `schedstat` line: nanoseconds on a CPU.
fn on_cpu_ns(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().next()?.parse().ok()
}

/// CPU milliseconds per 1,000 callbacks.
pub fn per_thousand(cpu: Duration, callbacks: u64) -> f64 {
    cpu.as_secs_f64() * 1000.0 * 1000.0 / callbacks.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_is_read_and_threads_are_told_apart_by_name() {
        assert_eq!(on_cpu_ns("610678 0 1\n"), Some(610_678));
        assert_eq!(on_cpu_ns(""), None);
        assert!((per_thousand(Duration::from_secs(2), 4000) - 500.0).abs() < 1e-9);

        if !Path::new("/proc/self/task").exists() {
            return;
        }
        let busy = std::thread::Builder::new()
            .name("kf-cpu-test".into())
            .spawn(|| {
                let started = std::time::Instant::now();
                let mut x = 0u64;
                while started.elapsed() < Duration::from_millis(60) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                used(Threads::Named("kf-cpu-test"))
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(busy >= Duration::from_millis(20), "{busy:?}");
        assert_eq!(used(Threads::Named("kf-no-such-thread")), Duration::ZERO);
        assert!(used(Threads::Process(std::process::id())) > Duration::ZERO);
    }
}
