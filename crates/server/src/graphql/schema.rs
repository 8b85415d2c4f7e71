//! MLflow's GraphQL schema, as data: each object type's fields, their GraphQL names, the
//! key of the REST JSON they are read from, and their kind. Fields the JSON leaves out read
//! as their protobuf defaults (`""`, `"0"`, `false`, `[]`, an empty object), as MLflow's
//! resolvers read them from protobuf messages.

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    /// A 64-bit integer, sent as a string (MLflow's `LongString` scalar).
    Long,
    /// A double; NaN and infinities are `null`.
    Float,
    Bool,
    /// An enum, by its GraphQL type name.
    Enum(&'static str),
    /// Not in the REST answer (`apiError`): always `null`.
    Absent,
    Obj(&'static str),
    List(&'static str),
    StrList,
    /// Resolved by a further call: a run's `experiment` and `modelVersions`.
    RunExperiment,
    RunModelVersions,
}

/// `(graphql name, json key, kind)`.
pub type FieldDef = (&'static str, &'static str, Kind);

use Kind::*;

const KV: &[FieldDef] = &[("key", "key", Str), ("value", "value", Str)];
const API_ERROR: FieldDef = ("apiError", "apiError", Absent);

/// The fields of an object type, or `None` for a type that does not exist.
pub fn fields(ty: &str) -> Option<&'static [FieldDef]> {
    Some(match ty {
        "Test" | "TestMutation" => &[("output", "output", Str)],
        "ApiError" => &[
            ("code", "code", Str),
            ("message", "message", Str),
            ("helpUrl", "help_url", Str),
            ("traceId", "trace_id", Str),
            ("errorDetails", "error_details", List("ErrorDetail")),
        ],
        "ErrorDetail" => &[("field", "field", Str), ("message", "message", Str)],
        "MlflowGetExperimentResponse" => &[
            ("experiment", "experiment", Obj("MlflowExperiment")),
            API_ERROR,
        ],
        "MlflowExperiment" => &[
            ("experimentId", "experiment_id", Str),
            ("name", "name", Str),
            ("artifactLocation", "artifact_location", Str),
            ("lifecycleStage", "lifecycle_stage", Str),
            ("lastUpdateTime", "last_update_time", Long),
            ("creationTime", "creation_time", Long),
            ("tags", "tags", List("MlflowExperimentTag")),
            (
                "effectiveTraceArchivalRetention",
                "effective_trace_archival_retention",
                Str,
            ),
            ("workspace", "workspace", Str),
        ],
        "MlflowExperimentTag"
        | "MlflowParam"
        | "MlflowRunTag"
        | "MlflowInputTag"
        | "MlflowModelVersionTag" => KV,
        "MlflowGetRunResponse" => &[("run", "run", Obj("MlflowRunExtension")), API_ERROR],
        "MlflowSearchRunsResponse" => &[
            ("runs", "runs", List("MlflowRunExtension")),
            ("nextPageToken", "next_page_token", Str),
            API_ERROR,
        ],
        "MlflowRunExtension" => &[
            ("info", "info", Obj("MlflowRunInfo")),
            ("data", "data", Obj("MlflowRunData")),
            ("inputs", "inputs", Obj("MlflowRunInputs")),
            ("outputs", "outputs", Obj("MlflowRunOutputs")),
            ("experiment", "experiment", RunExperiment),
            ("modelVersions", "model_versions", RunModelVersions),
        ],
        "MlflowRunInfo" => &[
            ("runId", "run_id", Str),
            ("runUuid", "run_uuid", Str),
            ("runName", "run_name", Str),
            ("experimentId", "experiment_id", Str),
            ("userId", "user_id", Str),
            ("status", "status", Enum("MlflowRunStatus")),
            ("startTime", "start_time", Long),
            ("endTime", "end_time", Long),
            ("artifactUri", "artifact_uri", Str),
            ("lifecycleStage", "lifecycle_stage", Str),
        ],
        "MlflowRunData" => &[
            ("metrics", "metrics", List("MlflowMetricExtension")),
            ("params", "params", List("MlflowParam")),
            ("tags", "tags", List("MlflowRunTag")),
        ],
        "MlflowMetricExtension" | "MlflowModelMetric" => &[
            ("key", "key", Str),
            ("value", "value", Float),
            ("timestamp", "timestamp", Long),
            ("step", "step", Long),
            ("datasetName", "dataset_name", Str),
            ("datasetDigest", "dataset_digest", Str),
            ("modelId", "model_id", Str),
            ("runId", "run_id", Str),
        ],
        "MlflowRunInputs" => &[
            (
                "datasetInputs",
                "dataset_inputs",
                List("MlflowDatasetInput"),
            ),
            ("modelInputs", "model_inputs", List("MlflowModelInput")),
        ],
        "MlflowDatasetInput" => &[
            ("tags", "tags", List("MlflowInputTag")),
            ("dataset", "dataset", Obj("MlflowDataset")),
        ],
        "MlflowDataset" => &[
            ("name", "name", Str),
            ("digest", "digest", Str),
            ("sourceType", "source_type", Str),
            ("source", "source", Str),
            ("schema", "schema", Str),
            ("profile", "profile", Str),
        ],
        "MlflowModelInput" => &[("modelId", "model_id", Str)],
        "MlflowRunOutputs" => &[("modelOutputs", "model_outputs", List("MlflowModelOutput"))],
        "MlflowModelOutput" => &[("modelId", "model_id", Str), ("step", "step", Long)],
        "MlflowGetMetricHistoryBulkIntervalResponse" => &[
            ("metrics", "metrics", List("MlflowMetricWithRunId")),
            API_ERROR,
        ],
        "MlflowMetricWithRunId" => &[
            ("key", "key", Str),
            ("value", "value", Float),
            ("timestamp", "timestamp", Long),
            ("step", "step", Long),
            ("runId", "run_id", Str),
        ],
        "MlflowListArtifactsResponse" => &[
            ("rootUri", "root_uri", Str),
            ("files", "files", List("MlflowFileInfo")),
            ("nextPageToken", "next_page_token", Str),
            API_ERROR,
        ],
        "MlflowFileInfo" => &[
            ("path", "path", Str),
            ("isDir", "is_dir", Bool),
            ("fileSize", "file_size", Long),
        ],
        "MlflowSearchModelVersionsResponse" => &[
            (
                "modelVersions",
                "model_versions",
                List("MlflowModelVersion"),
            ),
            ("nextPageToken", "next_page_token", Str),
            API_ERROR,
        ],
        "MlflowModelVersion" => &[
            ("name", "name", Str),
            ("version", "version", Str),
            ("creationTimestamp", "creation_timestamp", Long),
            ("lastUpdatedTimestamp", "last_updated_timestamp", Long),
            ("userId", "user_id", Str),
            ("currentStage", "current_stage", Str),
            ("description", "description", Str),
            ("source", "source", Str),
            ("runId", "run_id", Str),
            ("status", "status", Enum("MlflowModelVersionStatus")),
            ("statusMessage", "status_message", Str),
            ("tags", "tags", List("MlflowModelVersionTag")),
            ("runLink", "run_link", Str),
            ("aliases", "aliases", StrList),
            ("modelId", "model_id", Str),
            ("modelParams", "model_params", List("MlflowModelParam")),
            ("modelMetrics", "model_metrics", List("MlflowModelMetric")),
            ("deploymentJobState", "deployment_job_state", Absent),
        ],
        "MlflowModelParam" => &[("name", "name", Str), ("value", "value", Str)],
        "MlflowSearchDatasetsResponse" => &[
            (
                "datasetSummaries",
                "dataset_summaries",
                List("MlflowDatasetSummary"),
            ),
            API_ERROR,
        ],
        "MlflowDatasetSummary" => &[
            ("experimentId", "experiment_id", Str),
            ("name", "name", Str),
            ("digest", "digest", Str),
            ("context", "context", Str),
        ],
        _ => return None,
    })
}

/// Where a root field's answer comes from: the REST call behind it.
#[derive(Debug, Clone, Copy)]
pub struct Root {
    pub name: &'static str,
    /// The answer's type.
    pub ty: &'static str,
    pub method: &'static str,
    /// The path under `/api/2.0/mlflow/` (or `/ajax-api/...` for `ajax`).
    pub endpoint: &'static str,
    pub ajax: bool,
}

const fn root(
    name: &'static str,
    ty: &'static str,
    method: &'static str,
    endpoint: &'static str,
) -> Root {
    Root {
        name,
        ty,
        method,
        endpoint,
        ajax: false,
    }
}

pub const QUERY: &[Root] = &[
    root(
        "mlflowGetExperiment",
        "MlflowGetExperimentResponse",
        "GET",
        "experiments/get",
    ),
    root(
        "mlflowGetMetricHistoryBulkInterval",
        "MlflowGetMetricHistoryBulkIntervalResponse",
        "GET",
        "metrics/get-history-bulk-interval",
    ),
    root("mlflowGetRun", "MlflowGetRunResponse", "GET", "runs/get"),
    root(
        "mlflowListArtifacts",
        "MlflowListArtifactsResponse",
        "GET",
        "artifacts/list",
    ),
    root(
        "mlflowSearchModelVersions",
        "MlflowSearchModelVersionsResponse",
        "GET",
        "model-versions/search",
    ),
    root(
        "mlflowSearchRuns",
        "MlflowSearchRunsResponse",
        "POST",
        "runs/search",
    ),
];

pub const MUTATION: &[Root] = &[
    Root {
        name: "mlflowSearchDatasets",
        ty: "MlflowSearchDatasetsResponse",
        method: "POST",
        endpoint: "experiments/search-datasets",
        ajax: true,
    },
    root(
        "mlflowSearchRuns",
        "MlflowSearchRunsResponse",
        "POST",
        "runs/search",
    ),
];
