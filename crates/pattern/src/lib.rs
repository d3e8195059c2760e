//! STIX Patterning: lexer, parser with byte spans, semantic validation, inspection and an
//! evaluator with the full semantics of the STIX 2.1 specification.
//!
//! What it must never do: perform I/O, panic on any input, or run a regular expression in
//! super-linear time.
