//! Validation of STIX 2.1 objects: every MUST of the specification is an [`Severity::Error`],
//! every SHOULD a [`Severity::Warning`].
//!
//! Validation reads a `serde_json::Value` in place and allocates only to report findings, so it
//! runs at close to the speed of parsing. Warnings carry the check names of the OASIS reference
//! validator (stix2-validator: `custom-prefix`, `uuid-check`, `indicator-types`, …) so that the
//! same `disabled` / `enabled` lists select them; Shieldwall's own checks have their own names.
//! Every finding carries the object id, a JSON pointer (RFC 6901) to the offending property,
//! and, when the caller knows where the object came from, a line and column.

use std::{collections::HashSet, fmt, hash::BuildHasher};

use serde_json::{Map, Value};

mod props;

use crate::{
    Timestamp,
    id::{self, Identifier},
    model::{Category, category_of},
    timestamp::TimestampError,
    tlp, vocab,
};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A SHOULD of the specification (or a best practice) is not met.
    Warning,
    /// A MUST of the specification is broken: the document is invalid.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Error (MUST) or warning (SHOULD).
    pub severity: Severity,
    /// A stable identifier of the rule (e.g. `required`, `timestamp-order`, `indicator-types`).
    pub code: &'static str,
    /// The id of the object the finding is about, when it has one.
    pub object_id: Option<String>,
    /// JSON pointer to the property, relative to the validated value.
    pub pointer: String,
    /// What is wrong, for humans.
    pub message: String,
    /// 1-based line in the input, when known.
    pub line: Option<usize>,
    /// 1-based byte column in the input, when known.
    pub column: Option<usize>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        match (&self.object_id, self.pointer.is_empty()) {
            (Some(id), false) => write!(f, " ({id}, {})", self.pointer),
            (Some(id), true) => write!(f, " ({id})"),
            (None, false) => write!(f, " ({})", self.pointer),
            (None, true) => Ok(()),
        }
    }
}

/// Validation options. The default runs every check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// SHOULD checks to skip, by name or group (`all`, `format-checks`, `approved-values`,
    /// `all-vocabs`, `all-external-sources`), as stix2-validator's `--disable`.
    pub disabled: Vec<String>,
    /// When not empty, SHOULD checks to run in addition to those not disabled, as
    /// stix2-validator's `--enable` (with `disabled` empty, only these run).
    pub enabled: Vec<String>,
    /// Warn about every property the specification does not define.
    pub strict_properties: bool,
    /// Warn about every object type the specification does not define.
    pub strict_types: bool,
    /// Interoperability profile: an object may carry at most one TLP 1.0 marking (an error).
    pub interop: bool,
}

/// Declares the SHOULD checks once: the enum, each check's stable name, and the list of all.
macro_rules! checks {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Names of the SHOULD checks, with stix2-validator's numbers where it has the check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        #[allow(missing_docs)]
        pub enum Check {
            $($(#[$doc])* $variant,)*
        }

        impl Check {
            /// The check's stable name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Check::$variant => $name,)*
                }
            }

            const ALL: &'static [Check] = &[$(Check::$variant,)*];
        }
    };
}

checks! {
    CustomPrefix => "custom-prefix",
    CustomPrefixLax => "custom-prefix-lax",
    UuidCheck => "uuid-check",
    OpenVocabFormat => "open-vocab-format",
    KillChainNames => "kill-chain-names",
    ObservableObjectKeys => "observable-object-keys",
    ObservableDictionaryKeys => "observable-dictionary-keys",
    MalwareAnalysisProduct => "malware-analysis-product",
    WindowsProcessPriorityFormat => "windows-process-priority-format",
    HashLength => "hash-length",
    MarkingDefinitionType => "marking-definition-type",
    RelationshipTypes => "relationship-types",
    DuplicateIds => "duplicate-ids",
    AttackMotivation => "attack-motivation",
    AttackResourceLevel => "attack-resource-level",
    IdentityClass => "identity-class",
    IndicatorTypes => "indicator-types",
    IndustrySector => "industry-sector",
    MalwareTypes => "malware-types",
    ReportTypes => "report-types",
    ThreatActorTypes => "threat-actor-types",
    ThreatActorRole => "threat-actor-role",
    ThreatActorSophistication => "threat-actor-sophistication",
    ToolTypes => "tool-types",
    Region => "region",
    GroupingContext => "grouping-context",
    ImplementationLanguages => "implementation-languages",
    InfrastructureTypes => "infrastructure-types",
    MalwareCapabilities => "malware-capabilities",
    ProcessorArchitecture => "processor-architecture",
    MalwareResult => "malware-result",
    HashAlgo => "hash-algo",
    WindowsPebinaryType => "windows-pebinary-type",
    AccountType => "account-type",
    IndicatorPatternTypes => "indicator-pattern-types",
    MimeType => "mime-type",
    Protocols => "protocols",
    Ipfix => "ipfix",
    HttpRequestHeaders => "http-request-headers",
    SocketOptions => "socket-options",
    PdfDocInfo => "pdf-doc-info",
    Countries => "countries",
    NetworkTrafficPorts => "network-traffic-ports",
    ExtrefHashes => "extref-hashes",
    IndicatorProperties => "indicator-properties",
    DeprecatedProperties => "deprecated-properties",
    ExtensionDescription => "extension-description",
    ExtensionProperties => "extension-properties",
    ExtensionsUse => "extensions-use",
    StrictTypes => "strict-types",
    StrictProperties => "strict-properties",
    /// Shieldwall: an SCO's id is not the deterministic one (STIX 2.1 §2.9 SHOULD).
    ScoIdDeterministic => "sco-id-deterministic",
    /// Shieldwall: `created_by_ref` does not point to an `identity`.
    CreatedByRefType => "created-by-ref-type",
    /// Shieldwall: an object uses the STIX 2.0 `spec_version`.
    SpecVersion => "spec-version",
    /// Shieldwall: a non-TLP marking definition reuses a TLP 1.0 marking id.
    TlpIdReuse => "tlp-id-reuse",
    /// Shieldwall: a reference held by a cyber-observable names a known type but its UUID is
    /// malformed. STIX 2.1 §2.9 makes it invalid, but the reference validator accepts it (it
    /// checks only the type prefix of SCO references), and refusing a whole observation for a
    /// reference that merely cannot resolve loses data: we warn instead (docs/CONFORMANCE.md).
    RefUuidFormat => "ref-uuid-format",
}

impl Check {
    /// The check with this name.
    pub fn from_name(name: &str) -> Option<Check> {
        Check::ALL.iter().copied().find(|c| c.name() == name)
    }
}

/// Shieldwall's own checks: on unless disabled by name, whatever the reference tree says.
const OWN_CHECKS: &[Check] = &[
    Check::ScoIdDeterministic,
    Check::CreatedByRefType,
    Check::SpecVersion,
    Check::TlpIdReuse,
    Check::RefUuidFormat,
];

const FORMAT_CHECKS: &[Check] = {
    use Check::*;
    &[
        OpenVocabFormat,
        KillChainNames,
        ObservableObjectKeys,
        ObservableDictionaryKeys,
        MalwareAnalysisProduct,
        WindowsProcessPriorityFormat,
        HashLength,
    ]
};
const VOCAB_CHECKS: &[Check] = {
    use Check::*;
    &[
        AttackMotivation,
        AttackResourceLevel,
        IdentityClass,
        IndicatorPatternTypes,
        IndicatorTypes,
        IndustrySector,
        MalwareTypes,
        ReportTypes,
        ThreatActorTypes,
        ThreatActorRole,
        ThreatActorSophistication,
        ToolTypes,
        Region,
        HashAlgo,
        WindowsPebinaryType,
        AccountType,
        GroupingContext,
        ImplementationLanguages,
        InfrastructureTypes,
        MalwareCapabilities,
        ProcessorArchitecture,
        MalwareResult,
    ]
};
const EXTERNAL_SOURCE_CHECKS: &[Check] = {
    use Check::*;
    &[
        MimeType,
        Protocols,
        Ipfix,
        HttpRequestHeaders,
        SocketOptions,
        PdfDocInfo,
        Countries,
    ]
};

/// Why an [`Options`] value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A name in `enabled` or `disabled` names no check.
    #[error("{0} is not a valid check")]
    UnknownCheck(String),
}

/// The set of SHOULD checks that run, resolved once from [`Options`].
#[derive(Debug, Clone, Copy)]
struct CheckSet(u64);

impl CheckSet {
    fn on(self, c: Check) -> bool {
        self.0 & (1u64 << (c as u8)) != 0
    }
    fn set(&mut self, c: Check) {
        self.0 |= 1u64 << (c as u8);
    }
}

fn group(name: &str) -> Option<Vec<Check>> {
    Some(match name {
        "all" => Check::ALL.to_vec(),
        "format-checks" => {
            let mut v = FORMAT_CHECKS.to_vec();
            v.extend([Check::UuidCheck]);
            v
        }
        "approved-values" => {
            let mut v = vec![
                Check::MarkingDefinitionType,
                Check::RelationshipTypes,
                Check::DuplicateIds,
            ];
            v.extend_from_slice(VOCAB_CHECKS);
            v.extend_from_slice(EXTERNAL_SOURCE_CHECKS);
            v
        }
        "all-vocabs" => VOCAB_CHECKS.to_vec(),
        "all-external-sources" => EXTERNAL_SOURCE_CHECKS.to_vec(),
        _ => return None,
    })
}

impl Options {
    /// Resolves which SHOULD checks run, as stix2-validator's `list_shoulds` does: with neither
    /// list, all of them; with `disabled`, the documented tree minus what is disabled (note: the
    /// reference then drops `uuid-check` and the extension-definition checks); `enabled` adds.
    fn resolve(&self) -> Result<CheckSet, OptionsError> {
        use Check::*;
        let mut set = CheckSet(0);
        if self.strict_types {
            set.set(StrictTypes);
        }
        if self.strict_properties {
            set.set(StrictProperties);
        }
        for name in self.enabled.iter().chain(&self.disabled) {
            if Check::from_name(name).is_none() && group(name).is_none() {
                return Err(OptionsError::UnknownCheck(name.clone()));
            }
        }
        let off = |n: &str| self.disabled.iter().any(|d| d == n);
        for &c in OWN_CHECKS {
            if !off(c.name()) && !off("all") {
                set.set(c);
            }
        }
        let reference_disabled = self
            .disabled
            .iter()
            .any(|d| !OWN_CHECKS.iter().any(|c| c.name() == d));
        if !reference_disabled && self.enabled.is_empty() {
            for &c in Check::ALL {
                if !matches!(
                    c,
                    CustomPrefix | CustomPrefixLax | StrictTypes | StrictProperties
                ) && !OWN_CHECKS.contains(&c)
                {
                    set.set(c);
                }
            }
            return Ok(set);
        }
        if reference_disabled && !off("all") {
            if !off("format-checks") {
                for &c in FORMAT_CHECKS {
                    if !off(c.name()) {
                        set.set(c);
                    }
                }
            }
            if !off("approved-values") {
                for c in [MarkingDefinitionType, RelationshipTypes, DuplicateIds] {
                    if !off(c.name()) {
                        set.set(c);
                    }
                }
                if !off("all-vocabs") {
                    for &c in VOCAB_CHECKS {
                        if !off(c.name()) {
                            set.set(c);
                        }
                    }
                }
                if !off("all-external-sources") {
                    for &c in EXTERNAL_SOURCE_CHECKS {
                        if !off(c.name()) {
                            set.set(c);
                        }
                    }
                }
            }
            for c in [
                NetworkTrafficPorts,
                ExtrefHashes,
                IndicatorProperties,
                DeprecatedProperties,
            ] {
                if !off(c.name()) {
                    set.set(c);
                }
            }
            if !off("extensions-use") {
                set.set(ExtensionsUse);
            } else if !off("format-checks") {
                if !off("custom-prefix") {
                    set.set(CustomPrefix);
                } else if !off("custom-prefix-lax") {
                    set.set(CustomPrefixLax);
                }
            }
        }
        for name in &self.enabled {
            match Check::from_name(name) {
                Some(c) => set.set(c),
                None => {
                    for c in group(name).unwrap_or_default() {
                        set.set(c);
                    }
                }
            }
        }
        Ok(set)
    }
}

/// Validates one STIX value: an object, or a bundle (whose objects are validated too).
///
/// An `Options` naming an unknown check yields a single error finding with code `options`.
pub fn validate_object(value: &Value, options: &Options) -> Vec<Finding> {
    match Validator::new(options) {
        Ok(v) => v.validate(value),
        Err(e) => vec![Finding {
            severity: Severity::Error,
            code: "options",
            object_id: None,
            pointer: String::new(),
            message: e.to_string(),
            line: None,
            column: None,
        }],
    }
}

/// At most this many findings are reported per object; the rest are counted in one closing
/// finding with code `limit` (an error when any finding left out is an error, so an object's
/// verdict never depends on the cap).
pub const MAX_FINDINGS_PER_OBJECT: usize = 20;

/// A finding's message, object id and pointer are each cut to at most this many characters (a
/// message may quote a value, and values, ids and property names can be long).
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// `s` cut to at most `max` characters, the last one `…` when it was cut.
pub fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some(_) => {
            let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
            out.push('…');
            out
        }
        None => s.to_owned(),
    }
}

/// [`shorten`] for an owned string (kept as it is when it is short enough).
fn shorten_owned(s: String, max: usize) -> String {
    // A string of at most `max` bytes has at most `max` characters.
    if s.len() <= max { s } else { shorten(&s, max) }
}

/// A validator with its options resolved, for validating many values.
#[derive(Debug, Clone)]
pub struct Validator {
    checks: CheckSet,
    interop: bool,
}

impl Validator {
    /// Resolves `options` once.
    pub fn new(options: &Options) -> Result<Validator, OptionsError> {
        Ok(Validator {
            checks: options.resolve()?,
            interop: options.interop,
        })
    }

    /// Validates one value (an object or a bundle).
    pub fn validate(&self, value: &Value) -> Vec<Finding> {
        let mut out = Vec::new();
        self.validate_into(value, &mut out);
        out
    }

    /// Validates one value, appending findings to `out`.
    pub fn validate_into(&self, value: &Value, out: &mut Vec<Finding>) {
        let root = P::ROOT;
        let mut cx = Cx {
            out,
            id: None,
            checks: self.checks,
            interop: self.interop,
            inherited_spec_version: false,
            in_sco: false,
            scope: Scope::default(),
        };
        match value {
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("bundle") {
                    let outer = cx.begin_object();
                    validate_bundle(map, &root, &mut cx);
                    cx.end_object(outer, map, &root);
                } else {
                    validate_top(map, &root, &mut cx);
                }
            }
            _ => cx.error(
                "not-object",
                &root,
                format!("a STIX object must be a JSON object, not {}", kind(value)),
            ),
        }
    }

    /// Validates one object streamed out of a bundle. When the bundle states a `spec_version`
    /// (the STIX 2.0 way), `bundle_spec_version` is true and the object inherits it, as it does
    /// when the whole bundle goes through [`Validator::validate_into`].
    pub fn validate_bundle_member_into(
        &self,
        value: &Value,
        bundle_spec_version: bool,
        out: &mut Vec<Finding>,
    ) {
        match value {
            Value::Object(map) if bundle_spec_version => {
                let mut cx = Cx {
                    out,
                    id: None,
                    checks: self.checks,
                    interop: self.interop,
                    inherited_spec_version: true,
                    in_sco: false,
                    scope: Scope::default(),
                };
                validate_top(map, &P::ROOT, &mut cx);
            }
            _ => self.validate_into(value, out),
        }
    }

    /// Whether `f` is the error that an object lacks `spec_version` (which an enclosing bundle
    /// stating one would lift).
    pub fn is_missing_spec_version(f: &Finding) -> bool {
        f.severity == Severity::Error
            && f.code == "required"
            && f.pointer.is_empty()
            && f.message == MISSING_SPEC_VERSION
    }

    /// Whether `f` is the error that a bundle's `objects` is an empty list. A streamed bundle's
    /// own properties come with `objects` emptied (`stream::ItemKind::Bundle`): the caller
    /// drops this finding when the stream did yield objects.
    pub fn is_empty_objects(f: &Finding) -> bool {
        f.severity == Severity::Error && f.pointer == "/objects" && f.message == EMPTY_OBJECTS
    }

    /// Whether a warning with this check name is produced under these options.
    pub fn runs(&self, check: Check) -> bool {
        self.checks.on(check)
    }
}

