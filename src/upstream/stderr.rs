//! A child's stderr in our log, within bounds: the pipe is always drained
//! (a child blocked on a full stderr would stall its calls), but a line is
//! kept to [`MAX_LINE`] bytes, control characters are escaped (no forged
//! log lines, no terminal escapes), and at most [`BURST`] lines, refilled
//! at [`PER_SECOND`], are logged; the rest are counted and the count
//! logged once lines are allowed again.

use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest line kept, in bytes; the rest of the line is counted.
pub const MAX_LINE: usize = 1024;
/// Lines logged in a burst.
pub const BURST: f64 = 50.0;
/// Lines logged per second, sustained.
pub const PER_SECOND: f64 = 10.0;

/// Reads `stderr` to its end, handing each line that may be logged to
/// `emit` (already truncated and escaped).
pub async fn drain(mut stderr: impl AsyncRead + Unpin, mut emit: impl FnMut(String)) {
    let mut limiter = Lines::new(Instant::now());
    let mut line = Vec::with_capacity(256);
    let mut cut = 0usize;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &byte in &buf[..n] {
            if byte == b'\n' {
                if let Some(text) = limiter.admit(Instant::now(), &line, cut) {
                    emit(text);
                }
                line.clear();
                cut = 0;
            } else if line.len() < MAX_LINE {
                line.push(byte);
            } else {
                cut += 1;
            }
        }
    }
    if !line.is_empty() {
        if let Some(text) = limiter.admit(Instant::now(), &line, cut) {
            emit(text);
        }
    }
}

/// The token bucket and the count of what it refused.
struct Lines {
    tokens: f64,
    updated: Instant,
    dropped: u64,
}

impl Lines {
    fn new(now: Instant) -> Self {
        Self { tokens: BURST, updated: now, dropped: 0 }
    }

    /// The text to log for this line, if it may be logged.
    fn admit(&mut self, now: Instant, line: &[u8], cut: usize) -> Option<String> {
        self.tokens = (self.tokens + now.duration_since(self.updated).as_secs_f64() * PER_SECOND).min(BURST);
        self.updated = now;
        if self.tokens < 1.0 {
            self.dropped += 1;
            return None;
        }
        self.tokens -= 1.0;
        let mut text = escape(&String::from_utf8_lossy(line));
        if cut > 0 {
            text.push_str(&format!(" … ({cut} more bytes cut)"));
        }
        if self.dropped > 0 {
            text = format!("({} lines not logged: too many) {text}", std::mem::take(&mut self.dropped));
        }
        Some(text)
    }
}

/// Control characters (but tabs) as escapes: `\r`, `\u{1b}`.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_flood_is_cut_to_a_burst_and_long_lines_to_their_limit() {
        let mut input = Vec::new();
        input.extend_from_slice(&vec![b'x'; 1_000_000]);
        input.push(b'\n');
        for i in 0..10_000 {
            input.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        input.extend_from_slice(b"fake\r2026-01-01 INFO admin logged in\x1b[2J\n");
        let mut logged = Vec::new();
        drain(&input[..], |l| logged.push(l)).await;
        assert!(logged.len() <= BURST as usize + 1, "{} lines logged", logged.len());
        assert_eq!(logged[0].len(), MAX_LINE + " … (998976 more bytes cut)".len());
        assert!(logged[0].ends_with("(998976 more bytes cut)"));
        assert!(logged.iter().all(|l| l.len() < MAX_LINE + 100));
    }

    #[test]
    fn lines_are_escaped_and_counted_when_dropped() {
        let start = Instant::now();
        let mut lines = Lines::new(start);
        for _ in 0..BURST as usize {
            assert!(lines.admit(start, b"ok", 0).is_some());
        }
        assert!(lines.admit(start, b"too many", 0).is_none());
        assert!(lines.admit(start, b"too many", 0).is_none());
        // A second later, ten more may go, the first saying what was lost.
        let later = start + Duration::from_secs(1);
        let next = lines.admit(later, b"fake\rINFO admin\x1b[2J", 0).unwrap();
        assert_eq!(next, "(2 lines not logged: too many) fake\\rINFO admin\\u{1b}[2J");
    }
}
