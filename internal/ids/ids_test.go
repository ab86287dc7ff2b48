package ids

import "testing"

func TestTokensAreLongAndDistinct(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		tok := Token()
		if len(tok) != TokenLen {
			t.Fatalf(
				"token length %d, want %d",
				len(tok), TokenLen,
			)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
	if Hash("a") == Hash("b") {
		t.Fatal("hashes of different tokens are equal")
	}
}
