//! Bounded reads of artifact files that grow without limit (transcripts, raw logs, screens):
//! a byte page, the last lines, the last bytes, a hash. Every reader seeks and reads at most a
//! fixed window (or streams through a fixed buffer), so memory stays flat however large a
//! worker's output grows — a 200 MB transcript or one 50 MB line costs what 1 MB does.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Most bytes a tail of lines returns (`transcript --tail-lines`). Longer lines are cut: the
/// text then starts inside a line and the tail says it was truncated.
pub const TAIL_MAX_BYTES: u64 = 1024 * 1024;

/// Most bytes read from a screen file (`latest_screen.txt`). Captures are bounded by the
/// capture size already; this keeps a hand-edited or corrupt file from changing that.
pub const SCREEN_MAX_BYTES: u64 = 1024 * 1024;

/// Block size of the backward scan for line starts and of streamed reads.
const BLOCK: usize = 64 * 1024;

/// The last lines of a file, as far as the window allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// The text, decoded lossily (invalid UTF-8 becomes U+FFFD).
    pub text: String,
    /// Byte offset in the file where `text` starts.
    pub start: u64,
    /// Whether the file holds anything before `start`.
    pub has_more: bool,
    /// Whether the window cut the answer short: fewer lines than asked for although the file
    /// holds more, the first of them possibly starting mid-line (at a whole UTF-8 character).
    pub truncated: bool,
}

/// Opens a file for bounded reads and returns it with its current size.
pub fn open(path: &Path) -> io::Result<(File, u64)> {
    let f = File::open(path)?;
    let size = f.metadata()?.len();
    Ok((f, size))
}

/// The last `lines` lines of the first `size` bytes of `r`, at most `max_bytes` of them.
///
/// Lines are what `str::split_inclusive('\n')` yields: a final newline ends the last line, and
/// text after the last newline is a line of its own. The scan walks back from `size` in
/// blocks and stops at the line start it needs or at `max_bytes`, so at most about twice
/// `max_bytes` is read and `max_bytes` held, whatever the file size.
pub fn tail_lines<R: Read + Seek>(r: &mut R, size: u64, lines: usize, max_bytes: u64) -> io::Result<Tail> {
    if lines == 0 || size == 0 {
        return Ok(Tail { text: String::new(), start: size, has_more: size > 0, truncated: false });
    }
    // The lowest start the window allows; a newline just below it still starts a line at it.
    let floor = size.saturating_sub(max_bytes);
    let scan_floor = floor.saturating_sub(1);
    let mut buf = vec![0u8; BLOCK];
    let mut found = 0usize;
    let mut start = None;
    let mut end = size;
    'scan: while end > scan_floor {
        let from = end.saturating_sub(BLOCK as u64).max(scan_floor);
        let n = usize::try_from(end - from).unwrap_or(BLOCK);
        r.seek(SeekFrom::Start(from))?;
        r.read_exact(&mut buf[..n])?;
        for i in (0..n).rev() {
            let pos = from + i as u64;
            // A newline as the very last byte ends the last line; it does not start another.
            if buf[i] == b'\n' && pos + 1 != size {
                found += 1;
                if found == lines {
                    start = Some(pos + 1);
                    break 'scan;
                }
            }
        }
        end = from;
    }
    let (start, cut) = match start {
        Some(s) => (s, false),
        None => (floor, floor > 0),
    };
    let mut bytes = read_range(r, start, size - start)?;
    let mut start = start;
    if cut {
        // Begin at a whole character: skip at most three continuation bytes.
        let skip = bytes.iter().take(3).take_while(|b| (**b & 0xC0) == 0x80).count();
        bytes.drain(..skip);
        start += skip as u64;
    }
    Ok(Tail { text: lossy(bytes), start, has_more: start > 0, truncated: cut })
}

/// Bytes `[offset, offset + limit)` of `r`, clipped to what is there.
pub fn read_range<R: Read + Seek>(r: &mut R, offset: u64, limit: u64) -> io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(offset))?;
    let mut out = Vec::with_capacity(usize::try_from(limit.min(BLOCK as u64 * 16)).unwrap_or(BLOCK));
    r.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

