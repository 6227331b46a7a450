/// The release of this build, for `--version` and `Health/Check`.
public enum APIKeysVersion {
    public static let current = "0.1.0"
}
