//! Reading newline-terminated request lines with a length limit, so that a client cannot make
//! the server buffer without bound, and telling a clean hang-up from a half line.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Largest request line the server accepts, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// What one read produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, without its `\n` (and without a trailing `\r`).
    Complete(Vec<u8>),
    /// The line grew past the limit; the rest of it was not read.
    TooLong,
    /// The peer hung up in the middle of a line (these bytes).
    Partial(Vec<u8>),
    /// The peer hung up between lines.
    Eof,
}

/// Reads one line of at most `max` bytes.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Line> {
    let mut buf = Vec::new();
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Ok(if buf.is_empty() {
                Line::Eof
            } else {
                Line::Partial(buf)
            });
        }
        if let Some(i) = avail.iter().position(|&b| b == b'\n') {
            if buf.len() + i > max {
                return Ok(Line::TooLong);
            }
            buf.extend_from_slice(&avail[..i]);
            r.consume(i + 1);
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Line::Complete(buf));
        }
        let n = avail.len();
        if buf.len() + n > max {
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(avail);
        r.consume(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        // A tiny buffer makes lines span several fills.
        let mut r = BufReader::with_capacity(3, input);
        let mut out = Vec::new();
        loop {
            let l = read_line(&mut r, max).await.unwrap();
            let done = matches!(l, Line::Eof | Line::Partial(_) | Line::TooLong);
            out.push(l);
            if done {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_limits_and_tells_half_lines() {
        assert_eq!(
            lines(b"ab\r\n{\"cmd\":1}\n", 64).await,
            vec![
                Line::Complete(b"ab".to_vec()),
                Line::Complete(b"{\"cmd\":1}".to_vec()),
                Line::Eof
            ]
        );
        assert_eq!(
            lines(b"abc\nhalf", 64).await,
            vec![
                Line::Complete(b"abc".to_vec()),
                Line::Partial(b"half".to_vec())
            ]
        );
        assert_eq!(
            lines(b"12345\n", 5).await,
            vec![Line::Complete(b"12345".to_vec()), Line::Eof]
        );
        assert_eq!(lines(b"123456\n", 5).await, vec![Line::TooLong]);
        assert_eq!(lines(b"1234567890", 5).await, vec![Line::TooLong]);
        assert_eq!(lines(b"", 5).await, vec![Line::Eof]);
    }
}
