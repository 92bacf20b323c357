//! Progress while the report builds: an indicatif bar on a terminal, one plain line per finished
//! scenario otherwise (CI logs, pipes), so a log never fills with bar redraws.
use crate::scenario::Scenario;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub struct Progress {
    total: usize,
    finished: AtomicUsize,
    sink: Sink,
}

enum Sink {
    Bar(ProgressBar),
    Lines(Mutex<Box<dyn Write + Send>>),
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines on stderr otherwise.
    pub fn stderr(total: usize) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} scenarios  {elapsed}  {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Progress { total, finished: AtomicUsize::new(0), sink: Sink::Bar(bar) }
        } else {
            Progress::lines(total, Box::new(std::io::stderr()))
        }
    }

    /// Plain lines into `out`, whatever it is.
    pub fn lines(total: usize, out: Box<dyn Write + Send>) -> Progress {
        Progress { total, finished: AtomicUsize::new(0), sink: Sink::Lines(Mutex::new(out)) }
    }

    /// Called as each scenario finishes (from any worker thread).
    pub fn scenario_done(&self, s: &Scenario, took: Duration) {
        let n = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        match &self.sink {
            Sink::Bar(bar) => {
                bar.inc(1);
                if n == self.total {
                    // What still runs after the last scenario, so a full bar does not look stuck.
                    bar.set_message("charts, kernel timings, page");
                } else {
                    bar.set_message(format!("{} ({:.2} s)", s.name, took.as_secs_f64()));
                }
            }
            Sink::Lines(out) => {
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                // A closed stderr must not stop the report: the lines are only a courtesy.
                let _ = writeln!(out, "[{n}/{}] {} done in {:.2} s", self.total, s.name, took.as_secs_f64());
            }
        }
    }

    /// Removes the bar (plain lines stay).
    pub fn finish(&self) {
        if let Sink::Bar(bar) = &self.sink {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    /// A writer the test can read back after `Progress` took ownership of it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_lines_count_up_to_the_total() {
        let text = "title = \"t\"\nsource = \"s\"\nexperiment = \"e\"\nkind = \"k\"\nseeds = [0]\n";
        let s = Scenario::parse(Path::new("demo.toml"), text.into()).unwrap();
        let buf = Shared::default();
        let p = Progress::lines(2, Box::new(buf.clone()));
        p.scenario_done(&s, Duration::from_millis(1250));
        p.scenario_done(&s, Duration::from_millis(7));
        p.finish();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out, "[1/2] demo done in 1.25 s\n[2/2] demo done in 0.01 s\n");
    }
}
