//! What the numbers were measured on: CPU model, the SIMD features this binary was compiled with, and
//! the thread count, for the page's timings section.
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    pub threads: usize,
    /// Target features enabled at compile time (the SIMD kernels pick instructions at build time).
    pub simd: Vec<&'static str>,
    /// SIMD features this CPU offers at run time that the build did not enable (a portable build,
    /// or `target-cpu` set below this machine): the kernels leave that speed unused.
    pub simd_unused: Vec<&'static str>,
    pub os: &'static str,
    pub arch: &'static str,
    pub profile: &'static str,
}

impl Machine {
    pub fn detect(threads: usize) -> Machine {
        Machine {
            cpu: cpu_model().unwrap_or_else(|| "unknown CPU".into()),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads,
            simd: compiled_features(),
            simd_unused: unused_features(),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            profile: if cfg!(debug_assertions) { "debug" } else { "release" },
        }
    }
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn compiled_features() -> Vec<&'static str> {
    let all = [
        ("sse2", cfg!(target_feature = "sse2")),
        ("sse4.1", cfg!(target_feature = "sse4.1")),
        ("avx", cfg!(target_feature = "avx")),
        ("avx2", cfg!(target_feature = "avx2")),
        ("fma", cfg!(target_feature = "fma")),
        ("avx512f", cfg!(target_feature = "avx512f")),
        ("neon", cfg!(target_feature = "neon")),
    ];
    all.into_iter().filter(|(_, on)| *on).map(|(name, _)| name).collect()
}

#[cfg(target_arch = "x86_64")]
fn unused_features() -> Vec<&'static str> {
    let compiled = compiled_features();
    let all = [
        ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
        ("avx", std::arch::is_x86_feature_detected!("avx")),
        ("avx2", std::arch::is_x86_feature_detected!("avx2")),
        ("fma", std::arch::is_x86_feature_detected!("fma")),
        ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
    ];
    all.into_iter().filter(|(name, on)| *on && !compiled.contains(name)).map(|(name, _)| name).collect()
}

#[cfg(not(target_arch = "x86_64"))]
fn unused_features() -> Vec<&'static str> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_features_are_never_reported_unused() {
        let m = Machine::detect(3);
        assert_eq!(m.threads, 3);
        assert!(m.logical_cpus >= 1);
        assert!(m.simd_unused.iter().all(|f| !m.simd.contains(f)), "{m:?}");
        #[cfg(target_arch = "x86_64")]
        assert!(m.simd.contains(&"sse2"), "x86_64 always has SSE2: {m:?}");
    }
}
