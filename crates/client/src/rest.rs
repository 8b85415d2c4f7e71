//! `TrackingStore` over MLflow's REST API.

use async_trait::async_trait;
use ferroflow_core::entities::{
    DatasetInput, DatasetSummary, Experiment, LifecycleStage, LoggedModel, LoggedModelStatus,
    Metric, ModelInput, ModelOutput, Page, Param, Point, Run, RunInfo, Tag,
};
use ferroflow_core::{Error, ErrorCode, Result};
use ferroflow_store::{
    Batch, CreateLoggedModel, CreateRun, ExperimentSearch, Garbage, LoggedModelSearch,
    MetricHistory, RunSearch, RunUpdate, TrackingStore,
};
use futures_util::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// How to authenticate, from `MLFLOW_TRACKING_TOKEN` or `MLFLOW_TRACKING_USERNAME`/`PASSWORD`.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub insecure_tls: bool,
}

#[derive(Clone)]
pub struct RestStore {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) creds: Credentials,
}

fn transport(base: &str, e: reqwest::Error) -> Error {
    Error::new(
        ErrorCode::TEMPORARILY_UNAVAILABLE,
        format!("Cannot reach the tracking server at {base}: {e}"),
    )
}

impl RestStore {
    pub fn new(base: &str, creds: Credentials) -> Result<RestStore> {
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(creds.insecure_tls)
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(RestStore {
            http,
            base: base.trim_end_matches('/').to_string(),
            creds,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.creds.token {
            rb = rb.bearer_auth(t);
        } else if let Some(u) = &self.creds.username {
            rb = rb.basic_auth(u, self.creds.password.as_deref());
        }
        rb
    }

    /// Turns a non-success response into the server's MLflow error.
    pub(crate) async fn check(&self, resp: reqwest::Response) -> Result<reqwest::Response> {
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if let Ok(v) = serde_json::from_str::<Value>(&text)
            && let (Some(code), Some(msg)) = (
                v.get("error_code").and_then(|c| c.as_str()),
                v.get("message").and_then(|m| m.as_str()),
            )
        {
            return Err(Error::new(
                ErrorCode::parse(code).unwrap_or(ErrorCode::INTERNAL_ERROR),
                msg,
            ));
        }
        let code = match status.as_u16() {
            404 => ErrorCode::ENDPOINT_NOT_FOUND,
            401 => ErrorCode::UNAUTHENTICATED,
            403 => ErrorCode::PERMISSION_DENIED,
            400..=499 => ErrorCode::BAD_REQUEST,
            _ => ErrorCode::INTERNAL_ERROR,
        };
        Err(Error::new(
            code,
            format!(
                "The tracking server answered {status}: {}",
                text.chars().take(300).collect::<String>()
            ),
        ))
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        body: Value,
    ) -> Result<T> {
        self.call_at("api", method, endpoint, body).await
    }

    /// A call to one of the routes MLflow serves under `/ajax-api` only.
    pub(crate) async fn call_ajax<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        body: Value,
    ) -> Result<T> {
        self.call_at("ajax-api", method, endpoint, body).await
    }

    async fn call_at<T: DeserializeOwned>(
        &self,
        prefix: &str,
        method: Method,
        endpoint: &str,
        body: Value,
    ) -> Result<T> {
        let path = format!("/{prefix}/2.0/mlflow/{endpoint}");
        let rb = self.request(method.clone(), &path);
        let rb = if method == Method::GET {
            rb.query(&query_pairs(&body))
        } else {
            rb.json(&body)
        };
        let resp = rb.send().await.map_err(|e| transport(&self.base, e))?;
        let resp = self.check(resp).await?;
        let text = resp.text().await.map_err(|e| transport(&self.base, e))?;
        let text = if text.trim().is_empty() {
            "{}".to_string()
        } else {
            text
        };
        serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("Unexpected answer from {endpoint}: {e}")))
    }

    pub(crate) async fn post(&self, endpoint: &str, body: Value) -> Result<()> {
        let _: Value = self.call(Method::POST, endpoint, body).await?;
        Ok(())
    }
}

