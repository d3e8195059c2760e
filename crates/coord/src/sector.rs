//! Victims on critical infrastructure: `identity` objects tagged with STIX `industry-sector-ov`
//! sectors, the NIS2 classification (Directive (EU) 2022/2555: sector, subsector, annex,
//! essential or important entity) in a property-extension, and a country.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{BuildError, ReadError};
use crate::ext;
use crate::object::{self, Common, Read, expect_type};

/// The 18 NIS2 sectors: slug, annex, default STIX `industry-sector-ov` values.
pub const NIS2_SECTORS: [(&str, Annex, &[&str]); 18] = [
    ("energy", Annex::I, &["energy", "utilities"]),
    ("transport", Annex::I, &["transportation"]),
    ("banking", Annex::I, &["financial-services"]),
    (
        "financial-market-infrastructures",
        Annex::I,
        &["financial-services"],
    ),
    ("health", Annex::I, &["healthcare"]),
    ("drinking-water", Annex::I, &["water", "utilities"]),
    ("waste-water", Annex::I, &["water", "utilities"]),
    (
        "digital-infrastructure",
        Annex::I,
        &["telecommunications", "technology"],
    ),
    ("ict-service-management", Annex::I, &["technology"]),
    ("public-administration", Annex::I, &["government-national"]),
    ("space", Annex::I, &["aerospace"]),
    ("postal-and-courier", Annex::II, &["transportation"]),
    ("waste-management", Annex::II, &["utilities"]),
    ("chemicals", Annex::II, &["chemical"]),
    ("food", Annex::II, &["agriculture", "manufacturing"]),
    ("manufacturing", Annex::II, &["manufacturing"]),
    ("digital-providers", Annex::II, &["technology"]),
    ("research", Annex::II, &["education"]),
];

/// STIX 2.1 `industry-sector-ov` (spec §10.12).
pub const INDUSTRY_SECTORS: [&str; 34] = [
    "agriculture",
    "aerospace",
    "automotive",
    "chemical",
    "commercial",
    "communications",
    "construction",
    "defense",
    "education",
    "energy",
    "entertainment",
    "financial-services",
    "government",
    "emergency-services",
    "government-local",
    "government-national",
    "government-public-services",
    "government-regional",
    "healthcare",
    "hospitality-leisure",
    "dams",
    "infrastructure",
    "insurance",
    "manufacturing",
    "mining",
    "non-profit",
    "nuclear",
    "pharmaceuticals",
    "retail",
    "technology",
    "telecommunications",
    "transportation",
    "utilities",
    "water",
];

/// NIS2 annex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Annex {
    /// Annex I: sectors of high criticality.
    #[serde(rename = "I")]
    I,
    /// Annex II: other critical sectors.
    #[serde(rename = "II")]
    II,
    /// Not in either annex.
    #[serde(rename = "none")]
    None,
}

/// NIS2 entity class (Art. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityClass {
    /// Essential entity.
    Essential,
    /// Important entity.
    Important,
    /// Outside NIS2.
    NotInScope,
    /// Not known.
    Unknown,
}

/// The annex and default STIX sectors of a NIS2 sector slug.
pub fn nis2_sector(slug: &str) -> Option<(Annex, &'static [&'static str])> {
    NIS2_SECTORS
        .iter()
        .find(|(s, _, _)| *s == slug)
        .map(|(_, a, stix)| (*a, *stix))
}

/// Reads a STIX sector, accepting spellings that are not `industry-sector-ov` values for the
/// values they mean: `government-emergency-services` (some libraries) for
/// `emergency-services`, and `infrastructure-dams`, `infrastructure-nuclear`,
/// `infrastructure-water` (earlier versions of this crate) for `dams`, `nuclear`, `water`.
pub fn normalise_industry_sector(s: &str) -> &str {
    match s {
        "government-emergency-services" => "emergency-services",
        "infrastructure-dams" => "dams",
        "infrastructure-nuclear" => "nuclear",
        "infrastructure-water" => "water",
        _ => s,
    }
}

/// The critical-infrastructure entity extension of `identity` (body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiEntity {
    /// Annex (derived from the sector when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis2_annex: Option<Annex>,
    /// NIS2 sector slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis2_sector: Option<String>,
    /// `sector/subsector`, e.g. `energy/electricity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis2_subsector: Option<String>,
    /// Essential or important.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nis2_entity_class: Option<EntityClass>,
    /// Critical entity under the CER Directive (EU) 2022/2557.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cer_critical_entity: Option<bool>,
    /// NACE codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nace_codes: Vec<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A victim organisation: an `identity` (class `organization`) with STIX sectors and the NIS2
