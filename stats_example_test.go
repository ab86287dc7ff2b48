package epchat_test

import (
	"context"
	"fmt"
	"log"

	"github.com/epchat-go/epchat"
)

// Read the Hub's figures, for a dashboard or an alert.
func ExampleHub_Stats() {
	hub, err := epchat.New()
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	if _, err := hub.CreateRoom(context.Background(), epchat.RoomSpec{Invites: 1}); err != nil {
		log.Fatal(err)
	}
	s := hub.Stats()
	fmt.Println("rooms open:", s.Rooms, "invites made:", s.InvitesMade, "connections:", s.Connections)
	// Output: rooms open: 1 invites made: 2 connections: 0
}

// Keep an audit trail of rooms: ids, counts and reasons only.
func ExampleWithHooks() {
	hub, err := epchat.New(epchat.WithHooks(epchat.Hooks{
		RoomOpened: func(e epchat.RoomEvent) { fmt.Println("opened by", e.Reason, "with", e.Members, "members") },
		RoomClosed: func(e epchat.RoomEvent) { fmt.Println("closed by", e.Reason, "with", e.Members, "members") },
	}))
	if err != nil {
		log.Fatal(err)
	}
	room, err := hub.CreateRoom(context.Background(), epchat.RoomSpec{})
	if err != nil {
		log.Fatal(err)
	}
	hub.CloseRoom(context.Background(), room.ID)
	hub.Shutdown(context.Background()) // returns once the queued hooks have run
	// Output:
	// opened by host with 0 members
	// closed by host with 0 members
}
