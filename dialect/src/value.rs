//! Records as sea-query values, for ORM backends that work with dynamic values.
