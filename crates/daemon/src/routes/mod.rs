//! Routes: each handler parses its request, calls the engine, and renders
//! the answer. Error kinds become status codes here and nowhere else.

mod archive;
mod attach;
pub(crate) mod build;
mod commit;
mod containers;
mod distribution;
mod exec;
mod images;
mod networks;
mod resources;
pub(crate) mod swarm;
mod system;
mod volumes;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, head, post};
use axum::Router;
use berth_engine::distribution::{Message, ProgressSink};
use berth_engine::Engine;

use crate::server::error_response;

/// What most handlers need: the engine's services.
pub type AppState = Arc<Engine>;

/// The router's state; handlers take the part they need
/// (`State<AppState>` for the engine, `State<swarm::SwarmState>` for
/// swarm mode).
#[derive(Clone)]
pub struct Daemon {
    pub engine: Arc<Engine>,
    pub swarm: swarm::SwarmState,
}

impl FromRef<Daemon> for AppState {
    fn from_ref(d: &Daemon) -> AppState {
        d.engine.clone()
    }
}

impl FromRef<Daemon> for swarm::SwarmState {
    fn from_ref(d: &Daemon) -> swarm::SwarmState {
        d.swarm.clone()
    }
}

/// `berth_api::Error` as an HTTP answer: the kind's status, `{"message": ...}`.
pub struct ApiError(pub berth_api::Error);

impl From<berth_api::Error> for ApiError {
    fn from(e: berth_api::Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.0.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::NOT_MODIFIED {
            return Response::builder()
                .status(status)
                .body(Body::empty())
                .unwrap_or_default();
        }
        error_response(status, &self.0.message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn router(daemon: Daemon) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/events", get(system::events))
        .route("/system/df", get(system::df))
        .route("/containers/json", get(containers::list))
        .route("/containers/create", post(containers::create))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/update", post(resources::update))
        .route("/containers/{id}/stats", get(resources::stats))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/attach/ws", get(attach::attach_ws))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/changes", get(commit::changes))
        .route("/containers/{id}/export", get(commit::export))
        .route("/commit", post(commit::commit))
        .route("/build", post(build::build))
        .route("/build/prune", post(build::prune))
        .route("/containers/{id}", delete(containers::remove))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/auth", post(distribution::auth))
        .route("/distribution/{*rest}", get(distribution::inspect))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/load", post(images::load))
        .route("/images/get", get(images::save_many))
        .route("/images/prune", post(images::prune))
        .route("/images/search", get(distribution::search))
        .route(
            "/images/{*rest}",
            get(images::get_dispatch)
                .post(images::post_dispatch)
                .delete(images::remove),
        )
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route(
            "/containers/{id}/archive",
            head(archive::head).get(archive::get).put(archive::put),
        )
        .merge(swarm::router())
        .fallback(fallback)
        .with_state(daemon)
}

async fn fallback(req: axum::extract::Request) -> Response<Body> {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("page not found: {} {}", req.method(), req.uri().path()),
    )
}

/// A streaming body from a channel of chunks; headers go out at once.
pub fn stream_body(rx: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Body::from_stream(stream)
}

/// A `200` streaming what `job` reports as JSON lines, as dockerd's
/// long operations answer once they began; an error the job returns is
/// its last line (`errorDetail`), which the CLI prints.
pub fn progress_response<F>(job: impl FnOnce(ProgressSink) -> F) -> Response<Body>
where
    F: std::future::Future<Output = berth_api::Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let run = job(tx.clone());
    tokio::spawn(async move {
        if let Err(e) = run.await {
            let _ = tx.send(Message::error(e.message));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let m = rx.recv().await?;
        Some((Ok::<_, std::io::Error>(bytes::Bytes::from(m.to_line())), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// Runs a blocking engine call (SQLite, file I/O) off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> berth_api::Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(berth_api::Error::internal(e.to_string())))?
        .map_err(ApiError)
}

pub fn json_response<T: serde::Serialize>(status: StatusCode, v: &T) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_default()
}

/// A blocking `Write` into a streaming response's channel (save, export,
/// archive GET run their tar writers on blocking threads).
pub struct ChannelWriter(pub tokio::sync::mpsc::Sender<bytes::Bytes>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(bytes::Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
