//! Warninglists on the write path: an indicator posted over TAXII or imported whose canonical
//! values (`matcher::canon`) include one on a built-in warninglist (a public suffix, a private
//! or special-purpose range, `0.0.0.0/0`, a public resolver, a top site) is stored as posted —
//! the hub keeps what members share — but logged with the reason and counted
//! (`shieldwall_indicators_warninglisted_total`), so that an operator sees it before an export
//! drops it.

use serde_json::Value;

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
