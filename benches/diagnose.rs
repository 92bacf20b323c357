//! Reading and diagnosing a records table: `diagnose/read_csv_2m` parses 2 million CSV rows and
//! `diagnose/diagnose_2m` runs every rule on them, with the rows spread over many distinct layer names
//! (one per recurrent time step, as a per-step logger writes them) so a rule that scanned the table
//! per layer would be quadratic; the index is built once per diagnosis. Criterion's throughput is rows
//! per second. `diagnose/read_csv_200k` (a tenth of the rows, same shape) is the baseline in the same
//! run: the ratio of the two times is the linearity check.
//!
//! `cargo bench --bench diagnose -- --warm-up-time 1 --measurement-time 5`
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gradlab::diagnose::{DiagnoseConfig, diagnose};
use gradlab::monitor::record::metric as m;
use gradlab::monitor::{GLOBAL, Records, parse_records, write_csv};

/// `rows` rows: `layers` distinct layer names, each with a gradient norm, RMS, signal norm and
/// activation std per step, plus the global norm and the loss.
fn table(rows: usize, layers: usize) -> Records {
    let mut r = Records::new("bench", "wide", 0);
    let names: Vec<String> = (1..=layers).map(|l| format!("{l}:dense(tanh)")).collect();
    let per_step = 4 * layers + 2;
    let steps = rows.div_ceil(per_step) as u64;
    for s in 0..steps {
        for (l, name) in names.iter().enumerate() {
            let g = 0.9f64.powi((layers - l) as i32) * (1.0 + 1e-3 * s as f64);
            r.push_named(s, name, m::GRAD_NORM, g);
            r.push_named(s, name, m::GRAD_RMS, g / 4.0);
            r.push_named(s, name, m::SIGNAL_NORM, g);
            r.push_named(s, name, m::ACT_STD, 0.5);
        }
        r.push_named(s, GLOBAL, m::GLOBAL_GRAD_NORM, 1.0);
        r.push_named(s, GLOBAL, m::LOSS, 1.0 / (1.0 + s as f64));
    }
    r
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("diagnose");
    g.sample_size(10);
    for (name, rows) in [("200k", 200_000usize), ("2m", 2_000_000)] {
        let r = table(rows, 2000);
        let csv = write_csv(std::slice::from_ref(&r));
        g.throughput(Throughput::Elements(r.rows.len() as u64));
        g.bench_function(format!("read_csv_{name}"), |b| {
            b.iter(|| parse_records("bench.csv", &csv).expect("the table reads back"))
        });
        g.bench_function(format!("diagnose_{name}"), |b| b.iter(|| diagnose(&r, &DiagnoseConfig::default())));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
