//! IP networks: filled in by the CIDR work.