/// A JSON object as query pairs; arrays repeat their key.
fn query_pairs(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(m) = body {
        for (k, v) in m {
            match v {
                Value::Null => {}
                Value::Array(a) => out.extend(a.iter().map(|x| (k.clone(), scalar(x)))),
                other => out.push((k.clone(), scalar(other))),
            }
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct ExperimentResp {
    experiment: Experiment,
}
#[derive(Deserialize, Default)]
struct ExperimentsResp {
    #[serde(default)]
    experiments: Vec<Experiment>,
    next_page_token: Option<String>,
}
#[derive(Deserialize)]
struct RunResp {
    run: Run,
}
#[derive(Deserialize, Default)]
struct RunsResp {
    #[serde(default)]
    runs: Vec<Run>,
    next_page_token: Option<String>,
}
#[derive(Deserialize, Default)]
struct MetricsResp {
    #[serde(default)]
    metrics: Vec<Metric>,
    next_page_token: Option<String>,
}
#[derive(Deserialize)]
struct ModelResp {
    model: LoggedModel,
}
#[derive(Deserialize, Default)]
struct ModelsResp {
    #[serde(default)]
    models: Vec<LoggedModel>,
    next_page_token: Option<String>,
}

fn kv(items: &[Tag]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

fn metric_json(m: &Metric) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

#[async_trait]
impl TrackingStore for RestStore {
    async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<String> {
        #[derive(Deserialize)]
        struct R {
            experiment_id: String,
        }
        let r: R = self
            .call(
                Method::POST,
                "experiments/create",
                json!({"name": name, "artifact_location": artifact_location, "tags": kv(&tags)}),
            )
            .await?;
        Ok(r.experiment_id)
    }
    async fn get_experiment(&self, id: &str) -> Result<Experiment> {
        let r: ExperimentResp = self
            .call(Method::GET, "experiments/get", json!({"experiment_id": id}))
            .await?;
        Ok(r.experiment)
    }
    async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        match self
            .call::<ExperimentResp>(
                Method::GET,
                "experiments/get-by-name",
                json!({"experiment_name": name}),
            )
            .await
        {
            Ok(r) => Ok(Some(r.experiment)),
            Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => Ok(None),
            Err(e) => Err(e),
        }
    }
    async fn search_experiments(&self, s: ExperimentSearch) -> Result<Page<Experiment>> {
        let r: ExperimentsResp = self
            .call(
                Method::POST,
                "experiments/search",
                json!({"filter": s.filter, "view_type": s.view.as_str(), "max_results": s.max_results, "order_by": s.order_by, "page_token": s.page_token}),
            )
            .await?;
        Ok(Page {
            items: r.experiments,
            next_page_token: r.next_page_token,
        })
    }
    async fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        self.post(
            "experiments/update",
            json!({"experiment_id": id, "new_name": new_name}),
        )
        .await
    }
    async fn set_experiment_lifecycle(&self, id: &str, stage: LifecycleStage) -> Result<()> {
        let ep = if stage == LifecycleStage::Deleted {
            "experiments/delete"
        } else {
            "experiments/restore"
        };
        self.post(ep, json!({"experiment_id": id})).await
    }
    async fn set_experiment_tag(&self, id: &str, tag: Tag) -> Result<()> {
        self.post(
            "experiments/set-experiment-tag",
            json!({"experiment_id": id, "key": tag.key, "value": tag.value}),
        )
        .await
    }
    async fn delete_experiment_tag(&self, id: &str, key: &str) -> Result<()> {
        self.post(
            "experiments/delete-experiment-tag",
            json!({"experiment_id": id, "key": key}),
        )
        .await
    }

    async fn create_run(&self, req: CreateRun) -> Result<Run> {
        let r: RunResp = self
            .call(
                Method::POST,
                "runs/create",
                json!({"experiment_id": req.experiment_id, "user_id": req.user_id, "run_name": req.run_name, "start_time": req.start_time, "tags": kv(&req.tags)}),
            )
            .await?;
        Ok(r.run)
    }
    async fn get_run(&self, run_id: &str) -> Result<Run> {
        let r: RunResp = self
            .call(Method::GET, "runs/get", json!({"run_id": run_id}))
            .await?;
        Ok(r.run)
    }
    async fn update_run(&self, run_id: &str, u: RunUpdate) -> Result<RunInfo> {
        #[derive(Deserialize)]
        struct R {
            run_info: RunInfo,
        }
        let r: R = self
            .call(
                Method::POST,
                "runs/update",
                json!({"run_id": run_id, "status": u.status.map(|s| s.as_str()), "end_time": u.end_time, "run_name": u.run_name}),
            )
            .await?;
        Ok(r.run_info)
    }
    async fn set_run_lifecycle(&self, run_id: &str, stage: LifecycleStage) -> Result<()> {
        let ep = if stage == LifecycleStage::Deleted {
            "runs/delete"
        } else {
            "runs/restore"
        };
        self.post(ep, json!({"run_id": run_id})).await
    }
    async fn log_batch(&self, run_id: &str, b: Batch) -> Result<()> {
        let metrics: Vec<Value> = b.metrics.iter().map(metric_json).collect();
        self.post("runs/log-batch", json!({"run_id": run_id, "metrics": metrics, "params": kv(&b.params), "tags": kv(&b.tags)})).await
    }
    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.post("runs/delete-tag", json!({"run_id": run_id, "key": key}))
            .await
    }
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> Result<()> {
        self.post(
            "runs/log-inputs",
            json!({"run_id": run_id, "datasets": datasets, "models": models}),
        )
        .await
    }
    async fn log_outputs(&self, run_id: &str, models: Vec<ModelOutput>) -> Result<()> {
        self.post("runs/outputs", json!({"run_id": run_id, "models": models}))
            .await
    }
    async fn search_runs(&self, s: RunSearch) -> Result<Page<Run>> {
        let r: RunsResp = self
            .call(
                Method::POST,
                "runs/search",
                json!({"experiment_ids": s.experiment_ids, "filter": s.filter, "run_view_type": s.view.as_str(), "max_results": s.max_results, "order_by": s.order_by, "page_token": s.page_token}),
            )
            .await?;
        Ok(Page {
            items: r.runs,
            next_page_token: r.next_page_token,
        })
    }
    async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<String>,
    ) -> Result<MetricHistory> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let r: MetricsResp = self
            .call(Method::GET, "metrics/get-history", json!({"run_id": run_id, "metric_key": key, "max_results": max_results, "page_token": page_token}))
            .await?;
        let _ = tx.send(r.next_page_token);
        let points: Vec<Point> = r
            .metrics
            .iter()
            .map(|m| Point {
                value: m.value,
                timestamp: m.timestamp,
                step: m.step,
            })
            .collect();
        Ok(MetricHistory {
            points: futures_util::stream::once(async move { Ok(points) }).boxed(),
            next_page_token: rx,
        })
    }
    async fn metric_history_bulk(
        &self,
        run_ids: &[String],
        key: &str,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        // Served under /ajax-api only, as by MLflow.
        let r: MetricsResp = self
            .call_ajax(
                Method::GET,
                "metrics/get-history-bulk",
                json!({"run_id": run_ids, "metric_key": key, "max_results": max_results}),
            )
            .await?;
        Ok(r.metrics)
    }
    async fn search_dataset_summaries(
        &self,
        experiment_ids: &[String],
    ) -> Result<Vec<DatasetSummary>> {
        #[derive(serde::Deserialize)]
        struct Resp {
            #[serde(default)]
            dataset_summaries: Vec<DatasetSummary>,
        }
        let r: Resp = self
            .call_ajax(
                Method::POST,
                "experiments/search-datasets",
                json!({"experiment_ids": experiment_ids}),
            )
            .await?;
        Ok(r.dataset_summaries)
    }
    async fn metric_history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        start: Option<i64>,
        end: Option<i64>,
        max_results: i64,
    ) -> Result<Vec<Metric>> {
        let r: MetricsResp = self
            .call(
                Method::GET,
                "metrics/get-history-bulk-interval",
                json!({"run_ids": run_ids, "metric_key": key, "start_step": start, "end_step": end, "max_results": max_results}),
            )
            .await?;
        Ok(r.metrics)
    }

    async fn create_logged_model(&self, req: CreateLoggedModel) -> Result<LoggedModel> {
        let r: ModelResp = self
            .call(
                Method::POST,
                "logged-models",
                json!({"experiment_id": req.experiment_id, "name": req.name, "model_type": req.model_type, "source_run_id": req.source_run_id, "params": kv(&req.params), "tags": kv(&req.tags)}),
            )
            .await?;
        Ok(r.model)
    }
    async fn get_logged_model(&self, id: &str) -> Result<LoggedModel> {
        let r: ModelResp = self
            .call(Method::GET, &format!("logged-models/{id}"), json!({}))
            .await?;
        Ok(r.model)
    }
    async fn finalize_logged_model(
        &self,
        id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        let r: ModelResp = self
            .call(
                Method::PATCH,
                &format!("logged-models/{id}"),
                json!({"model_id": id, "status": status.as_str()}),
            )
            .await?;
        Ok(r.model)
    }
    async fn delete_logged_model(&self, id: &str) -> Result<()> {
        let _: Value = self
            .call(Method::DELETE, &format!("logged-models/{id}"), json!({}))
            .await?;
        Ok(())
    }
    async fn set_logged_model_tags(&self, id: &str, tags: Vec<Tag>) -> Result<()> {
        let _: Value = self
            .call(
                Method::PATCH,
                &format!("logged-models/{id}/tags"),
                json!({"tags": kv(&tags)}),
            )
            .await?;
        Ok(())
    }
    async fn delete_logged_model_tag(&self, id: &str, key: &str) -> Result<()> {
        let _: Value = self
            .call(
                Method::DELETE,
                &format!("logged-models/{id}/tags/{key}"),
                json!({}),
            )
            .await?;
        Ok(())
    }
    async fn log_logged_model_params(&self, id: &str, params: Vec<Param>) -> Result<()> {
        self.post(
            &format!("logged-models/{id}/params"),
            json!({"params": kv(&params)}),
        )
        .await
    }
    async fn search_logged_models(&self, s: LoggedModelSearch) -> Result<Page<LoggedModel>> {
        let order: Vec<Value> = s
            .order_by
            .iter()
            .map(|(f, a)| json!({"field_name": f, "ascending": a}))
            .collect();
        let datasets: Vec<Value> = s
            .datasets
            .iter()
            .map(|(name, digest)| json!({"dataset_name": name, "dataset_digest": digest}))
            .collect();
        let r: ModelsResp = self
            .call(
                Method::POST,
                "logged-models/search",
                json!({"experiment_ids": s.experiment_ids, "filter": s.filter, "datasets": datasets, "order_by": order, "max_results": s.max_results, "page_token": s.page_token}),
            )
            .await?;
        Ok(Page {
            items: r.models,
            next_page_token: r.next_page_token,
        })
    }

    async fn garbage(&self, _older_than_ms: Option<i64>) -> Result<Garbage> {
        Err(remote_gc())
    }
    async fn purge_run(&self, _run_id: &str) -> Result<()> {
        Err(remote_gc())
    }
    async fn purge_experiment(&self, _id: &str) -> Result<()> {
        Err(remote_gc())
    }
}

fn remote_gc() -> Error {
    Error::invalid_param(
        "Permanent deletion needs direct access to the database: run `ferroflow gc --backend-store-uri <database URI>` on the server's machine",
    )
}
