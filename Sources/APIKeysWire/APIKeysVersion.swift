/// The release of apikeys, the same for apikeysd, apikeys and apikeys-conformance: every
/// binary links this target, so `--version` and Health/Check can never disagree.
public enum APIKeysVersion {
    public static let current = "0.1.0"
}
