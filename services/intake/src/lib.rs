//! gridloop-intake
