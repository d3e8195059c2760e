//! The types of the properties STIX 2.1 defines (§4–§6 and the predefined SCO extensions),
//! and the MUSTs that hold on one object beyond its common properties: every property of a
//! predefined type or extension has the type the specification gives it (a string is a string,
//! a timestamp is a valid timestamp wherever it sits, an enumeration is closed, a hex value has
//! an even number of hex digits, a dictionary's keys are of the allowed characters), and the
//! "at least one property" rules of extensions and some SCOs.
//!
//! Properties that `validate.rs` already checks with a dedicated rule (references, open
//! vocabularies, top-level timestamps and their order, hashes, …) are not repeated here.

use serde_json::{Map, Value};

use super::{Cx, P, check_ref, check_ref_list, check_timestamp, is_hex, is_language_tag, kind};

/// What values of a dictionary may be.
#[derive(Clone, Copy)]
pub(super) enum DictValues {
    Str,
    Int,
    StrOrInt,
    /// A list of strings (or, as the OASIS schema allows, one string).
    StrOrStrList,
    /// The members of Windows' STARTUPINFO structure, with their types.
    StartupInfo,
}

/// STARTUPINFO members (§6.13.1: keys are the structure's member names): strings, integers,
/// and the reserved pointers (null) and `cbReserved2` (0).
fn startup_info_value_ok(key: &str, v: &Value) -> Option<bool> {
    Some(match key {
        "lpDesktop" | "lpTitle" | "dwFillAttribute" | "dwFlags" | "wShowWindow" | "hStdInput"
        | "hStdOutput" | "hStdError" => v.is_string(),
        "cb" | "dwX" | "dwY" | "dwXSize" | "dwYSize" | "dwXCountChars" | "dwYCountChars" => {
            v.is_i64() || v.is_u64()
        }
        "cbReserved2" => v.as_i64() == Some(0),
        "lpReserved" | "lpReserved2" => v.is_null(),
        _ => return None,
    })
}

/// The type of a property.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Str,
    Bool,
    Int(i64, i64),
    Num(f64, f64),
    /// A timestamp (§2.14).
    Ts,
    /// A timestamp that MUST be precise to the second (no fractional seconds).
    TsSecond,
    StrList,
    /// A list of RFC 5646 language tags.
    LangList,
    Hex,
    /// A closed enumeration (§2.6).
    Enum(&'static [&'static str]),
    Dict(DictValues),
    Ref(&'static [&'static str]),
    RefList(&'static [&'static str]),
    Obj(&'static Shape),
    ObjList(&'static Shape),
    /// A hashes dictionary (§2.7): algorithm names and value formats.
    Hashes,
}

/// The properties of an object type, an extension or an embedded type.
pub(super) struct Shape {
    pub name: &'static str,
    pub props: &'static [(&'static str, Kind)],
    pub required: &'static [&'static str],
    /// The specification requires at least one of these properties.
    pub at_least_one: &'static [&'static str],
}

const ANY: i64 = i64::MIN;
const MAX: i64 = i64::MAX;
use Kind::*;

macro_rules! shape {
    ($name:literal, [$($p:literal => $k:expr),* $(,)?]) => {
        Shape { name: $name, props: &[$(($p, $k)),*], required: &[], at_least_one: &[] }
    };
    ($name:literal, [$($p:literal => $k:expr),* $(,)?], required [$($r:literal),*]) => {
        Shape { name: $name, props: &[$(($p, $k)),*], required: &[$($r),*], at_least_one: &[] }
    };
    ($name:literal, [$($p:literal => $k:expr),* $(,)?], one_of [$($o:literal),*]) => {
        Shape { name: $name, props: &[$(($p, $k)),*], required: &[], at_least_one: &[$($o),*] }
    };
    ($name:literal, [$($p:literal => $k:expr),* $(,)?], required [$($r:literal),*], one_of [$($o:literal),*]) => {
        Shape { name: $name, props: &[$(($p, $k)),*], required: &[$($r),*], at_least_one: &[$($o),*] }
    };
}

// --- SDOs, SROs and meta objects (§4, §5, §7) -----------------------------------------------

static ATTACK_PATTERN: Shape =
    shape!("attack-pattern", ["name" => Str, "description" => Str, "aliases" => StrList]);
