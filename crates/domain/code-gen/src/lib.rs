//! Code-generation domain: pure renderers that turn an AppSpec into a file tree, deterministic zip
//! archives of those trees (same spec + same renderer version ⇒ the same bytes), and the port of
//! the object store that keeps them.

pub mod archive;
pub mod escape;
pub mod ports;
pub mod render;
pub mod samples;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tree;
mod view;

pub use archive::{ArchiveError, Artifact, BuildError, ZipIndex};
pub use ports::{ArtifactStore, ByteStream, StorageError};
pub use render::{renderer, renderer_names, renderers, RenderError, Renderer, DEFAULT_RENDERER};
pub use tree::{FileTree, RelPath, RelPathError};
