//! `RegistryStore` over MLflow's REST API.

use async_trait::async_trait;
use ferroflow_core::Result;
use ferroflow_core::entities::{ModelVersion, Page, RegisteredModel, Tag};
use ferroflow_store::{CreateModelVersion, RegistrySearch, RegistryStore};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::rest::RestStore;

#[derive(Deserialize)]
struct ModelResp {
    registered_model: RegisteredModel,
}

#[derive(Deserialize)]
struct VersionResp {
    model_version: ModelVersion,
}

#[derive(Deserialize)]
struct ModelsResp {
    #[serde(default)]
    registered_models: Vec<RegisteredModel>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct VersionsResp {
    #[serde(default)]
    model_versions: Vec<ModelVersion>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct DownloadResp {
    artifact_uri: String,
}

fn tags_json(tags: &[Tag]) -> Value {
    tags.iter()
        .map(|t| json!({"key": t.key, "value": t.value}))
        .collect()
}

fn search_json(s: &RegistrySearch) -> Value {
    json!({"filter": s.filter, "max_results": s.max_results, "order_by": s.order_by, "page_token": s.page_token})
}

impl RestStore {
    async fn model(&self, method: Method, endpoint: &str, body: Value) -> Result<RegisteredModel> {
        Ok(self
            .call::<ModelResp>(method, endpoint, body)
            .await?
            .registered_model)
    }

    async fn version(&self, method: Method, endpoint: &str, body: Value) -> Result<ModelVersion> {
        Ok(self
            .call::<VersionResp>(method, endpoint, body)
            .await?
            .model_version)
    }

    async fn send(&self, method: Method, endpoint: &str, body: Value) -> Result<()> {
        self.call::<Value>(method, endpoint, body).await.map(drop)
    }
}

#[async_trait]
impl RegistryStore for RestStore {
    async fn create_registered_model(
        &self,
        name: &str,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        let body = json!({"name": name, "tags": tags_json(&tags), "description": description});
        self.model(Method::POST, "registered-models/create", body)
            .await
    }
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.model(Method::GET, "registered-models/get", json!({"name": name}))
            .await
    }
    async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        self.model(
            Method::POST,
            "registered-models/rename",
            json!({"name": name, "new_name": new_name}),
        )
        .await
    }
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        self.model(
            Method::PATCH,
            "registered-models/update",
            json!({"name": name, "description": description}),
        )
        .await
    }
    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            "registered-models/delete",
            json!({"name": name}),
        )
        .await
    }
    async fn search_registered_models(&self, s: RegistrySearch) -> Result<Page<RegisteredModel>> {
        let r: ModelsResp = self
            .call(Method::GET, "registered-models/search", search_json(&s))
            .await?;
        Ok(Page {
            items: r.registered_models,
            next_page_token: r.next_page_token,
        })
    }
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<ModelVersion>> {
        let r: VersionsResp = self
            .call(
                Method::POST,
                "registered-models/get-latest-versions",
                json!({"name": name, "stages": stages}),
            )
            .await?;
        Ok(r.model_versions)
    }
    async fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()> {
        self.send(
            Method::POST,
            "registered-models/set-tag",
            json!({"name": name, "key": tag.key, "value": tag.value}),
        )
        .await
    }
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            "registered-models/delete-tag",
            json!({"name": name, "key": key}),
        )
        .await
    }

    async fn create_model_version(&self, req: CreateModelVersion) -> Result<ModelVersion> {
        let body = json!({
            "name": req.name, "source": req.source, "run_id": req.run_id, "model_id": req.model_id,
            "run_link": req.run_link, "description": req.description, "tags": tags_json(&req.tags),
        });
        self.version(Method::POST, "model-versions/create", body)
            .await
    }
    async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        self.version(
            Method::GET,
            "model-versions/get",
            json!({"name": name, "version": version}),
        )
        .await
    }
    async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        let body = json!({"name": name, "version": version, "description": description});
        self.version(Method::PATCH, "model-versions/update", body)
            .await
    }
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        let body = json!({"name": name, "version": version, "stage": stage, "archive_existing_versions": archive_existing_versions});
        self.version(Method::POST, "model-versions/transition-stage", body)
            .await
    }
    async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            "model-versions/delete",
            json!({"name": name, "version": version}),
        )
        .await
    }
    async fn search_model_versions(&self, s: RegistrySearch) -> Result<Page<ModelVersion>> {
        let r: VersionsResp = self
            .call(Method::GET, "model-versions/search", search_json(&s))
            .await?;
        Ok(Page {
            items: r.model_versions,
            next_page_token: r.next_page_token,
        })
    }
    async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        let r: DownloadResp = self
            .call(
                Method::GET,
                "model-versions/get-download-uri",
                json!({"name": name, "version": version}),
            )
            .await?;
        Ok(r.artifact_uri)
    }
    async fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()> {
        let body = json!({"name": name, "version": version, "key": tag.key, "value": tag.value});
        self.send(Method::POST, "model-versions/set-tag", body)
            .await
    }
    async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        let body = json!({"name": name, "version": version, "key": key});
        self.send(Method::DELETE, "model-versions/delete-tag", body)
            .await
    }

    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        let body = json!({"name": name, "alias": alias, "version": version});
        self.send(Method::POST, "registered-models/alias", body)
            .await
    }
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            "registered-models/alias",
            json!({"name": name, "alias": alias}),
        )
        .await
    }
    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.version(
            Method::GET,
            "registered-models/alias",
            json!({"name": name, "alias": alias}),
        )
        .await
    }
}