static CAMPAIGN: Shape = shape!("campaign", ["name" => Str, "description" => Str, "aliases" => StrList, "objective" => Str]);
static COURSE_OF_ACTION: Shape = shape!("course-of-action", ["name" => Str, "description" => Str]);
static EXTENSION_DEFINITION: Shape = shape!("extension-definition", ["name" => Str, "description" => Str, "schema" => Str, "version" => Str, "extension_properties" => StrList]);
static GROUPING: Shape = shape!("grouping", ["name" => Str, "description" => Str]);
static IDENTITY: Shape = shape!("identity", ["name" => Str, "description" => Str, "roles" => StrList, "contact_information" => Str]);
static INCIDENT: Shape = shape!("incident", ["name" => Str, "description" => Str]);
static INDICATOR: Shape = shape!("indicator", ["name" => Str, "description" => Str]);
static INFRASTRUCTURE: Shape =
    shape!("infrastructure", ["name" => Str, "description" => Str, "aliases" => StrList]);
static INTRUSION_SET: Shape = shape!("intrusion-set", ["name" => Str, "description" => Str, "aliases" => StrList, "goals" => StrList]);
static LOCATION: Shape = shape!("location", [
    "name" => Str, "description" => Str, "precision" => Num(f64::MIN, f64::MAX),
    "country" => Str, "administrative_area" => Str, "city" => Str,
    "street_address" => Str, "postal_code" => Str,
]);
static MALWARE: Shape =
    shape!("malware", ["name" => Str, "description" => Str, "aliases" => StrList]);
static MALWARE_ANALYSIS: Shape = shape!("malware-analysis", [
    "product" => Str, "version" => Str, "configuration_version" => Str, "modules" => StrList,
    "analysis_engine_version" => Str, "analysis_definition_version" => Str, "result_name" => Str,
]);
static MARKING_DEFINITION: Shape =
    shape!("marking-definition", ["name" => Str, "definition_type" => Str]);
static NOTE: Shape = shape!("note", ["abstract" => Str, "content" => Str, "authors" => StrList]);
static OPINION: Shape = shape!("opinion", ["explanation" => Str, "authors" => StrList]);
static REPORT: Shape = shape!("report", ["name" => Str, "description" => Str]);
static THREAT_ACTOR: Shape = shape!("threat-actor", ["name" => Str, "description" => Str, "aliases" => StrList, "goals" => StrList]);
static TOOL: Shape = shape!("tool", ["name" => Str, "description" => Str, "aliases" => StrList, "tool_version" => Str]);
static VULNERABILITY: Shape = shape!("vulnerability", ["name" => Str, "description" => Str]);
static RELATIONSHIP: Shape = shape!("relationship", ["description" => Str]);
static SIGHTING: Shape = shape!("sighting", ["description" => Str]);

// --- SCOs (§6) -------------------------------------------------------------------------------

static ARTIFACT: Shape =
    shape!("artifact", ["mime_type" => Str, "url" => Str, "decryption_key" => Str]);
