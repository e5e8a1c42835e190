//! gridloop-evaluation
