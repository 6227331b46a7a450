import Foundation
import Crypto

/// Opaque page tokens (X11): the last row's position plus a fingerprint of the listing's
/// parameters, so a token used with other filters is refused rather than silently skipping rows.
enum PageToken {
    struct KeyToken: Codable {
        var f: String  // fingerprint of scope, search, status, sort, order
        var t: Int64  // asOf, fixed for every page of one listing
        var n: Int64?  // integer sort value
        var s: String?  // text sort value
        var i: String  // last key ID
    }

    struct EventToken: Codable {
        var f: String
        var t: Int64
        var i: UInt64
    }

    static func fingerprint(_ parts: [String]) -> String {
        let digest = SHA256.hash(data: Data(parts.joined(separator: "\u{1F}").utf8))
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    static func encode(_ value: some Encodable) -> String {
        let data = (try? JSONEncoder().encode(value)) ?? Data()
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode<T: Decodable>(_ token: String, as type: T.Type, fingerprint: String) throws(DomainError) -> T
    where T: Fingerprinted {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let value = try? JSONDecoder().decode(T.self, from: data) else {
            throw .invalidArgument("the page token is not one this server issued", rule: "X11", reason: "invalid_page_token")
        }
        guard value.f == fingerprint else {
            throw .invalidArgument(
                "the page token belongs to a listing with other filters, sort or scope; keep them unchanged while paging",
                rule: "X11", reason: "page_token_mismatch")
        }
        return value
    }
}

protocol Fingerprinted {
    var f: String { get }
}

extension PageToken.KeyToken: Fingerprinted {}
extension PageToken.EventToken: Fingerprinted {}