static AUTONOMOUS_SYSTEM: Shape = shape!("autonomous-system", ["name" => Str, "rir" => Str]);
static DIRECTORY: Shape = shape!("directory", ["path" => Str, "path_enc" => Str]);
static DOMAIN_NAME: Shape = shape!("domain-name", ["value" => Str]);
static EMAIL_ADDR: Shape = shape!("email-addr", ["value" => Str, "display_name" => Str]);
static MIME_PART: Shape = shape!("mime-part-type", [
    "body" => Str, "content_type" => Str, "content_disposition" => Str,
], one_of ["body", "body_raw_ref"]);
static EMAIL_MESSAGE: Shape = shape!("email-message", [
    "content_type" => Str, "message_id" => Str, "subject" => Str, "received_lines" => StrList,
    "additional_header_fields" => Dict(DictValues::StrOrStrList), "body" => Str,
    "body_multipart" => ObjList(&MIME_PART),
]);
static FILE: Shape = shape!("file", ["name" => Str, "name_enc" => Str, "mime_type" => Str]);
static IPV4_ADDR: Shape = shape!("ipv4-addr", ["value" => Str]);
static IPV6_ADDR: Shape = shape!("ipv6-addr", ["value" => Str]);
static MAC_ADDR: Shape = shape!("mac-addr", ["value" => Str]);
static MUTEX: Shape = shape!("mutex", ["name" => Str]);
static NETWORK_TRAFFIC: Shape = shape!("network-traffic", [
    "is_active" => Bool, "protocols" => StrList,
    "src_byte_count" => Int(ANY, MAX), "dst_byte_count" => Int(ANY, MAX),
    "src_packets" => Int(ANY, MAX), "dst_packets" => Int(ANY, MAX),
    "ipfix" => Dict(DictValues::StrOrInt),
]);
static PROCESS: Shape = Shape {
    name: "process",
    props: &[
        ("is_hidden", Bool),
        ("pid", Int(ANY, MAX)),
        ("cwd", Str),
        ("command_line", Str),
        ("environment_variables", Dict(DictValues::Str)),
    ],
    required: &[],
    at_least_one: pattern::PROCESS_PROPERTIES,
};
static SOFTWARE: Shape = shape!("software", [
    "name" => Str, "cpe" => Str, "swid" => Str, "languages" => LangList, "vendor" => Str,
    "version" => Str,
]);
static URL: Shape = shape!("url", ["value" => Str]);
static USER_ACCOUNT: Shape = shape!("user-account", [
    "user_id" => Str, "credential" => Str, "account_login" => Str, "display_name" => Str,
    "is_service_account" => Bool, "is_privileged" => Bool, "can_escalate_privs" => Bool,
    "is_disabled" => Bool,
]);
static REGISTRY_VALUE: Shape = shape!("windows-registry-value-type", [
    "name" => Str, "data" => Str,
    "data_type" => Enum(&[
        "REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD",
        "REG_DWORD_BIG_ENDIAN", "REG_DWORD_LITTLE_ENDIAN", "REG_LINK", "REG_MULTI_SZ",
        "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTION", "REG_RESOURCE_REQUIREMENTS_LIST",
        "REG_QWORD", "REG_INVALID_TYPE",
    ]),
]);
static WINDOWS_REGISTRY_KEY: Shape = shape!("windows-registry-key", [
    "key" => Str, "values" => ObjList(&REGISTRY_VALUE), "number_of_subkeys" => Int(ANY, MAX),
    "creator_user_ref" => Ref(&["user-account"]),
]);
const X509_V3_PROPS: &[&str] = &[
    "basic_constraints",
    "name_constraints",
    "policy_constraints",
    "key_usage",
    "extended_key_usage",
    "subject_key_identifier",
    "authority_key_identifier",
    "subject_alternative_name",
    "issuer_alternative_name",
    "subject_directory_attributes",
    "crl_distribution_points",
    "inhibit_any_policy",
    "private_key_usage_period_not_before",
    "private_key_usage_period_not_after",
    "certificate_policies",
    "policy_mappings",
];
static X509_V3: Shape = Shape {
    name: "x509-v3-extensions-type",
    props: &[
        ("basic_constraints", Str),
        ("name_constraints", Str),
        ("policy_constraints", Str),
        ("key_usage", Str),
        ("extended_key_usage", Str),
        ("subject_key_identifier", Str),
        ("authority_key_identifier", Str),
        ("subject_alternative_name", Str),
        ("issuer_alternative_name", Str),
        ("subject_directory_attributes", Str),
        ("crl_distribution_points", Str),
        ("inhibit_any_policy", Str),
        ("private_key_usage_period_not_before", Ts),
        ("private_key_usage_period_not_after", Ts),
        ("certificate_policies", Str),
        ("policy_mappings", Str),
    ],
    required: &[],
    at_least_one: X509_V3_PROPS,
};
static X509_CERTIFICATE: Shape = shape!("x509-certificate", [
    "is_self_signed" => Bool, "version" => Str, "serial_number" => Str,
    "signature_algorithm" => Str, "issuer" => Str, "subject" => Str,
    "subject_public_key_algorithm" => Str, "subject_public_key_modulus" => Str,
    "subject_public_key_exponent" => Int(ANY, MAX), "x509_v3_extensions" => Obj(&X509_V3),
]);

// --- Predefined SCO extensions (§6) ----------------------------------------------------------

static ARCHIVE_EXT: Shape = shape!("archive-ext", ["comment" => Str]);
static ADS: Shape =
    shape!("alternate-data-stream-type", ["name" => Str, "size" => Int(0, MAX)], required ["name"]);
