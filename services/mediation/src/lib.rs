//! gridloop-mediation
