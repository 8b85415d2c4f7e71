//! All output a person reads goes through here: results on stdout, notes on stderr.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub quiet: bool,
}

impl Printer {
    /// A result line.
    pub fn out(&self, line: impl AsRef<str>) {
        println!("{}", line.as_ref());
    }

    /// A note about what happened (suppressed by `--quiet`).
    pub fn note(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    /// Asks a question on stdout and reads one line of answer from stdin; `None` when
    /// stdin has ended (no terminal, no input).
    pub fn ask(&self, question: &str) -> Option<String> {
        use std::io::{BufRead, Write};
        print!("{question}");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        match std::io::stdin().lock().read_line(&mut answer) {
            Ok(n) if n > 0 => Some(answer.trim().to_string()),
            _ => {
                println!();
                None
            }
        }
    }

    pub fn json(&self, value: &impl serde::Serialize) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot encode output: {e}"),
        }
    }

    /// An aligned table with a dashed rule under the header.
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for r in rows {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let fmt = |cells: Vec<String>| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{:<w$}", c, w = widths[i]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        println!("{}", fmt(headers.iter().map(|h| h.to_string()).collect()));
        println!("{}", fmt(widths.iter().map(|w| "-".repeat(*w)).collect()));
        for r in rows {
            println!("{}", fmt(r.clone()));
        }
    }

    /// A byte-progress bar on stderr, drawn only on a terminal and never with `--quiet`.
    pub fn progress(&self, total: u64, what: &str) -> indicatif::ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(what.to_string());
        bar
    }
}
