//! Window specs (`7d`, `12h`, `1w`, `all`, an ISO date, `A/B`) turned into a half-open UTC
//! interval `[start, end)`.
//!
//! Stricter than the reference on purpose: `0d`, a single date in the future, and an end not
//! after its start are errors rather than silently empty or inverted windows.

use agentpool_core::error::{Error, ErrorCode, Result};
use agentpool_core::util;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

/// The example every window error points at.
pub const EXAMPLE: &str = "agentpool stats --since 7d --json";

/// A resolved window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    /// Human label (`last 7d`, `all time`, `2026-01-01 to 2026-01-31`).
    pub label: String,
    /// The normalised spec (`7d`, `all`, the trimmed input).
    pub spec: String,
}

impl Window {
    /// `start` as RFC 3339 with `Z`.
    pub fn start_ts(&self) -> String {
        util::format_ts(self.start)
    }

    /// `end` as RFC 3339 with `Z`.
    pub fn end_ts(&self) -> String {
        util::format_ts(self.end)
    }

    /// Length in hours.
    pub fn hours(&self) -> f64 {
        (self.end - self.start).as_seconds_f64() / 3600.0
    }
}

fn invalid(message: impl Into<String>, spec: &str) -> Error {
    Error::new(ErrorCode::InvalidWindow, message).with("spec", spec).with("example", EXAMPLE)
}

/// Parses `--since` (or `window` of the MCP tool).
pub fn parse(spec: &str, now: OffsetDateTime) -> Result<Window> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(invalid("window spec must not be empty", spec));
    }
    if spec.eq_ignore_ascii_case("all") {
        return Ok(Window {
            start: OffsetDateTime::UNIX_EPOCH,
            end: now,
            label: "all time".into(),
            spec: "all".into(),
        });
    }
    if let Some((a, b)) = spec.split_once('/') {
        return range(a, b, now, spec);
    }
    if let Some(w) = relative(spec, now)? {
        return Ok(w);
    }
    if let Some(point) = parse_point(spec) {
        if point >= now {
            return Err(invalid(format!("window `{spec}` starts in the future"), spec));
        }
        let end = (point + Duration::days(1)).min(now);
        return Ok(Window { start: point, end, label: date_label(point), spec: spec.to_owned() });
    }
    Err(invalid(format!("unrecognized window spec `{spec}`; use 12h, 7d, 1w, all, an ISO date or FROM/TO"), spec))
}

/// `--from A --to B`.
pub fn parse_range(from: &str, to: &str, now: OffsetDateTime) -> Result<Window> {
    range(from, to, now, &format!("{}/{}", from.trim(), to.trim()))
}

fn range(a: &str, b: &str, _now: OffsetDateTime, spec: &str) -> Result<Window> {
    let start = parse_point(a).ok_or_else(|| invalid(format!("`{}` is not an ISO date or time", a.trim()), spec))?;
    let end = parse_point(b).ok_or_else(|| invalid(format!("`{}` is not an ISO date or time", b.trim()), spec))?;
    if end <= start {
        return Err(invalid("window end must be after its start", spec)
            .with("start", util::format_ts(start))
            .with("end", util::format_ts(end)));
    }
    Ok(Window { start, end, label: format!("{} to {}", date_label(start), date_label(end)), spec: spec.to_owned() })
}

/// `<N>h`, `<N>d`, `<N>w` (case-insensitive); `Ok(None)` when the spec is not of that shape.
fn relative(spec: &str, now: OffsetDateTime) -> Result<Option<Window>> {
    let lower = spec.to_ascii_lowercase();
    let Some(unit) = lower.chars().last() else { return Ok(None) };
    let digits = &lower[..lower.len() - unit.len_utf8()];
    if !matches!(unit, 'h' | 'd' | 'w') || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let n: i64 = digits.parse().map_err(|_| invalid(format!("window `{spec}` is too long"), spec))?;
    if n == 0 {
        return Err(invalid(format!("window `{spec}` is empty; use at least 1{unit}"), spec));
    }
    let hours = match unit {
        'h' => n,
        'd' => n.saturating_mul(24),
        _ => n.saturating_mul(24 * 7),
    };
    let before_epoch = || invalid(format!("window `{spec}` reaches before 1970; use `all`"), spec);
    // Bounded first so building the `Duration` cannot overflow.
    if hours > (now - OffsetDateTime::UNIX_EPOCH).whole_hours() {
        return Err(before_epoch());
    }
    let start = now - Duration::hours(hours);
    Ok(Some(Window { start, end: now, label: format!("last {n}{unit}"), spec: format!("{n}{unit}") }))
}

/// An RFC 3339 time, a naive `YYYY-MM-DDTHH:MM[:SS]` (UTC), or a date (midnight UTC).
pub fn parse_point(raw: &str) -> Option<OffsetDateTime> {
    let raw = raw.trim();
    if let Some(t) = util::parse_ts(raw) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let naive = raw.replace(' ', "T");
    let with_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let without_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    if let Ok(t) = PrimitiveDateTime::parse(naive.trim_end_matches('Z'), with_seconds)
        .or_else(|_| PrimitiveDateTime::parse(naive.trim_end_matches('Z'), without_seconds))
    {
        return Some(t.assume_utc());
    }
    let date = Date::parse(raw, format_description!("[year]-[month]-[day]")).ok()?;
    Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc())
}

fn date_label(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-10 12:00 UTC);

    #[test]
    fn relative_specs() {
        let w = parse("7D", NOW).unwrap();
        assert_eq!((w.spec.as_str(), w.label.as_str()), ("7d", "last 7d"));
        assert_eq!(w.start, datetime!(2026-03-03 12:00 UTC));
        assert_eq!(parse("12h", NOW).unwrap().start, datetime!(2026-03-10 00:00 UTC));
        assert_eq!(parse("1w", NOW).unwrap().start, datetime!(2026-03-03 12:00 UTC));
        assert_eq!(parse(" all ", NOW).unwrap().start, OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn dates_and_ranges() {
        let w = parse("2026-03-01", NOW).unwrap();
        assert_eq!((w.start, w.end), (datetime!(2026-03-01 0:00 UTC), datetime!(2026-03-02 0:00 UTC)));
        assert_eq!(w.label, "2026-03-01");
        let w = parse("2026-03-10", NOW).unwrap();
        assert_eq!(w.end, NOW, "clipped to now");
        let w = parse_range("2026-03-01", "2026-03-05T06:00:00+02:00", NOW).unwrap();
        assert_eq!(w.end, datetime!(2026-03-05 04:00 UTC));
        assert_eq!(w.label, "2026-03-01 to 2026-03-05");
        assert_eq!(w.spec, "2026-03-01/2026-03-05T06:00:00+02:00");
        assert_eq!(parse_point("2026-03-01T10:30").unwrap(), datetime!(2026-03-01 10:30 UTC));
    }

    #[test]
    fn bad_specs_are_invalid_window() {
        for bad in ["", "0d", "7x", "yesterday", "2026-03-05/2026-03-01", "2027-01-01", "99999999999999999999d"] {
            let err = parse(bad, NOW).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidWindow, "{bad}");
            assert_eq!(err.details["example"], EXAMPLE);
        }
    }
}
