//! SQL text shared by both backends, built with `$n` placeholders and a list of bound values
//! (no value is ever spliced into the text, except a listing's page size, an integer). The listing query is where the access policy is
//! pushed down: [`visible`] restates `policy::marking_allows` plus the edge rule of `policy::may_see`.

use crate::{
    ListQuery, LookupQuery, LookupTarget, VersionSelection,
    policy::{Pushdown, tlp_code},
};
use matcher::occurrence::Place;
use stix::tlp::TlpLevel;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The SQL dialect (only placeholders differ in the shared text; see `backends.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A query under construction.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) binds: Vec<Bind>,
}

impl Sql {
    pub(crate) fn push(&mut self, s: &str) -> &mut Sql {
        self.text.push_str(s);
        self
    }
    /// Binds a value once and returns its placeholder, for reuse.
    pub(crate) fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
    /// `IN (…)` over placeholders.
    pub(crate) fn in_list(&mut self, items: &[String]) -> String {
        let ps: Vec<String> = items
            .iter()
            .map(|i| self.param(Bind::Text(i.clone())))
            .collect();
        format!("IN ({})", ps.join(", "))
    }
}

/// Parameters of the policy, bound once per query and reused by every sub-expression.
#[derive(Debug, Clone)]
pub(crate) struct PolicyParams {
    member: String,
    readable: Option<String>,
    red: Option<String>,
    default_tlp: String,
    red_code: String,
    /// `policy::may_leave` for a peer node: (source placeholder, `IN (…)` of the collections
    /// where AMBER may leave, whether AMBER+STRICT may leave, `NOT IN (…)` of the TLP codes that
    /// may not leave from the listing's own collection).
    egress: Option<(String, Option<String>, bool, String)>,
}

impl PolicyParams {
    /// Binds the policy of `pd` for a listing of `collection`.
    pub(crate) fn bind(sql: &mut Sql, pd: &Pushdown, collection: &str) -> PolicyParams {
        let member = sql.param(Bind::Text(pd.member.clone()));
        let readable = pd.readable.as_ref().map(|r| {
            if r.is_empty() {
                "IN (NULL)".to_owned() // matches nothing
            } else {
                sql.in_list(r)
            }
        });
        let red = (!pd.red_recipient_of.is_empty()).then(|| sql.in_list(&pd.red_recipient_of));
        let default_tlp = sql.param(Bind::Int(tlp_code(pd.default_tlp)));
        let red_code = sql.param(Bind::Int(tlp_code(TlpLevel::Red)));
        let egress = pd.egress.as_ref().map(|eg| {
            let source = sql.param(Bind::Text(eg.source.clone()));
            let amber =
                (!eg.amber_collections.is_empty()).then(|| sql.in_list(&eg.amber_collections));
            // Written as the levels that may NOT leave (RED at least): every stored code is a
            // level, so this is the same set, and `NOT IN` keeps PostgreSQL's row estimate high
            // enough that it walks the `(collection, date_added, vid)` order and stops at the
            // page's LIMIT (with `IN (…)` it hashed the whole table: 10× slower per page).
            let mut held = vec![tlp_code(TlpLevel::Red)];
            if !eg.amber_collections.iter().any(|c| c == collection) {
                held.push(tlp_code(TlpLevel::Amber));
            }
            if !eg.amber_strict {
                held.push(tlp_code(TlpLevel::AmberStrict));
            }
            let held: Vec<String> = held.into_iter().map(|c| sql.param(Bind::Int(c))).collect();
            (
                source,
                amber,
                eg.amber_strict,
                format!("NOT IN ({})", held.join(", ")),
            )
        });
        PolicyParams {
            member,
            readable,
            red,
            default_tlp,
            red_code,
            egress,
        }
    }

    /// The egress rule (mirrors `policy::may_leave`). `in_listing`: `e` is an entry of the
    /// listing's collection, and "never back to the peer it came from" applies (the edge rule
    /// does not apply it to endpoints, which may be in any collection).
    fn leaves(&self, e: &str, v: &str, in_listing: bool) -> String {
        let Some((source, amber, strict, here)) = &self.egress else {
            return String::new();
        };
        let tlp = format!("COALESCE({v}.tlp, {})", self.default_tlp);
        if in_listing {
            return format!(" AND {tlp} {here} AND {v}.source <> {source}");
        }
        let mut s = format!(
            " AND ({tlp} IN ({}, {})",
            tlp_code(TlpLevel::Clear),
            tlp_code(TlpLevel::Green)
        );
        if let Some(amber) = amber {
            s.push_str(&format!(
                " OR ({tlp} = {} AND {e}.collection {amber})",
                tlp_code(TlpLevel::Amber)
            ));
        }
        if *strict {
            s.push_str(&format!(" OR {tlp} = {}", tlp_code(TlpLevel::AmberStrict)));
        }
        s.push(')');
        s
    }

    /// The marking rule for entry `e` of version `v` (mirrors `policy::marking_allows`).
    pub(crate) fn marking(&self, e: &str, v: &str) -> String {
        self.marking_with(e, v, true)
    }

    fn marking_with(&self, e: &str, v: &str, in_listing: bool) -> String {
        let mut s = String::from("(");
        if let Some(r) = &self.readable {
            s.push_str(&format!("{e}.collection {r} AND "));
        }
        s.push_str(&format!(
            "(COALESCE({v}.tlp, {d}) <> {red} OR {v}.producer = {m}",
            d = self.default_tlp,
            red = self.red_code,
            m = self.member
        ));
        if let Some(red) = &self.red {
            s.push_str(&format!(" OR {e}.collection {red}"));
        }
        s.push(')');
        s.push_str(&self.leaves(e, v, in_listing));
        s.push(')');
        s
    }

    /// The full rule for entry `e` of version `v` (mirrors `policy::may_see`): the marking rule,
    /// and every edge target unknown or visible somewhere by the marking rule.
    ///
    /// Sub-queries that look an object up by id read `versions` (by id) first and then its
    /// entries: `CROSS JOIN` fixes that order on SQLite (whose planner, without statistics,
    /// otherwise scanned every entry of the readable collections once per edge, making a page of
    /// relationships cost the size of the collection), and is an ordinary join to PostgreSQL.
    pub(crate) fn visible(&self, e: &str, v: &str) -> String {
        let suffix = format!("{e}{v}");
        let (r, k, k2, e2) = (
            format!("r_{suffix}"),
            format!("k_{suffix}"),
            format!("kk_{suffix}"),
            format!("ee_{suffix}"),
        );
        format!(
            "({marking} AND ({v}.has_edges = 0 OR NOT EXISTS (SELECT 1 FROM edges {r} WHERE {r}.vid = {v}.vid \
             AND EXISTS (SELECT 1 FROM versions {k} WHERE {k}.id = {r}.target) \
             AND NOT EXISTS (SELECT 1 FROM versions {k2} CROSS JOIN entries {e2} WHERE {e2}.vid = {k2}.vid \
             AND {k2}.id = {r}.target AND {inner}))))",
            marking = self.marking(e, v),
            inner = self.marking_with(&e2, &k2, false),
        )
    }
}

/// Conditions on a sibling entry `e2`/`v2` of the same object in the same collection that a
/// listing's candidates must share (same collection, visible, same `added_after`).
fn sibling(p: &PolicyParams, coll: &str, added_after: Option<&str>) -> String {
    let mut s = format!(
        "e2.collection = {coll} AND v2.id = v.id AND {}",
        p.visible("e2", "v2")
    );
    if let Some(aa) = added_after {
        s.push_str(&format!(" AND e2.date_added > {aa}"));
    }
    s
}

/// The WHERE conditions that choose versions of each object: `match[spec_version]` (default: the
/// latest spec version among the candidates) then `match[version]` (among those).
pub(crate) fn selection(
    sql: &mut Sql,
    p: &PolicyParams,
    coll: &str,
    added_after: Option<&str>,
    versions: &VersionSelection,
    spec_versions: &[String],
) -> String {
    let mut out = String::new();
    let sib = sibling(p, coll, added_after);
    // `e.multi = 0`: no other version of the object is placed in this collection, so no sibling
    // can exist and the sub-queries below are true; they run only for objects with versions.
    let spec_same = if spec_versions.is_empty() {
        out.push_str(&format!(
            " AND (e.multi = 0 OR NOT EXISTS (SELECT 1 FROM versions v2 CROSS JOIN entries e2 WHERE e2.vid = v2.vid AND {sib} AND v2.spec_version > v.spec_version))"
        ));
        "v2.spec_version = v.spec_version".to_owned()
    } else {
        let list = sql.in_list(spec_versions);
        out.push_str(&format!(" AND v.spec_version {list}"));
        format!("v2.spec_version {list}")
    };
    if !versions.all {
        let mut parts = Vec::new();
        if versions.last {
            parts.push(format!(
                "(e.multi = 0 OR NOT EXISTS (SELECT 1 FROM versions v2 CROSS JOIN entries e2 WHERE e2.vid = v2.vid AND {sib} AND {spec_same} AND v2.version_ns > v.version_ns))"
            ));
        }
        if versions.first {
            parts.push(format!(
                "(e.multi = 0 OR NOT EXISTS (SELECT 1 FROM versions v2 CROSS JOIN entries e2 WHERE e2.vid = v2.vid AND {sib} AND {spec_same} AND v2.version_ns < v.version_ns))"
            ));
        }
        if !versions.exact.is_empty() {
            let ps: Vec<String> = versions
                .exact
                .iter()
                .map(|n| sql.param(Bind::Int(*n)))
                .collect();
            parts.push(format!("v.version_ns IN ({})", ps.join(", ")));
        }
        if parts.is_empty() {
            parts.push("1 = 0".to_owned());
        }
        out.push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    out
}

/// The listing query.
pub(crate) fn list(q: &ListQuery) -> Sql {
    if !q.ids.is_empty() {
        return list_by_id(q);
    }
    let mut sql = Sql::default();
    let p = PolicyParams::bind(&mut sql, &q.pushdown, &q.collection);
    let coll = sql.param(Bind::Text(q.collection.clone()));
    let added_after = q.added_after_us.map(|aa| sql.param(Bind::Int(aa)));
    let json = if q.with_json {
        "v.json".to_owned()
    } else {
        "NULL".to_owned()
    };
    let mut where_ = format!("e.collection = {coll} AND {}", p.visible("e", "v"));
    if !q.ids.is_empty() {
        where_.push_str(&format!(" AND v.id {}", sql.in_list(&q.ids)));
    }
    // One type: on the entry's copy of it, whose index `entries_type`
    // `(collection, type, date_added, vid)` gives that type's entries in the listing's order
    // (from the page's position on). Several types: on the version, the collection walked in
    // order — on the index, each page would gather and sort every entry of the types after its
    // position (callers wanting several types fast list them one at a time).
    if let [t] = q.types.as_slice() {
        let t = sql.param(Bind::Text(t.clone()));
        where_.push_str(&format!(" AND e.type = {t}"));
    } else if !q.types.is_empty() {
        where_.push_str(&format!(" AND v.type {}", sql.in_list(&q.types)));
    }
    if let Some(aa) = &added_after {
        where_.push_str(&format!(" AND e.date_added > {aa}"));
    }
    let versions = q.versions.clone();
    let specs = q.spec_versions.clone();
    where_.push_str(&selection(
        &mut sql,
        &p,
        &coll,
        added_after.as_deref(),
        &versions,
        &specs,
    ));
    if let Some((d, row)) = q.after {
        let d = sql.param(Bind::Int(d));
        let row = sql.param(Bind::Int(row));
        // `date_added >= d` first: an index range, so that page N does not rescan pages 1..N.
        where_.push_str(&format!(
            " AND e.date_added >= {d} AND (e.date_added > {d} OR e.vid > {row})"
        ));
    }
    // The page size is written into the text (an integer of ours, not request text): with it
    // bound, PostgreSQL's generic plan assumes a large LIMIT, keeps re-planning every execution
    // (about 1.5 ms of planning per page) and, costed high, compiles it with JIT.
    let limit = i64::from(q.limit) + 1;
    // With `match[id]`, the objects' versions (by id) first, then their entries by primary key;
    // otherwise the collection's entries in order. `CROSS JOIN` fixes that order on SQLite
    // (which, without statistics, walked the whole collection for one id).
    let from = if q.ids.is_empty() {
        "entries e JOIN versions v ON v.vid = e.vid WHERE"
    } else {
        "versions v CROSS JOIN entries e WHERE e.vid = v.vid AND"
    };
    sql.push(&format!(
        "SELECT e.date_added, e.vid, v.id, v.version_ns, v.version_text, v.spec_version, {json}, v.tlp \
         FROM {from} {where_} ORDER BY e.date_added, e.vid LIMIT {limit}"
    ));
    sql
}

/// The listing query for `match[id]` and the by-id endpoints (`q.ids` not empty): the ids'
/// versions placed in the collection (by id, then each entry by primary key) that the caller may
/// see (the whole policy, [`PolicyParams::visible`], evaluated once per version) are gathered
/// first in `c`, a materialised set that holds only those versions; the version selection then
/// compares each with its siblings within `c`. The same rows as the general form, whose sibling
/// sub-queries restate the policy for every sibling: on PostgreSQL, initialising that larger
/// plan cost more than running it (a by-id GET spent most of its database time in
/// `ExecutorStart`).
fn list_by_id(q: &ListQuery) -> Sql {
    let mut sql = Sql::default();
    let p = PolicyParams::bind(&mut sql, &q.pushdown, &q.collection);
    let coll = sql.param(Bind::Text(q.collection.clone()));
    let mut cond = format!(
        "e.vid = v.vid AND e.collection = {coll} AND v.id {}",
        sql.in_list(&q.ids)
    );
    if !q.types.is_empty() {
        cond.push_str(&format!(" AND v.type {}", sql.in_list(&q.types)));
    }
    if let Some(aa) = q.added_after_us {
        let aa = sql.param(Bind::Int(aa));
        cond.push_str(&format!(" AND e.date_added > {aa}"));
    }
    let mut where_ = String::from("1 = 1");
    let spec_same = if q.spec_versions.is_empty() {
        where_.push_str(
            " AND NOT EXISTS (SELECT 1 FROM c c2 WHERE c2.id = c.id AND c2.spec_version > c.spec_version)",
        );
        "c2.spec_version = c.spec_version".to_owned()
    } else {
        let list = sql.in_list(&q.spec_versions);
        where_.push_str(&format!(" AND c.spec_version {list}"));
        format!("c2.spec_version {list}")
    };
    let versions = &q.versions;
    if !versions.all {
        let mut parts = Vec::new();
        let sibling = |cmp: &str| {
            format!(
                "NOT EXISTS (SELECT 1 FROM c c2 WHERE c2.id = c.id AND {spec_same} AND c2.version_ns {cmp} c.version_ns)"
            )
        };
        if versions.last {
            parts.push(sibling(">"));
        }
        if versions.first {
            parts.push(sibling("<"));
        }
        if !versions.exact.is_empty() {
            let ps: Vec<String> = versions
                .exact
                .iter()
                .map(|n| sql.param(Bind::Int(*n)))
                .collect();
            parts.push(format!("c.version_ns IN ({})", ps.join(", ")));
        }
        if parts.is_empty() {
            parts.push("1 = 0".to_owned());
        }
        where_.push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    if let Some((d, row)) = q.after {
        let d = sql.param(Bind::Int(d));
        let row = sql.param(Bind::Int(row));
        where_.push_str(&format!(
            " AND c.date_added >= {d} AND (c.date_added > {d} OR c.vid > {row})"
        ));
    }
    // The JSON of the chosen versions only, by primary key (not copied into `c`).
    let (json, join) = if q.with_json {
        ("v.json", " CROSS JOIN versions v")
    } else {
        ("NULL", "")
    };
    let join_cond = if q.with_json {
        " AND v.vid = c.vid"
    } else {
        ""
    };
    let limit = i64::from(q.limit) + 1;
    sql.push(&format!(
        "WITH c AS MATERIALIZED (SELECT e.date_added, e.vid, v.id, v.version_ns, v.version_text, v.spec_version, v.tlp \
         FROM versions v CROSS JOIN entries e WHERE {cond} AND {visible}) \
         SELECT c.date_added, c.vid, c.id, c.version_ns, c.version_text, c.spec_version, {json}, c.tlp \
         FROM c{join} WHERE {where_}{join_cond} ORDER BY c.date_added, c.vid LIMIT {limit}",
        visible = p.visible("e", "v"),
    ));
    sql
}

/// The columns of a [`crate::LookupHit`] row after its `(kind, value, place, via)`.
const HIT_COLUMNS: &str = "e.collection, v.id, v.type, v.version_ns, v.version_text, v.tlp, v.revoked, v.json, e.date_added";

/// The value index looked up through the caller's policy: the versions holding the value (or,
/// for a network, a network containing it or a value within it) that the caller may see and
/// that are the latest version it may see of their object in their collection (a listing's
/// default `match[version]=last`), newest first. For [`LookupTarget::SightingsOf`], the
/// sightings (same rule) pointing to the given objects. An observed-data holds the values of
/// the SCOs embedded in it, and is reached through an SCO its `object_refs` name
/// (`observed_refs`) only when the caller may see that SCO somewhere.
///
/// The value's rows come first (the primary key `(kind, value, …)`, or `value_index_net` for a
/// range), then each row's version and entries by key: `CROSS JOIN` fixes that order on SQLite.
/// The pushdown must carry no egress rule (lookups are for members, not peer nodes).
pub(crate) fn lookup(q: &LookupQuery) -> Sql {
    let mut sql = Sql::default();
    let p = PolicyParams::bind(&mut sql, &q.pushdown, "");
    let (rows, head) = match &q.target {
        LookupTarget::Values {
            kind,
            values,
            within,
        } => {
            let k = sql.param(Bind::Text(kind.clone()));
            // The rows holding the value (alias `i`): exactly, or within a range.
            let mut conds = Vec::new();
            if !values.is_empty() {
                let list = sql.in_list(values);
                conds.push(format!("i.kind = {k} AND i.value {list}"));
            }
            if let Some(r) = within {
                let lo = sql.param(Bind::Bytes(r.first.clone()));
                let hi = sql.param(Bind::Bytes(r.last.clone()));
                let plen = sql.param(Bind::Int(r.min_prefix));
                conds.push(format!(
                    "i.kind = {k} AND i.net IS NOT NULL AND i.net >= {lo} AND i.net <= {hi} AND i.plen >= {plen}"
                ));
            }
            if conds.is_empty() {
                conds.push("1 = 0".to_owned());
            }
            let observed = sql.param(Bind::Text(Place::Observed.as_str().to_owned()));
            let sco = sql.param(Bind::Text(Place::Sco.as_str().to_owned()));
            let mut branches = Vec::new();
            for cond in &conds {
                // The versions holding the value themselves.
                branches.push(format!(
                    "SELECT i.kind AS kind, i.value AS value, i.place AS place, i.vid AS vid, NULL AS via \
                     FROM value_index i WHERE {cond}"
                ));
                // An observed-data naming an SCO that holds it (`observed_refs`), only when the
                // reader may see that SCO: otherwise the observed-data, visible on its own, would
                // confirm a guessed value of a hidden SCO (whose id, when random, says nothing).
                branches.push(format!(
                    "SELECT i.kind, i.value, {observed} AS place, o.vid, NULL AS via \
                     FROM value_index i CROSS JOIN versions s CROSS JOIN observed_refs o \
                     WHERE {cond} AND i.place = {sco} AND s.vid = i.vid AND o.target = s.id \
                     AND EXISTS (SELECT 1 FROM entries es WHERE es.vid = s.vid AND {seen})",
                    seen = p.visible("es", "s"),
                ));
            }
            // `UNION` (not `ALL`): an observed-data holding the value itself and through an SCO
            // it names, or through several, is one row.
            (branches.join(" UNION "), "x.kind, x.value, x.place, x.via")
        }
        LookupTarget::SightingsOf(ids) => {
            let list = if ids.is_empty() {
                "IN (NULL)".to_owned()
            } else {
                sql.in_list(ids)
            };
            (
                format!(
                    "SELECT '' AS kind, '' AS value, 'sighting' AS place, vid, target AS via FROM edges WHERE target {list}"
                ),
                "x.kind, x.value, x.place, x.via",
            )
        }
    };
    let mut where_ = format!(
        "v.vid = x.vid AND e.vid = v.vid AND {}",
        p.visible("e", "v")
    );
    if matches!(q.target, LookupTarget::SightingsOf(_)) {
        let t = sql.param(Bind::Text("sighting".into()));
        where_.push_str(&format!(" AND v.type = {t}"));
    }
    where_.push_str(&selection(
        &mut sql,
        &p,
        "e.collection",
        None,
        &VersionSelection::last(),
        &[],
    ));
    let limit = i64::from(q.limit) + 1;
    sql.push(&format!(
        "SELECT {head}, {HIT_COLUMNS} FROM ({rows}) x CROSS JOIN versions v CROSS JOIN entries e \
         WHERE {where_} ORDER BY v.version_ns DESC, v.id, e.collection, x.place, x.value LIMIT {limit}"
    ));
    sql
}

/// Whether any version of an object is visible in a collection.
pub(crate) fn visible(collection: &str, id: &str, pd: &Pushdown) -> Sql {
    let mut sql = Sql::default();
    let p = PolicyParams::bind(&mut sql, pd, collection);
    let coll = sql.param(Bind::Text(collection.to_owned()));
    let id = sql.param(Bind::Text(id.to_owned()));
    sql.push(&format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM versions v CROSS JOIN entries e WHERE e.vid = v.vid \
         AND e.collection = {coll} AND v.id = {id} AND {} LIMIT 1) AS x",
        p.visible("e", "v")
    ));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_never_spliced() {
        let q = ListQuery {
            collection: "c'; DROP TABLE entries; --".into(),
            pushdown: Pushdown {
                member: "m'".into(),
                readable: Some(vec!["c".into()]),
                red_recipient_of: vec![],
                default_tlp: TlpLevel::Amber,
                egress: None,
            },
            ids: vec!["x' OR 1=1".into()],
            types: vec!["%".into()],
            added_after_us: Some(5),
            versions: VersionSelection::last(),
            spec_versions: vec![],
            after: Some((1, 2)),
            limit: 10,
            with_json: true,
        };
        let sql = list(&q);
        assert!(!sql.text.contains("DROP"));
        assert!(!sql.text.contains("1=1"));
        assert!(!sql.text.contains('\''));
        assert!(sql.binds.contains(&Bind::Text("x' OR 1=1".into())));
    }
}
