import APIKeysClient

/// The client's credential type, named apart from the domain's `Credential` for files that import both.
typealias ClientCredential = Credential
