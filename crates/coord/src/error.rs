//! Errors of the builders (strict writer), readers (tolerant reader), DISARM import and workflow.

use thiserror::Error;

/// A builder was asked to write something the specification or the extension's schema forbids.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A required property is missing or empty.
    #[error("{object}: `{property}` is required")]
    Missing {
        /// The object type being written.
        object: &'static str,
        /// The property.
        property: &'static str,
    },
    /// A property holds a value outside its allowed range or form.
    #[error("{object}: `{property}` {reason}")]
    Invalid {
        /// The object type being written.
        object: &'static str,
        /// The property.
        property: &'static str,
        /// Why the value is refused.
        reason: String,
    },
}

impl BuildError {
    pub(crate) fn invalid(
        object: &'static str,
        property: &'static str,
        reason: impl Into<String>,
    ) -> BuildError {
        BuildError::Invalid {
            object,
            property,
            reason: reason.into(),
        }
    }
}

/// An object could not be read as the type asked for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The value is not a JSON object.
    #[error("not a JSON object")]
    NotAnObject,
    /// The object is of another type.
    #[error("expected a `{expected}` object, found `{found}`")]
    WrongType {
        /// The type the reader handles.
        expected: &'static str,
        /// The type found (empty when absent).
        found: String,
    },
    /// A required property is missing.
    #[error("`{0}` is required")]
    Missing(String),
    /// A property has the wrong shape.
    #[error("`{property}`: {reason}")]
    Invalid {
        /// JSON pointer of the property.
        property: String,
        /// What is wrong.
        reason: String,
    },
}

/// The DISARM bundle could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DisarmError {
    /// The input is neither a bundle, an array of objects nor a single object.
    #[error("expected a STIX bundle or an array of STIX objects")]
    NotABundle,
    /// No DISARM technique was found in the input.
    #[error("no DISARM technique (attack-pattern with a DISARM external id) in the input")]
    NoTechniques,
    /// Two different STIX objects claim the same DISARM id.
    #[error("DISARM id {disarm_id} is claimed by both {first} and {second}")]
    DuplicateId {
        /// The DISARM id (`T0…` or `TA…`).
        disarm_id: String,
        /// The first STIX id seen.
        first: String,
        /// The second STIX id seen.
        second: String,
    },
}

/// A workflow step was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The object could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The transition is not allowed from the current status.
    #[error("{object}: cannot go from `{from}` to `{to}`")]
    Transition {
        /// `assistance-request` or `assistance-offer`.
        object: &'static str,
        /// The current status.
        from: String,
        /// The status asked for.
        to: String,
    },
    /// A new version must have a later `modified` than the current one.
    #[error("the new version's `modified` ({new}) must be later than the current one ({current})")]
    NotLater {
        /// The current `modified`.
        current: String,
        /// The proposed `modified`.
        new: String,
    },
    /// A guard of the transition is not met.
    #[error("{0}")]
    Guard(String),
}
