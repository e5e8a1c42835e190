//! gridloop-dispatch
