package wire

import (
	"maps"
	"slices"
)

// Codes returns every error code of the protocol, sorted. It is read from
// the table of error messages, so a code added there is listed here too
// (the Hub counts error events by code).
func Codes() []Code {
	return slices.Sorted(maps.Keys(messages))
}
