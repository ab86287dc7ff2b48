package epchat

import "testing"

// notInProcess is a Store that does not say it is in-process.
type notInProcess struct{ Store }

// inProcessNo says it is not.
type inProcessNo struct{ *MemoryStore }

func (inProcessNo) InProcess() bool { return false }

// TestInProcessStores: the Hub tells its poller a request may block before
// calling any Store but one that says it is in-process (InProcessStore):
// a wrapper that hides MemoryStore's InProcess, or answers false, is
// taken to wait on I/O.
func TestInProcessStores(t *testing.T) {
	for _, tc := range []struct {
		name   string
		store  Store
		remote bool
	}{
		{"default", nil, false},
		{"MemoryStore", NewMemoryStore(), false},
		{"a wrapper", notInProcess{NewMemoryStore()}, true},
		{"InProcess false", inProcessNo{NewMemoryStore()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.store != nil {
				opts = append(opts, WithStore(tc.store))
			}
			h, err := New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Shutdown(t.Context())
			if h.remoteStore != tc.remote {
				t.Fatalf("remoteStore = %v, want %v", h.remoteStore, tc.remote)
			}
		})
	}
}
