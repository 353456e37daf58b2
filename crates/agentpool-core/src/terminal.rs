//! Terminal output as text: control sequences stripped, safely across read boundaries.

/// Strips terminal control sequences from raw pane output. Returns the text and how many
/// input bytes it consumed: an escape sequence or UTF-8 character cut off at the end of the
/// buffer is left for the next call.
pub fn strip_terminal(raw: &[u8]) -> (String, usize) {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    let n = raw.len();
    while i < n {
        let b = raw[i];
        match b {
            0x1b => {
                let Some(len) = escape_len(&raw[i..]) else { break };
                i += len;
            }
            b'\r' => {
                if i + 1 >= n {
                    break;
                }
                // CR LF is a newline; a lone CR (cursor to column 0) becomes one too, which
                // keeps redrawn lines apart instead of gluing them together.
                if raw[i + 1] != b'\n' {
                    out.push(b'\n');
                }
                i += 1;
            }
            b'\n' | b'\t' => {
                out.push(b);
                i += 1;
            }
            0x00..=0x1f | 0x7f => i += 1,
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    // Do not split a UTF-8 character at the end of the consumed range.
    let mut end = out.len();
    let valid_up_to = match std::str::from_utf8(&out) {
        Ok(_) => end,
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => end,
    };
    if valid_up_to < end {
        let cut = end - valid_up_to;
        end = valid_up_to;
        i -= cut;
    }
    (String::from_utf8_lossy(&out[..end]).into_owned(), i)
}

/// Length of the escape sequence at the start of `s` (which begins with ESC), or `None`
/// when it is incomplete.
fn escape_len(s: &[u8]) -> Option<usize> {
    let next = *s.get(1)?;
    match next {
        b'[' => {
            // CSI: parameters and intermediates, then one final byte 0x40..=0x7e.
            s.iter().skip(2).position(|b| (0x40..=0x7e).contains(b)).map(|p| p + 3)
        }
        b']' | b'P' | b'X' | b'^' | b'_' => {
            // OSC / DCS / SOS / PM / APC: until BEL or ST (ESC \).
            let mut j = 2;
            while j < s.len() {
                if s[j] == 0x07 {
                    return Some(j + 1);
                }
                if s[j] == 0x1b {
                    return s.get(j + 1).map(|_| j + 2);
                }
                j += 1;
            }
            None
        }
        b'(' | b')' | b'*' | b'+' | b'#' | b'%' => s.get(2).map(|_| 3),
        _ => Some(2),
    }
}
