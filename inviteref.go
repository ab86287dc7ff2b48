package epchat

import (
	"crypto/sha256"
	"encoding/base64"
)

// inviteRefContext separates an invite's reference from every other
// hash of its token (the Store keeps ids.Hash of it).
const inviteRefContext = "epchat invite ref\x00"

// inviteRef is the public reference of an invite token: the invite reply
// tells it to the inviter, and the member_joined of the join that redeems
// the token tells it to the room, so that the inviter knows which of its
// invites was used, and by whom. It reveals nothing of the token: 128 bits
// of a domain-separated SHA-256, told once the token is spent.
func inviteRef(token string) string {
	sum := sha256.Sum256([]byte(inviteRefContext + token))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
