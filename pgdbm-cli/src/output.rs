//! Printing: tables for people, JSON for scripts, errors with their causes.
//!
//! Colour is used only when the stream is a terminal and `NO_COLOR` is
//! unset, so piped output and logs never carry escape codes.

use std::error::Error as StdError;
use std::io::{IsTerminal, Write};

use serde_json::Value;

/// Where a command's results go.
#[derive(Debug)]
pub struct Out {
    /// Print JSON on stdout instead of text.
    pub json: bool,
    colour_out: bool,
    colour_err: bool,
}

/// The colours in use (SGR codes).
#[derive(Debug, Clone, Copy)]
pub enum Paint {
    Green,
    Yellow,
    Red,
    Bold,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Green => "32",
            Paint::Yellow => "33",
            Paint::Red => "31",
            Paint::Bold => "1",
        }
    }
}

impl Out {
    /// Output for this process's stdout and stderr.
    pub fn new(json: bool) -> Out {
        let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Out {
            json,
            colour_out: colour && std::io::stdout().is_terminal(),
            colour_err: colour && std::io::stderr().is_terminal(),
        }
    }

    /// `text` in `paint` when stdout is a terminal.
    pub fn paint(&self, paint: Paint, text: &str) -> String {
        paint_if(self.colour_out, paint, text)
    }

    /// Whether stdout is a terminal (progress is then shown as it happens).
    pub fn is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// A line of text, unless the output is JSON.
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.json {
            println!("{}", text.as_ref());
        }
    }

    /// Text without a newline, flushed: the start of a progress line.
    pub fn partial(&self, text: impl AsRef<str>) {
        if !self.json {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{}", text.as_ref());
            let _ = stdout.flush();
        }
    }

    /// The command's JSON result, when the output is JSON.
    pub fn json(&self, value: &Value) {
        if self.json {
            // A Value always serialises.
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        }
    }

    /// A table with a header row, columns padded to their widest cell.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) {
        if self.json {
            return;
        }
        let mut widths: Vec<usize> = header.iter().map(|h| visible_len(h)).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(visible_len(cell));
            }
        }
        let render = |cells: &mut dyn Iterator<Item = &str>| {
            let mut line = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < widths.len() {
                    line.extend(std::iter::repeat_n(' ', w - visible_len(cell)));
                }
            }
            line.trim_end().to_owned()
        };
        println!(
            "{}",
            self.paint(Paint::Bold, &render(&mut header.iter().copied()))
        );
        for row in rows {
            println!("{}", render(&mut row.iter().map(String::as_str)));
        }
    }

    /// An error on stderr: its message, then each cause on its own line.
    pub fn error(&self, error: &(dyn StdError + 'static)) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{} {error}",
            paint_if(self.colour_err, Paint::Red, "error:")
        );
        let mut source = error.source();
        while let Some(cause) = source {
            let _ = writeln!(stderr, "  caused by: {cause}");
            source = cause.source();
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        eprintln!(
            "{} {text}",
            paint_if(self.colour_err, Paint::Yellow, "warning:")
        );
    }
}

/// The characters of `text` a terminal shows: colour codes take no room.
fn visible_len(text: &str) -> usize {
    let mut len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // An SGR sequence: ESC [ ... m.
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            len += 1;
        }
    }
    len
}

fn paint_if(on: bool, paint: Paint, text: &str) -> String {
    if on {
        format!("\x1b[{}m{text}\x1b[0m", paint.code())
    } else {
        text.to_owned()
    }
}

/// A byte count for people: `8.0 KB`, as the Python CLI prints sizes.
pub fn size(bytes: i64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if value.abs() < 1024.0 {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.1} PB")
}

/// A duration in milliseconds for people: `12 ms`, `3.4 s`, `2.0 min`.
pub fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.1} min", ms / 60_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times() {
        assert_eq!(size(0), "0.0 B");
        assert_eq!(size(8192), "8.0 KB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MB");
        assert_eq!(millis(12.4), "12 ms");
        assert_eq!(millis(3400.0), "3.4 s");
        assert_eq!(visible_len(&paint_if(true, Paint::Green, "applied")), 7);
        assert_eq!(visible_len("né"), 2);
    }
}
