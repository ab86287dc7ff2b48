// Package wstest is what remains of the test client that moved to the
// public package epchattest: aliases, for the tests not moved yet
// (examples/web). New tests import epchattest.
package wstest

import "github.com/epchat-go/epchat/epchattest"

// Wait is epchattest.Wait.
const Wait = epchattest.Wait

type (
	// Client is epchattest.Client.
	Client = epchattest.Client
	// Event is epchattest.Event.
	Event = epchattest.Event
	// Clock is epchattest.Clock.
	Clock = epchattest.Clock
	// Ticker is epchattest.Ticker.
	Ticker = epchattest.Ticker
)

var (
	// Dial is epchattest.Dial.
	Dial = epchattest.Dial
	// DialHeader is epchattest.DialHeader.
	DialHeader = epchattest.DialHeader
	// New is epchattest.New.
	New = epchattest.New
	// NewClock is epchattest.NewClock.
	NewClock = epchattest.NewClock
)