const MISSING_SPEC_VERSION: &str = "'spec_version' is a required property";
const EMPTY_OBJECTS: &str = "'objects' must not be an empty list";

/// Tracks the ids of a streamed bundle to find duplicates (same id and `modified`) in memory
/// proportional to the number of objects (8 bytes each), not to their size.
#[derive(Debug, Default)]
pub struct DuplicateTracker {
    seen: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl DuplicateTracker {
    /// Records `object`; returns a `duplicate-ids` warning if an object with the same `id` and
    /// `modified` was recorded before (a 64-bit hash decides; a collision is a false warning).
    pub fn check(&mut self, object: &Value, validator: &Validator) -> Option<Finding> {
        if !validator.runs(Check::DuplicateIds) {
            return None;
        }
        let id = object.get("id")?.as_str()?;
        let modified = object.get("modified")?.as_str()?;
        let h = self.hasher.hash_one((id, modified));
        if self.seen.insert(h) {
            return None;
        }
        let id = shorten(id, MAX_MESSAGE_CHARS);
        Some(Finding {
            severity: Severity::Warning,
            code: Check::DuplicateIds.name(),
            object_id: Some(id.clone()),
            pointer: String::new(),
            message: format!(
                "Duplicate ID '{id}' has identical `modified` timestamp. If they are different versions of the same object, they should have different `modified` properties."
            ),
            line: None,
            column: None,
        })
    }
}

// ----------------------------------------------------------------------------------------------
// Pointers that cost nothing until a finding is reported.

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

#[derive(Clone, Copy)]
struct P<'a> {
    parent: Option<&'a P<'a>>,
    seg: Option<Seg<'a>>,
}

impl<'a> P<'a> {
    const ROOT: P<'static> = P {
        parent: None,
        seg: None,
    };
    fn key(&'a self, k: &'a str) -> P<'a> {
        P {
            parent: Some(self),
            seg: Some(Seg::Key(k)),
        }
    }
    fn idx(&'a self, i: usize) -> P<'a> {
        P {
            parent: Some(self),
            seg: Some(Seg::Index(i)),
        }
    }
    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            if let Some(s) = p.seg {
                segs.push(s);
            }
            cur = p.parent;
        }
        let mut out = String::new();
        for s in segs.into_iter().rev() {
            match s {
                Seg::Key(k) => crate::json::push_pointer_segment(&mut out, k),
                Seg::Index(i) => {
                    out.push('/');
                    out.push_str(&i.to_string());
                }
            }
        }
        out
    }
}

struct Cx<'o, 'i> {
    out: &'o mut Vec<Finding>,
    id: Option<&'i str>,
    checks: CheckSet,
    interop: bool,
    /// The enclosing bundle states a `spec_version` (the STIX 2.0 way), which its objects inherit.
    inherited_spec_version: bool,
    /// The object being checked is a cyber-observable (its references get the SCO leniency of
    /// [`Check::RefUuidFormat`]).
    in_sco: bool,
    /// Findings of the object being checked: how many are reported, how many left out.
    scope: Scope,
}

/// Counts of one object's findings, for [`MAX_FINDINGS_PER_OBJECT`].
#[derive(Debug, Default, Clone, Copy)]
struct Scope {
    reported: usize,
    left_out: usize,
    left_out_errors: usize,
}

impl Cx<'_, '_> {
    fn error(&mut self, code: &'static str, p: &P<'_>, message: String) {
        if self.scope.reported >= MAX_FINDINGS_PER_OBJECT {
            self.scope.left_out += 1;
            self.scope.left_out_errors += 1;
            return;
        }
        self.scope.reported += 1;
        self.out.push(Finding {
            severity: Severity::Error,
            code,
            object_id: self.id.map(|i| shorten(i, MAX_MESSAGE_CHARS)),
            pointer: shorten_owned(p.render(), MAX_MESSAGE_CHARS),
            message: shorten_owned(message, MAX_MESSAGE_CHARS),
            line: None,
            column: None,
        });
    }
    fn on(&self, c: Check) -> bool {
        self.checks.on(c)
    }
    fn warn(&mut self, c: Check, p: &P<'_>, message: impl FnOnce() -> String) {
        if !self.checks.on(c) {
            return;
        }
        if self.scope.reported >= MAX_FINDINGS_PER_OBJECT {
            self.scope.left_out += 1;
            return;
        }
        self.scope.reported += 1;
        self.out.push(Finding {
            severity: Severity::Warning,
            code: c.name(),
            object_id: self.id.map(|i| shorten(i, MAX_MESSAGE_CHARS)),
            pointer: shorten_owned(p.render(), MAX_MESSAGE_CHARS),
            message: shorten_owned(message(), MAX_MESSAGE_CHARS),
            line: None,
            column: None,
        });
    }

    /// Starts counting the findings of a new object; returns the enclosing object's counts.
    fn begin_object(&mut self) -> Scope {
        std::mem::take(&mut self.scope)
    }

    /// Ends an object begun with [`Cx::begin_object`]: reports how many of its findings were
    /// left out, if any, then goes back to the enclosing object's counts.
    fn end_object(&mut self, outer: Scope, map: &Map<String, Value>, p: &P<'_>) {
        let s = self.scope;
        if s.left_out > 0 {
            let (severity, what) = if s.left_out_errors > 0 {
                (
                    Severity::Error,
                    format!(
                        "{} more problems, {} of them errors,",
                        s.left_out, s.left_out_errors
                    ),
                )
            } else {
                (Severity::Warning, format!("{} more warnings", s.left_out))
            };
            self.out.push(Finding {
                severity,
                code: "limit",
                object_id: map
                    .get("id")
                    .and_then(Value::as_str)
                    .map(|i| shorten(i, MAX_MESSAGE_CHARS)),
                pointer: shorten_owned(p.render(), MAX_MESSAGE_CHARS),
                message: format!(
                    "… and {what} not listed: only the first {MAX_FINDINGS_PER_OBJECT} findings \
                     of an object are reported"
                ),
                line: None,
                column: None,
            });
        }
        self.scope = outer;
    }
}

/// Validates one object of a document (not one embedded in another), with its own cap on
/// findings.
fn validate_top<'i>(map: &'i Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, 'i>) {
    let outer = cx.begin_object();
    validate_map(map, p, cx, Top::Yes);
    cx.end_object(outer, map, p);
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn in_sorted(list: &[&str], v: &str) -> bool {
    list.binary_search(&v).is_ok()
}

fn table<'t>(t: &'t [(&str, &'t [&'t str])], key: &str) -> Option<&'t [&'t str]> {
    t.binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| t[i].1)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Top {
    Yes,
    /// An SCO inside observed-data's deprecated `objects`.
    Embedded,
}

// ----------------------------------------------------------------------------------------------
// Lexical forms.

/// A type name: 3–250 of `a-z 0-9 -`, no `--`, not starting or ending with `-`.
pub fn is_valid_type_name(t: &str) -> bool {
    let b = t.as_bytes();
    (3..=250).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !t.contains("--")
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A property name: `[a-z][a-z0-9_]{2,249}`, or `id`, or a `_bin`/`_hex` name.
pub fn is_valid_property_name(n: &str) -> bool {
    let b = n.as_bytes();
    if n == "id" {
        return true;
    }
    let ok_chars = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
    };
    if (3..=250).contains(&b.len()) && b[0].is_ascii_lowercase() && ok_chars(b) {
        return true;
    }
    (n.ends_with("_bin") || n.ends_with("_hex"))
        && b.len() <= 250
        && !b.is_empty()
        && b[0].is_ascii_lowercase()
        && ok_chars(b)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    pad <= 2
        && b[..b.len() - pad]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let sb = scheme.as_bytes();
    !sb.is_empty()
        && sb[0].is_ascii_alphabetic()
        && sb
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An IPv4 address or network, strictly (`basics::net`: no prefix above 32, no leading zero).
fn is_ipv4_cidr(s: &str) -> bool {
    basics::net::Net::parse(s).is_ok_and(|n| !n.is_v6())
}

/// An IPv6 address or network, strictly (`basics::net`); a zone (`%eth0`) is allowed.
fn is_ipv6_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = addr.split_once('%').map_or(addr, |(a, _)| a);
    let text = match prefix {
        Some(p) => format!("{addr}/{p}"),
        None => addr.to_owned(),
    };
    basics::net::Net::parse(&text).is_ok_and(|n| n.is_v6())
}

fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(c)
            }
        })
}

fn is_lower_hyphenated(v: &str) -> bool {
    // Python's str.islower(): at least one cased character and no upper-case one.
    v.chars().any(char::is_lowercase)
        && !v.chars().any(char::is_uppercase)
        && !v.contains('_')
        && !v.contains(' ')
}

fn hash_value_ok(algo: &str, v: &str) -> bool {
    let hexlen = |n: usize| v.len() == n && v.bytes().all(|c| c.is_ascii_hexdigit());
    match algo {
        "MD5" => hexlen(32),
        "SHA-1" => hexlen(40),
        "SHA-256" | "SHA3-256" => hexlen(64),
        "SHA-512" | "SHA3-512" => hexlen(128),
        "SSDEEP" => {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+' | b':' | b'.'))
        }
        "TLSH" => v.len() == 70 && v.bytes().all(|c| c.is_ascii_alphanumeric()),
        _ => true,
    }
}

/// A well-formed RFC 5646 language tag (§2.1 `langtag`, `privateuse`, and the `i-…`
/// grandfathered tags), case-insensitive. The primary language subtag must be an ISO 639 code
/// of 2 or 3 letters: RFC 5646 reserves 4-letter subtags and registers no 5–8-letter one, so
/// `english` or `acme-special` name no language.
pub(crate) fn is_language_tag(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.len() > 8 || !p.bytes().all(|c| c.is_ascii_alphanumeric()))
    {
        return false;
    }
    let alpha = |p: &str| p.bytes().all(|c| c.is_ascii_alphabetic());
    let digits = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
    let n = parts.len();
    let first = parts[0];
    if first.eq_ignore_ascii_case("x") || first.eq_ignore_ascii_case("i") {
        return n >= 2;
    }
    if !(2..=3).contains(&first.len()) || !alpha(first) {
        return false;
    }
    let mut i = 1;
    // extlang
    let mut ext = 0;
    while i < n && ext < 3 && parts[i].len() == 3 && alpha(parts[i]) {
        i += 1;
        ext += 1;
    }
    // script
    if i < n && parts[i].len() == 4 && alpha(parts[i]) {
        i += 1;
    }
    // region
    if i < n
        && ((parts[i].len() == 2 && alpha(parts[i])) || (parts[i].len() == 3 && digits(parts[i])))
    {
        i += 1;
    }
    // variants
    while i < n
        && ((5..=8).contains(&parts[i].len())
            || (parts[i].len() == 4 && parts[i].as_bytes()[0].is_ascii_digit()))
    {
        i += 1;
    }
    // extensions: a singleton other than x, then subtags of 2–8
    while i < n && parts[i].len() == 1 && !parts[i].eq_ignore_ascii_case("x") {
        i += 1;
        let start = i;
        while i < n && parts[i].len() >= 2 {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    // private use: x, then subtags of 1–8
    if i < n && parts[i].eq_ignore_ascii_case("x") {
        return i + 1 < n;
    }
    i == n
}

// ----------------------------------------------------------------------------------------------
// Generic property helpers.

fn expect_str<'v>(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &'v Value, name: &str) -> Option<&'v str> {
    match v {
        Value::String(s) => Some(s),
        _ => {
            cx.error(
                "property-type",
                p,
                format!("'{name}' must be a string, not {}", kind(v)),
            );
            None
        }
    }
}

fn expect_list<'v>(
    cx: &mut Cx<'_, '_>,
    p: &P<'_>,
    v: &'v Value,
    name: &str,
) -> Option<&'v [Value]> {
    match v {
        Value::Array(a) if !a.is_empty() => Some(a),
        Value::Array(_) => {
            cx.error(
                "property-type",
                p,
                format!("'{name}' must not be an empty list"),
            );
            None
        }
        _ => {
            cx.error(
                "property-type",
                p,
                format!("'{name}' must be a list, not {}", kind(v)),
            );
            None
        }
    }
}

fn check_string_list(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str) {
    if let Some(items) = expect_list(cx, p, v, name) {
        for (i, item) in items.iter().enumerate() {
            expect_str(cx, &p.idx(i), item, name);
        }
    }
}

fn check_bool(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str) {
    if !v.is_boolean() {
        cx.error(
            "property-type",
            p,
            format!("'{name}' must be a boolean, not {}", kind(v)),
        );
    }
}

/// A JSON number that is a whole number, as JSON Schema's `integer` reads it: `50` and `50.0`
/// alike (JSON does not tell them apart).
pub(crate) fn as_integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|x| x.fract() == 0.0 && x.abs() < 9.2e18)
            .map(|x| x as i64)
    })
}

fn check_int(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str, min: i64, max: i64) {
    match as_integer(v) {
        Some(n) if n >= min && n <= max => {}
        Some(n) if n < min => cx.error(
            "range",
            p,
            format!("'{name}': {n} is less than the minimum of {min}"),
        ),
        Some(n) => cx.error(
            "range",
            p,
            format!("'{name}': {n} is greater than the maximum of {max}"),
        ),
        None => cx.error(
            "property-type",
            p,
            format!("'{name}' must be an integer, not {}", kind(v)),
        ),
    }
}

/// Checks an identifier, optionally of the given types (`types` empty: any type).
fn check_ref(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str, types: &[&str]) {
    let Some(s) = expect_str(cx, p, v, name) else {
        return;
    };
    let Some(ident) = Identifier::parse(s) else {
        let typed_prefix = s.split_once("--").filter(|(t, uuid)| {
            (types.is_empty() || types.contains(t))
                && !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !uuid.is_empty()
                && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        });
        if cx.in_sco && typed_prefix.is_some() {
            cx.warn(Check::RefUuidFormat, p, || {
                format!("'{name}': '{s}' has a malformed UUID: the reference cannot resolve")
            });
        } else {
            cx.error(
                "id-format",
                p,
                format!("'{name}': '{s}' does not match the id format ([object-type]--[UUID])"),
            );
        }
        return;
    };
    if !types.is_empty() && !types.contains(&ident.object_type) {
        cx.error(
            "ref-type",
            p,
            format!(
                "'{name}' must refer to an object of type {}, not '{}'",
                types.join(" or "),
                ident.object_type
            ),
        );
    }
}

