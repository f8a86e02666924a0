//! RFC 3339 timestamps from epoch milliseconds with integer arithmetic only
//! (float formatting would pull Rust's float printing into the wasm).
use crate::json::push_uint;
use alloc::string::String;

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` for `ms` since the Unix epoch.
pub fn push_rfc3339(out: &mut String, ms: u64) {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let second_of_day = secs % 86_400;
    // Civil-from-days (Howard Hinnant), shifted so every value stays unsigned.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    push_uint(out, year, 4);
    out.push('-');
    push_uint(out, month, 2);
    out.push('-');
    push_uint(out, day, 2);
    out.push('T');
    push_uint(out, second_of_day / 3600, 2);
    out.push(':');
    push_uint(out, second_of_day / 60 % 60, 2);
    out.push(':');
    push_uint(out, second_of_day % 60, 2);
    out.push('.');
    push_uint(out, ms % 1000, 3);
    out.push('Z');
}
