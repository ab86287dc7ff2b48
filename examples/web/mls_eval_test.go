package web_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestMLSEvaluation is the evaluation of MLS (RFC 9420) through ts-mls that
// docs/E2E.md reports: it loads the vendored bundle (client/vendor, built by
// client/vendor-build/build.sh) in headless Chromium, checks it against the
// IETF test vectors when $EPCHAT_MLS_VECTORS names a directory holding
// crypto-basics.json and key-schedule.json (from mlswg/mls-implementations,
// test-vectors/: neither the npm package nor this repository ships them;
// cipher suite 1 is checked), and times a room's life in a
// group of ten: create, add with a Welcome, remove with a Commit, one
// message each way. It logs the figures; it asserts only correctness.
func TestMLSEvaluation(t *testing.T) {
	bundle, err := os.ReadFile("../../client/vendor/ts-mls.js")
	if err != nil {
		t.Skipf("no vendored bundle: %v", err)
	}
	given := map[string]json.RawMessage{}
	if dir := os.Getenv("EPCHAT_MLS_VECTORS"); dir != "" {
		for _, name := range []string{"crypto-basics", "key-schedule"} {
			b, err := os.ReadFile(filepath.Join(dir, name+".json"))
			if errors.Is(err, fs.ErrNotExist) {
				t.Logf("no %s.json in %s", name, dir)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			given[name] = b
		}
	}
	vectors, err := json.Marshal(given)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, pollMode)
	mux := http.NewServeMux()
	mux.HandleFunc("/ts-mls.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(bundle)
	})
	mux.HandleFunc("/eval.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, "testdata/mls-eval.js")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><meta charset=utf-8><title>mls</title>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	p := h.person("mls")
	p.open(srv.URL + "/")
	p.wait("the page", `document.readyState === 'complete'`)
	var out struct {
		LoadMs  float64 `json:"loadMs"`
		Vectors []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"vectors"`
		Sizes             map[string]int     `json:"sizes"`
		Ms                map[string]float64 `json:"ms"`
		Decrypted         bool               `json:"decrypted"`
		RemovedCannotRead bool               `json:"removedCannotRead"`
	}
	raw := eval[string](p, fmt.Sprintf(`(async () => JSON.stringify(await (await import('/eval.js')).run('/ts-mls.js', %s, 10)))()`, vectors))
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle: %d bytes, loaded in %.1f ms", len(bundle), out.LoadMs)
	for _, v := range out.Vectors {
		t.Logf("vector %s: ok=%v", v.Name, v.OK)
		if !v.OK {
			t.Errorf("test vector %s fails in Chromium", v.Name)
		}
	}
	if len(out.Vectors) == 0 {
		t.Log("no test vectors given ($EPCHAT_MLS_VECTORS)")
	}
	names := make([]string, 0, len(out.Ms))
	for k := range out.Ms {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t.Logf("%-45s %8.1f ms", k, out.Ms[k])
	}
	t.Logf("sizes (bytes): %v", out.Sizes)
	if !out.Decrypted {
		t.Error("a member of the new epoch could not read its message")
	}
	if !out.RemovedCannotRead {
		t.Error("the removed member read a message of the epoch after its removal")
	}
}
