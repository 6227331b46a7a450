import APIKeysWire

/// What one call may set beyond its request: how long it may take, and extra metadata.
///
/// ```swift
/// try await client.verify(request, options: CallOptions(deadline: .now + .milliseconds(50)))
/// ```
public struct CallOptions: Sendable {
    /// How long the call may take; nil takes the client's `timeout`.
    public var timeout: Duration?
    /// When the call must be answered by; with a `timeout` too, the sooner wins.
    public var deadline: ContinuousClock.Instant?
    /// Request metadata (keys lower-case), over the credential's on the same key.
    public var metadata: [String: String]

    public init(timeout: Duration? = nil, deadline: ContinuousClock.Instant? = nil, metadata: [String: String] = [:]) {
        self.timeout = timeout
        self.deadline = deadline
        self.metadata = metadata
    }

    /// The timeout to send: the sooner of `timeout` (else `fallback`) and what is left until
    /// `deadline`. A deadline already passed fails here, sending nothing.
    func effectiveTimeout(default fallback: Duration?) throws(RPCError) -> Duration? {
        let timeout = self.timeout ?? fallback
        guard let deadline else { return timeout }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else {
            throw RPCError(code: .deadlineExceeded, message: "the call's deadline passed before it was sent")
        }
        guard let timeout else { return left }
        return min(timeout, left)
    }
}
