//! The wire format: requests are built with `async-openai`'s chat types (JSON output mode,
//! `max_tokens`, non-streaming); responses and error bodies are read with DeepSeek-specific types
//! because DeepSeek adds fields (`prompt_cache_hit_tokens`, finish reason
//! `insufficient_system_resource`, `reasoning_content`) that the OpenAI types do not carry.

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, CreateChatCompletionRequest, ResponseFormat,
};
use ingenio_app_specs::TokenUsage;
use serde::Deserialize;

/// One message of the conversation, kept simple so the corrective retry can append to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Msg {
    System(String),
    User(String),
    Assistant(String),
}

impl Msg {
    fn to_openai(&self) -> ChatCompletionRequestMessage {
        match self {
            Msg::System(text) => {
                ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                    content: ChatCompletionRequestSystemMessageContent::Text(text.clone()),
                    name: None,
                })
            }
            Msg::User(text) => {
                ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
                    content: ChatCompletionRequestUserMessageContent::Text(text.clone()),
                    name: None,
                })
            }
            Msg::Assistant(text) => {
                ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                    content: Some(ChatCompletionRequestAssistantMessageContent::Text(
                        text.clone(),
                    )),
                    ..Default::default()
                })
            }
        }
    }
}

/// The `POST /chat/completions` body: JSON output mode, non-streaming.
#[allow(deprecated)] // `max_tokens` is what DeepSeek reads (OpenAI renamed it `max_completion_tokens`)
pub(crate) fn build_request(
    model: &str,
    messages: &[Msg],
    max_tokens: u32,
    temperature: f32,
) -> CreateChatCompletionRequest {
    CreateChatCompletionRequest {
        model: model.to_owned(),
        messages: messages.iter().map(Msg::to_openai).collect(),
        response_format: Some(ResponseFormat::JsonObject),
        max_tokens: Some(max_tokens),
        // deepseek-reasoner ignores sampling parameters; leave them out for it.
        temperature: (!model.contains("reasoner")).then_some(temperature),
        stream: Some(false),
        ..Default::default()
    }
}

/// A `chat.completion` object as DeepSeek sends it (only what the adapter reads).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChatResponse {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub message: Option<ChoiceMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChoiceMessage {
    #[serde(default)]
    pub content: Option<String>,
}

/// DeepSeek's usage object (OpenAI's plus the context-cache figures).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default)]
    pub prompt_cache_hit_tokens: u64,
    #[serde(default)]
    pub prompt_cache_miss_tokens: u64,
}

impl From<Usage> for TokenUsage {
    fn from(u: Usage) -> Self {
        TokenUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
            prompt_cache_hit_tokens: u.prompt_cache_hit_tokens,
            prompt_cache_miss_tokens: u.prompt_cache_miss_tokens,
        }
    }
}

impl ChatResponse {
    /// Parses a 200 body. DeepSeek may send empty lines before the JSON while the request waits;
    /// JSON allows leading whitespace, so they are simply skipped.
    pub(crate) fn parse(body: &[u8]) -> Result<ChatResponse, String> {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("empty response body".to_owned());
        }
        serde_json::from_str(trimmed).map_err(|e| format!("malformed chat.completion body: {e}"))
    }

    /// The first choice's content (empty when absent) and finish reason.
    pub(crate) fn first(&self) -> (String, Option<String>) {
        match self.choices.first() {
            Some(choice) => (
                choice
                    .message
                    .as_ref()
                    .and_then(|m| m.content.clone())
                    .unwrap_or_default(),
                choice.finish_reason.clone(),
            ),
            None => (String::new(), None),
        }
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
}

/// DeepSeek's error message from an error body (`{"error":{"message":..}}`), else the raw text
/// (shortened).
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        if !parsed.error.message.is_empty() {
            return parsed.error.message;
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no error message".to_owned();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn request_is_json_mode_with_max_tokens() {
        let req = build_request(
            "deepseek-chat",
            &[
                Msg::System("agent: plan\njson".into()),
                Msg::User("hi".into()),
                Msg::Assistant("x".into()),
            ],
            8192,
            0.7,
        );
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["response_format"]["type"], "json_object");
        assert_eq!(v["max_tokens"], 8192);
        assert_eq!(v["stream"], false);
        assert_eq!(v["messages"][0]["role"], "system");
        assert_eq!(v["messages"][1]["role"], "user");
        assert_eq!(v["messages"][2]["role"], "assistant");
        assert_eq!(v["messages"][2]["content"], "x");
    }

    #[test]
    fn response_with_leading_blank_lines_and_cache_usage() {
        let body = b"\n\n\n{\"id\":\"1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"{}\"},\"finish_reason\":\"insufficient_system_resource\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"total_tokens\":12,\"prompt_cache_hit_tokens\":8,\"prompt_cache_miss_tokens\":2}}";
        let r = ChatResponse::parse(body).unwrap();
        let (content, finish) = r.first();
        assert_eq!(content, "{}");
        assert_eq!(finish.as_deref(), Some("insufficient_system_resource"));
        let u: TokenUsage = r.usage.unwrap().into();
        assert_eq!(u.prompt_cache_hit_tokens, 8);
        assert!(ChatResponse::parse(b"\n\n").is_err());
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(br#"{"error":{"message":"Authentication Fails","type":"authentication_error","code":"invalid_request_error"}}"#),
            "Authentication Fails"
        );
        assert_eq!(error_message(b"bad gateway"), "bad gateway");
        assert_eq!(error_message(b""), "no error message");
    }
}