fn check_ref_list(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str, types: &[&str]) {
    if let Some(items) = expect_list(cx, p, v, name) {
        for (i, item) in items.iter().enumerate() {
            check_ref(cx, &p.idx(i), item, name, types);
        }
    }
}

fn check_timestamp(
    cx: &mut Cx<'_, '_>,
    p: &P<'_>,
    v: &Value,
    name: &str,
    millis: bool,
) -> Option<Timestamp> {
    let s = expect_str(cx, p, v, name)?;
    match Timestamp::parse(s) {
        Ok(ts) => {
            if millis && ts.precision() < 3 {
                cx.error(
                    "timestamp-precision",
                    p,
                    format!("'{name}': '{s}' must be precise to the millisecond (YYYY-MM-DDTHH:mm:ss.sssZ)"),
                );
            }
            Some(ts)
        }
        Err(TimestampError::Range(why)) => {
            cx.error(
                "timestamp-invalid",
                p,
                format!("'{name}': '{s}' is not a valid timestamp: {why}"),
            );
            None
        }
        Err(e) => {
            cx.error("timestamp-format", p, format!("'{name}': '{s}' {e}"));
            None
        }
    }
}

fn check_enum(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str, allowed: &[&str]) {
    let Some(s) = expect_str(cx, p, v, name) else {
        return;
    };
    if !allowed.contains(&s) {
        cx.error(
            "enum",
            p,
            format!("'{name}': '{s}' is not one of {allowed:?}"),
        );
    }
}

/// An open vocabulary (string or list of strings): a warning when a value is not in it.
#[allow(clippy::too_many_arguments)]
fn check_vocab(
    cx: &mut Cx<'_, '_>,
    p: &P<'_>,
    v: &Value,
    name: &str,
    check: Check,
    vocab_name: &str,
    vocab: &[&str],
    list: bool,
) {
    let one = |cx: &mut Cx<'_, '_>, p: &P<'_>, item: &Value| {
        let Some(s) = expect_str(cx, p, item, name) else {
            return;
        };
        if !in_sorted(vocab, s) {
            cx.warn(check, p, || {
                format!("The value contained in {name} is permitted, but is not in the {vocab_name} vocabulary.")
            });
        }
        if !is_lower_hyphenated(s) {
            cx.warn(Check::OpenVocabFormat, p, || {
                format!("Open vocabulary value '{s}' should be all lowercase and use hyphens instead of spaces or underscores as word separators.")
            });
        }
    };
    if list {
        if let Some(items) = expect_list(cx, p, v, name) {
            for (i, item) in items.iter().enumerate() {
                one(cx, &p.idx(i), item);
            }
        }
    } else {
        one(cx, p, v);
    }
}

fn check_hashes(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str, vocab_check: bool) {
    let Value::Object(map) = v else {
        cx.error(
            "property-type",
            p,
            format!("'{name}' must be a dictionary of hashes, not {}", kind(v)),
        );
        return;
    };
    if map.is_empty() {
        cx.error(
            "property-type",
            p,
            format!("'{name}' must contain at least one hash"),
        );
    }
    for (algo, value) in map {
        let hp = p.key(algo);
        if algo.len() < 3
            || algo.len() > 250
            || !algo
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            cx.error("hash-name", &hp, format!("hash algorithm name '{algo}' must be 3–250 characters of a-z, A-Z, 0-9, '_' or '-'"));
        }
        let Some(s) = expect_str(cx, &hp, value, algo) else {
            continue;
        };
        if !hash_value_ok(algo, s) {
            cx.error(
                "hash-value",
                &hp,
                format!("'{s}' is not a valid {algo} hash"),
            );
        }
        if vocab_check && !in_sorted(vocab::HASH_ALGO_OV, algo) && !algo.starts_with("x_") {
            cx.warn(Check::HashAlgo, &hp, || {
                format!("Object has a '{name}' dictionary with a hash of type '{algo}', which is not a value in the hash-algorithm-ov vocabulary nor a custom value prepended with 'x_'.")
            });
        }
    }
}

/// A dictionary's keys. For the dictionaries the specification defines (`known`), the MUSTs
/// (type, key form, values) are `props`' and only the lowercase SHOULD is checked here.
fn check_dictionary(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str, known: bool) -> bool {
    let Value::Object(map) = v else {
        if known {
            return false;
        }
        cx.error(
            "property-type",
            p,
            format!("'{name}' must be a dictionary, not {}", kind(v)),
        );
        return false;
    };
    for key in map.keys() {
        if !known && (key.len() > 250 || !key.is_ascii()) {
            cx.error(
                "dictionary-key",
                &p.key(key),
                format!("dictionary key '{key}' must be ASCII and at most 250 characters"),
            );
        } else if key.bytes().any(|c| c.is_ascii_uppercase())
            // Dictionaries whose keys come from elsewhere (HTTP and mail headers, IPFIX
            // element names, environment variables) keep them as they are, as the reference
            // validator's list of exceptions has it.
            && !matches!(
                name,
                "hashes"
                    | "file_header_hashes"
                    | "request_header"
                    | "additional_header_fields"
                    | "document_info_dict"
                    | "exif_tags"
                    | "ipfix"
                    | "options"
                    | "environment_variables"
                    | "startup_info"
            )
        {
            cx.warn(Check::ObservableDictionaryKeys, &p.key(key), || {
                format!("As a dictionary key, '{key}' should be lowercase.")
            });
        }
    }
    true
}

fn check_kill_chain_phases(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value) {
    let Some(items) = expect_list(cx, p, v, "kill_chain_phases") else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ip = p.idx(i);
        let Value::Object(kcp) = item else {
            cx.error(
                "property-type",
                &ip,
                format!("a kill chain phase must be an object, not {}", kind(item)),
            );
            continue;
        };
        for prop in ["kill_chain_name", "phase_name"] {
            match kcp.get(prop) {
                None => cx.error("required", &ip, format!("'{prop}' is a required property")),
                Some(val) => {
                    let pp = ip.key(prop);
                    if let Some(s) = expect_str(cx, &pp, val, prop)
                        && !is_lower_hyphenated(s)
                    {
                        cx.warn(Check::KillChainNames, &pp, || {
                                format!("{prop} '{s}' should be all lowercase and use hyphens instead of spaces or underscores as word separators.")
                            });
                    }
                }
            }
        }
    }
}

fn check_external_references(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value) {
    let Some(items) = expect_list(cx, p, v, "external_references") else {
        return;
    };
    let mut warned = false;
    for (i, item) in items.iter().enumerate() {
        let ip = p.idx(i);
        let Value::Object(er) = item else {
            cx.error(
                "property-type",
                &ip,
                format!(
                    "an external reference must be an object, not {}",
                    kind(item)
                ),
            );
            continue;
        };
        let source = match er.get("source_name") {
            None => {
                cx.error(
                    "required",
                    &ip,
                    "'source_name' is a required property".into(),
                );
                None
            }
            Some(s) => expect_str(cx, &ip.key("source_name"), s, "source_name"),
        };
        for prop in ["description", "url", "external_id"] {
            if let Some(val) = er.get(prop) {
                expect_str(cx, &ip.key(prop), val, prop);
            }
        }
        if let Some(Value::String(url)) = er.get("url")
            && !is_uri(url)
        {
            cx.error(
                "url",
                &ip.key("url"),
                format!("url: '{url}' is not a 'uri'"),
            );
        }
        if let Some(h) = er.get("hashes") {
            check_hashes(cx, &ip.key("hashes"), h, "hashes", false);
        }
        if source.is_some()
            && !["description", "url", "external_id"]
                .iter()
                .any(|k| er.contains_key(*k))
        {
            cx.error(
                "required",
                &ip,
                "an external reference must have at least one of 'description', 'url' or 'external_id' besides 'source_name'".into(),
            );
        }
        let ext_id = er.get("external_id").and_then(Value::as_str);
        let bad = match source {
            Some("cve") => !ext_id.is_some_and(is_cve_id),
            Some("capec") => !ext_id.is_some_and(|e| {
                e.strip_prefix("CAPEC-")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
            }),
            _ => false,
        };
        if bad {
            cx.error(
                "external-id",
                &ip,
                "If the external reference is a CVE, 'source_name' must be 'cve' and 'external_id' must be in the CVE format (CVE-YYYY-NNNN+). If the external reference is a CAPEC, 'source_name' must be 'capec' and 'external_id' must be in the CAPEC format (CAPEC-N+).".into(),
            );
        }
        if !warned && er.contains_key("url") && !er.contains_key("hashes") {
            warned = true;
            let src = source.unwrap_or("");
            cx.warn(Check::ExtrefHashes, &ip, || {
                format!("External reference '{src}' has a URL but no hash.")
            });
        }
    }
}

fn is_cve_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|c| c.is_ascii_digit())
        && num.len() >= 4
        && num.bytes().all(|c| c.is_ascii_digit())
        && (num.len() == 4 || !num.starts_with('0'))
}

fn check_granular_markings(
    cx: &mut Cx<'_, '_>,
    p: &P<'_>,
    v: &Value,
    object: &Map<String, Value>,
    own_id: Option<&str>,
) {
    let Some(items) = expect_list(cx, p, v, "granular_markings") else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ip = p.idx(i);
        let Value::Object(gm) = item else {
            cx.error(
                "property-type",
                &ip,
                format!("a granular marking must be an object, not {}", kind(item)),
            );
            continue;
        };
        match (gm.get("marking_ref"), gm.get("lang")) {
            (Some(_), Some(_)) | (None, None) => cx.error(
                "granular-marking",
                &ip,
                "a granular marking must have exactly one of 'marking_ref' and 'lang'".into(),
            ),
            (Some(r), None) => {
                check_ref(
                    cx,
                    &ip.key("marking_ref"),
                    r,
                    "marking_ref",
                    &["marking-definition"],
                );
                if own_id.is_some()
                    && r.as_str() == own_id
                    && object.get("type").and_then(Value::as_str) == Some("marking-definition")
                {
                    cx.error(
                        "marking-circular",
                        &ip.key("marking_ref"),
                        "`granular_markings` cannot contain any references to this marking definition object (no circular references).".into(),
                    );
                }
            }
            (None, Some(l)) => {
                if let Some(s) = expect_str(cx, &ip.key("lang"), l, "lang")
                    && !is_language_tag(s)
                {
                    cx.error(
                        "lang",
                        &ip.key("lang"),
                        format!("'{s}' is not a valid RFC 5646 language code."),
                    );
                }
            }
        }
        match gm.get("selectors") {
            None => cx.error("required", &ip, "'selectors' is a required property".into()),
            Some(sel) => {
                let sp = ip.key("selectors");
                if let Some(sels) = expect_list(cx, &sp, sel, "selectors") {
                    for (j, s) in sels.iter().enumerate() {
                        let Some(s) = expect_str(cx, &sp.idx(j), s, "selectors") else {
                            continue;
                        };
                        if let Err(why) = resolve_selector(object, s) {
                            cx.error(
                                "selector",
                                &sp.idx(j),
                                format!("'{s}' is not a valid selector because {why}"),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Resolves a granular-marking selector (`a.b.[2].c`) in `object`.
fn resolve_selector(object: &Map<String, Value>, selector: &str) -> Result<(), String> {
    let mut cur: Option<&Value> = None;
    for seg in selector.split('.') {
        let container = cur;
        let next = if let Some(idx) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let i: usize = idx
                .parse()
                .map_err(|_| format!("'{seg}' is not a valid index"))?;
            match container {
                Some(Value::Array(a)) => a
                    .get(i)
                    .ok_or_else(|| format!("{i} is not a valid index"))?,
                _ => return Err(format!("'{seg}' does not index a list")),
            }
        } else {
            let map = match container {
                None => object,
                Some(Value::Object(m)) => m,
                Some(_) => return Err(format!("'{seg}' is not a property")),
            };
            map.get(seg)
                .ok_or_else(|| format!("'{seg}' is not a property"))?
        };
        cur = Some(next);
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Objects.

fn validate_bundle<'i>(map: &'i Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, 'i>) {
    let id = map.get("id").and_then(Value::as_str);
    cx.id = id;
    match map.get("id") {
        None => cx.error("required", p, "'id' is a required property".into()),
        Some(v) => {
            check_ref(cx, &p.key("id"), v, "id", &["bundle"]);
            if let Some(ident) = v.as_str().and_then(Identifier::parse)
                && ident.version() != 4
            {
                cx.warn(Check::UuidCheck, &p.key("id"), || {
                    format!(
                        "Given ID value {} is not a valid UUIDv4 ID.",
                        v.as_str().unwrap_or("")
                    )
                });
            }
        }
    }
    for key in map.keys() {
        if !matches!(key.as_str(), "type" | "id" | "objects") {
            let kp = p.key(key);
            if !is_valid_property_name(key) {
                cx.error(
                    "property-name",
                    &kp,
                    format!("'{key}' is not a valid property name"),
                );
            }
            cx.warn(Check::ExtensionsUse, &kp, || {
                format!("Custom property '{key}' should be implemented using an extension with an 'extension_type' of 'property-extension' or 'toplevel-property-extension'.")
            });
        }
    }
    cx.inherited_spec_version = map.get("spec_version").is_some_and(Value::is_string);
    let Some(objects) = map.get("objects") else {
        return;
    };
    let op = p.key("objects");
    let Value::Array(items) = objects else {
        cx.error(
            "property-type",
            &op,
            format!("'objects' must be a list, not {}", kind(objects)),
        );
        return;
    };
    if items.is_empty() {
        cx.error("property-type", &op, EMPTY_OBJECTS.into());
    }
    let mut dups: Vec<(&str, &str)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = op.idx(i);
        match item {
            Value::Object(m) => {
                validate_top(m, &ip, cx);
                if let (Some(Value::String(oid)), Some(Value::String(modified))) =
                    (m.get("id"), m.get("modified"))
                {
                    dups.push((oid, modified));
                }
            }
            _ => {
                cx.id = id;
                cx.error(
                    "not-object",
                    &ip,
                    format!("a STIX object must be a JSON object, not {}", kind(item)),
                );
            }
        }
    }
    cx.id = id;
    if cx.on(Check::DuplicateIds) {
        let mut seen = HashSet::with_capacity(dups.len());
        for (oid, modified) in dups {
            if !seen.insert((oid, modified)) {
                cx.warn(Check::DuplicateIds, p, || {
                    format!("Duplicate ID '{oid}' has identical `modified` timestamp. If they are different versions of the same object, they should have different `modified` properties.")
                });
            }
        }
    }
}

/// Timestamp properties of predefined types (besides `created` / `modified`).
fn timestamp_props(t: &str) -> &'static [&'static str] {
    match t {
        "campaign" | "infrastructure" | "intrusion-set" | "malware" | "sighting"
        | "threat-actor" => &["first_seen", "last_seen"],
        "indicator" => &["valid_from", "valid_until"],
        "language-content" => &["object_modified"],
        "malware-analysis" => &["submitted", "analysis_started", "analysis_ended"],
        "observed-data" => &["first_observed", "last_observed"],
        "report" => &["published"],
        "relationship" => &["start_time", "stop_time"],
        "incident" => &[],
        "directory" | "file" => &["ctime", "mtime", "atime"],
        "email-message" => &["date"],
        "network-traffic" => &["start", "end"],
        "process" => &["created_time"],
        "user-account" => &[
            "account_created",
            "account_expires",
            "credential_last_changed",
            "account_first_login",
            "account_last_login",
        ],
        "windows-registry-key" => &["modified_time"],
        "x509-certificate" => &["validity_not_before", "validity_not_after"],
        _ => &[],
    }
}

/// `(later, strictly, earlier)` timestamp constraints.
fn timestamp_order(t: &str) -> &'static [(&'static str, bool, &'static str)] {
    match t {
        "campaign" | "infrastructure" | "intrusion-set" | "malware" | "sighting"
        | "threat-actor" => &[("last_seen", false, "first_seen")],
        "indicator" => &[("valid_until", true, "valid_from")],
        "observed-data" => &[("last_observed", false, "first_observed")],
        "relationship" => &[("stop_time", true, "start_time")],
        "network-traffic" => &[("end", false, "start")],
        "malware-analysis" => &[("analysis_ended", false, "analysis_started")],
        "x509-certificate" => &[("validity_not_after", false, "validity_not_before")],
        _ => &[],
    }
}

fn required_props(t: &str) -> &'static [&'static str] {
    match t {
        "attack-pattern" | "campaign" | "course-of-action" | "identity" | "incident"
        | "infrastructure" | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" => {
            &["name"]
        }
        "grouping" => &["context", "object_refs"],
        "indicator" => &["pattern", "pattern_type", "valid_from"],
        "malware" => &["is_family"],
        "malware-analysis" => &["product"],
        "note" => &["content", "object_refs"],
        "observed-data" => &["first_observed", "last_observed", "number_observed"],
        "opinion" => &["opinion", "object_refs"],
        "report" => &["name", "published", "object_refs"],
        "relationship" => &["relationship_type", "source_ref", "target_ref"],
        "sighting" => &["sighting_of_ref"],
        "language-content" => &["object_ref", "contents"],
        "extension-definition" => &[
            "name",
            "schema",
            "version",
            "extension_types",
            "created_by_ref",
        ],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["is_multipart"],
        "mutex" | "software" => &["name"],
        "network-traffic" => &["protocols"],
        "windows-registry-key"
        | "x509-certificate"
        | "user-account"
        | "process"
        | "file"
        | "artifact" => &[],
        _ => &[],
    }
}

/// Reference properties and the types they may point to (empty: any).
fn ref_props(t: &str) -> &'static [(&'static str, bool, &'static [&'static str])] {
    const SDO_ANY: &[&str] = &[];
    match t {
        "grouping" | "note" | "opinion" | "report" => &[("object_refs", true, SDO_ANY)],
        "malware" => &[
            ("operating_system_refs", true, &["software"]),
            ("sample_refs", true, &["file", "artifact"]),
        ],
        "malware-analysis" => &[
            ("host_vm_ref", false, &["software"]),
            ("operating_system_ref", false, &["software"]),
            ("installed_software_refs", true, &["software"]),
            ("analysis_sco_refs", true, SDO_ANY),
            (
                "sample_ref",
                false,
                &["file", "network-traffic", "artifact"],
            ),
        ],
        "observed-data" => &[("object_refs", true, SDO_ANY)],
        "sighting" => &[
            ("observed_data_refs", true, &["observed-data"]),
            ("where_sighted_refs", true, &["identity", "location"]),
        ],
        "language-content" => &[("object_ref", false, SDO_ANY)],
        "directory" => &[("contains_refs", true, &["file", "directory"])],
        "domain-name" => &[(
            "resolves_to_refs",
            true,
            &["ipv4-addr", "ipv6-addr", "domain-name"],
        )],
        "email-addr" => &[("belongs_to_ref", false, &["user-account"])],
        "email-message" => &[
            ("from_ref", false, &["email-addr"]),
            ("sender_ref", false, &["email-addr"]),
            ("to_refs", true, &["email-addr"]),
            ("cc_refs", true, &["email-addr"]),
            ("bcc_refs", true, &["email-addr"]),
            ("raw_email_ref", false, &["artifact"]),
        ],
        "file" => &[
            ("parent_directory_ref", false, &["directory"]),
            ("content_ref", false, &["artifact"]),
            ("contains_refs", true, SDO_ANY),
        ],
        "ipv4-addr" | "ipv6-addr" => &[
            ("resolves_to_refs", true, &["mac-addr"]),
            ("belongs_to_refs", true, &["autonomous-system"]),
        ],
        "network-traffic" => &[
            (
                "src_ref",
                false,
                &["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"],
            ),
            (
                "dst_ref",
                false,
                &["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"],
            ),
            ("src_payload_ref", false, &["artifact"]),
            ("dst_payload_ref", false, &["artifact"]),
            ("encapsulates_refs", true, &["network-traffic"]),
            ("encapsulated_by_ref", false, &["network-traffic"]),
        ],
        "process" => &[
            ("opened_connection_refs", true, &["network-traffic"]),
            ("creator_user_ref", false, &["user-account"]),
            ("image_ref", false, &["file"]),
            ("parent_ref", false, &["process"]),
            ("child_refs", true, &["process"]),
        ],
        _ => &[],
    }
}

