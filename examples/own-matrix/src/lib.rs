//! Nothing here: the crate exists to check profiles/app.sb (see tests/).