/// Decodes bytes as UTF-8 without a copy when they are valid.
pub fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// The old, whole-file tail: what `tail_lines` must equal whenever the window suffices.
    fn naive(data: &[u8], lines: usize) -> (String, bool) {
        let text = String::from_utf8_lossy(data);
        let all: Vec<&str> = text.split_inclusive('\n').collect();
        let keep = lines.min(all.len());
        (all[all.len() - keep..].concat(), all.len() > keep)
    }

    #[test]
    fn equals_the_whole_file_split_when_the_window_suffices() {
        let inputs: [&[u8]; 9] = [
            b"",
            b"\n",
            b"\n\n\n",
            b"a",
            b"a\n",
            b"a\nb",
            b"a\nb\n",
            b"one\ntwo\n\nfour\nfive",
            "h\u{e9}\nl\u{e9}\n".as_bytes(),
        ];
        for data in inputs {
            for lines in 1..=6 {
                let got = tail_lines(&mut Cursor::new(data), data.len() as u64, lines, 1 << 20).unwrap();
                let (text, more) = naive(data, lines);
                assert_eq!(
                    (got.text.as_str(), got.has_more, got.truncated),
                    (text.as_str(), more, false),
                    "{data:?} {lines}"
                );
                assert_eq!(&data[usize::try_from(got.start).unwrap()..], text.as_bytes(), "{data:?} {lines}");
            }
        }
    }

    #[test]
    fn lines_across_scan_blocks() {
        // Lines that straddle the 64 KiB scan blocks, and a final line without a newline.
        let mut data = Vec::new();
        for i in 0..40_000 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        data.extend_from_slice(b"partial");
        for lines in [1, 2, 100, 9_999, 10_000, 40_001, 50_000] {
            let got = tail_lines(&mut Cursor::new(&data), data.len() as u64, lines, 1 << 20).unwrap();
            let (text, more) = naive(&data, lines);
            assert_eq!((got.text == text, got.has_more, got.truncated), (true, more, false), "{lines}");
        }
    }

    #[test]
    fn a_line_longer_than_the_window_is_cut_at_a_character() {
        let mut data = "é".repeat(1000).into_bytes();
        data.extend_from_slice(b"\nlast");
        // 10 bytes back from the end lands inside an `é`: the tail starts after it.
        let got = tail_lines(&mut Cursor::new(&data), data.len() as u64, 2, 10).unwrap();
        assert_eq!((got.text.as_str(), got.start, got.has_more, got.truncated), ("éé\nlast", 1996, true, true));
    }

    #[test]
    fn a_newline_just_below_the_window_starts_a_whole_line() {
        let data = b"aaaa\nbbbb\n";
        let got = tail_lines(&mut Cursor::new(data), 10, 1, 5).unwrap();
        assert_eq!((got.text.as_str(), got.start, got.truncated), ("bbbb\n", 5, false));
        // Two lines asked for, one fits: the window cut the answer short.
        let got = tail_lines(&mut Cursor::new(data), 10, 2, 5).unwrap();
        assert_eq!((got.text.as_str(), got.start, got.truncated), ("bbbb\n", 5, true));
        let got = tail_lines(&mut Cursor::new(data), 10, 1, 4).unwrap();
        assert_eq!((got.text.as_str(), got.start, got.truncated), ("bbb\n", 6, true));
    }

    /// A file of `size` bytes that exists only as a pattern, counting what is read from it.
    struct Virtual {
        size: u64,
        pos: u64,
        read: u64,
        line: u64,
    }

    impl Read for Virtual {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = usize::try_from((self.size - self.pos.min(self.size)).min(buf.len() as u64)).unwrap();
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let p = self.pos + i as u64;
                *b = if self.line > 0 && p % self.line == self.line - 1 { b'\n' } else { b'x' };
            }
            self.pos += n as u64;
            self.read += n as u64;
            Ok(n)
        }
    }

    impl Seek for Virtual {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            let SeekFrom::Start(p) = to else { return Err(io::Error::other("only SeekFrom::Start")) };
            self.pos = p;
            Ok(p)
        }
    }

    #[test]
    fn reads_a_bounded_window_of_a_huge_file() {
        // 200 MB of 100-byte lines, and one 50 MB line without a newline.
        for (size, line) in [(200_000_000u64, 100u64), (50 * 1024 * 1024, 0)] {
            let mut f = Virtual { size, pos: 0, read: 0, line };
            let got = tail_lines(&mut f, size, 10_000, TAIL_MAX_BYTES).unwrap();
            assert!(f.read <= 2 * TAIL_MAX_BYTES + 1, "read {} bytes of {size}", f.read);
            assert!(got.text.len() as u64 <= TAIL_MAX_BYTES && got.has_more);
            assert_eq!(got.truncated, line == 0, "only the long line is cut");
            if line > 0 {
                assert_eq!(got.text.lines().count(), 10_000);
            }
        }
        let mut f = Virtual { size: 200_000_000, pos: 0, read: 0, line: 100 };
        let got = tail_lines(&mut f, 200_000_000, 100, TAIL_MAX_BYTES).unwrap();
        assert_eq!((got.text.len(), got.start), (10_000, 200_000_000 - 10_000));
        assert!(f.read <= 2 * 10_000 + BLOCK as u64, "read {}", f.read);
    }

    #[test]
    fn pages_and_hashes() {
        let data = b"0123456789";
        assert_eq!(read_range(&mut Cursor::new(data), 3, 4).unwrap(), b"3456");
        assert_eq!(read_range(&mut Cursor::new(data), 8, 4).unwrap(), b"89");
        assert_eq!(read_range(&mut Cursor::new(data), 20, 4).unwrap(), b"");
        assert_eq!(crate::util::sha256_reader(&data[..]).unwrap(), crate::util::sha256_hex(data));
        let mut big = Virtual { size: 3 * BLOCK as u64 + 7, pos: 0, read: 0, line: 10 };
        let mut whole = Vec::new();
        Virtual { size: big.size, pos: 0, read: 0, line: 10 }.read_to_end(&mut whole).unwrap();
        assert_eq!(crate::util::sha256_reader(&mut big).unwrap(), crate::util::sha256_hex(&whole));
    }
}