/// Open-vocabulary properties: (property, check, vocabulary name, vocabulary, is a list).
type VocabProp = (
    &'static str,
    Check,
    &'static str,
    &'static [&'static str],
    bool,
);

/// The attack resource and motivations, shared by intrusion sets and threat actors.
const RESOURCE_LEVEL: VocabProp = (
    "resource_level",
    Check::AttackResourceLevel,
    "attack-resource-level-ov",
    vocab::ATTACK_RESOURCE_LEVEL_OV,
    false,
);
const PRIMARY_MOTIVATION: VocabProp = (
    "primary_motivation",
    Check::AttackMotivation,
    "attack-motivation-ov",
    vocab::ATTACK_MOTIVATION_OV,
    false,
);
const SECONDARY_MOTIVATIONS: VocabProp = (
    "secondary_motivations",
    Check::AttackMotivation,
    "attack-motivation-ov",
    vocab::ATTACK_MOTIVATION_OV,
    true,
);

fn vocab_props(t: &str) -> &'static [VocabProp] {
    use Check::*;
    match t {
        "grouping" => &[(
            "context",
            GroupingContext,
            "grouping-context-ov",
            vocab::GROUPING_CONTEXT_OV,
            false,
        )],
        "identity" => &[
            (
                "identity_class",
                IdentityClass,
                "identity-class-ov",
                vocab::IDENTITY_CLASS_OV,
                false,
            ),
            (
                "sectors",
                IndustrySector,
                "industry-sector-ov",
                vocab::INDUSTRY_SECTOR_OV,
                true,
            ),
        ],
        "indicator" => &[
            (
                "indicator_types",
                IndicatorTypes,
                "indicator-type-ov",
                vocab::INDICATOR_TYPE_OV,
                true,
            ),
            (
                "pattern_type",
                IndicatorPatternTypes,
                "indicator-pattern-ov",
                vocab::INDICATOR_PATTERN_OV,
                false,
            ),
        ],
        "infrastructure" => &[(
            "infrastructure_types",
            InfrastructureTypes,
            "infrastructure-type-ov",
            vocab::INFRASTRUCTURE_TYPE_OV,
            true,
        )],
        "intrusion-set" => &[RESOURCE_LEVEL, PRIMARY_MOTIVATION, SECONDARY_MOTIVATIONS],
        "location" => &[("region", Region, "region-ov", vocab::REGION_OV, false)],
        "malware" => &[
            (
                "malware_types",
                MalwareTypes,
                "malware-type-ov",
                vocab::MALWARE_TYPE_OV,
                true,
            ),
            (
                "architecture_execution_envs",
                ProcessorArchitecture,
                "processor-architecture-ov",
                vocab::PROCESSOR_ARCHITECTURE_OV,
                true,
            ),
            (
                "implementation_languages",
                ImplementationLanguages,
                "implementation-language-ov",
                vocab::IMPLEMENTATION_LANGUAGES_OV,
                true,
            ),
            (
                "capabilities",
                MalwareCapabilities,
                "malware-capabilities-ov",
                vocab::MALWARE_CAPABILITIES_OV,
                true,
            ),
        ],
        "malware-analysis" => &[(
            "result",
            MalwareResult,
            "malware-result-ov",
            vocab::MALWARE_RESULT_OV,
            false,
        )],
        "report" => &[(
            "report_types",
            ReportTypes,
            "report-type-ov",
            vocab::REPORT_TYPE_OV,
            true,
        )],
        "threat-actor" => &[
            (
                "threat_actor_types",
                ThreatActorTypes,
                "threat-actor-type-ov",
                vocab::THREAT_ACTOR_TYPE_OV,
                true,
            ),
            (
                "roles",
                ThreatActorRole,
                "threat-actor-role-ov",
                vocab::THREAT_ACTOR_ROLE_OV,
                true,
            ),
            (
                "sophistication",
                ThreatActorSophistication,
                "threat-actor-sophistication-ov",
                vocab::THREAT_ACTOR_SOPHISTICATION_OV,
                false,
            ),
            RESOURCE_LEVEL,
            PRIMARY_MOTIVATION,
            SECONDARY_MOTIVATIONS,
            (
                "personal_motivations",
                AttackMotivation,
                "attack-motivation-ov",
                vocab::ATTACK_MOTIVATION_OV,
                true,
            ),
        ],
        "tool" => &[(
            "tool_types",
            ToolTypes,
            "tool-type-ov",
            vocab::TOOL_TYPE_OV,
            true,
        )],
        "user-account" => &[(
            "account_type",
            AccountType,
            "account-type-ov",
            vocab::ACCOUNT_TYPE_OV,
            false,
        )],
        _ => &[],
    }
}

fn predefined_props(t: &str) -> Option<&'static [&'static str]> {
    table(vocab::PROPERTIES, t).or_else(|| table(vocab::SCO_PROPERTIES, t))
}

fn uses_extension_type(map: &Map<String, Value>, types: &[&str]) -> bool {
    match map.get("extensions") {
        Some(Value::Object(exts)) => exts.values().any(|e| {
            e.get("extension_type")
                .and_then(Value::as_str)
                .is_some_and(|t| types.contains(&t))
        }),
        _ => false,
    }
}

