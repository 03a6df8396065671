//! A small client of an OpenAI-compatible chat endpoint (`<MITAI_AI_URL>/chat/completions`).
//!
//! One request per call: `POST` with the bearer key, the model and the messages; the answer
//! is `choices[0].message.content`. Every failure — no connection, a timeout, a status other
//! than 2xx, a body that is not the expected JSON or is too large — is an [`AiError`], which
//! the service turns into `502 ai_failed` after giving back what it reserved.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::AiConfig;

/// The most an answer's body may be.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Message {
        Message {
            role: "system",
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: "user",
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Message {
        Message {
            role: "assistant",
            content: content.into(),
        }
    }
}

/// Why a call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AiError {
    #[error("the AI provider did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the AI provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the AI provider answered HTTP {0}")]
    Status(u16),
    #[error("the AI provider's answer is malformed: {0}")]
    Malformed(String),
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    temperature: f32,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

/// The configured provider. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct AiClient {
    http: reqwest::Client,
    endpoint: String,
    key: Option<String>,
    model: String,
    timeout: Duration,
}

impl AiClient {
    pub fn new(config: &AiConfig) -> anyhow::Result<AiClient> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("mitai/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(AiClient {
            http,
            endpoint: format!("{}/chat/completions", config.url.trim_end_matches('/')),
            key: config.key.clone(),
            model: config.model.clone(),
            timeout: config.timeout,
        })
    }

    /// The model asked for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// One chat completion: the assistant's answer, trimmed and not empty.
    pub async fn chat(&self, messages: &[Message]) -> Result<String, AiError> {
        let body = ChatRequest {
            model: &self.model,
            messages,
            temperature: 0.3,
        };
        let mut request = self.http.post(&self.endpoint).json(&body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AiError::Status(status.as_u16()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(AiError::Malformed("the answer is larger than 1 MiB".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        let parsed: ChatResponse = serde_json::from_slice(&bytes)
            .map_err(|e| AiError::Malformed(format!("not a chat completion: {e}")))?;
        let content = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .map(|c| c.trim().replace('\0', ""))
            .unwrap_or_default();
        if content.is_empty() {
            return Err(AiError::Malformed("no answer in choices[0].message".into()));
        }
        Ok(content)
    }

    fn transport(&self, e: reqwest::Error) -> AiError {
        if e.is_timeout() {
            AiError::Timeout(self.timeout)
        } else if e.is_decode() || e.is_body() {
            AiError::Malformed(e.to_string())
        } else {
            // Without the URL: it may carry credentials.
            AiError::Unreachable(e.without_url().to_string())
        }
    }
}
