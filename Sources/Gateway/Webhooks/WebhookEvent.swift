/// The event types a webhook may subscribe to (`"*"`: all of them).
enum WebhookEvent {
    static let memoryCreated = "memory.created"
    static let memoryUpdated = "memory.updated"
    static let memoryDeleted = "memory.deleted"
    static let memoriesErased = "memories.erased"
    static let usageAlert = "usage.alert"
    static let apiKeyCreated = "api_key.created"
    static let apiKeyRotated = "api_key.rotated"
    static let apiKeyRevoked = "api_key.revoked"
    static let webhookTest = "webhook.test"
    static let all = "*"

    /// Every type of the contract, in its order.
    static let types = [
        memoryCreated, memoryUpdated, memoryDeleted, memoriesErased, usageAlert, apiKeyCreated, apiKeyRotated,
        apiKeyRevoked, webhookTest,
    ]
}
