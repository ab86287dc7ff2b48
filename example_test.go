package epchat_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/epchat-go/epchat"
)

// Mount the Hub under /chat/ in an existing mux.
func Example() {
	hub, err := epchat.New(epchat.WithMaxMembers(6))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", hub))
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	_ = srv // srv.ListenAndServe() in a real program

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	fmt.Println(hub.Shutdown(ctx))
	// Output: <nil>
}

// A help-desk application opens a room for a ticket, with a link for the
// agent (the owner) and one for the customer.
func ExampleHub_CreateRoom() {
	hub, err := epchat.New()
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Shutdown(context.Background())

	room, err := hub.CreateRoom(context.Background(), epchat.RoomSpec{Invites: 1})
	if err != nil {
		log.Fatal(err)
	}
	agentLink := "https://help.example/chat#join=" + room.Owner.Token
	customerLink := "https://help.example/chat#join=" + room.Members[0].Token
	_, _ = agentLink, customerLink

	rooms, _ := hub.Rooms(context.Background())
	fmt.Println(len(rooms), rooms[0].Members)
	// Output: 1 0
}

// A moderation tool of the host application removes a member and keeps
// the room closed to newcomers while a dispute is settled.
func ExampleHub_KickMember() {
	hub, err := epchat.New()
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Shutdown(context.Background())
	ctx := context.Background()
	room, err := hub.CreateRoom(ctx, epchat.RoomSpec{Invites: 1})
	if err != nil {
		log.Fatal(err)
	}

	// The member id comes from the host's records (hooks, a report).
	err = hub.KickMember(ctx, room.ID, "m7Qb2kLx0aZcVw1e")
	fmt.Println(errors.Is(err, epchat.ErrNotMember))

	fmt.Println(hub.LockRoom(ctx, room.ID))
	rooms, _ := hub.Rooms(ctx)
	fmt.Println(rooms[0].Locked)
	fmt.Println(hub.UnlockRoom(ctx, room.ID))
	// Output:
	// true
	// <nil>
	// true
	// <nil>
}
