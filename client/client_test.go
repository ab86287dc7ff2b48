package client_test

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/epchat-go/epchat/client"
)

// importRE matches the module specifier of a static import or export
// ... from '...' statement.
var importRE = regexp.MustCompile(`(?m)^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'`)

// TestFS checks that the embedded library is whole: index.js and
// mls/scheme.js (the authenticated rooms, which a page imports on its own
// so that others never load the MLS bundle) are there, and every module
// that a module imports is a file of the FS, by a relative path (a page
// must be able to serve it from any directory, and a bare specifier would
// need a bundler). It also checks that nothing but the modules is served.
func TestFS(t *testing.T) {
	fsys := client.FS()
	if _, err := fs.Stat(fsys, "index.js"); err != nil {
		t.Fatalf("index.js: %v", err)
	}
	seen := map[string]bool{}
	todo := []string{"index.js", "mls/scheme.js"}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			spec := m[1]
			target := path.Clean(path.Join(path.Dir(name), spec))
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") || !fs.ValidPath(target) {
				t.Errorf("%s imports %q: want a relative path within the library", name, spec)
				continue
			}
			todo = append(todo, target)
		}
	}
	var all []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			all = append(all, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range all {
		if !strings.HasSuffix(name, ".js") {
			t.Errorf("the FS serves %s, want modules only", name)
		}
		if !seen[name] {
			t.Errorf("%s is in the FS but no module imports it from index.js or mls/scheme.js", name)
		}
	}
	for _, want := range []string{"client.js", "transport.js", "scheme.js", "crypto.js", "signed.js", "mls/room.js", "vendor/ts-mls.js"} {
		if !seen[want] {
			t.Errorf("index.js does not reach %s", want)
		}
	}
}
