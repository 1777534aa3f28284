//! Progress bars for long command-line work (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar over a known number of steps, usable from rayon threads.
pub struct Bar(ProgressBar);

impl Bar {
    /// A hidden bar that starts when [`scorer::Progress::start`] says how long it is.
    pub fn new(message: &'static str) -> Self {
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise} (eta {eta})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(message);
        Self(bar)
    }

    /// Sets the number of steps.
    pub fn set_len(&self, len: usize) {
        self.0.set_length(len as u64);
    }

    /// Sets how many steps are done.
    pub fn set_position(&self, done: usize) {
        self.0.set_position(done as u64);
    }

    /// One step done.
    pub fn inc(&self) {
        self.0.inc(1);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl scorer::Progress for Bar {
    fn start(&self, steps: usize) {
        self.set_len(steps);
    }

    fn step(&self) {
        self.inc();
    }
}
