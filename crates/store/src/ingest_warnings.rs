//! Warninglists on the write path: an indicator posted over TAXII or imported whose canonical
//! values (`matcher::canon`) include one on a built-in warninglist (a public suffix, a private
//! or special-purpose range, `0.0.0.0/0`, a public resolver, a top site) is stored as posted —
//! the hub keeps what members share — but logged with the reason and counted
//! (`shieldwall_indicators_warninglisted_total`), so that an operator sees it before an export
//! drops it. The log lines are bounded (at most [`LINES_PER_SECOND`] a second, then one line
//! saying how many were left out) so that a bulk import of listed values cannot flood the log;
//! the counter counts them all.

use std::sync::Mutex;

use serde_json::Value;

/// How many warninglist lines the log takes in one second.
pub const LINES_PER_SECOND: u32 = 20;

/// The second being logged, lines logged in it, and lines left out since the last summary.
static BUDGET: Mutex<(u64, u32, u64)> = Mutex::new((0, 0, 0));

/// Whether one more line may be logged now; logs the summary of left-out lines (with the first
/// listed value of a later second).
fn may_log() -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Ok(mut b) = BUDGET.lock() else {
        return false;
    };
    let (allowed, left_out) = spend(&mut b, now);
    if let Some(n) = left_out {
        tracing::warn!(
            left_out = n,
            "further indicator values on a warninglist not logged (at most {LINES_PER_SECOND} lines a second; shieldwall_indicators_warninglisted_total counts them all)"
        );
    }
    allowed
}

/// One line's claim on the budget `(second, logged, left out)` at second `now`: whether it may be
/// logged, and the count of lines left out in earlier seconds when a new second starts.
fn spend(b: &mut (u64, u32, u64), now: u64) -> (bool, Option<u64>) {
    let mut summary = None;
    if b.0 != now {
        if b.2 > 0 {
            summary = Some(b.2);
        }
        *b = (now, 0, 0);
    }
    if b.1 < LINES_PER_SECOND {
        b.1 += 1;
        (true, summary)
    } else {
        b.2 += 1;
        (false, summary)
    }
}

/// Logs and counts the warninglisted values of one incoming object (indicators only).
pub fn note(obj: &Value, member: &str) {
    if obj.get("type").and_then(Value::as_str) != Some("indicator")
        || obj.get("pattern_type").and_then(Value::as_str) != Some("stix")
    {
        return;
    }
    let Some(pattern) = obj.get("pattern").and_then(Value::as_str) else {
        return;
    };
    let id = obj.get("id").and_then(Value::as_str).unwrap_or("");
    for (value, f) in matcher::warninglist::builtin().check_pattern(pattern) {
        metrics::counter!("shieldwall_indicators_warninglisted_total", "policy" => f.policy.name())
            .increment(1);
        if !may_log() {
            continue;
        }
        tracing::warn!(
            indicator = id,
            member,
            value = %value,
            list = %f.list,
            policy = f.policy.name(),
            reason = %f.reason,
            "indicator value on a warninglist"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_takes_a_bounded_number_of_lines_a_second_and_says_how_many_it_left_out() {
        let mut b = (0, 0, 0);
        let logged = (0..100).filter(|_| spend(&mut b, 7).0).count();
        assert_eq!(logged, LINES_PER_SECOND as usize);
        assert_eq!(
            spend(&mut b, 8),
            (true, Some(100 - u64::from(LINES_PER_SECOND)))
        );
        assert_eq!(spend(&mut b, 8), (true, None));
        assert_eq!(spend(&mut b, 9), (true, None));
    }
}