fn validate_map<'i>(map: &'i Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, 'i>, top: Top) {
    let id = map.get("id").and_then(Value::as_str);
    cx.id = id;
    // type
    let t = match map.get("type") {
        None => {
            cx.error("required", p, "'type' is a required property".into());
            return;
        }
        Some(v) => match expect_str(cx, &p.key("type"), v, "type") {
            Some(t) => t,
            None => return,
        },
    };
    let type_ok = is_valid_type_name(t);
    if !type_ok {
        cx.error(
            "type-format",
            &p.key("type"),
            format!("type: '{t}' does not match the 'type' field format (lowercase ASCII a-z, 0-9, and hyphens only - and no two hyphens in a row, 3 to 250 characters)"),
        );
    }
    if in_sorted(vocab::RESERVED_OBJECTS, t) {
        cx.error(
            "reserved-type",
            &p.key("type"),
            format!("'{t}' is a reserved object type"),
        );
    }
    let category = category_of(t, map);
    let predefined = predefined_props(t);
    let sco = category == Category::Sco;
    cx.in_sco = sco;

    // id
    let mut ident = None;
    match map.get("id") {
        None if top == Top::Embedded => {}
        None => cx.error("required", p, "'id' is a required property".into()),
        Some(v) => {
            let ip = p.key("id");
            if let Some(s) = expect_str(cx, &ip, v, "id") {
                match Identifier::parse(s) {
                    None => cx.error(
                        "id-format",
                        &ip,
                        format!("id: '{s}' does not match the id format ([object-type]--[UUID])"),
                    ),
                    Some(i) if i.object_type != t => cx.error(
                        "id-type",
                        &ip,
                        format!("id: '{s}' must start with the object's type '{t}--'"),
                    ),
                    Some(i) => ident = Some(i),
                }
            }
        }
    }

    // spec_version
    match map.get("spec_version") {
        None if !sco && top == Top::Yes && !cx.inherited_spec_version => {
            cx.error("required", p, MISSING_SPEC_VERSION.into())
        }
        None => {}
        Some(v) => {
            let sp = p.key("spec_version");
            if let Some(s) = expect_str(cx, &sp, v, "spec_version") {
                match s {
                    "2.1" => {}
                    "2.0" => cx.warn(Check::SpecVersion, &sp, || {
                        "spec_version is '2.0': the object is validated as STIX 2.1 content".into()
                    }),
                    _ => cx.error("enum", &sp, format!("spec_version: '{s}' is not '2.1'")),
                }
            }
        }
    }

    // created / modified
    let needs_created = !sco;
    let needs_modified = !sco && t != "marking-definition";
    let created = match map.get("created") {
        None if needs_created => {
            cx.error("required", p, "'created' is a required property".into());
            None
        }
        None => None,
        Some(v) => check_timestamp(cx, &p.key("created"), v, "created", true),
    };
    let modified = match map.get("modified") {
        None if needs_modified => {
            cx.error("required", p, "'modified' is a required property".into());
            None
        }
        None => None,
        Some(v) => check_timestamp(cx, &p.key("modified"), v, "modified", true),
    };
    if let (Some(c), Some(m)) = (created, modified)
        && m < c
    {
        cx.error(
            "timestamp-order",
            &p.key("modified"),
            format!("'modified' ({m}) must be later than or equal to 'created' ({c})"),
        );
    }

    // required properties
    for &r in required_props(t) {
        if !map.contains_key(r) {
            cx.error("required", p, format!("'{r}' is a required property"));
        }
    }

    // timestamps and their order
    let tprops = timestamp_props(t);
    let mut stamps: [Option<Timestamp>; 5] = [None; 5];
    for (i, &tp) in tprops.iter().enumerate() {
        if let Some(v) = map.get(tp) {
            stamps[i] = check_timestamp(cx, &p.key(tp), v, tp, false);
        }
    }
    for &(later, strict, earlier) in timestamp_order(t) {
        let find = |n: &str| tprops.iter().position(|x| *x == n).and_then(|i| stamps[i]);
        if let (Some(l), Some(e)) = (find(later), find(earlier))
            && (l < e || (strict && l == e))
        {
            let cmp = if strict {
                "later than"
            } else {
                "later than or equal to"
            };
            cx.error(
                "timestamp-order",
                &p.key(later),
                format!("'{later}' ({l}) must be {cmp} '{earlier}' ({e})"),
            );
        }
    }

    // common properties (where the type defines them: on any other type they are custom
    // properties, as `confidence` on a marking definition or `labels` on an SCO)
    let defines = |k: &str| {
        !(sco || t == "marking-definition") || predefined.is_none_or(|props| in_sorted(props, k))
    };
    for (key, v) in map {
        let kp = p.key(key);
        match key.as_str() {
            "labels" | "confidence" | "lang" | "revoked" | "defanged" | "kill_chain_phases"
                if !defines(key.as_str()) => {}
            "created_by_ref" => {
                check_ref(cx, &kp, v, key, &[]);
                if let Some(i) = v.as_str().and_then(Identifier::parse)
                    && i.object_type != "identity"
                {
                    cx.warn(Check::CreatedByRefType, &kp, || {
                        format!(
                            "'created_by_ref' should refer to an identity, not a '{}'",
                            i.object_type
                        )
                    });
                }
            }
            "labels" => check_string_list(cx, &kp, v, key),
            "confidence" => check_int(cx, &kp, v, key, 0, 100),
            "lang" => {
                if let Some(s) = expect_str(cx, &kp, v, key)
                    && !is_language_tag(s)
                {
                    cx.error(
                        "lang",
                        &kp,
                        format!("'{s}' is not a valid RFC 5646 language code."),
                    );
                }
            }
            "revoked" | "defanged" => check_bool(cx, &kp, v, key),
            "external_references" => check_external_references(cx, &kp, v),
            "object_marking_refs" => check_object_markings(cx, &kp, v, id, t),
            "granular_markings" => check_granular_markings(cx, &kp, v, map, id),
            "extensions" => check_extensions(cx, &kp, v, t, map),
            "kill_chain_phases" => check_kill_chain_phases(cx, &kp, v),
            _ => {}
        }
        // Property names. Reserved names bind every type, custom ones included (the OASIS core
        // schemas forbid them; course-of-action's `action` is reserved in 2.1).
        let reserved = in_sorted(vocab::RESERVED_PROPERTIES, key) && t != "bundle";
        if reserved {
            cx.error(
                "reserved-property",
                &kp,
                format!("'{key}' is a reserved property"),
            );
        }
        let known = predefined.is_some_and(|props| in_sorted(props, key));
        if !known
            && !matches!(
                key.as_str(),
                "type" | "id" | "spec_version" | "created" | "modified" | "extensions"
            )
        {
            if !is_valid_property_name(key) {
                cx.error(
                    "property-name",
                    &kp,
                    format!("'{key}' is not a valid property name (a-z, 0-9 and '_', starting with a letter, 3 to 250 characters)"),
                );
            }
            if !reserved && predefined.is_some() {
                custom_property_warnings(cx, &kp, key, sco, map);
            }
        }
    }

    // references
    for &(prop, list, types) in ref_props(t) {
        if let Some(v) = map.get(prop) {
            let rp = p.key(prop);
            if list {
                check_ref_list(cx, &rp, v, prop, types);
            } else {
                check_ref(cx, &rp, v, prop, types);
            }
        }
    }

    // open vocabularies
    for &(prop, check, name, voc, list) in vocab_props(t) {
        if let Some(v) = map.get(prop) {
            check_vocab(cx, &p.key(prop), v, prop, check, name, voc, list);
        }
    }

    // type-level warnings
    if predefined.is_none() && t != "bundle" {
        if cx.on(Check::StrictTypes) {
            cx.warn(Check::StrictTypes, &p.key("type"), || {
                format!("Object type '{t}' is not one of those defined in the specification.")
            });
        }
        if type_ok
            && !in_sorted(vocab::RESERVED_OBJECTS, t)
            && !uses_extension_type(map, &["new-sdo", "new-sco", "new-sro"])
        {
            cx.warn(Check::ExtensionsUse, &p.key("type"), || {
                    format!("Custom object type '{t}' should be implemented using an extension with an 'extension_type' of 'new-sdo', 'new-sco', or 'new-sro'.")
                });
        }
        if !(t.starts_with("x-") && t[2..].contains('-')) {
            cx.warn(Check::CustomPrefix, &p.key("type"), || {
                format!("Custom object type '{t}' should start with 'x-' followed by a source unique identifier (like a domain name with dots replaced by hyphens), a hyphen and then the name.")
            });
        }
        if !t.starts_with("x-") {
            cx.warn(Check::CustomPrefixLax, &p.key("type"), || {
                format!("Custom object type '{t}' should start with 'x-' in order to be compatible with future versions of the STIX 2 specification.")
            });
        }
    }

    // ids: versions and determinism
    if let Some(ident) = ident {
        let v = ident.version();
        if sco && t != "process" && ObjectTypeIsSco::predefined(t) {
            let contributing = id::id_contributing_properties(t).unwrap_or(&[]);
            let has_contributing = contributing.iter().any(|c| map.contains_key(*c));
            if !has_contributing && v != 4 {
                cx.error(
                    "uuid-version",
                    &p.key("id"),
                    "If no Contributing Properties are present, a UUIDv4 must be used".into(),
                );
            } else if v != 5 {
                let id_s = id.unwrap_or("");
                cx.warn(Check::UuidCheck, &p.key("id"), || {
                    format!("Cyber Observable ID value {id_s} is not a valid UUIDv5 ID.")
                });
            } else if cx.on(Check::ScoIdDeterministic)
                && let Some(expected) = id::deterministic_sco_id(map)
                && Some(expected.as_str()) != id
            {
                cx.warn(Check::ScoIdDeterministic, &p.key("id"), || {
                            format!("the id of this SCO is not the deterministic one ({expected}) computed from its id-contributing properties")
                        });
            }
        } else if t == "process" {
            if v != 4 {
                cx.error(
                    "uuid-version",
                    &p.key("id"),
                    "A process object must use UUIDv4 for its id".into(),
                );
            }
        } else if !sco && v != 4 {
            let id_s = id.unwrap_or("");
            cx.warn(Check::UuidCheck, &p.key("id"), || {
                format!("Given ID value {id_s} is not a valid UUIDv4 ID.")
            });
        }
    }

    // type-specific rules
    match t {
        "indicator" => validate_indicator(map, p, cx),
        "location" => validate_location(map, p, cx),
        "malware" => {
            if map
                .get("is_family")
                .is_some_and(|v| v.as_bool() == Some(true))
                && !map.contains_key("name")
            {
                cx.error(
                    "required",
                    p,
                    "'name' is required when 'is_family' is true".into(),
                );
            }
            if let Some(v) = map.get("is_family") {
                check_bool(cx, &p.key("is_family"), v, "is_family");
            }
        }
        "malware-analysis" => {
            if !map.contains_key("result") && !map.contains_key("analysis_sco_refs") {
                cx.error(
                    "required",
                    p,
                    "a malware-analysis must have 'result' or 'analysis_sco_refs'".into(),
                );
            }
            if let Some(Value::String(product)) = map.get("product")
                && !is_lower_hyphenated(product)
                && product.chars().any(char::is_alphabetic)
            {
                cx.warn(Check::MalwareAnalysisProduct, &p.key("product"), || {
                        format!("The 'product' property of object '{}' should be all lowercase with words separated by a dash.", id.unwrap_or(""))
                    });
            }
        }
        "observed-data" => validate_observed_data(map, p, cx),
        "opinion" => {
            if let Some(v) = map.get("opinion") {
                check_enum(
                    cx,
                    &p.key("opinion"),
                    v,
                    "opinion",
                    &[
                        "strongly-disagree",
                        "disagree",
                        "neutral",
                        "agree",
                        "strongly-agree",
                    ],
                );
            }
        }
        "relationship" => validate_relationship(map, p, cx),
        "sighting" => validate_sighting(map, p, cx),
        "marking-definition" => validate_marking_definition(map, p, cx),
        "language-content" => validate_language_content(map, p, cx),
        "extension-definition" => validate_extension_definition(map, p, cx),
        "identity" | "threat-actor" | "intrusion-set" | "campaign" => {}
        _ if sco => validate_sco(t, map, p, cx),
        _ => {}
    }
    if let Some(shape) = props::object_shape(t) {
        props::check_shape(cx, p, map, shape);
    }
    props::object_musts(t, map, p, cx);
    if cx.interop {
        for &r in props::interop_required(t) {
            if !map.contains_key(r) {
                cx.error(
                    "interop-required",
                    p,
                    format!("'{r}' is a required property (interoperability profile)"),
                );
            }
        }
    }
    if cx.interop
        && let Some(Value::Array(refs)) = map.get("object_marking_refs")
    {
        let n = refs
            .iter()
            .filter_map(Value::as_str)
            .filter(|r| tlp::marking_info(r).is_some_and(|(_, v)| v == tlp::TlpVersion::V1))
            .count();
        if n > 1 {
            cx.error(
                    "interop-tlp",
                    &p.key("object_marking_refs"),
                    "object_marking_refs: More than one tlp marking found in marking-definitions. Only one tlp marking is allowed.".into(),
                );
        }
    }
    cx.id = id;
}

/// Whether a type is one of the 18 predefined SCOs.
struct ObjectTypeIsSco;
impl ObjectTypeIsSco {
    fn predefined(t: &str) -> bool {
        in_sorted(vocab::SCO_TYPES, t)
    }
}

fn custom_property_warnings(
    cx: &mut Cx<'_, '_>,
    kp: &P<'_>,
    key: &str,
    sco: bool,
    map: &Map<String, Value>,
) {
    if cx.on(Check::StrictProperties) {
        let t = map.get("type").and_then(Value::as_str).unwrap_or("");
        cx.warn(Check::StrictProperties, kp, || {
            if sco {
                format!("Property '{key}' is not one of those defined in the specification for {t} objects.")
            } else {
                format!("Property '{key}' is not one of those defined in the specification.")
            }
        });
    }
    if cx.on(Check::ExtensionsUse) && !uses_extension_type(map, &["toplevel-property-extension"]) {
        cx.warn(Check::ExtensionsUse, kp, || {
            format!("Custom property '{key}' should be implemented using an extension with an 'extension_type' of 'property-extension' or 'toplevel-property-extension'.")
        });
    }
    if !(key.starts_with("x_") && key[2..].contains('_')) {
        cx.warn(Check::CustomPrefix, kp, || {
            format!("Custom property '{key}' should have a type that starts with 'x_' followed by a source unique identifier (like a domain name with dots replaced by underscores), an underscore and then the name.")
        });
    }
    if !key.starts_with("x_") {
        cx.warn(Check::CustomPrefixLax, kp, || {
            format!("Custom property '{key}' should have a type that starts with 'x_' in order to be compatible with future versions of the STIX 2 specification.")
        });
    }
}

fn check_object_markings(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, own_id: Option<&str>, t: &str) {
    let Some(items) = expect_list(cx, p, v, "object_marking_refs") else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ip = p.idx(i);
        check_ref(
            cx,
            &ip,
            item,
            "object_marking_refs",
            &["marking-definition"],
        );
        if t == "marking-definition" && own_id.is_some() && item.as_str() == own_id {
            cx.error(
                "marking-circular",
                &ip,
                "`object_marking_refs` cannot contain any references to this marking definition object (no circular references).".into(),
            );
        }
    }
}

fn check_extensions(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, t: &str, map: &Map<String, Value>) {
    let Value::Object(exts) = v else {
        cx.error(
            "property-type",
            p,
            format!(
                "extensions: must be an object (a dictionary), not {}",
                kind(v)
            ),
        );
        return;
    };
    if exts.is_empty() {
        cx.error(
            "property-type",
            p,
            "extensions: must not be an empty dictionary".into(),
        );
    }
    let sco = in_sorted(vocab::SCO_TYPES, t);
    let predefined_exts = table(vocab::SCO_EXTENSIONS, t);
    for (key, ext) in exts {
        let ep = p.key(key);
        let is_def = key.starts_with("extension-definition--");
        if is_def {
            if Identifier::parse(key).is_none() {
                cx.error(
                    "extension-key",
                    &ep,
                    format!("extensions: '{key}' is not a valid extension-definition identifier"),
                );
            }
        } else if t == "marking-definition" {
            cx.error(
                "extension-key",
                &ep,
                format!("extensions: '{key}' must be an extension-definition id (a marking definition has no predefined or custom-named extensions)"),
            );
        } else if !is_custom_ext_name(key) {
            cx.error(
                "extension-key",
                &ep,
                format!("extensions: '{key}' must be an extension-definition id or a name of the form <name>-ext"),
            );
        }
        let Value::Object(e) = ext else {
            cx.error(
                "property-type",
                &ep,
                format!("extension '{key}' must be an object, not {}", kind(ext)),
            );
            continue;
        };
        if e.is_empty() {
            cx.error(
                "property-type",
                &ep,
                format!("extension '{key}' must not be an empty dictionary"),
            );
        } else if is_def && !e.contains_key("extension_type") {
            cx.error(
                "required",
                &ep,
                format!("'extension_type' is a required property of extension '{key}'"),
            );
        }
        // An extension's properties follow the property-name rules (§3.1) as the object's do.
        for k in e.keys() {
            if k != "extension_type" && !is_valid_property_name(k) {
                cx.error(
                    "property-name",
                    &ep.key(k),
                    format!("'{k}' is not a valid property name (a-z, 0-9 and '_', starting with a letter, 3 to 250 characters)"),
                );
            }
        }
        if let Some(et) = e.get("extension_type") {
            check_enum(
                cx,
                &ep.key("extension_type"),
                et,
                "extension_type",
                &[
                    "new-sdo",
                    "new-sco",
                    "new-sro",
                    "property-extension",
                    "toplevel-property-extension",
                ],
            );
        }
        if is_def {
            continue;
        }
        match predefined_exts {
            Some(list) if in_sorted(list, key) => validate_sco_extension(cx, &ep, key, e),
            _ if sco => {
                if cx.on(Check::ExtensionsUse) && !uses_extension_type(map, &["property-extension"])
                {
                    cx.warn(Check::ExtensionsUse, &ep, || {
                        format!("Custom Cyber Observable Object extension type '{key}' should be implemented using an 'extension_type' of 'property-extension'.")
                    });
                }
                if !(key.starts_with("x-") && key.matches('-').count() >= 3) {
                    cx.warn(Check::CustomPrefix, &ep, || {
                        format!("Custom Cyber Observable Object extension type '{key}' should start with 'x-' followed by a source unique identifier (like a domain name with dots replaced by hyphens), a hyphen and then the name.")
                    });
                }
                if !key.starts_with("x-") {
                    cx.warn(Check::CustomPrefixLax, &ep, || format!("Custom Cyber Observable Object extension type '{key}' should start with 'x-'."));
                }
            }
            _ => {}
        }
    }
}

