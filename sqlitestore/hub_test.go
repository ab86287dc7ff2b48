package sqlitestore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/internal/hubtest"
	"github.com/epchat-go/epchat/sqlitestore"
)

// TestHubModeration runs the Hub's kick and lock scenarios, over real
// WebSockets, on a Hub whose Store is an sqlitestore.
func TestHubModeration(t *testing.T) {
	hubtest.Moderation(t, func(t *testing.T) (*epchat.Hub, string) {
		s := open(t, sqlitestore.New)
		hub, err := epchat.New(epchat.WithStore(s), epchat.WithPingInterval(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.StripPrefix("/chat", hub))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hub.Shutdown(ctx)
			srv.Close()
		})
		return hub, "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/"
	})
}
