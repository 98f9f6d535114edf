//! An in-process S3 server for tests: `s3s` (protocol, SigV4 checks) over `s3s-fs` (a temporary
//! directory), served with hyper on 127.0.0.1 and torn down on drop.

use anyhow::Context;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A directory under the system temp dir, removed (with its contents) on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("create temp dir {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running S3 server that really checks request signatures (and presigned URLs) against
/// `access_key`/`secret_key`. Buckets live in a temporary directory; dropping the server stops
/// it, closes its connections and removes the directory.
#[derive(Debug)]
pub struct S3Server {
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    pub addr: SocketAddr,
    pub access_key: String,
    pub secret_key: String,
    /// The region clients should sign for.
    pub region: String,
    accept: JoinHandle<()>,
    dir: TempDir,
}

impl S3Server {
    /// Starts a server with fresh random credentials on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = TempDir::new("ingenio-s3")?;
        let fs = s3s_fs::FileSystem::new(dir.path())
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("open s3s-fs root")?;
        let access_key = format!("AK{}", uuid::Uuid::new_v4().simple());
        let secret_key = format!("SK{}", uuid::Uuid::new_v4().simple());
        let service = {
            let mut builder = S3ServiceBuilder::new(fs);
            builder.set_auth(SimpleAuth::from_single(
                access_key.clone(),
                secret_key.clone(),
            ));
            builder.build()
        };
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("bind s3 test server")?;
        let addr = listener.local_addr().context("s3 test server address")?;
        let accept = tokio::spawn(async move {
            // Dropping this set (when the task is aborted) aborts every open connection.
            let mut connections = JoinSet::new();
            loop {
                let socket = match listener.accept().await {
                    Ok((socket, _)) => socket,
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let service = service.clone();
                connections.spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            endpoint: format!("http://{addr}"),
            addr,
            access_key,
            secret_key,
            region: "us-east-1".to_owned(),
            accept,
            dir,
        })
    }

    /// The directory the objects are stored in (`<root>/<bucket>/<key>`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A random valid bucket name, so tests sharing a server do not share state.
    pub fn random_bucket() -> String {
        format!("test-{}", uuid::Uuid::new_v4().simple())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// An endpoint on which nothing listens (a port bound then released), to test outages.
pub async fn closed_endpoint() -> anyhow::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("bind probe port")?;
    let addr = listener.local_addr().context("probe port address")?;
    drop(listener);
    Ok(format!("http://{addr}"))
}
