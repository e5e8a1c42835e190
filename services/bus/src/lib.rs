//! gridloop-bus
