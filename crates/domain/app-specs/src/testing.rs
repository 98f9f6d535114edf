//! In-memory fakes for tests (filled in as the domain grows).