static NTFS_EXT: Shape = shape!("ntfs-ext", [
    "sid" => Str, "alternate_data_streams" => ObjList(&ADS),
], one_of ["sid", "alternate_data_streams"]);
static PDF_EXT: Shape = shape!("pdf-ext", [
    "version" => Str, "is_optimized" => Bool, "document_info_dict" => Dict(DictValues::Str),
    "pdfid0" => Str, "pdfid1" => Str,
], one_of ["version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"]);
static RASTER_IMAGE_EXT: Shape = shape!("raster-image-ext", [
    "image_height" => Int(ANY, MAX), "image_width" => Int(ANY, MAX),
    "bits_per_pixel" => Int(ANY, MAX), "exif_tags" => Dict(DictValues::StrOrInt),
], one_of ["image_height", "image_width", "bits_per_pixel", "exif_tags"]);
const PE_HEADER_PROPS: &[&str] = &[
    "magic_hex",
    "major_linker_version",
    "minor_linker_version",
    "size_of_code",
    "size_of_initialized_data",
    "size_of_uninitialized_data",
    "address_of_entry_point",
    "base_of_code",
    "base_of_data",
    "image_base",
    "section_alignment",
    "file_alignment",
    "major_os_version",
    "minor_os_version",
    "major_image_version",
    "minor_image_version",
    "major_subsystem_version",
    "minor_subsystem_version",
    "win32_version_value_hex",
    "size_of_image",
    "size_of_headers",
    "checksum_hex",
    "subsystem_hex",
    "dll_characteristics_hex",
    "size_of_stack_reserve",
    "size_of_stack_commit",
    "size_of_heap_reserve",
    "size_of_heap_commit",
    "loader_flags_hex",
    "number_of_rva_and_sizes",
    "hashes",
];
static PE_OPTIONAL_HEADER: Shape = Shape {
    name: "windows-pe-optional-header-type",
    props: &[
        ("magic_hex", Hex),
        ("hashes", Hashes),
        ("major_linker_version", Int(ANY, MAX)),
        ("minor_linker_version", Int(ANY, MAX)),
        ("size_of_code", Int(0, MAX)),
        ("size_of_initialized_data", Int(0, MAX)),
        ("size_of_uninitialized_data", Int(0, MAX)),
        ("address_of_entry_point", Int(ANY, MAX)),
        ("base_of_code", Int(ANY, MAX)),
        ("base_of_data", Int(ANY, MAX)),
        ("image_base", Int(ANY, MAX)),
        ("section_alignment", Int(ANY, MAX)),
        ("file_alignment", Int(ANY, MAX)),
        ("major_os_version", Int(ANY, MAX)),
        ("minor_os_version", Int(ANY, MAX)),
        ("major_image_version", Int(ANY, MAX)),
        ("minor_image_version", Int(ANY, MAX)),
        ("major_subsystem_version", Int(ANY, MAX)),
        ("minor_subsystem_version", Int(ANY, MAX)),
        ("win32_version_value_hex", Hex),
        ("size_of_image", Int(0, MAX)),
        ("size_of_headers", Int(0, MAX)),
        ("checksum_hex", Hex),
        ("subsystem_hex", Hex),
        ("dll_characteristics_hex", Hex),
        ("size_of_stack_reserve", Int(0, MAX)),
        ("size_of_stack_commit", Int(0, MAX)),
        ("size_of_heap_reserve", Int(0, MAX)),
        ("size_of_heap_commit", Int(0, MAX)),
        ("loader_flags_hex", Hex),
        ("number_of_rva_and_sizes", Int(ANY, MAX)),
    ],
    required: &[],
    at_least_one: PE_HEADER_PROPS,
};
static PE_SECTION: Shape = shape!("windows-pe-section-type", [
    "name" => Str, "size" => Int(0, MAX), "entropy" => Num(f64::MIN, f64::MAX),
    "hashes" => Hashes,
], required ["name"]);
static PEBINARY_EXT: Shape = shape!("windows-pebinary-ext", [
    "imphash" => Str, "machine_hex" => Hex, "number_of_sections" => Int(0, MAX),
    "time_date_stamp" => TsSecond, "pointer_to_symbol_table_hex" => Hex,
    "number_of_symbols" => Int(0, MAX), "size_of_optional_header" => Int(0, MAX),
    "characteristics_hex" => Hex, "optional_header" => Obj(&PE_OPTIONAL_HEADER),
    "sections" => ObjList(&PE_SECTION),
]);
static HTTP_REQUEST_EXT: Shape = shape!("http-request-ext", [
    "request_method" => Str, "request_value" => Str, "request_version" => Str,
    "request_header" => Dict(DictValues::StrOrStrList), "message_body_length" => Int(ANY, MAX),
    "message_body_data_ref" => Ref(&["artifact"]),
]);
static SOCKET_EXT: Shape = shape!("socket-ext", [
    "address_family" => Enum(&[
        "AF_UNSPEC", "AF_INET", "AF_IPX", "AF_APPLETALK", "AF_NETBIOS", "AF_INET6", "AF_IRDA",
        "AF_BTH",
    ]),
    "is_blocking" => Bool, "is_listening" => Bool, "options" => Dict(DictValues::Int),
    "socket_type" => Enum(&["SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"]),
    "socket_descriptor" => Int(0, MAX), "socket_handle" => Int(ANY, MAX),
]);
static TCP_EXT: Shape = shape!("tcp-ext", [
    "src_flags_hex" => Hex, "dst_flags_hex" => Hex,
], one_of ["src_flags_hex", "dst_flags_hex"]);
static WINDOWS_PROCESS_EXT: Shape = shape!("windows-process-ext", [
    "aslr_enabled" => Bool, "dep_enabled" => Bool, "priority" => Str, "owner_sid" => Str,
    "window_title" => Str, "startup_info" => Dict(DictValues::StartupInfo),
    "integrity_level" => Enum(&["low", "medium", "high", "system"]),
], one_of ["aslr_enabled", "dep_enabled", "priority", "owner_sid", "window_title", "startup_info", "integrity_level"]);
static WINDOWS_SERVICE_EXT: Shape = shape!("windows-service-ext", [
    "service_name" => Str, "descriptions" => StrList, "display_name" => Str, "group_name" => Str,
    "start_type" => Enum(&[
        "SERVICE_AUTO_START", "SERVICE_BOOT_START", "SERVICE_DEMAND_START", "SERVICE_DISABLED",
        "SERVICE_SYSTEM_ALERT",
    ]),
    "service_dll_refs" => RefList(&["file"]),
    "service_type" => Enum(&[
        "SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER", "SERVICE_WIN32_OWN_PROCESS",
        "SERVICE_WIN32_SHARE_PROCESS",
    ]),
    "service_status" => Enum(&[
        "SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED", "SERVICE_RUNNING",
        "SERVICE_START_PENDING", "SERVICE_STOP_PENDING", "SERVICE_STOPPED",
    ]),
], one_of ["service_name", "descriptions", "display_name", "group_name", "start_type", "service_dll_refs", "service_type", "service_status"]);
static UNIX_ACCOUNT_EXT: Shape = shape!("unix-account-ext", [
    "gid" => Int(ANY, MAX), "groups" => StrList, "home_dir" => Str, "shell" => Str,
], one_of ["gid", "groups", "home_dir", "shell"]);

