//! gridloop-eventstore