/// extension.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Victim {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// STIX `industry-sector-ov` values; the NIS2 sector's defaults are added.
    pub sectors: Vec<String>,
    /// NIS2 classification.
    pub ci: CiEntity,
}

impl Victim {
    /// Writes the identity (strict): sectors from `industry-sector-ov` only, the NIS2 sector
    /// and subsector consistent, the annex matching the sector, the country two upper-case
    /// letters.
    pub fn build(&self, common: &Common) -> Result<Value, BuildError> {
        const T: &str = "identity";
        if self.name.trim().is_empty() {
            return Err(BuildError::Missing {
                object: T,
                property: "name",
            });
        }
        let mut ci = self.ci.clone();
        let mut sectors: Vec<String> = Vec::new();
        for s in &self.sectors {
            let s = normalise_industry_sector(s);
            if !INDUSTRY_SECTORS.contains(&s) {
                return Err(BuildError::invalid(
                    T,
                    "sectors",
                    format!("`{s}` is not in industry-sector-ov"),
                ));
            }
            if !sectors.iter().any(|x| x == s) {
                sectors.push(s.to_owned());
            }
        }
        if let Some(slug) = &ci.nis2_sector {
            let Some((annex, defaults)) = nis2_sector(slug) else {
                return Err(BuildError::invalid(
                    T,
                    "nis2_sector",
                    format!("`{slug}` is not a NIS2 sector"),
                ));
            };
            match ci.nis2_annex {
                None => ci.nis2_annex = Some(annex),
                Some(a) if a != annex => {
                    return Err(BuildError::invalid(
                        T,
                        "nis2_annex",
                        format!("{slug} is in annex {annex:?}"),
                    ));
                }
                Some(_) => {}
            }
            for d in defaults {
                if !sectors.iter().any(|x| x == d) {
                    sectors.push((*d).to_owned());
                }
            }
            if let Some(sub) = &ci.nis2_subsector {
                let ok = sub
                    .split_once('/')
                    .is_some_and(|(s, rest)| s == slug && !rest.is_empty());
                if !ok {
                    return Err(BuildError::invalid(
                        T,
                        "nis2_subsector",
                        format!("`{sub}` must be `{slug}/<subsector>`"),
                    ));
                }
            }
        } else if ci.nis2_subsector.is_some() {
            return Err(BuildError::invalid(
                T,
                "nis2_subsector",
                "needs nis2_sector",
            ));
        }
        if let Some(c) = &ci.country
            && !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(BuildError::invalid(
                T,
                "country",
                "must be an ISO 3166-1 alpha-2 code (two upper-case letters)",
            ));
        }
        let mut m = common.sdo(T)?;
        m.insert("name".into(), json!(self.name));
        object::put(&mut m, "description", &self.description);
        m.insert("identity_class".into(), json!("organization"));
        object::put_list(&mut m, "sectors", &sectors);
        if ci != CiEntity::default() {
            let mut exts = serde_json::Map::new();
            exts.insert(
                ext::CI_ENTITY.into(),
                object::extension_body(T, "property-extension", &ci)?,
            );
            m.insert("extensions".into(), Value::Object(exts));
        }
        Ok(Value::Object(m))
    }

    /// Reads an identity with (or without) the NIS2 extension.
    pub fn read(value: &Value) -> Result<Read<Victim>, ReadError> {
        let map = expect_type(value, "identity")?;
        let mut warnings = Vec::new();
        let sectors = object::str_list(map, "sectors")?
            .into_iter()
            .map(|s| {
                let n = normalise_industry_sector(&s).to_owned();
                if n != s {
                    warnings.push(format!("sector `{s}` read as `{n}`"));
                }
                n
            })
            .collect();
        let ci = match object::extension(map, ext::CI_ENTITY) {
            Some(b) => object::body(b)?,
            None => CiEntity::default(),
        };
        Ok(Read {
            header: object::header(map)?,
            body: Victim {
                name: object::req_str(map, "name")?,
                description: object::opt_str(map, "description")?,
                sectors,
                ci,
            },
            warnings,
        })
    }
}

/// A country `location` (for `located-at`). Prefer the shared OASIS location objects' ids when
/// known; this writes one for a country code.
pub fn country_location(common: &Common, country: &str) -> Result<Value, BuildError> {
    const T: &str = "location";
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(BuildError::invalid(
            T,
            "country",
            "must be an ISO 3166-1 alpha-2 code (two upper-case letters)",
        ));
    }
    let mut m = common.sdo(T)?;
    m.insert("name".into(), json!(country));
    m.insert("country".into(), json!(country));
    Ok(Value::Object(m))
}