/// The shape of a predefined object type.
pub(super) fn object_shape(t: &str) -> Option<&'static Shape> {
    Some(match t {
        "attack-pattern" => &ATTACK_PATTERN,
        "campaign" => &CAMPAIGN,
        "course-of-action" => &COURSE_OF_ACTION,
        "extension-definition" => &EXTENSION_DEFINITION,
        "grouping" => &GROUPING,
        "identity" => &IDENTITY,
        "incident" => &INCIDENT,
        "indicator" => &INDICATOR,
        "infrastructure" => &INFRASTRUCTURE,
        "intrusion-set" => &INTRUSION_SET,
        "location" => &LOCATION,
        "malware" => &MALWARE,
        "malware-analysis" => &MALWARE_ANALYSIS,
        "marking-definition" => &MARKING_DEFINITION,
        "note" => &NOTE,
        "opinion" => &OPINION,
        "report" => &REPORT,
        "threat-actor" => &THREAT_ACTOR,
        "tool" => &TOOL,
        "vulnerability" => &VULNERABILITY,
        "relationship" => &RELATIONSHIP,
        "sighting" => &SIGHTING,
        "artifact" => &ARTIFACT,
        "autonomous-system" => &AUTONOMOUS_SYSTEM,
        "directory" => &DIRECTORY,
        "domain-name" => &DOMAIN_NAME,
        "email-addr" => &EMAIL_ADDR,
        "email-message" => &EMAIL_MESSAGE,
        "file" => &FILE,
        "ipv4-addr" => &IPV4_ADDR,
        "ipv6-addr" => &IPV6_ADDR,
        "mac-addr" => &MAC_ADDR,
        "mutex" => &MUTEX,
        "network-traffic" => &NETWORK_TRAFFIC,
        "process" => &PROCESS,
        "software" => &SOFTWARE,
        "url" => &URL,
        "user-account" => &USER_ACCOUNT,
        "windows-registry-key" => &WINDOWS_REGISTRY_KEY,
        "x509-certificate" => &X509_CERTIFICATE,
        _ => return None,
    })
}

