//! The musicdl image tool as a library, so xtask/tests can drive its modules.

pub mod base;
pub mod build;
pub mod check;
pub mod context;
pub mod docker_test;
pub mod docs;
pub mod engine;
pub mod manifest;
pub mod pytest;
pub mod report;
pub mod size;
