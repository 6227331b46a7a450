package apikeys

import (
	"hash/crc32"
	"strings"
)

// SecretKind is what a secret opens, told by its prefix (X7).
type SecretKind int

// The kinds of secret and their prefixes.
const (
	APIKeySecret             SecretKind = iota + 1 // "apk_": an API key
	ServiceCredentialSecret                        // "aks_": a service credential
	OperatorCredentialSecret                       // "ako_": an operator credential
)

// Secret format (Sources/APIKeysDomain/SecretCodec.swift): prefix, 20 base32 ID
// characters, 43 base62 random characters, 6 base62 characters of the CRC-32 (IEEE) of
// everything before them.
const (
	secretIDLength       = 20
	secretRandomLength   = 43
	secretChecksumLength = 6
	// SecretLength is the length of every well-formed secret.
	SecretLength = 4 + secretIDLength + secretRandomLength + secretChecksumLength
)

var secretPrefixes = map[string]SecretKind{"apk_": APIKeySecret, "aks_": ServiceCredentialSecret, "ako_": OperatorCredentialSecret}

// CheckSecret tells whether s is shaped like one of apikeys' secrets, with a valid
// checksum, and which kind it is. A mistyped or truncated key fails here, without asking
// the server; a key that passes may still be unknown, expired or revoked.
func CheckSecret(s string) (SecretKind, bool) {
	if len(s) != SecretLength {
		return 0, false
	}
	kind, ok := secretPrefixes[s[:4]]
	if !ok {
		return 0, false
	}
	body := len(s) - secretChecksumLength
	for i := 4; i < 4+secretIDLength; i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return 0, false
		}
	}
	var stated uint64
	for i := 4 + secretIDLength; i < len(s); i++ {
		v := strings.IndexByte(base62, s[i])
		if v < 0 {
			return 0, false
		}
		if i >= body {
			stated = stated*62 + uint64(v)
		}
	}
	return kind, stated == uint64(crc32.ChecksumIEEE([]byte(s[:body])))
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