/// The shape of a predefined SCO extension.
pub(super) fn extension_shape(key: &str) -> Option<&'static Shape> {
    Some(match key {
        "archive-ext" => &ARCHIVE_EXT,
        "ntfs-ext" => &NTFS_EXT,
        "pdf-ext" => &PDF_EXT,
        "raster-image-ext" => &RASTER_IMAGE_EXT,
        "windows-pebinary-ext" => &PEBINARY_EXT,
        "http-request-ext" => &HTTP_REQUEST_EXT,
        "socket-ext" => &SOCKET_EXT,
        "tcp-ext" => &TCP_EXT,
        "windows-process-ext" => &WINDOWS_PROCESS_EXT,
        "windows-service-ext" => &WINDOWS_SERVICE_EXT,
        "unix-account-ext" => &UNIX_ACCOUNT_EXT,
        _ => return None,
    })
}

/// Checks `map` against `shape`: the type of each property present, the required ones, and
/// the "at least one of" rule.
pub(super) fn check_shape(cx: &mut Cx<'_, '_>, p: &P<'_>, map: &Map<String, Value>, shape: &Shape) {
    for &(name, k) in shape.props {
        if let Some(v) = map.get(name) {
            check_kind(cx, &p.key(name), v, name, k);
        }
    }
    for &r in shape.required {
        if !map.contains_key(r) {
            cx.error(
                "required",
                p,
                format!("'{r}' is a required property of {}", shape.name),
            );
        }
    }
    if !shape.at_least_one.is_empty() && !shape.at_least_one.iter().any(|k| map.contains_key(*k)) {
        cx.error(
            "required",
            p,
            format!(
                "{} must contain at least one of its properties ({})",
                shape.name,
                shape.at_least_one.join(", ")
            ),
        );
    }
}

fn check_kind(cx: &mut Cx<'_, '_>, p: &P<'_>, v: &Value, name: &str, k: Kind) {
    let type_error = |cx: &mut Cx<'_, '_>, what: &str| {
        cx.error(
            "property-type",
            p,
            format!("'{name}' must be {what}, not {}", kind(v)),
        );
    };
    match k {
        Hashes => super::check_hashes(cx, p, v, name, true),
        Str => {
            if !v.is_string() {
                type_error(cx, "a string");
            }
        }
        Bool => {
            if !v.is_boolean() {
                type_error(cx, "a boolean");
            }
        }
        Int(min, max) => match super::as_integer(v) {
            Some(n) if n < min => cx.error(
                "range",
                p,
                format!("'{name}': {n} is less than the minimum of {min}"),
            ),
            Some(n) if n > max => cx.error(
                "range",
                p,
                format!("'{name}': {n} is greater than the maximum of {max}"),
            ),
            Some(_) => {}
            None if v.as_u64().is_some() && max == MAX => {}
            None => type_error(cx, "an integer"),
        },
        Num(min, max) => match v.as_f64() {
            Some(x) if x < min || x > max => cx.error(
                "range",
                p,
                format!("'{name}': {x} is outside [{min}, {max}]"),
            ),
            Some(_) => {}
            None => type_error(cx, "a number"),
        },
        Ts => {
            check_timestamp(cx, p, v, name, false);
        }
        TsSecond => {
            if let Some(ts) = check_timestamp(cx, p, v, name, false)
                && ts.precision() > 0
            {
                cx.error(
                    "timestamp-precision",
                    p,
                    format!("'{name}' must be precise to the second (no fractional seconds)"),
                );
            }
        }
        StrList | LangList => {
            let Value::Array(items) = v else {
                type_error(cx, "a list of strings");
                return;
            };
            if items.is_empty() {
                cx.error(
                    "property-type",
                    p,
                    format!("'{name}' must not be an empty list"),
                );
            }
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    None => cx.error(
                        "property-type",
                        &p.idx(i),
                        format!("'{name}' must hold strings, not {}", kind(item)),
                    ),
                    Some(s) if matches!(k, LangList) && !is_language_tag(s) => cx.error(
                        "lang",
                        &p.idx(i),
                        format!("'{name}': '{s}' is not an RFC 5646 language code"),
                    ),
                    Some(_) => {}
                }
            }
        }
        Hex => {
            if !v.as_str().is_some_and(is_hex) {
                cx.error(
                    "hex",
                    p,
                    format!("'{name}' must be a hex string (an even number of hex digits)"),
                );
            }
        }
        Enum(allowed) => match v.as_str() {
            None => type_error(cx, "a string"),
            Some(s) if !allowed.contains(&s) => cx.error(
                "enum",
                p,
                format!("'{name}': '{s}' is not one of {allowed:?}"),
            ),
            Some(_) => {}
        },
        Dict(values) => check_dictionary_values(cx, p, v, name, values),
        Ref(types) => check_ref(cx, p, v, name, types),
        RefList(types) => check_ref_list(cx, p, v, name, types),
        Obj(shape) => match v {
            Value::Object(m) => check_shape(cx, p, m, shape),
            _ => type_error(cx, "an object"),
        },
        ObjList(shape) => match v {
            Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(m) => check_shape(cx, &p.idx(i), m, shape),
                        _ => cx.error(
                            "property-type",
                            &p.idx(i),
                            format!("'{name}' must hold objects, not {}", kind(item)),
                        ),
                    }
                }
            }
            Value::Array(_) => cx.error(
                "property-type",
                p,
                format!("'{name}' must not be an empty list"),
            ),
            _ => type_error(cx, "a list of objects"),
        },
    }
}

