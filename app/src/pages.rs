//! One module per page; `shell` is the signed-in layout around them.

pub mod auth;
pub mod builder;
pub mod consent;
pub mod dashboard;
pub mod developer;
pub mod flow_editor;
pub mod installed;
pub mod marketplace;
pub mod placeholder;
pub mod reference;
pub mod settings;
pub mod shell;
