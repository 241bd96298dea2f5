//! Resuming a stream after a text frame whose end never came.

/// How many bytes a framer skips after a text frame found no end byte within its longest
/// length. A text frame starting before the first end byte less that length cannot end in
/// time either, so only text starts from there on are tried, and before them any start
/// `is_other_start` accepts (a binary frame, which needs no end byte). Resuming at the very next
/// start made a stream of start bytes cost a scan of the longest frame per byte skipped.
///
/// `reach` is how far after its start a text frame's end byte may lie.
pub(crate) fn skip_unterminated(
    buf: &[u8],
    reach: usize,
    is_end: impl Fn(u8) -> bool,
    is_text_start: impl Fn(u8) -> bool,
    is_other_start: impl Fn(&[u8]) -> bool,
) -> usize {
    let end = buf.iter().position(|&b| is_end(b)).unwrap_or(buf.len());
    let earliest = end.saturating_sub(reach);
    (1..buf.len())
        .find(|&at| {
            buf.get(at..).is_some_and(|head| {
                (at >= earliest && head.first().is_some_and(|&b| is_text_start(b)))
                    || is_other_start(head)
            })
        })
        .unwrap_or(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(buf: &[u8]) -> usize {
        skip_unterminated(
            buf,
            3,
            |b| b == b')',
            |b| b == b'(',
            |head| head.first() == Some(&b'~'),
        )
    }

    #[test]
    fn resumes_where_a_text_frame_can_still_end() {
        // Only the `(` three or fewer bytes before `)` can reach it.
        assert_eq!(skip(b"((((((ab)"), 5);
        // Without an end byte, only the starts whose frame could still be arriving.
        assert_eq!(skip(b"(((((((("), 5);
        // Other starts are taken wherever they are.
        assert_eq!(skip(b"((~(((((ab)"), 2);
        assert_eq!(skip(b"(xxxxxxx"), 8);
    }
}