/// Whether a dictionary key is of §2.4's form: 1–250 of `a-z A-Z 0-9 _ -`.
pub(super) fn is_dictionary_key(k: &str) -> bool {
    (1..=250).contains(&k.len())
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// A dictionary property the specification defines: a non-empty object whose keys follow
/// §2.4 and whose values have the type the property's definition gives.
fn check_dictionary_values(
    cx: &mut Cx<'_, '_>,
    p: &P<'_>,
    v: &Value,
    name: &str,
    values: DictValues,
) {
    let Value::Object(map) = v else {
        cx.error(
            "property-type",
            p,
            format!("'{name}' must be a dictionary, not {}", kind(v)),
        );
        return;
    };
    if map.is_empty() {
        cx.error(
            "property-type",
            p,
            format!("'{name}' must not be an empty dictionary"),
        );
    }
    for (key, val) in map {
        let kp = p.key(key);
        if !is_dictionary_key(key) {
            cx.error(
                "dictionary-key",
                &kp,
                format!("dictionary key '{key}' must be 1 to 250 ASCII characters of a-z, A-Z, 0-9, '_' or '-'"),
            );
        }
        if let DictValues::StartupInfo = values {
            match startup_info_value_ok(key, val) {
                None => cx.error(
                    "dictionary-key",
                    &kp,
                    format!("'{name}': '{key}' is not a member of the STARTUPINFO structure"),
                ),
                Some(false) => cx.error(
                    "property-type",
                    &kp,
                    format!("'{name}': '{key}' has the wrong type ({})", kind(val)),
                ),
                Some(true) => {}
            }
            continue;
        }
        let ok = match values {
            DictValues::StartupInfo => true,
            DictValues::Str => val.is_string(),
            DictValues::Int => val.is_i64() || val.is_u64(),
            DictValues::StrOrInt => val.is_string() || val.is_i64() || val.is_u64(),
            DictValues::StrOrStrList => {
                val.is_string()
                    || val
                        .as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
            }
        };
        if !ok {
            let want = match values {
                DictValues::StartupInfo => "",
                DictValues::Str => "a string",
                DictValues::Int => "an integer",
                DictValues::StrOrInt => "a string or an integer",
                DictValues::StrOrStrList => "a list of strings",
            };
            cx.error(
                "property-type",
                &kp,
                format!(
                    "'{name}': the value of '{key}' must be {want}, not {}",
                    kind(val)
                ),
            );
        }
    }
}

/// The types a reference held by an SCO-only property may not name: the predefined SDOs,
/// SROs and meta objects.
fn is_non_sco_type(t: &str) -> bool {
    super::in_sorted(super::vocab::SDO_SRO_META_TYPES, t)
}

/// MUSTs on one object that are not about a single property's type.
pub(super) fn object_musts(t: &str, map: &Map<String, Value>, p: &P<'_>, cx: &mut Cx<'_, '_>) {
    match t {
        "relationship" => {
            if let Some(Value::String(rt)) = map.get("relationship_type")
                && (rt.is_empty()
                    || !rt
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'))
            {
                cx.error(
                    "relationship-type",
                    &p.key("relationship_type"),
                    format!("relationship_type: '{rt}' must contain only a-z, 0-9 and '-'"),
                );
            }
        }
        "observed-data" => {
            if let Some(Value::Array(refs)) = map.get("object_refs") {
                let op = p.key("object_refs");
                let mut any_sco = false;
                for (i, r) in refs.iter().enumerate() {
                    let Some(ident) = r.as_str().and_then(super::Identifier::parse) else {
                        continue;
                    };
                    let ty = ident.object_type;
                    if matches!(ty, "relationship" | "sighting") {
                        continue;
                    }
                    if is_non_sco_type(ty) {
                        // bundle, marking-definition, … are reported by validate_observed_data.
                        if !matches!(
                            ty,
                            "bundle"
                                | "language-content"
                                | "marking-definition"
                                | "extension-definition"
                        ) {
                            cx.error(
                                "ref-type",
                                &op.idx(i),
                                format!("'object_refs' must refer to SCOs or SROs, not '{ty}'"),
                            );
                        }
                        continue;
                    }
                    any_sco = true;
                }
                let all_parsed = refs
                    .iter()
                    .all(|r| r.as_str().and_then(super::Identifier::parse).is_some());
                if !any_sco && all_parsed && !refs.is_empty() {
                    cx.error(
                        "ref-type",
                        &op,
                        "'object_refs' must contain at least one SCO reference".into(),
                    );
                }
            }
        }
        "malware-analysis" => {
            if let Some(Value::Array(refs)) = map.get("analysis_sco_refs") {
                for (i, r) in refs.iter().enumerate() {
                    if let Some(ident) = r.as_str().and_then(super::Identifier::parse)
                        && is_non_sco_type(ident.object_type)
                    {
                        cx.error(
                            "ref-type",
                            &p.key("analysis_sco_refs").idx(i),
                            format!(
                                "'analysis_sco_refs' must refer to SCOs only, not '{}'",
                                ident.object_type
                            ),
                        );
                    }
                }
            }
        }
        "extension-definition" => {
            let toplevel = map
                .get("extension_types")
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter()
                        .any(|x| x.as_str() == Some("toplevel-property-extension"))
                });
            if map.contains_key("extension_properties") && !toplevel {
                cx.error(
                    "extension-properties",
                    &p.key("extension_properties"),
                    "'extension_properties' may only be used when 'extension_types' contains 'toplevel-property-extension'".into(),
                );
            }
        }
        _ => {}
    }
}

