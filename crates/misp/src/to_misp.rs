//! STIX 2.1 to a MISP feed (placeholder, filled in step 3).
