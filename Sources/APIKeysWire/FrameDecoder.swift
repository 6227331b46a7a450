public import NIOCore

/// Splits the byte stream into frames. On the server side it first expects the
/// 8-byte preface. The declared length is checked against the maximum before any
/// of the body is buffered.
public struct FrameDecoder: ByteToMessageDecoder {
    public enum Event: Sendable, Equatable {
        /// A valid preface arrived (server side only).
        case preface
        case frame(Frame)
    }

    public typealias InboundOut = Event

    private var awaitingPreface: Bool
    private let maxFrameSize: Int
    /// A connection's calls mostly repeat one method and one set of metadata.
    private var repeatedParts = RepeatedRequestParts()

    public init(expectPreface: Bool, maxFrameSize: Int) {
        self.awaitingPreface = expectPreface
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let event = try next(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(event))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A frame cut off by the close is dropped: there is no one left to answer.
        while let event = try next(&buffer) {
            context.fireChannelRead(Self.wrapInboundOut(event))
        }
        return .needMoreData
    }

    /// The next event in `buffer`, consuming its bytes; nil when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) throws(WireError) -> Event? {
        if awaitingPreface {
            let complete = try buffer.withUnsafeReadableBytes { bytes throws(WireError) in
                try Preface.check(UnsafeRawBufferPointer(rebasing: bytes.prefix(Preface.size)))
            }
            guard complete else { return nil }
            buffer.moveReaderIndex(forwardBy: Preface.size)
            awaitingPreface = false
            return .preface
        }
        let maxFrameSize = self.maxFrameSize
        let length = try buffer.withUnsafeReadableBytes { bytes throws(WireError) in
            try FrameCodec.declaredLength(bytes, maxFrameSize: maxFrameSize)
        }
        guard let length, buffer.readableBytes >= FrameCodec.lengthPrefixSize + length else { return nil }
        let frame = try buffer.withUnsafeReadableBytes { bytes throws(WireError) in
            try FrameCodec.decode(body: UnsafeRawBufferPointer(
                rebasing: bytes[FrameCodec.lengthPrefixSize..<FrameCodec.lengthPrefixSize + length]),
                reusing: &repeatedParts)
        }
        buffer.moveReaderIndex(forwardBy: FrameCodec.lengthPrefixSize + length)
        return .frame(frame)
    }
}

/// Writes frames with their length prefix.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame

    public init() {}

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        FrameCodec.encode(data, into: &out)
    }
}