/// Properties the interoperability profile (stix2-validator's `--interop`) requires, per type,
/// beyond the specification's. Where the reference's profile misspells a property
/// (`architecture_exectuion_envs`, `capabiliites`, `external_references:`), the property it
/// means is required.
pub(super) fn interop_required(t: &str) -> &'static [&'static str] {
    match t {
        "attack-pattern" => &["external_references", "kill_chain_phases", "created_by_ref"],
        "campaign" | "course-of-action" | "grouping" | "note" | "opinion" | "relationship" => {
            &["created_by_ref"]
        }
        "indicator" => &["name", "indicator_types", "created_by_ref"],
        "infrastructure" => &["infrastructure_types", "created_by_ref"],
        "intrusion-set" => &["resource_level", "primary_motivation", "created_by_ref"],
        "location" => &["region", "created_by_ref"],
        "malware-analysis" => &[
            "version",
            "submitted",
            "analysis_started",
            "analysis_ended",
            "result",
            "created_by_ref",
        ],
        "malware" => &[
            "name",
            "malware_types",
            "first_seen",
            "last_seen",
            "architecture_execution_envs",
            "implementation_languages",
            "capabilities",
            "created_by_ref",
        ],
        "observed-data" => &["object_refs", "created_by_ref"],
        "report" => &["report_types", "created_by_ref"],
        "sighting" => &["first_seen", "last_seen", "count", "created_by_ref"],
        "threat-actor" => &[
            "threat_actor_types",
            "roles",
            "sophistication",
            "resource_level",
            "primary_motivation",
            "created_by_ref",
        ],
        "tool" => &["tool_types", "created_by_ref"],
        "vulnerability" => &["external_references", "created_by_ref"],
        _ => &[],
    }
}
