//! Calendar arithmetic: filled in by the time work.
