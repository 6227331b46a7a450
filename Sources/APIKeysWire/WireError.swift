/// An error of the wire layer: bytes that are not a frame or not a message, or a
/// protocol rule broken. Equality ignores the message.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case badPreface, unsupportedVersion, frameTooLarge, malformedFrame, malformedMessage
            case messageTooComplex, protocolViolation, connectionClosed, invalidArgument
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The first 7 bytes are not "APIKEYS".
        public static let badPreface = Code(.badPreface)
        /// The preface names a protocol version this build does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A length prefix above the maximum frame size.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// Bytes that are not a frame envelope.
        public static let malformedFrame = Code(.malformedFrame)
        /// Bytes that are not the expected message.
        public static let malformedMessage = Code(.malformedMessage)
        /// A message whose decoding would allocate far more than its size.
        public static let messageTooComplex = Code(.messageTooComplex)
        /// A frame that breaks a rule of docs/PROTOCOL.md (a reused call ID, a response from a client...).
        public static let protocolViolation = Code(.protocolViolation)
        public static let connectionClosed = Code(.connectionClosed)
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { "\(value)" }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: WireError, rhs: WireError) -> Bool { lhs.code == rhs.code }

    public var description: String { "\(code): \(message)" }
}
