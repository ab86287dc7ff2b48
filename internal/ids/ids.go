// Package ids makes the random identifiers and secret tokens of epchat.
//
// Every value comes from crypto/rand. Public ids are short; secrets (session
// and invite tokens) carry 256 bits and are only ever stored as their
// SHA-256 hash.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

const (
	memberBytes = 12 // 96 bits: public, unguessable enough to not collide
	roomBytes   = 16 // 128 bits
	tokenBytes  = 32 // 256 bits: secrets
)

// TokenLen is the length of a token string.
const TokenLen = (tokenBytes*8 + 5) / 6

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error; crashes the program on failure
	return base64.RawURLEncoding.EncodeToString(b)
}

// Member returns a new public member id.
func Member() string { return random(memberBytes) }

// Room returns a new room id.
func Room() string { return random(roomBytes) }

// Token returns a new secret token (session or invite).
func Token() string { return random(tokenBytes) }

// Hash returns the SHA-256 of a token, the only form in which it is kept.
func Hash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// HashVerified is the hash of an invite token made with a verifier
// (PROTOCOL.md, invite): Hash of the token, a newline and the verifier, or
// Hash(token) when verifier is "". A token holds no newline, so no
// verifier-less hash equals one with a verifier.
func HashVerified(token, verifier string) [32]byte {
	if verifier == "" {
		return Hash(token)
	}
	h := sha256.New()
	h.Write([]byte(token))
	h.Write([]byte{'\n'})
	h.Write([]byte(verifier))
	var out [32]byte
	h.Sum(out[:0])
	return out
}