/// `^([a-z][a-z0-9]*)+(-[a-z0-9]+)*-ext$`
fn is_custom_ext_name(k: &str) -> bool {
    let Some(stem) = k.strip_suffix("-ext") else {
        return false;
    };
    let mut parts = stem.split('-');
    let first_ok = parts.next().is_some_and(|f| {
        f.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && f.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    first_ok
        && parts.all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn validate_sco_extension(cx: &mut Cx<'_, '_>, ep: &P<'_>, key: &str, e: &Map<String, Value>) {
    if let Some(shape) = props::extension_shape(key) {
        props::check_shape(cx, ep, e, shape);
    }
    let required: &[&str] = match key {
        "archive-ext" => &["contains_refs"],
        "windows-pebinary-ext" => &["pe_type"],
        "http-request-ext" => &["request_method", "request_value"],
        "icmp-ext" => &["icmp_type_hex", "icmp_code_hex"],
        "socket-ext" => &["address_family"],
        _ => &[],
    };
    for r in required {
        if !e.contains_key(*r) {
            cx.error(
                "required",
                ep,
                format!("'{r}' is a required property of '{key}'"),
            );
        }
    }
    let known = table(vocab::SCO_EXTENSION_PROPERTIES, key).unwrap_or(&[]);
    for (prop, v) in e {
        let pp = ep.key(prop);
        if !in_sorted(known, prop) && prop != "extension_type" {
            cx.warn(Check::StrictProperties, &pp, || format!("Property '{prop}' is not one of those defined in the specification for the {key} extension."));
            cx.warn(Check::ExtensionsUse, &pp, || {
                format!("Cyber Observable Object custom property '{prop}' in the {key} extension should be implemented using an extension with an 'extension_type' of 'property-extension' or 'toplevel-property-extension'.")
            });
        }
        match prop.as_str() {
            "hashes" | "file_header_hashes" => check_hashes(cx, &pp, v, prop, true),
            "contains_refs" => check_ref_list(cx, &pp, v, prop, &["file", "directory"]),
            "icmp_type_hex" | "icmp_code_hex" if !v.as_str().is_some_and(is_hex) => {
                cx.error("hex", &pp, format!("'{prop}' must be a hex string"));
            }
            "pe_type" => {
                if let Some(s) = expect_str(cx, &pp, v, prop)
                    && !in_sorted(vocab::WINDOWS_PEBINARY_TYPE_OV, s)
                {
                    cx.warn(Check::WindowsPebinaryType, &pp, || {
                            "Object has a Windows PE Binary File extension with a 'pe_type' of '{s}', which is not a value in the windows-pebinary-type-ov vocabulary.".replace("{s}", s)
                        });
                }
            }
            "sections" => {
                if let Value::Array(secs) = v {
                    for (i, s) in secs.iter().enumerate() {
                        if let Some(h) = s.get("hashes") {
                            check_hashes(cx, &pp.idx(i).key("hashes"), h, "hashes", true);
                        }
                    }
                }
            }
            "alternate_data_streams" => {
                if let Value::Array(ads) = v {
                    for (i, s) in ads.iter().enumerate() {
                        if let Value::Object(m) = s {
                            for k in m.keys() {
                                if !matches!(k.as_str(), "name" | "hashes" | "size") {
                                    cx.warn(Check::ExtensionsUse, &pp.idx(i).key(k), || {
                                        format!("Cyber Observable Object custom property '{k}' in the alternate_data_streams property of the ntfs-ext extension should be implemented using an extension with an 'extension_type' of 'property-extension' or 'toplevel-property-extension'.")
                                    });
                                    let lax_ok = k.starts_with("x_");
                                    let strict_ok = lax_ok && k[2..].contains('_');
                                    if !strict_ok {
                                        cx.warn(Check::CustomPrefix, &pp.idx(i).key(k), || {
                                            format!("Cyber Observable Object custom property '{k}' in the alternate_data_streams property of the ntfs-ext extension should start with 'x_' followed by a source unique identifier (like a domain name with dots replaced by underscores), an underscore and then the name.")
                                        });
                                    }
                                    if !lax_ok {
                                        cx.warn(Check::CustomPrefixLax, &pp.idx(i).key(k), || {
                                            format!("Cyber Observable Object custom property '{k}' in the alternate_data_streams property of the ntfs-ext extension should start with 'x_'.")
                                        });
                                    }
                                }
                            }
                            if let Some(h) = m.get("hashes") {
                                check_hashes(cx, &pp.idx(i).key("hashes"), h, "hashes", true);
                            }
                        }
                    }
                }
            }
            "priority" if key == "windows-process-ext" => {
                if let Some(s) = v.as_str()
                    && !(s.len() > 6 && s.ends_with("_CLASS"))
                {
                    cx.warn(Check::WindowsProcessPriorityFormat, &pp, || {
                        "The 'priority' property should end in '_CLASS'.".into()
                    });
                }
            }
            "request_header" if key == "http-request-ext" => {
                if let Value::Object(h) = v {
                    for name in h.keys() {
                        if !in_sorted(vocab::HTTP_REQUEST_HEADERS, name) {
                            cx.warn(Check::HttpRequestHeaders, &pp.key(name), || {
                                format!("The 'request_header' property contains an invalid HTTP request header ('{name}').")
                            });
                        }
                    }
                }
            }
            "options" if key == "socket-ext" => {
                if let Value::Object(o) = v {
                    for name in o.keys() {
                        if !in_sorted(vocab::SOCKET_OPTIONS, name) {
                            cx.warn(Check::SocketOptions, &pp.key(name), || {
                                format!("The 'options' property contains a key ('{name}') that is not a valid socket option (SO|ICMP|ICMP6|IP|IPV6|MCAST|TCP|IRLMP)_*.")
                            });
                        }
                    }
                }
            }
            "document_info_dict" if key == "pdf-ext" => {
                if let Value::Object(o) = v {
                    for name in o.keys() {
                        if !in_sorted(vocab::PDF_DID, name) {
                            cx.warn(Check::PdfDocInfo, &pp.key(name), || {
                                format!("The 'document_info_dict' property contains a key ('{name}') that is not a valid PDF Document Information Dictionary key.")
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Which naming rule custom object types in patterns must follow (as stix2-validator does when
/// `extensions-use` is disabled and a custom-prefix check is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixRule {
    /// No rule.
    None,
    /// `x-<source>-<name>`.
    Strict,
    /// `x-<name>`.
    Lax,
}

/// Checks an indicator's STIX pattern with the full pattern parser and validator (crate
/// `pattern`, STIX 2.1 grammar and semantic checks), then the naming rules that stix2-validator
/// applies to custom object types and property names in patterns. Returns error messages.
pub fn check_indicator_pattern(
    pattern: &str,
    pattern_type: &str,
    custom_prefix: PrefixRule,
) -> Vec<String> {
    let mut errors = Vec::new();
    if pattern_type != "stix" {
        return errors;
    }
    // Diagnostics come in source order: one index (built for the first error) locates them
    // all in one pass.
    let mut lines: Option<pattern::LineIndex<'_>> = None;
    for d in pattern::check(pattern, pattern::StixVersion::V21) {
        if !d.is_error() {
            continue;
        }
        if d.code == pattern::Code::Limit {
            // The pattern's length, or the note that ends a capped list: not about one place.
            errors.push(format!("Pattern failed to validate: {}", d.message));
            continue;
        }
        let (line, col) = lines
            .get_or_insert_with(|| pattern::LineIndex::new(pattern))
            .line_col(d.span.start as usize);
        let at = if line > 1 {
            format!("line {line}, column {col}")
        } else {
            format!("column {col}")
        };
        errors.push(format!(
            "Pattern failed to validate: {} (at {at})",
            d.message
        ));
    }
    if !errors.is_empty() {
        return errors;
    }
    let trimmed = pattern.trim_start();
    if !(trimmed.starts_with('[') || trimmed.starts_with('(')) {
        errors.push("Pattern failed to validate: input is missing square brackets".into());
        return errors;
    }
    let b = pattern.as_bytes();
    let mut depth_sq = 0i64;
    let mut depth_par = 0i64;
    let mut i = 0;
    let mut paths: Vec<(&str, &str)> = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                // String literal with \' and \\ escapes.
                i += 1;
                let mut closed = false;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'\'' => {
                            closed = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if !closed {
                    errors.push("Pattern failed to validate: unterminated string literal".into());
                    return errors;
                }
            }
            b'[' => depth_sq += 1,
            b']' => depth_sq -= 1,
            b'(' => depth_par += 1,
            b')' => depth_par -= 1,
            b'"' | b'{' | b'}' | b';' | b'`' => {
                errors.push(format!(
                    "Pattern failed to validate: unexpected character '{}' at position {}",
                    c as char,
                    i + 1
                ));
                return errors;
            }
            c if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_')
                {
                    i += 1;
                }
                // An object path: type ':' property
                if i < b.len()
                    && b[i] == b':'
                    && start > 0
                    && matches!(b[start - 1], b'[' | b' ' | b'(' | b'\t' | b'\n')
                    || (i < b.len() && b[i] == b':' && start == 0)
                {
                    let ty = &pattern[start..i];
                    let pstart = i + 1;
                    let mut j = pstart;
                    while j < b.len()
                        && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b'_')
                    {
                        j += 1;
                    }
                    if j > pstart && !ty.chars().all(|c| c.is_ascii_digit()) {
                        paths.push((ty, &pattern[pstart..j]));
                    }
                    i = j;
                }
                if depth_sq < 0 || depth_par < 0 {
                    break;
                }
                continue;
            }
            _ => {}
        }
        if depth_sq < 0 || depth_par < 0 {
            break;
        }
        i += 1;
    }
    if depth_sq != 0 || depth_par != 0 {
        errors.push("Pattern failed to validate: unbalanced brackets or parentheses".into());
        return errors;
    }
    for (ty, prop) in paths {
        let known_type = in_sorted(vocab::SCO_TYPES, ty);
        if !known_type {
            let ok = ty.len() >= 3
                && ty.len() <= 250
                && ty
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !ty.contains("--");
            if !ok {
                errors.push(format!(
                    "Pattern failed to validate: '{}' is not a valid observable type name.",
                    shorten(ty, pattern::QUOTE_CHARS)
                ));
            } else if custom_prefix == PrefixRule::Strict
                && !(ty.starts_with("x-") && ty[2..].contains('-'))
            {
                errors.push(format!(
                    "Pattern failed to validate: Custom Observable Object type '{ty}' should start with 'x-' followed by a source unique identifier (like a domain name with dots replaced by hyphens), a hyphen and then the name"
                ));
            } else if custom_prefix == PrefixRule::Lax && !ty.starts_with("x-") {
                errors.push(format!("Pattern failed to validate: Custom Observable Object type '{ty}' should start with 'x-'"));
            }
        }
        let known_prop = table(vocab::SCO_PROPERTIES, ty).is_some_and(|ps| in_sorted(ps, prop));
        let well_formed = (3..=250).contains(&prop.len())
            && prop
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !known_prop && !well_formed {
            errors.push(format!(
                "Pattern failed to validate: '{}' is not a valid observable property name.",
                shorten(prop, pattern::QUOTE_CHARS)
            ));
        }
    }
    errors
}

fn validate_indicator(map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    let pattern = map
        .get("pattern")
        .map(|v| (v, expect_str(cx, &p.key("pattern"), v, "pattern")));
    let pattern_type = map
        .get("pattern_type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(v) = map.get("pattern_version") {
        expect_str(cx, &p.key("pattern_version"), v, "pattern_version");
    }
    if let Some((_, Some(pat))) = pattern {
        let rule = if cx.on(Check::ExtensionsUse) {
            PrefixRule::None
        } else if cx.on(Check::CustomPrefix) {
            PrefixRule::Strict
        } else if cx.on(Check::CustomPrefixLax) {
            PrefixRule::Lax
        } else {
            PrefixRule::None
        };
        for msg in check_indicator_pattern(pat, pattern_type, rule) {
            cx.error("pattern", &p.key("pattern"), msg);
        }
    }
    if !map.contains_key("name") || !map.contains_key("description") {
        cx.warn(Check::IndicatorProperties, p, || {
            "Both the name and description properties SHOULD be present.".into()
        });
    }
}

fn validate_location(map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    let lat = map.get("latitude");
    let lon = map.get("longitude");
    if let Some(v) = lat {
        match v.as_f64() {
            Some(x) if (-90.0..=90.0).contains(&x) => {}
            _ => cx.error(
                "range",
                &p.key("latitude"),
                "'latitude' must be a number between -90 and 90".into(),
            ),
        }
    }
    if let Some(v) = lon {
        match v.as_f64() {
            Some(x) if (-180.0..=180.0).contains(&x) => {}
            _ => cx.error(
                "range",
                &p.key("longitude"),
                "'longitude' must be a number between -180 and 180".into(),
            ),
        }
    }
    if lat.is_some() != lon.is_some() {
        cx.error(
            "dependency",
            p,
            "'latitude' and 'longitude' must be present together".into(),
        );
    }
    if map.contains_key("precision") && lat.is_none() {
        cx.error(
            "dependency",
            &p.key("precision"),
            "'precision' requires 'latitude' and 'longitude'".into(),
        );
    }
    if !map.contains_key("region") && !map.contains_key("country") && lat.is_none() {
        cx.error(
            "required",
            p,
            "a location must have 'region', 'country', or 'latitude' and 'longitude'".into(),
        );
    }
    if let Some(Value::String(c)) = map.get("country")
        && !in_sorted(vocab::COUNTRY_CODES, &c.to_ascii_uppercase())
    {
        cx.warn(Check::Countries, &p.key("country"), || {
            "Location `country` should be a valid ISO 3166-1 ALPHA-2 Code.".into()
        });
    }
}

fn validate_observed_data<'i>(map: &'i Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, 'i>) {
    if let Some(v) = map.get("number_observed") {
        check_int(
            cx,
            &p.key("number_observed"),
            v,
            "number_observed",
            1,
            999_999_999,
        );
    }
    match (map.get("object_refs"), map.get("objects")) {
        (Some(_), Some(_)) => cx.error(
            "exclusive",
            p,
            "'object_refs' and 'objects' must not both be present".into(),
        ),
        (None, None) => cx.error("required", p, "'object_refs' is a required property".into()),
        _ => {}
    }
    if let Some(Value::Array(refs)) = map.get("object_refs") {
        for (i, r) in refs.iter().enumerate() {
            if let Some(ident) = r.as_str().and_then(Identifier::parse)
                && matches!(
                    ident.object_type,
                    "bundle" | "language-content" | "marking-definition" | "extension-definition"
                )
            {
                cx.error(
                    "ref-type",
                    &p.key("object_refs").idx(i),
                    format!(
                        "'object_refs' must refer to SCOs or SROs, not '{}'",
                        ident.object_type
                    ),
                );
            }
        }
    }
    if let Some(objects) = map.get("objects") {
        let op = p.key("objects");
        cx.warn(Check::DeprecatedProperties, &op, || {
            "Included property 'objects' is deprecated within the indicated spec version.".into()
        });
        match objects {
            Value::Object(objs) => {
                let id = cx.id;
                for (k, o) in objs {
                    match o {
                        Value::Object(m) => validate_map(m, &op.key(k), cx, Top::Embedded),
                        _ => cx.error(
                            "not-object",
                            &op.key(k),
                            "Observed Data objects must be in dict format.".into(),
                        ),
                    }
                    cx.id = id;
                }
            }
            _ => cx.error(
                "property-type",
                &op,
                "Observed Data objects must be in dict format.".into(),
            ),
        }
    }
}

fn validate_relationship(map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    let mut types = [None, None];
    for (i, prop) in ["source_ref", "target_ref"].into_iter().enumerate() {
        if let Some(v) = map.get(prop) {
            let rp = p.key(prop);
            check_ref(cx, &rp, v, prop, &[]);
            if let Some(ident) = v.as_str().and_then(Identifier::parse) {
                if matches!(
                    ident.object_type,
                    "relationship"
                        | "sighting"
                        | "bundle"
                        | "marking-definition"
                        | "language-content"
                        | "extension-definition"
                ) {
                    cx.error(
                        "ref-type",
                        &rp,
                        format!("{prop}: Relationships cannot link bundles, marking definitions, sightings, or other relationships. This field must contain the id of an SDO."),
                    );
                }
                types[i] = Some(ident.object_type);
            }
        }
    }
    let Some(rt) = map
        .get("relationship_type")
        .and_then(|v| expect_str(cx, &p.key("relationship_type"), v, "relationship_type"))
    else {
        return;
    };
    if let [Some(src), Some(tgt)] = types
        && cx.on(Check::RelationshipTypes)
        && !in_sorted(table(vocab::RELATIONSHIPS_COMMON, "*").unwrap_or(&[]), rt)
        && !in_sorted(vocab::NON_SDOS, src)
        && !in_sorted(vocab::NON_SDOS, tgt)
    {
        let msg = match table(vocab::RELATIONSHIPS, src) {
            None => Some(format!(
                "'{src}' is permitted, but not a suggested relationship source object for the '{rt}' relationship."
            )),
            Some(rels) if !in_sorted(rels, rt) => Some(format!(
                "'{rt}' is permitted, but not a suggested relationship type for '{src}' objects."
            )),
            Some(_) if !in_sorted(vocab::RELATIONSHIP_TRIPLES, &format!("{src} {rt} {tgt}")) => {
                Some(format!(
                    "'{tgt}' is permitted, but not a suggested relationship target object for '{src}' objects with the '{rt}' relationship."
                ))
            }
            Some(_) => None,
        };
        if let Some(msg) = msg {
            cx.warn(
                Check::RelationshipTypes,
                &p.key("relationship_type"),
                || msg,
            );
        }
    }
}

fn validate_sighting(map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    if let Some(v) = map.get("sighting_of_ref") {
        let rp = p.key("sighting_of_ref");
        check_ref(cx, &rp, v, "sighting_of_ref", &[]);
        if let Some(ident) = v.as_str().and_then(Identifier::parse)
            && (in_sorted(vocab::SCO_TYPES, ident.object_type)
                || in_sorted(vocab::NON_SDOS, ident.object_type))
        {
            cx.error(
                "ref-type",
                &rp,
                "'sighting_of_ref' must refer to a STIX Domain Object or Custom Object".into(),
            );
        }
    }
    if let Some(v) = map.get("count") {
        check_int(cx, &p.key("count"), v, "count", 0, 999_999_999);
    }
    if let Some(v) = map.get("summary") {
        check_bool(cx, &p.key("summary"), v, "summary");
    }
}

fn validate_marking_definition(map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    let id = map.get("id").and_then(Value::as_str).unwrap_or("");
    let def_type = map.get("definition_type").and_then(Value::as_str);
    let tlp1 = tlp::marking_info(id).filter(|(_, v)| *v == tlp::TlpVersion::V1);
    if tlp1.is_some() && def_type != Some("tlp") {
        cx.warn(Check::TlpIdReuse, &p.key("id"), || format!("{id} is the id of a TLP 1.0 marking definition; other marking definitions should not reuse it"));
    }
    if def_type == Some("tlp") {
        if !is_predefined_tlp1(map) {
            cx.error("tlp", p, "TLP marking definitions must match one of those defined in the STIX specification.".into());
        }
        return;
    }
    let has_ext = map.contains_key("extensions");
    match (def_type, map.get("definition")) {
        (None, None) if has_ext => {}
        (None, _) if !has_ext => cx.error(
            "required",
            p,
            "'definition_type' is a required property".into(),
        ),
        (Some(_), None) => cx.error("required", p, "'definition' is a required property".into()),
        (Some("statement"), Some(def)) if !def.get("statement").is_some_and(Value::is_string) => {
            cx.error(
                "required",
                &p.key("definition"),
                "a statement marking's definition must contain the string 'statement'".into(),
            );
        }
        _ => {}
    }
    if let Some(dt) = def_type
        && dt != "statement"
        && dt != "tlp"
    {
        cx.warn(
            Check::MarkingDefinitionType,
            &p.key("definition_type"),
            || "Marking definition `definition_type` should be one of: statement, tlp.".into(),
        );
        if !has_ext {
            cx.warn(Check::ExtensionsUse, p, || {
                "Custom marking definitions should be specified using the 'extensions' property."
                    .into()
            });
        }
    }
    // TLP 2.0 markings must be the ones OASIS publishes.
    if let Some((level, tlp::TlpVersion::V2)) = tlp::marking_info(id) {
        let canonical = level.marking_definition();
        if Value::Object(map.clone()) != canonical {
            cx.error("tlp", p, format!("the TLP 2.0 marking definition {id} must be exactly the one OASIS publishes for {}", level.name()));
        }
    }
}

fn is_predefined_tlp1(map: &Map<String, Value>) -> bool {
    let Some(id) = map.get("id").and_then(Value::as_str) else {
        return false;
    };
    let Some((level, tlp::TlpVersion::V1)) = tlp::marking_info(id) else {
        return false;
    };
    let word = match level {
        tlp::TlpLevel::Clear => "white",
        tlp::TlpLevel::Green => "green",
        tlp::TlpLevel::Amber => "amber",
        _ => "red",
    };
    let name_ok = map
        .get("name")
        .is_some_and(|n| n.as_str() == Some(&format!("TLP:{}", word.to_ascii_uppercase())));
    map.keys().all(|k| {
        matches!(
            k.as_str(),
            "type" | "spec_version" | "id" | "created" | "definition_type" | "name" | "definition"
        )
    }) && map.get("created").and_then(Value::as_str) == Some("2017-01-20T00:00:00.000Z")
        && map.get("definition_type").and_then(Value::as_str) == Some("tlp")
        && map
            .get("definition")
            .and_then(Value::as_object)
            .is_some_and(|d| d.len() == 1 && d.get("tlp").and_then(Value::as_str) == Some(word))
        && name_ok
}

fn validate_language_content(map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    // The translated object is an SDO, SRO or other object with text: never a bundle or
    // another language content (the OASIS schema forbids both).
    if let Some(i) = map
        .get("object_ref")
        .and_then(Value::as_str)
        .and_then(Identifier::parse)
        && matches!(i.object_type, "bundle" | "language-content")
    {
        cx.error(
            "ref-type",
            &p.key("object_ref"),
            format!("'object_ref' must not refer to a {}", i.object_type),
        );
    }
    let Some(contents) = map.get("contents") else {
        return;
    };
    let cp = p.key("contents");
    let Value::Object(langs) = contents else {
        cx.error(
            "property-type",
            &cp,
            "'contents' must be a dictionary".into(),
        );
        return;
    };
    if langs.is_empty() {
        cx.error(
            "property-type",
            &cp,
            "'contents' must not be an empty dictionary".into(),
        );
    }
    for (lang, v) in langs {
        let lp = cp.key(lang);
        if !is_language_tag(lang) {
            cx.error(
                "lang",
                &lp,
                format!("Invalid key '{lang}' in 'contents' property must be an RFC 5646 code"),
            );
        }
        let Value::Object(props) = v else {
            cx.error(
                "property-type",
                &lp,
                format!("'contents.{lang}' must be a dictionary"),
            );
            continue;
        };
        for sub in props.keys() {
            if !(sub.len() >= 3
                && sub.len() <= 250
                && sub
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'))
            {
                cx.error(
                    "property-name",
                    &lp.key(sub),
                    format!("'{sub}' in '{lang}' of the 'contents' property is invalid and must match a valid property name"),
                );
            }
        }
    }
}

fn validate_extension_definition(map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    if let Some(v) = map.get("extension_types") {
        let ep = p.key("extension_types");
        if let Some(items) = expect_list(cx, &ep, v, "extension_types") {
            for (i, item) in items.iter().enumerate() {
                check_enum(
                    cx,
                    &ep.idx(i),
                    item,
                    "extension_types",
                    &[
                        "new-sdo",
                        "new-sco",
                        "new-sro",
                        "property-extension",
                        "toplevel-property-extension",
                    ],
                );
            }
        }
    }
    if !map.contains_key("description") {
        cx.warn(Check::ExtensionDescription, p, || {
            "The 'description' property SHOULD be populated.".into()
        });
    }
    let toplevel = map
        .get("extension_types")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|x| x.as_str() == Some("toplevel-property-extension"))
        });
    if toplevel && !map.contains_key("extension_properties") {
        cx.warn(Check::ExtensionProperties, p, || {
            "For extensions of the 'toplevel-property-extension' type, the 'extension_properties' property SHOULD include one or more property names.".into()
        });
    }
}

fn validate_sco(t: &str, map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    let id = cx.id.unwrap_or("");
    if let Some(h) = map.get("hashes") {
        check_hashes(cx, &p.key("hashes"), h, "hashes", true);
        if t == "file"
            && let Value::Object(hm) = h
            && let Some(long) = hm.keys().find(|k| k.len() > 30)
        {
            cx.warn(Check::HashLength, &p.key("hashes").key(long), || {
                        format!("Object '{id}' has a 'hashes' dictionary with a hash of type '{long}', which is longer than 30 characters.")
                    });
        }
    }
    match t {
        "artifact" => {
            match (map.get("payload_bin"), map.get("url")) {
                (Some(_), Some(_)) => cx.error(
                    "exclusive",
                    p,
                    "'artifact' object must contain either 'payload_bin' or 'url' but not both"
                        .into(),
                ),
                (None, Some(_)) if !map.contains_key("hashes") => cx.error(
                    "required",
                    p,
                    "'hashes' must be present when 'url' is".into(),
                ),
                (None, None) => cx.error(
                    "required",
                    p,
                    "an artifact must contain either 'payload_bin' or 'url'".into(),
                ),
                _ => {}
            }
            if let Some(v) = map.get("payload_bin")
                && !v.as_str().is_some_and(is_base64)
            {
                cx.error(
                    "base64",
                    &p.key("payload_bin"),
                    format!("payload_bin: {} must be a base64-encoded string", v),
                );
            }
            if let Some(Value::String(u)) = map.get("url")
                && !is_uri(u)
            {
                cx.error("url", &p.key("url"), format!("url: '{u}' is not a 'uri'"));
            }
            if let Some(v) = map.get("encryption_algorithm") {
                check_enum(
                    cx,
                    &p.key("encryption_algorithm"),
                    v,
                    "encryption_algorithm",
                    &["AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"],
                );
            }
            if map.contains_key("decryption_key") && !map.contains_key("encryption_algorithm") {
                cx.error(
                    "dependency",
                    &p.key("decryption_key"),
                    "'decryption_key' requires 'encryption_algorithm'".into(),
                );
            }
            if let Some(Value::String(m)) = map.get("mime_type")
                && !in_sorted(vocab::IANA_MEDIA_TYPES, m)
            {
                cx.error("mime-type", &p.key("mime_type"), format!("The 'mime_type' property of object '{id}' ('{m}') must be an IANA registered MIME Type of the form 'type/subtype'."));
            }
        }
        "autonomous-system" => {
            if let Some(v) = map.get("number") {
                check_int(cx, &p.key("number"), v, "number", 0, i64::MAX);
            }
        }
        "directory" => {
            if let Some(Value::String(e)) = map.get("path_enc")
                && !in_sorted(vocab::IANA_CHARSETS, e)
            {
                cx.error("charset", &p.key("path_enc"), format!("The 'path_enc' property of object '{id}' ('{e}') must be an IANA registered character set."));
            }
        }
        "email-message" => {
            let multipart = map.get("is_multipart").and_then(Value::as_bool);
            if let Some(v) = map.get("is_multipart") {
                check_bool(cx, &p.key("is_multipart"), v, "is_multipart");
            }
            if multipart == Some(false) && map.contains_key("body_multipart") {
                cx.error(
                    "dependency",
                    &p.key("body_multipart"),
                    "'body_multipart' must not be present when 'is_multipart' is false".into(),
                );
            }
            if multipart == Some(true) && map.contains_key("body") {
                cx.error(
                    "dependency",
                    &p.key("body"),
                    "'body' must not be present when 'is_multipart' is true".into(),
                );
            }
            if let Some(Value::Array(parts)) = map.get("body_multipart") {
                for (i, part) in parts.iter().enumerate() {
                    if let Some(r) = part.get("body_raw_ref") {
                        check_ref(
                            cx,
                            &p.key("body_multipart").idx(i).key("body_raw_ref"),
                            r,
                            "body_raw_ref",
                            &["artifact", "file"],
                        );
                    }
                }
            }
        }
        "file" => {
            if !map.contains_key("hashes") && !map.contains_key("name") {
                cx.error("required", p, "a file must have 'hashes' or 'name'".into());
            }
            if let Some(Value::String(e)) = map.get("name_enc")
                && !in_sorted(vocab::IANA_CHARSETS, e)
            {
                cx.error("charset", &p.key("name_enc"), format!("The 'name_enc' property of object '{id}' ('{e}') must be an IANA registered character set."));
            }
            if let Some(v) = map.get("magic_number_hex")
                && !v.as_str().is_some_and(is_hex)
            {
                cx.error(
                    "hex",
                    &p.key("magic_number_hex"),
                    "'magic_number_hex' must be a hex string".into(),
                );
            }
            if let Some(v) = map.get("size") {
                check_int(cx, &p.key("size"), v, "size", 0, i64::MAX);
            }
            if let Some(Value::String(m)) = map.get("mime_type")
                && !in_sorted(vocab::IANA_MEDIA_TYPES, m)
            {
                cx.warn(Check::MimeType, &p.key("mime_type"), || {
                        format!("The 'mime_type' property of object '{id}' ('{m}') should be an IANA registered MIME Type of the form 'type/subtype'.")
                    });
            }
        }
        "ipv4-addr" => {
            if let Some(Value::String(v)) = map.get("value")
                && !is_ipv4_cidr(v)
            {
                cx.error(
                    "ip",
                    &p.key("value"),
                    format!("value: '{v}' is not an IPv4 address or CIDR block"),
                );
            }
        }
        "ipv6-addr" => {
            if let Some(Value::String(v)) = map.get("value")
                && !is_ipv6_cidr(v)
            {
                cx.error(
                    "ip",
                    &p.key("value"),
                    format!("value: '{v}' is not an IPv6 address or CIDR block"),
                );
            }
        }
        "mac-addr" => {
            if let Some(Value::String(v)) = map.get("value")
                && !is_mac(v)
            {
                cx.error("mac", &p.key("value"), format!("value: '{v}' is not a MAC address (six lower-case hex pairs separated by ':')"));
            }
        }
        "network-traffic" => {
            if !map.contains_key("src_ref") && !map.contains_key("dst_ref") {
                cx.error(
                    "required",
                    p,
                    "a network-traffic must have 'src_ref' or 'dst_ref'".into(),
                );
            }
            for port in ["src_port", "dst_port"] {
                if let Some(v) = map.get(port) {
                    check_int(cx, &p.key(port), v, port, 0, 65535);
                }
            }
            if map.get("is_active").and_then(Value::as_bool) == Some(true)
                && map.contains_key("end")
            {
                cx.error(
                    "dependency",
                    &p.key("is_active"),
                    "'is_active' must be false when 'end' is present".into(),
                );
            }
            if !map.contains_key("src_port") || !map.contains_key("dst_port") {
                cx.warn(Check::NetworkTrafficPorts, p, || format!("The Network Traffic object '{id}' should contain both the 'src_port' and 'dst_port' properties."));
            }
            if let Some(Value::Array(protocols)) = map.get("protocols") {
                for (i, pr) in protocols.iter().enumerate() {
                    if let Some(s) = pr.as_str() {
                        if !(1..=15).contains(&s.len())
                            || !s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                        {
                            cx.warn(Check::Protocols, &p.key("protocols").idx(i), || {
                                format!("The 'protocols' property of object '{id}' contains a value ('{s}') not in IANA Service Name and Transport Protocol Port Number Registry.")
                            });
                        }
                        if s.bytes().any(|c| c.is_ascii_uppercase()) {
                            cx.warn(Check::Protocols, &p.key("protocols").idx(i), || {
                                format!("The 'protocols' value '{s}' should be lowercase.")
                            });
                        }
                    }
                }
            }
            if let Some(Value::Object(ipfix)) = map.get("ipfix") {
                for k in ipfix.keys() {
                    let b = k.as_bytes();
                    if !(b.len() >= 2 && b[0].is_ascii_lowercase() && b[1].is_ascii_alphanumeric())
                    {
                        cx.warn(Check::Ipfix, &p.key("ipfix").key(k), || {
                            format!("The 'ipfix' property of object '{id}' contains a key ('{k}') not in IANA IP Flow Information Export (IPFIX) Entities Registry.")
                        });
                    }
                }
            }
        }
        "software" => {
            if let Some(Value::String(cpe)) = map.get("cpe")
                && (!cpe.starts_with("cpe:2.3:") || cpe.split(':').count() != 13)
            {
                cx.error(
                    "cpe",
                    &p.key("cpe"),
                    format!("Provided CPE value '{cpe}' is not CPE v2.3 compliant."),
                );
            }
        }
        "url" => {
            if let Some(Value::String(u)) = map.get("value")
                && !is_uri(u)
            {
                cx.error(
                    "url",
                    &p.key("value"),
                    format!("value: '{u}' is not a 'uri'"),
                );
            }
        }
        "windows-registry-key" => {
            if let Some(Value::String(k)) = map.get("key") {
                let upper = k.to_ascii_uppercase();
                if ["HKLM", "HKCC", "HKCR", "HKCU", "HKU"]
                    .iter()
                    .any(|a| upper.starts_with(a) && !upper.starts_with("HKEY_"))
                {
                    cx.error(
                        "registry-key",
                        &p.key("key"),
                        format!("key: '{k}' must use the full hive name (e.g. HKEY_LOCAL_MACHINE), not an abbreviation"),
                    );
                }
            }
            if let Some(Value::Array(values)) = map.get("values") {
                for (i, v) in values.iter().enumerate() {
                    if let Value::Object(m) = v {
                        let vp = p.key("values");
                        let ip = vp.idx(i);
                        if m.is_empty() {
                            cx.error(
                                "required",
                                &ip,
                                "a registry value must have at least one of 'name', 'data' and 'data_type'".into(),
                            );
                        }
                        for k in m.keys() {
                            if !matches!(k.as_str(), "name" | "data" | "data_type") {
                                let kp = ip.key(k);
                                cx.warn(Check::StrictProperties, &kp, || {
                                    format!("Property '{k}' is not one of those defined in the specification for the values property in windows-registry-key objects.")
                                });
                                cx.warn(Check::ExtensionsUse, &kp, || {
                                    format!("Cyber Observable Object custom property '{k}' in the values property of windows-registry-key object should be implemented using an extension with an 'extension_type' of 'property-extension' or 'toplevel-property-extension'.")
                                });
                                if !(k.starts_with("x_") && k[2..].contains('_')) {
                                    cx.warn(Check::CustomPrefix, &kp, || {
                                        format!("Cyber Observable Object custom property '{k}' in the values property of windows-registry-key object should start with 'x_' followed by a source unique identifier, an underscore and then the name.")
                                    });
                                }
                                if !k.starts_with("x_") {
                                    cx.warn(Check::CustomPrefixLax, &kp, || {
                                        format!("Cyber Observable Object custom property '{k}' in the values property of windows-registry-key object should start with 'x_'.")
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        "x509-certificate" => {
            if map.keys().all(|k| {
                matches!(
                    k.as_str(),
                    "type"
                        | "id"
                        | "spec_version"
                        | "object_marking_refs"
                        | "granular_markings"
                        | "defanged"
                        | "extensions"
                )
            }) {
                cx.error(
                    "required",
                    p,
                    "an x509-certificate must have at least one certificate property".into(),
                );
            }
            if let Some(Value::Object(ext)) = map.get("x509_v3_extensions") {
                let xp = p.key("x509_v3_extensions");
                for k in ext.keys() {
                    let known = table(vocab::SCO_EXTENSION_PROPERTIES, "x509-v3-extensions-type")
                        .is_none_or(|ks| in_sorted(ks, k));
                    if !known || k == "foo" {
                        let kp = xp.key(k);
                        cx.warn(Check::ExtensionsUse, &kp, || {
                            format!("Cyber Observable Object custom property '{k}' in the x509_v3_extensions property of x509-certificate object should be implemented using an extension with an 'extension_type' of 'property-extension' or 'toplevel-property-extension'.")
                        });
                        if !(k.starts_with("x_") && k[2..].contains('_')) {
                            cx.warn(Check::CustomPrefix, &kp, || {
                                format!("Cyber Observable Object custom property '{k}' in the x509_v3_extensions property of x509-certificate object should start with 'x_' followed by a source unique identifier, an underscore and then the name.")
                            });
                        }
                    }
                }
            }
        }
        "user-account" => {}
        _ => {}
    }
    let predefined = table(vocab::SCO_PROPERTIES, t);
    for (k, v) in map {
        let custom = predefined.is_some_and(|ps| !in_sorted(ps, k));
        if (custom && v.is_object())
            || matches!(
                k.as_str(),
                "additional_header_fields"
                    | "environment_variables"
                    | "ipfix"
                    | "x509_v3_extensions"
            )
        {
            check_dictionary(cx, &p.key(k), v, k, !custom);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn errors(v: Value) -> Vec<Finding> {
        validate_object(&v, &Options::default())
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .collect()
    }

    fn codes(v: Value) -> Vec<&'static str> {
        errors(v).into_iter().map(|f| f.code).collect()
    }

    fn identity() -> Value {
        json!({
            "type": "identity", "spec_version": "2.1",
            "id": "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f",
            "created": "2016-08-08T15:50:10.983Z", "modified": "2016-08-08T15:50:10.983Z",
            "name": "Franistan Intelligence", "identity_class": "organization"
        })
    }

    #[test]
    fn a_valid_object_has_no_finding() {
        assert_eq!(validate_object(&identity(), &Options::default()), vec![]);
    }

    #[test]
    fn musts_are_errors_with_pointers() {
        let mut v = identity();
        v["modified"] = json!("2015-08-08T15:50:10.983Z");
        let e = errors(v);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, "timestamp-order");
        assert_eq!(e[0].pointer, "/modified");
        assert_eq!(
            e[0].object_id.as_deref(),
            Some("identity--8c6af861-7b20-41ef-9b59-6344fd872a8f")
        );

        let mut v = identity();
        v.as_object_mut().unwrap().remove("name");
        assert_eq!(codes(v), vec!["required"]);

        let mut v = identity();
        v["id"] = json!("indicator--8c6af861-7b20-41ef-9b59-6344fd872a8f");
        assert_eq!(codes(v), vec!["id-type"]);

        let mut v = identity();
        v["created"] = json!("2016-08-08T15:50:10Z");
        assert_eq!(codes(v), vec!["timestamp-precision"]);

        let mut v = identity();
        v["object_marking_refs"] = json!(["identity--8c6af861-7b20-41ef-9b59-6344fd872a8f"]);
        let e = errors(v);
        assert_eq!(e[0].code, "ref-type");
        assert_eq!(e[0].pointer, "/object_marking_refs/0");

        let mut v = identity();
        v["x-bad"] = json!(1);
        assert_eq!(codes(v), vec!["property-name"]);
    }

    #[test]
    fn shoulds_are_warnings_and_can_be_disabled() {
        let mut v = identity();
        v["identity_class"] = json!("corporation");
        let all = validate_object(&v, &Options::default());
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].severity, all[0].code),
            (Severity::Warning, "identity-class")
        );
        let off = Options {
            disabled: vec!["identity-class".into()],
            ..Options::default()
        };
        assert!(
            validate_object(&v, &off)
                .iter()
                .all(|f| f.code != "identity-class")
        );
        let bad = Options {
            disabled: vec!["nope".into()],
            ..Options::default()
        };
        assert_eq!(validate_object(&v, &bad)[0].code, "options");
    }

    #[test]
    fn bundles_validate_their_objects() {
        let mut bad = identity();
        bad.as_object_mut().unwrap().remove("created");
        let b = json!({"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982", "objects": [identity(), bad, 3]});
        let e = errors(b);
        assert_eq!(
            e.iter()
                .map(|f| (f.code, f.pointer.as_str()))
                .collect::<Vec<_>>(),
            vec![("required", "/objects/1"), ("not-object", "/objects/2")]
        );
    }

    #[test]
    fn sco_ids() {
        let ok = json!({"type": "ipv4-addr", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"});
        assert_eq!(validate_object(&ok, &Options::default()), vec![]);
        let other = json!({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"});
        let f = validate_object(&other, &Options::default());
        assert_eq!(
            f.iter().map(|f| f.code).collect::<Vec<_>>(),
            vec!["sco-id-deterministic"]
        );
        let bad_ip = json!({"type": "ipv4-addr", "id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "192.168.0.1/01"});
        assert_eq!(codes(bad_ip), vec!["ip"]);
    }

    #[test]
    fn pattern_checks() {
        // The full pattern validator knows that 'aa' is no SHA-256.
        let short =
            check_indicator_pattern("[file:hashes.'SHA-256' = 'aa']", "stix", PrefixRule::None);
        assert!(short.iter().any(|m| m.contains("SHA-256")), "{short:?}");
        assert!(
            check_indicator_pattern(
                "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
                "stix",
                PrefixRule::None
            )
            .is_empty()
        );
        assert!(check_indicator_pattern("[ipv4-addr:value = '1.2.3.4'] AND ([x-acme:foo_bar = 1] FOLLOWEDBY [file:name = 'a:b'])", "stix", PrefixRule::None).is_empty());
        assert!(
            !check_indicator_pattern("[file:hashes.\"SHA-256\" = 'aa']", "stix", PrefixRule::None)
                .is_empty()
        );
        assert!(!check_indicator_pattern("[ab:yz = 'x']", "stix", PrefixRule::None).is_empty());
        assert!(!check_indicator_pattern("[file:n = 'x']", "stix", PrefixRule::None).is_empty());
        assert!(!check_indicator_pattern("file:name = 'x'", "stix", PrefixRule::None).is_empty());
        assert!(!check_indicator_pattern("[file:name = 'x'", "stix", PrefixRule::None).is_empty());
        assert!(check_indicator_pattern("alert tcp any any", "snort", PrefixRule::None).is_empty());
    }

    fn indicator(pattern: &str) -> Value {
        json!({"type": "indicator", "spec_version": "2.1",
            "id": "indicator--cd981c25-8042-4166-8945-51178443bdac",
            "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
            "name": "n", "description": "d",
            "pattern": pattern, "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00.000Z"})
    }

    #[test]
    fn pattern_messages_are_capped_and_short() {
        let limit = pattern::MAX_PATTERN_BYTES;
        for src in [
            "{".repeat(limit),
            "{\n".repeat(limit / 2),
            "(".repeat(limit),
            "[".repeat(limit),
            format!("[file:hashes.MD5 IN ({})]", vec!["'zz'"; 40_000].join(",")),
            format!("[file:hashes.MD5 = '{}']", "z".repeat(limit - 40)),
            format!("[{}:b = 1]", "a".repeat(limit - 20)),
            "{".repeat(limit + 1),
            "{".repeat(10 << 20),
        ] {
            let errors = check_indicator_pattern(&src, "stix", PrefixRule::Strict);
            assert!(!errors.is_empty(), "{} bytes", src.len());
            assert!(
                errors.len() <= pattern::MAX_DIAGNOSTICS + 1,
                "{} messages",
                errors.len()
            );
            assert!(
                errors.iter().all(|m| m.chars().count() < 400),
                "{:?}",
                errors.iter().map(String::len).max()
            );
        }
        // Positions are those of the naive count.
        let src = "{\n".repeat(30);
        let errors = check_indicator_pattern(&src, "stix", PrefixRule::None);
        assert!(errors[0].ends_with("(at column 1)"), "{}", errors[0]);
        assert!(
            errors[5].ends_with("(at line 6, column 1)"),
            "{}",
            errors[5]
        );
        assert!(errors.last().unwrap().contains("reading stopped"));
        let too_long = check_indicator_pattern(&"{".repeat(limit + 1), "stix", PrefixRule::None);
        assert_eq!(too_long.len(), 1);
        assert!(too_long[0].contains("262144 bytes"), "{}", too_long[0]);
    }

    #[test]
    fn findings_are_capped_per_object_without_changing_the_verdict() {
        // Thousands of pattern errors: 20 findings and one closing error.
        let f = validate_object(&indicator(&"{".repeat(100_000)), &Options::default());
        assert_eq!(f.len(), MAX_FINDINGS_PER_OBJECT + 1, "{f:#?}");
        assert!(
            f.iter()
                .all(|x| x.message.chars().count() <= MAX_MESSAGE_CHARS)
        );
        // Hundreds of bad property names, each echoed in a message: capped, and cut.
        let mut o = indicator("[file:name = 'a']");
        for i in 0..500 {
            o[format!("BAD {i} {}", "x".repeat(5000))] = json!(1);
        }
        let f = validate_object(&o, &Options::default());
        assert_eq!(f.len(), MAX_FINDINGS_PER_OBJECT + 1);
        let note = f.last().unwrap();
        assert_eq!((note.code, note.severity), ("limit", Severity::Error));
        assert!(note.message.contains("more problems"), "{}", note.message);
        assert!(
            f.iter()
                .all(|x| x.message.chars().count() <= MAX_MESSAGE_CHARS
                    && x.pointer.chars().count() <= MAX_MESSAGE_CHARS)
        );
        // Many warnings and one error: the object stays invalid whatever the order.
        let mut o = indicator("[file:name = 'a']");
        for i in 0..30 {
            o[format!("x_custom_{i}")] = json!(1);
        }
        o["modified"] = json!("yesterday");
        let f = validate_object(&o, &Options::default());
        assert_eq!(f.len(), MAX_FINDINGS_PER_OBJECT + 1);
        assert!(f.iter().any(|x| x.severity == Severity::Error), "{f:#?}");
        // Under the cap, no note.
        let f = validate_object(&indicator("{{{"), &Options::default());
        assert!(f.len() < MAX_FINDINGS_PER_OBJECT && f.iter().all(|x| x.code != "limit"));
        // In a bundle, each object has its own cap.
        let objects: Vec<Value> = ["{", "(", "{"]
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut o = indicator(&c.repeat(1000));
                o["id"] = json!(format!("indicator--cd981c25-8042-4166-8945-51178443bda{i}"));
                o
            })
            .collect();
        let bundle = json!({"type": "bundle", "id": "bundle--cd981c25-8042-4166-8945-51178443bdac",
            "objects": objects});
        let f = validate_object(&bundle, &Options::default());
        assert_eq!(f.iter().filter(|x| x.code == "limit").count(), 2, "{f:#?}");
        assert_eq!(f.len(), 2 * (MAX_FINDINGS_PER_OBJECT + 1) + 1);
    }

    #[test]
    fn selectors() {
        let o = json!({"a": [1, {"b": 2}]});
        let m = o.as_object().unwrap();
        assert!(resolve_selector(m, "a.[1].b").is_ok());
        assert!(resolve_selector(m, "a.[2]").is_err());
        assert!(resolve_selector(m, "c").is_err());
    }
}
